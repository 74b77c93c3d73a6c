"""Hostile and broken input, property-based: a correct result or a specific error, never a wrong or partial write.

Expectations are computed independently (numpy, plain Python); the database tests run the tasks' code path
(``extract_day`` → ``aggregate_day`` → ``write_day``) against the real PostgreSQL and compare every row of
``joint_embeddings`` before and after.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, timedelta

import numpy as np
import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from devtools.seed import insert_macro_event, insert_regime, utc
from joint_context.config import RunConfig, default_params
from joint_context.errors import JointDataError, ParamsError, VectorDataError
from joint_context.joint import SimpleAverageJointModel, TextAccumulator
from joint_context.pipeline import aggregate_day, extract_day, write_day
from joint_context.spaces import REGIME_MACRO_V0
from joint_context.vectors import decode_vector, encode_vector
from tests.helpers import expected_joint
from tests.reliability.conftest import DAY, all_joint_rows, insert_joint_row, scope

DB_SETTINGS = settings(max_examples=40, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
PURE_SETTINGS = settings(max_examples=300, deadline=None)

finite_float32 = st.floats(width=32, allow_nan=False, allow_infinity=False)
non_finite_float32 = st.sampled_from([np.nan, np.inf, -np.inf])
FLOAT32_TINY = float(np.finfo(np.float32).smallest_subnormal)


# --- the codec -----------------------------------------------------------------------------------------------------

@PURE_SETTINGS
@given(hnp.arrays(np.float32, st.integers(1, 64), elements=finite_float32))
def test_codec_round_trips_every_finite_float32_vector_bit_for_bit(vector):
    raw = encode_vector(vector)
    assert raw == vector.astype("<f4").tobytes()
    decoded = decode_vector(raw, table="t", row_id="r")
    assert decoded.tobytes() == raw and encode_vector(decoded) == raw


def expected_decode_problem(raw: bytes) -> str | None:
    """What is wrong with ``raw`` as a float32 vector, computed without the package."""
    if not raw:
        return "vector is empty (0 bytes)"
    if len(raw) % 4:
        return f"vector has {len(raw)} bytes, not a multiple of 4 (float32)"
    values = np.frombuffer(raw, dtype="<f4")
    bad = [index for index, value in enumerate(values) if not math.isfinite(value)]
    return f"non-finite value ({values[bad[0]]}) at position {bad[0]}" if bad else None


@PURE_SETTINGS
@given(st.binary(max_size=64))
@example(b"")
@example(b"\x00\x00\xc0\x7f")  # NaN
@example(b"\x00\x00\x80\x3f\x00\x00\x80\xff")  # 1.0, -inf
def test_random_bytes_decode_to_their_exact_floats_or_a_specific_error(raw):
    problem = expected_decode_problem(raw)
    if problem is None:
        assert decode_vector(raw, table="regimes", row_id="R1").tobytes() == raw
    else:
        with pytest.raises(VectorDataError, match=re.escape(problem)) as error:
            decode_vector(raw, table="regimes", row_id="R1")
        assert (error.value.table, error.value.row_id) == ("regimes", "R1")


# --- the streaming mean --------------------------------------------------------------------------------------------

def hostile_vector(dimension: int):
    """A stored vector as a hostile table may hold it: fine, NULL, other dimension, NaN/inf anywhere, random bytes."""
    fine = hnp.arrays(np.float32, dimension, elements=finite_float32.filter(lambda v: abs(v) < 1e30))
    return st.one_of(
        fine.map(encode_vector),
        fine.map(encode_vector),
        st.none(),
        st.integers(1, 12).filter(lambda d: d != dimension).map(lambda d: encode_vector(np.ones(d))),
        st.tuples(fine, st.integers(0, dimension - 1), non_finite_float32).map(
            lambda t: encode_vector(np.where(np.arange(dimension) == t[1], t[2], t[0]))),
        st.binary(max_size=3 * 4 + 3),
    )


def row_defect(raw: bytes | None, dimension: int | None) -> str | None:
    if raw is None:
        return None
    problem = expected_decode_problem(raw)
    if problem and "non-finite" not in problem:
        return problem
    if dimension is not None and len(raw) // 4 != dimension:
        return f"vector has dimension {len(raw) // 4}, expected {dimension}"
    return problem


def first_dimension(rows) -> int | None:
    return next((len(raw) // 4 for _, raw in rows if raw is not None and raw and len(raw) % 4 == 0), None)


@PURE_SETTINGS
@given(st.integers(1, 6).flatmap(lambda dimension: st.lists(hostile_vector(dimension), max_size=12)))
def test_accumulator_sums_exactly_the_valid_rows_or_names_a_bad_row_and_stays_unchanged(raw_vectors):
    rows = [(f"src-{index}", raw) for index, raw in enumerate(raw_vectors)]
    accumulator = TextAccumulator("text_embeddings")
    accumulator.add_rows([("seed", encode_vector(np.full(len(rows[0][1]) // 4, 0.5)))]
                         if rows and rows[0][1] and len(rows[0][1]) % 4 == 0 else [])
    state_before = accumulator.to_dict()
    dimension = accumulator.dimension or first_dimension(rows)
    defects = {row_id: row_defect(raw, dimension) for row_id, raw in rows}
    if any(defects.values()):
        with pytest.raises(VectorDataError) as error:
            accumulator.add_rows(rows)
        assert defects.get(error.value.row_id), f"{error.value.row_id} was named but is fine"
        assert accumulator.to_dict() == state_before
    else:
        accumulator.add_rows(rows)
        valid = [np.frombuffer(raw, dtype="<f4").astype(np.float64) for _, raw in rows if raw is not None]
        seeded = [np.full(dimension, 0.5)] if state_before["vector_count"] else []
        assert accumulator.vector_count == len(seeded) + len(valid)
        assert accumulator.null_count == sum(raw is None for _, raw in rows)
        if accumulator.vector_count:
            np.testing.assert_allclose(accumulator.vector_sum, np.sum(seeded + valid, axis=0), rtol=1e-12)


@PURE_SETTINGS
@given(
    st.floats(0, 1e308), st.floats(0, 1e308),
    hnp.arrays(np.float32, 4, elements=st.floats(-1e6, 1e6, width=32)),
    hnp.arrays(np.float32, 4, elements=st.floats(-1e6, 1e6, width=32)),
)
@example(1e308, 1e308, np.full(4, 1e6, np.float32), np.full(4, 1e6, np.float32))
def test_weights_give_a_finite_weighted_average_or_a_params_error(numeric_weight, text_weight, numeric, text):
    try:
        model = SimpleAverageJointModel(numeric_weight, text_weight)
    except JointDataError:
        assert numeric_weight + text_weight == 0 or not math.isfinite(numeric_weight + text_weight)
        return
    joint = model.embed(numeric, text)
    share = numeric_weight / (numeric_weight + text_weight)
    expected = share * numeric.astype(np.float64) + (1 - share) * text.astype(np.float64)
    assert joint.dtype == np.float32 and np.isfinite(joint).all()
    # float32 rounding: relative, or one subnormal step near zero
    tolerance = 1e-12 * float(max(np.abs(numeric).max(), np.abs(text).max())) + 4 * FLOAT32_TINY
    np.testing.assert_allclose(joint, expected.astype(np.float32), rtol=1e-6, atol=tolerance)


# --- a whole day against PostgreSQL --------------------------------------------------------------------------------

REGIME_CHOICES = st.sampled_from(["fine", "none", "null embedding", "other dimension", "non-finite", "odd bytes"])
OTHER_DAY = DAY + timedelta(days=1)
KEY_SCOPE = scope("US", country="US")


def reset(databases) -> tuple[psycopg.Connection, psycopg.Connection]:
    """Empty tables for one example (DELETE: much cheaper than TRUNCATE for a few rows)."""
    runtime_conn = psycopg.connect(databases.runtime_dsn, autocommit=True)
    historical_conn = psycopg.connect(databases.historical_dsn, autocommit=True)
    runtime_conn.execute("DELETE FROM regimes")
    for table in ("joint_embeddings", "text_embeddings", "macro_events", "news_articles"):
        historical_conn.execute(f"DELETE FROM {table}")  # noqa: S608 - a fixed table name
    return runtime_conn, historical_conn


def seed_unrelated_rows(historical_conn) -> None:
    insert_joint_row(historical_conn, KEY_SCOPE, np.full(4, 7.0))  # the key's stale row: replaced or removed
    insert_joint_row(historical_conn, KEY_SCOPE, np.full(4, 7.0), as_of_date=OTHER_DAY)
    insert_joint_row(historical_conn, scope("US", country="DE"), np.full(4, 8.0))
    insert_joint_row(historical_conn, KEY_SCOPE, np.full(4, 9.0), joint_type="REGIME_CONTEXT_V0")


def run_day(databases, params: dict, as_of_date: date = DAY) -> list[str]:
    config = RunConfig.from_params(REGIME_MACRO_V0, params, params.keys())
    with psycopg.connect(databases.runtime_dsn) as runtime, psycopg.connect(databases.historical_dsn) as historical:
        results = aggregate_day(extract_day(runtime, historical, config, as_of_date), config)
        return [outcome.action for outcome in write_day(historical, config, as_of_date, results)]


def assert_only_the_key_changed(before, after, key_rows_after: int) -> None:
    def others(rows):
        return [row for row in rows if (row[1], row[2], row[3]) != ("REGIME_MACRO_V0", DAY, KEY_SCOPE)]
    key_after = [row for row in after if row not in others(after)]
    assert others(after) == [row for row in before if row in others(before)]
    assert len(key_after) == key_rows_after


@DB_SETTINGS
@given(
    dimension=st.integers(1, 8),
    text_vectors=st.integers(1, 8).flatmap(lambda d: st.lists(hostile_vector(d), max_size=8)),
    regime_kind=REGIME_CHOICES,
)
def test_any_day_of_hostile_vectors_writes_the_correct_row_or_fails_without_touching_the_table(
    databases, dimension, text_vectors, regime_kind
):
    runtime_conn, historical_conn = reset(databases)
    with runtime_conn, historical_conn:
        text_dimension = first_dimension([(None, raw) for raw in text_vectors]) or dimension
        regime_dimension = dimension if regime_kind != "other dimension" else text_dimension + 1
        regime = {"fine": encode_vector(np.linspace(-1, 1, text_dimension)),
                  "other dimension": encode_vector(np.ones(regime_dimension)),
                  "non-finite": encode_vector(np.array([1.0, np.nan])), "odd bytes": b"\x01\x02\x03",
                  "null embedding": None}.get(regime_kind)
        if regime_kind != "none":
            insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=regime)
        for index, raw in enumerate(text_vectors):
            insert_macro_event(historical_conn, timestamp=utc(DAY, index), vector=raw, country="US")
        seed_unrelated_rows(historical_conn)
        before = all_joint_rows(historical_conn)

        defects = [row_defect(raw, text_dimension) for raw in text_vectors]
        valid = [] if any(defects) else [np.frombuffer(raw, dtype="<f4") for raw in text_vectors if raw is not None]
        regime_broken = regime_kind in ("non-finite", "odd bytes")
        if any(defects) or regime_broken or (regime_kind == "other dimension" and valid):
            with pytest.raises(VectorDataError):
                run_day(databases, {"contexts": [{"region": "US", "country": "US"}]})
            assert all_joint_rows(historical_conn) == before
        elif regime_kind in ("none", "null embedding") or not valid:
            assert run_day(databases, {"contexts": [{"region": "US", "country": "US"}]}) == ["removed"]
            assert_only_the_key_changed(before, all_joint_rows(historical_conn), key_rows_after=0)
        else:
            assert run_day(databases, {"contexts": [{"region": "US", "country": "US"}]}) == ["replaced"]
            after = all_joint_rows(historical_conn)
            assert_only_the_key_changed(before, after, key_rows_after=1)
            (written,) = [row for row in after if row not in before]
            np.testing.assert_allclose(np.frombuffer(written[5], dtype="<f4"),
                                       expected_joint(np.frombuffer(regime, dtype="<f4"), valid),
                                       rtol=1e-5, atol=1e-6)


printable_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=32).filter(
    str.strip)
any_text = st.text(max_size=40)  # NUL and lone surrogates included: JSON can carry both
# what a column can be matched against exactly; white space at either end and decomposed (non-NFC) spellings are
# refused with a ParamsError instead (tests/unit/test_config.py), as they would match nothing
matchable_text = printable_text.filter(lambda text: text == text.strip()
                                       and unicodedata.normalize("NFC", text) == text)


def near_miss(text: str) -> str:
    """Another value of at most 32 characters that differs from ``text`` only at its end."""
    return text + "x" if len(text) < 32 else text[:-1]


@DB_SETTINGS
@given(region=matchable_text, country=matchable_text)
@example(region="US' OR '1'='1", country="'; DROP TABLE regimes; --")
@example(region="%(region)s", country="$1 \\x00 {country}")
@example(region="Zürich \"ö\" 🏦", country="日本")
def test_unicode_and_quote_laden_regions_and_filters_are_matched_and_stored_exactly(databases, region, country):
    runtime_conn, historical_conn = reset(databases)
    with runtime_conn, historical_conn:
        insert_regime(runtime_conn, region=region, as_of_date=DAY, vector=np.array([1.0, 2.0]), record_id="r1")
        insert_regime(runtime_conn, region=near_miss(region), as_of_date=DAY, vector=np.array([5.0, 5.0]),
                      record_id="r2")
        insert_macro_event(historical_conn, timestamp=utc(DAY, 3), vector=np.array([3.0, 4.0]), country=country)
        insert_macro_event(historical_conn, timestamp=utc(DAY, 4), vector=np.array([9.0, 9.0]),
                           country=near_miss(country))
        seed_unrelated_rows(historical_conn)
        before = all_joint_rows(historical_conn)

        assert run_day(databases, {"contexts": [{"region": region, "country": country}]}) == ["written"]

        after = all_joint_rows(historical_conn)
        assert after[:len(before)] == before
        (written,) = after[len(before):]
        stored_scope = historical_conn.execute("SELECT entity_scope FROM joint_embeddings WHERE joint_id = %s",
                                               (written[0],)).fetchone()[0]
        assert stored_scope == {"region": region, "source": "regime+macro", "macro_filters": {"country": country}}
        np.testing.assert_array_equal(np.frombuffer(written[5], dtype="<f4"), [2.0, 3.0])


# --- params and --conf ---------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | any_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=8,
)
context_objects = st.fixed_dictionaries(
    {"region": st.one_of(printable_text, json_values)},
    optional={"country": st.one_of(printable_text, json_values), "event_type": printable_text,
              "language": printable_text, "Region": printable_text, "event_type ": any_text},
)
conf_values = {
    "contexts": st.one_of(st.lists(context_objects, max_size=3), json_values),
    "numeric_weight": st.one_of(st.floats(), st.integers(-5, 10**400), json_values),
    "text_weight": st.one_of(st.floats(), st.integers(-5, 5), json_values),
    "text_model_id": st.one_of(printable_text, json_values),
    "source_type": st.one_of(printable_text, any_text, st.text(max_size=80)),
    "joint_model_id": st.one_of(printable_text, json_values),
}
conf_dicts = st.one_of(
    st.fixed_dictionaries({}, optional=conf_values),
    st.fixed_dictionaries({}, optional=conf_values).flatmap(
        lambda conf: st.dictionaries(st.text(max_size=12), json_values, min_size=1, max_size=2).map(
            lambda extra: {**extra, **conf})),
)


@settings(max_examples=500, deadline=None)
@given(conf_dicts)
@example({"contxts": [{"region": "US"}]})
@example({"numeric_weight": 10**400})
@example({"contexts": [{"region": "US"}, {"region": "US"}]})
@example({"contexts": [{"region": "US", "country": None}]})
def test_conf_with_extra_missing_or_mistyped_keys_gives_the_exact_config_or_a_params_error(conf):
    """As Airflow hands them over: params are the defaults updated by ``--conf``; the conf's keys are known."""
    defaults = default_params(REGIME_MACRO_V0)
    try:
        config = RunConfig.from_params(REGIME_MACRO_V0, {**defaults, **conf}, conf.keys())
    except ParamsError as error:
        assert str(error)
        return
    assert set(conf) <= set(defaults), "an unknown conf key was accepted"
    merged = {**defaults, **conf}
    assert [context.region for context in config.contexts] == [raw["region"] for raw in merged["contexts"]]
    assert [context.filter_dict for context in config.contexts] == [
        {key: value for key, value in raw.items() if key != "region" and value is not None}
        for raw in merged["contexts"]]
    assert (config.joint_model.numeric_weight, config.joint_model.text_weight) == (
        merged["numeric_weight"], merged["text_weight"])
    assert (config.text_model_id, config.source_type, config.joint_model_id) == (
        merged["text_model_id"], merged["source_type"], merged["joint_model_id"])


def test_a_huge_day_is_streamed_in_batches_and_averaged_exactly(clean_databases, runtime_conn, historical_conn):
    rows, dimension = 30_000, 8  # 15 fetches of TEXT_FETCH_BATCH_ROWS
    vectors = np.random.default_rng(3).normal(size=(rows, dimension)).astype(np.float32)
    insert_regime(runtime_conn, region="US", as_of_date=DAY, vector=np.ones(dimension))
    event_ids = [row[0] for row in historical_conn.execute(
        "INSERT INTO macro_events (event_type, \"timestamp\", country, description)"
        " SELECT 'CPI', %s + make_interval(secs => n * 2), 'US', 'bulk' FROM generate_series(0, %s - 1) AS n"
        " RETURNING event_id", (utc(DAY), rows)).fetchall()]
    with historical_conn.cursor().copy(
            "COPY text_embeddings (source_type, source_id, model_id, vector) FROM STDIN") as copy:
        for event_id, vector in zip(event_ids, vectors, strict=True):
            copy.write_row(("MACRO", str(event_id), "text-macro-v1", vector.tobytes()))
    historical_conn.execute("ANALYZE macro_events, text_embeddings")  # as autovacuum would after a bulk load
    assert run_day(clean_databases, {"contexts": [{"region": "US", "country": "US"}]}) == ["written"]
    ((stored,),) = historical_conn.execute("SELECT vector FROM joint_embeddings").fetchall()
    np.testing.assert_allclose(np.frombuffer(stored, "<f4"), expected_joint(np.ones(dimension), vectors),
                               rtol=1e-6, atol=1e-7)
