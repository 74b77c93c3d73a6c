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
from datetime import UTC, date, datetime
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
DAY = date(2025, 1, 20)  # a logical date no other scheduler test uses (a second trigger of one answers 409)
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
def page(browser):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1400, "height": 1700}, timezone_id="UTC", locale="en-US")
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


def seed(runtime_conn, historical_conn) -> tuple[np.ndarray, np.ndarray]:
    """EU and US regimes on DAY; German and US macro texts on DAY; German texts the day before and after."""
    rng = np.random.default_rng(18)
    regimes = {region: random_vectors(rng, 1)[0] for region in ("EU", "US")}
    for region, vector in regimes.items():
        insert_regime(runtime_conn, region=region, as_of_date=DAY, vector=vector, created_at=utc(DAY, 6))
    german, american = random_vectors(rng, 3), random_vectors(rng, 2)
    for country, vectors in (("DE", german), ("US", american)):
        for index, vector in enumerate(vectors):
            insert_macro_event(historical_conn, timestamp=utc(DAY, 8 + index), vector=vector, country=country)
    for other_day in (date(2025, 1, 19), date(2025, 1, 21)):
        insert_macro_event(historical_conn, timestamp=utc(other_day, 12), vector=np.ones(384), country="DE")
    return regimes["EU"], german


def fill_json_editor(page, value: object) -> None:
    """Replace the text of the form's first JSON editor, the ``contexts`` param's (the "Configuration JSON" of the
    advanced options is folded away). The editor closes brackets itself: what it added after the text goes."""
    page.locator(".monaco-editor, .cm-editor").first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(json.dumps(value))
    page.keyboard.press("Shift+Control+End")
    page.keyboard.press("Delete")


def test_a_run_triggered_from_the_form_processes_the_day_and_contexts_entered(
    airflow_stack, data_conns, page
):
    started = time.monotonic()
    eu_regime, german_texts = seed(*data_conns)
    page.goto(f"{airflow_stack.api_url}/dags/{MACRO_DAG_ID}")
    page.get_by_test_id("trigger-dag-button").click()

    # the logical date (the picker reads the browser's time zone: UTC here) and the time-zone-free day
    page.get_by_test_id("datetime-input").click()
    page.locator('input[placeholder="YYYY/MM/DD"]').fill(DAY.strftime("%Y/%m/%d"))
    page.locator('input[placeholder="HH:mm"]').fill("00:00")
    page.keyboard.press("Escape")
    assert page.get_by_test_id("datetime-input").inner_text() == DAY.strftime("%b %d, %Y 00:00")
    form = page.get_by_role("dialog")
    for label in ("Day to process (UTC)", "Contexts: regions and text filters", "Weight of the regime embedding "
                  "(w_num)", "Text embedding model", "Text source type", "Joint model id (written)"):
        assert form.get_by_text(re.compile(rf"^{re.escape(label)}\s*\*?$")).count() == 1, label  # * if required
    assert form.get_by_text('Example: [{"region": "US", "country": "US"}, {"region": "EU", "country": "DE", '
                            '"event_type": "CPI"}]', exact=False).count() == 1
    page.locator("#element_as_of_date").fill(DAY.isoformat())
    fill_json_editor(page, CONTEXTS)
    numeric_weight = page.locator("[id='number-input:element_numeric_weight:inc']").get_attribute("aria-controls")
    page.locator(f"[id='{numeric_weight}']").fill("2")
    page.locator("#element_text_model_id").click()  # leave the number field: the form takes its value
    page.screenshot(path=SCREENSHOTS / "trigger-form.png", full_page=True)

    page.get_by_test_id("trigger-dag-submit").click()
    page.wait_for_url("**/runs/**")
    run_id = urllib.parse.unquote(page.url.split("/runs/", 1)[1].split("?")[0].split("/")[0])

    def finished(runs) -> bool:
        return any(run.run_id == run_id and run.state in ("success", "failed") for run in runs)

    runs = airflow_stack.wait_for_runs(MACRO_DAG_ID, finished, run_type="manual", timeout=RUN_TIMEOUT,
                                       what=f"the triggered run {run_id} to finish")
    (run,) = [run for run in runs if run.run_id == run_id]
    page.reload()
    page.get_by_text("success").first.wait_for()
    page.screenshot(path=SCREENSHOTS / "triggered-run.png", full_page=True)
    page.get_by_text("Details", exact=True).click()  # the run's tabs are links
    page.get_by_text(re.compile("Data Interval")).first.wait_for()
    page.screenshot(path=SCREENSHOTS / "triggered-run-details.png", full_page=True)

    assert run.state == "success", airflow_stack.task_log(MACRO_DAG_ID, run_id, "extract")
    assert run.conf["as_of_date"] == DAY.isoformat() and run.conf["contexts"] == CONTEXTS
    assert float(run.conf["numeric_weight"]) == 2.0 and float(run.conf["text_weight"]) == 0.5
    day_start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    assert (run.logical_date, run.data_interval_start, run.data_interval_end) == (
        day_start, day_start, datetime(2025, 1, 21, tzinfo=UTC))

    rows = [row for row in joint_rows(data_conns[1], "REGIME_MACRO_V0") if row[1] == DAY]
    assert [(row[2], row[3]) for row in rows] == [
        ({"region": "EU", "source": "regime+macro", "macro_filters": {"country": "DE"}}, "joint-regime-core-v1")]
    regime = eu_regime.astype(np.float64)
    text_mean = german_texts.astype(np.float64).mean(axis=0)
    expected = ((2.0 * regime + 0.5 * text_mean) / 2.5).astype(np.float32)
    np.testing.assert_allclose(rows[0][4], expected, rtol=1e-6, atol=1e-7)
    print(f"browser test: {time.monotonic() - started:.1f} s from page load to checked row")
