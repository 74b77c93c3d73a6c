"""Issue 18: the trigger form as a user meets it, in a real browser (Debian's Chromium driven by Playwright) on the
real stack: fill it for ``joint_regime_macro_context`` with an explicit day and a changed context and weight,
trigger, and check the run's conf, its data interval and the row written.

Screenshots of the form and of the run go to ``tests/artifacts/screenshots/`` (git-ignored; CI keeps them).
Selectors are the UI's own test ids and field ids (``element_<param>``), read off the rendered page.
No browser is downloaded: ``chromium`` comes from Debian (``.ci/run`` installs it), or ``JOINT_CONTEXT_CHROMIUM``.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.parse
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from devtools.paths import REPO_ROOT
from devtools.seed import insert_macro_event, insert_regime, utc
from tests.helpers import joint_rows, random_vectors
from tests.scheduler.conftest import MACRO_DAG_ID

pytestmark = pytest.mark.scheduler

CHROMIUM = Path(os.environ.get("JOINT_CONTEXT_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO_ROOT / "tests" / "artifacts" / "screenshots"
DAY = date(2025, 1, 20)  # logical dates no other scheduler test uses (a second trigger of one answers 409)
TOKYO_DAY = date(2025, 1, 22)
CONTEXTS = [{"region": "EU", "country": "DE"}]
RUN_TIMEOUT = 240


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.exists(), f"no Chromium at {CHROMIUM}: apt-get install chromium (or set JOINT_CONTEXT_CHROMIUM)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def open_page(browser):
    """A new page in a browser set to a time zone (the trigger form's date picker follows it)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    contexts = []

    def open_page(timezone_id: str = "UTC"):
        context = browser.new_context(viewport={"width": 1400, "height": 1700}, timezone_id=timezone_id,
                                      locale="en-US")
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def seed(runtime_conn, historical_conn, day: date) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """EU and US regimes on ``day``; German and US macro texts on it; German texts the day before and after."""
    rng = np.random.default_rng(day.toordinal())
    inputs = {}
    for region, country, count in (("EU", "DE", 3), ("US", "US", 2)):
        regime, texts = random_vectors(rng, 1)[0], random_vectors(rng, count)
        insert_regime(runtime_conn, region=region, as_of_date=day, vector=regime, created_at=utc(day, 6))
        for index, vector in enumerate(texts):
            insert_macro_event(historical_conn, timestamp=utc(day, 8 + index), vector=vector, country=country)
        inputs[region] = (regime, texts)
    for other_day in (day - timedelta(days=1), day + timedelta(days=1)):
        insert_macro_event(historical_conn, timestamp=utc(other_day, 12), vector=np.ones(384), country="DE")
    return inputs


def expected_row(regime: np.ndarray, texts: np.ndarray, w_num: float, w_text: float) -> np.ndarray:
    """The joint vector computed here with numpy: float64 throughout, float32 at the end."""
    mean = texts.astype(np.float64).mean(axis=0)
    return ((w_num * regime.astype(np.float64) + w_text * mean) / (w_num + w_text)).astype(np.float32)


def open_trigger_form(page, api_url: str, logical_day: date) -> None:
    """The DAG's page, its Trigger button, and the logical date set to ``logical_day`` 00:00 in the picker (read in
    the browser's time zone, as a user's would be)."""
    page.goto(f"{api_url}/dags/{MACRO_DAG_ID}")
    page.get_by_test_id("trigger-dag-button").click()
    page.get_by_test_id("datetime-input").click()
    page.locator('input[placeholder="YYYY/MM/DD"]').fill(logical_day.strftime("%Y/%m/%d"))
    page.locator('input[placeholder="HH:mm"]').fill("00:00")
    page.keyboard.press("Escape")
    assert page.get_by_test_id("datetime-input").inner_text() == logical_day.strftime("%b %d, %Y 00:00")


def fill_json_editor(page, value: object) -> None:
    """Replace the text of the ``contexts`` param's JSON editor (not the folded "Configuration JSON" of the advanced
    options, which may come first in the page). The editor closes brackets itself: what it added after the text
    goes."""
    # the contexts editor holds the default contexts; the "Configuration JSON" one holds a "contexts" key
    editor = page.locator(".monaco-editor, .cm-editor").filter(has_text="region").filter(has_not_text="contexts").first
    editor.scroll_into_view_if_needed()
    # its first line: the field's long help text can lie over the editor's lower part and take a click there
    editor.click(position={"x": 12, "y": 8})
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(value))
    page.keyboard.press("Shift+Control+End")
    page.keyboard.press("Delete")
    shown = editor.locator(".view-lines, .cm-content").first.inner_text()  # the text, not the line numbers
    assert json.loads("".join(shown.split())) == json.loads(json.dumps(value).replace(" ", "")), shown


def submit(page) -> str:
    """Press Trigger; the UI goes to the new run's page, whose address names the run."""
    page.get_by_test_id("trigger-dag-submit").click()
    page.wait_for_url("**/runs/**")
    return urllib.parse.unquote(page.url.split("/runs/", 1)[1].split("?")[0].split("/")[0])


def finished_run(airflow_stack, run_id: str):
    def finished(runs) -> bool:
        return any(run.run_id == run_id and run.state in ("success", "failed") for run in runs)

    runs = airflow_stack.wait_for_runs(MACRO_DAG_ID, finished, run_type="manual", timeout=RUN_TIMEOUT,
                                       what=f"the triggered run {run_id} to finish")
    (run,) = [run for run in runs if run.run_id == run_id]
    assert run.state == "success", airflow_stack.task_log(MACRO_DAG_ID, run_id, "extract")
    return run


def rows_of(historical_conn, day: date) -> list[tuple]:
    return [row for row in joint_rows(historical_conn, "REGIME_MACRO_V0") if row[1] == day]


def test_a_run_triggered_from_the_form_processes_the_day_and_contexts_entered(airflow_stack, data_conns, open_page):
    started = time.monotonic()
    inputs = seed(*data_conns, DAY)
    page = open_page("UTC")
    open_trigger_form(page, airflow_stack.api_url, DAY)
    form = page.get_by_role("dialog")
    for label in ("Day to process (UTC)", "Contexts: regions and text filters", "Weight of the regime embedding "
                  "(w_num)", "Text embedding model", "Text source type", "Joint model id (written)"):
        assert form.get_by_text(re.compile(rf"^{re.escape(label)}\s*\*?$")).count() == 1, label  # * if required
    assert form.get_by_text('Example: [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE", '
                            '"event_type": "CPI"}]', exact=False).count() == 1
    page.locator("#element_as_of_date").fill(DAY.isoformat())
    fill_json_editor(page, CONTEXTS)
    assert page.locator("#element_as_of_date").input_value() == DAY.isoformat()  # the editor took the keys
    numeric_weight = page.locator("[id='number-input:element_numeric_weight:inc']").get_attribute("aria-controls")
    page.locator(f"[id='{numeric_weight}']").fill("2")
    page.locator("#element_text_model_id").click()  # leave the number field: the form takes its value
    page.screenshot(path=SCREENSHOTS / "trigger-form.png", full_page=True)

    run_id = submit(page)
    run = finished_run(airflow_stack, run_id)
    page.reload()
    page.get_by_text("success").first.wait_for()
    page.screenshot(path=SCREENSHOTS / "triggered-run.png", full_page=True)
    page.get_by_text("Details", exact=True).click()  # the run's tabs are links
    page.get_by_text(re.compile("Data Interval")).first.wait_for()
    page.screenshot(path=SCREENSHOTS / "triggered-run-details.png", full_page=True)

    assert run.conf["as_of_date"] == DAY.isoformat() and run.conf["contexts"] == CONTEXTS
    assert float(run.conf["numeric_weight"]) == 2.0 and float(run.conf["text_weight"]) == 0.5
    day_start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    assert (run.logical_date, run.data_interval_start, run.data_interval_end) == (
        day_start, day_start, day_start + timedelta(days=1))
    rows = rows_of(data_conns[1], DAY)
    assert [(row[2], row[3]) for row in rows] == [
        ({"region": "EU", "source": "regime+macro", "macro_filters": {"country": "DE"}}, "joint-regime-core-v1")]
    np.testing.assert_allclose(rows[0][4], expected_row(*inputs["EU"], 2.0, 0.5), rtol=1e-6, atol=1e-7)
    print(f"browser test (UTC): {time.monotonic() - started:.1f} s from page load to checked row")


def test_in_tokyo_the_day_to_process_wins_over_the_picker_and_a_used_logical_date_is_refused(
    airflow_stack, data_conns, open_page
):
    """Issue 18, item 2: in Asia/Tokyo, Jan 22 00:00 in the picker is 2025-01-21T15:00Z, whose UTC day is the run's
    interval; "Day to process" makes it process 2025-01-22 all the same. A second trigger of that logical date is
    refused (409) and creates no run."""
    started = time.monotonic()
    inputs = seed(*data_conns, TOKYO_DAY)
    page = open_page("Asia/Tokyo")
    open_trigger_form(page, airflow_stack.api_url, TOKYO_DAY)
    page.locator("#element_as_of_date").fill(TOKYO_DAY.isoformat())
    run = finished_run(airflow_stack, submit(page))

    logical = datetime(2025, 1, 21, 15, tzinfo=UTC)
    assert run.logical_date == logical and run.conf["as_of_date"] == TOKYO_DAY.isoformat()
    assert (run.data_interval_start, run.data_interval_end) == (
        datetime(2025, 1, 21, tzinfo=UTC), datetime(2025, 1, 22, tzinfo=UTC))
    assert rows_of(data_conns[1], TOKYO_DAY - timedelta(days=1)) == []
    rows = rows_of(data_conns[1], TOKYO_DAY)
    assert [row[2]["region"] for row in rows] == ["US"]  # the default context
    np.testing.assert_allclose(rows[0][4], expected_row(*inputs["US"], 0.5, 0.5), rtol=1e-6, atol=1e-7)

    open_trigger_form(page, airflow_stack.api_url, TOKYO_DAY)
    page.get_by_test_id("trigger-dag-submit").click()
    refusal = page.get_by_role("dialog").get_by_text(re.compile("409|already exists", re.I)).first
    refusal.wait_for()
    page.screenshot(path=SCREENSHOTS / "second-trigger-refused.png", full_page=True)
    same_logical_date = [other for other in airflow_stack.dag_runs(MACRO_DAG_ID, run_type="manual")
                         if other.logical_date == logical]
    assert [other.run_id for other in same_logical_date] == [run.run_id]
    print(f"browser test (Asia/Tokyo): {time.monotonic() - started:.1f} s")
