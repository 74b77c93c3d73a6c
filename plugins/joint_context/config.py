"""A run's configuration: which contexts, weights and model ids, validated before any data is touched.

The DAG's params and the command line both end up here, so both accept and reject the same things.
No Airflow import. What the trigger form shows of them (JSON schema, titles, descriptions) is
:mod:`joint_context.params`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from joint_context.errors import JointDataError, ParamsError

__all__ = ["RegionScope", "ParamsError", "RunConfig", "default_params", "l2_model_id", "parse_contexts",
           "parse_as_of_date_param"]
from joint_context.spaces import JointSpace, TextFilter, canonical_json

if TYPE_CHECKING:
    from joint_context.joint import SimpleAverageJointModel

MAX_IDENTIFIER_LENGTH = 64  # model_id / source_type / filter columns are varchar(<= 64)
MAX_REGION_LENGTH = 32  # regimes.region is varchar(32)
BRANCH_NORMALIZATION_VALUES = ("none", "l2")  # joint.BRANCH_NORMALIZATIONS, without importing numpy at parse time
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # JSON schema's "format": "date" (RFC 3339 full-date)


@dataclass(frozen=True)
class RegionScope:
    """One entry of the ``contexts`` param: a region plus the text filters applied to it (named apart from
    Airflow's task ``context``)."""

    region: str
    filters: tuple[tuple[str, str], ...] = ()

    @property
    def filter_dict(self) -> dict[str, str]:
        return dict(self.filters)

    def describe(self) -> str:
        applied = ", ".join(f"{name}={value}" for name, value in self.filters)
        return f"{self.region} [{applied or 'no filters'}]"


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs besides the date: contexts, the joint model, model ids and source type; and the
    day a run was told to process (``as_of_date``), when it was, which wins over its logical date."""

    space: JointSpace
    contexts: tuple[RegionScope, ...]
    joint_model: SimpleAverageJointModel
    text_model_id: str
    source_type: str
    joint_model_id: str
    as_of_date: date | None = None

    def entity_scope(self, scope: RegionScope) -> dict:
        return self.space.entity_scope(scope.region, scope.filter_dict)

    @classmethod
    def from_params(
        cls, space: JointSpace, params: Mapping, conf_keys: Iterable[str] = ()
    ) -> RunConfig:
        """Validate params (defaults filled in) and the keys a user passed in ``--conf``.

        :param space: the joint space whose filters the contexts may use.
        :param params: the run's params, e.g. ``context["params"]``.
        :param conf_keys: the keys of ``dag_run.conf``; unknown ones are an error, not silently ignored.
        """
        defaults = default_params(space)
        unknown_keys = sorted(set(conf_keys) - set(defaults))
        if unknown_keys:
            raise ParamsError(f"unknown key(s) in conf: {unknown_keys}; accepted: {sorted(defaults)}")
        from joint_context.joint import SimpleAverageJointModel  # numpy: not at DAG parse time

        merged = {**defaults, **{key: value for key, value in params.items() if key in defaults}}
        contexts = parse_contexts(space, merged["contexts"])
        try:
            joint_model = SimpleAverageJointModel(merged["numeric_weight"], merged["text_weight"],
                                                  merged["branch_normalization"])
        except JointDataError as error:
            raise ParamsError(str(error)) from error
        joint_model_id = _identifier(merged, "joint_model_id")
        _check_model_id_matches_normalization(space, joint_model.branch_normalization, joint_model_id)
        return cls(
            space=space,
            contexts=contexts,
            joint_model=joint_model,
            text_model_id=_identifier(merged, "text_model_id"),
            source_type=_identifier(merged, "source_type"),
            joint_model_id=joint_model_id,
            as_of_date=parse_as_of_date_param(merged.get("as_of_date")),
        )


def l2_model_id(model_id: str) -> str:
    """The naming convention of a model id whose rows are "l2" ones: ``-l2`` before the version suffix
    (``joint-regime-core-v1`` → ``joint-regime-core-l2-v1``), else at the end."""
    stem, dash, version = model_id.rpartition("-")
    if dash and version[:1] == "v" and version[1:].isdigit():
        return f"{stem}-l2-{version}"
    return f"{model_id}-l2"


def _check_model_id_matches_normalization(space: JointSpace, branch_normalization: str, joint_model_id: str) -> None:
    """Rows of the two definitions never share a model_id: "l2" refuses the space's default id, "none" its
    "l2" name."""
    default_id = space.default_joint_model_id
    if branch_normalization == "l2" and joint_model_id == default_id:
        raise ParamsError(
            f"branch_normalization \"l2\" needs its own joint_model_id: {default_id!r} names the rows of the "
            f"\"none\" formula. Give another, by convention {l2_model_id(default_id)!r}")
    if branch_normalization == "none" and joint_model_id == l2_model_id(default_id):
        raise ParamsError(
            f"joint_model_id {joint_model_id!r} names rows of branch_normalization \"l2\" by convention; with "
            f"\"none\" use {default_id!r} or another id")


def default_params(space: JointSpace) -> dict:
    return {
        "contexts": [dict(context) for context in space.default_contexts],
        "numeric_weight": 0.5,
        "text_weight": 0.5,
        "text_model_id": space.default_text_model_id,
        "source_type": space.default_source_type,
        "joint_model_id": space.default_joint_model_id,
        "branch_normalization": "none",
        "as_of_date": None,
    }


def parse_as_of_date_param(value: object) -> date | None:
    """The ``as_of_date`` param: ``None`` (the logical date's day) or an ISO date ``YYYY-MM-DD``."""
    if value is None:
        return None
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise ParamsError(f"as_of_date must be a date like 2025-01-02 (YYYY-MM-DD) or null, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ParamsError(f"as_of_date {value!r} is not a calendar date: {error}") from None


def parse_contexts(space: JointSpace, raw_contexts: object) -> tuple[RegionScope, ...]:
    """Validate a ``contexts`` list. Values are canonical (a case-insensitive filter in lower case, see
    :meth:`TextFilter.canonical`), so two contexts that select the same rows are one key: repeating one is an error.
    """
    return parse_region_scopes(
        raw_contexts, filters=space.filters, example=space.default_contexts[0],
        scope_key=lambda scope: canonical_json(space.entity_scope(scope.region, scope.filter_dict)),
        same="select the same rows")


def parse_region_scopes(raw_contexts: object, *, filters: Sequence[TextFilter], example: Mapping,
                        scope_key: Callable[[RegionScope], str], same: str) -> tuple[RegionScope, ...]:
    """A ``contexts`` list of flat objects, a ``region`` and any of ``filters``: every value checked as it will be
    matched, filters canonical and sorted by name, and no two contexts with the same ``scope_key`` (they would
    ``same``: one key)."""
    if not isinstance(raw_contexts, list) or not raw_contexts:
        raise ParamsError(f"contexts must be a non-empty list of objects, got {raw_contexts!r}")
    allowed = ("region", *(text_filter.name for text_filter in filters))
    contexts: list[RegionScope] = []
    seen_scopes: dict[str, int] = {}
    for index, raw in enumerate(raw_contexts):
        where = f"contexts[{index}]"
        if not isinstance(raw, Mapping):
            raise ParamsError(f"{where} must be an object like {dict(example)}, got {raw!r}")
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ParamsError(f"{where} has unknown key(s) {unknown}; accepted: {list(allowed)}")
        region = raw.get("region")
        _check_text(region, f"{where}.region", MAX_REGION_LENGTH)
        applied = []
        for text_filter in filters:
            value = raw.get(text_filter.name)
            if value is None:
                continue
            _check_text(value, f"{where}.{text_filter.name}", MAX_IDENTIFIER_LENGTH)
            applied.append((text_filter.name, text_filter.canonical(value)))
        context = RegionScope(region=region, filters=tuple(sorted(applied)))
        key = scope_key(context)
        if key in seen_scopes:
            ignoring_case = [f.name for f in filters if f.case_insensitive and f.name in context.filter_dict]
            note = f"; {', '.join(ignoring_case)} ignores case" if ignoring_case else ""
            raise ParamsError(f"{where} repeats contexts[{seen_scopes[key]}] ({context.describe()}{note}: both "
                              f"{same})")
        seen_scopes[key] = index
        contexts.append(context)
    return tuple(contexts)


def _identifier(params: Mapping, key: str) -> str:
    value = params[key]
    _check_text(value, key, MAX_IDENTIFIER_LENGTH)
    return value


def _check_text(value: object, where: str, max_length: int) -> None:
    """A value matched exactly against a column: refused, not silently altered, when it could match nothing."""
    if not isinstance(value, str) or not value.strip():
        raise ParamsError(f"{where} must be a non-empty string, got {value!r}")
    if value != value.strip():
        raise ParamsError(f"{where} {value!r} has leading or trailing white space; values are matched exactly, "
                          f"so it would not select the rows of {value.strip()!r}: remove it")
    if len(value) > max_length:
        raise ParamsError(f"{where} is {len(value)} characters long, at most {max_length} fit the column")
    if "\x00" in value:
        raise ParamsError(f"{where} must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:  # a lone surrogate, which JSON can carry as "\ud800"
        raise ParamsError(f"{where} is not valid Unicode text ({value[error.start]!r} at {error.start})") from None
    composed = unicodedata.normalize("NFC", value)
    if composed != value:
        raise ParamsError(f"{where} {value!r} is not in Unicode NFC form: its decomposed characters do not equal "
                          f"the composed ones text is normally stored with; write {composed!r}")


REBUILD_RANGE_KEYS = ("first_date", "last_date", "chunk_days")
DEFAULT_CHUNK_DAYS = 92


@dataclass(frozen=True)
class RebuildRange:
    """What a rebuild DAG run covers besides the space's own params: ``first_date..last_date`` (inclusive), split
    into chunks of ``chunk_days`` dates, one mapped task each."""

    first_date: date
    last_date: date
    chunk_days: int = DEFAULT_CHUNK_DAYS

    @classmethod
    def from_params(cls, params: Mapping) -> RebuildRange:
        first_date = _iso_date(params.get("first_date"), "first_date")
        last_date = _iso_date(params.get("last_date"), "last_date")
        if first_date > last_date:
            raise ParamsError(f"first_date {first_date} is after last_date {last_date}: the range is inclusive, "
                              "first_date <= last_date")
        chunk_days = params.get("chunk_days", DEFAULT_CHUNK_DAYS)
        if isinstance(chunk_days, bool) or not isinstance(chunk_days, int) or chunk_days < 1:
            raise ParamsError(f"chunk_days must be a whole number of days >= 1, got {chunk_days!r}")
        return cls(first_date, last_date, chunk_days)


def rebuild_config(space: JointSpace, params: Mapping, conf_keys: Iterable[str] = ()
                   ) -> tuple[RunConfig, RebuildRange]:
    """A rebuild run's range and the :class:`RunConfig` of its space's params, validated as the per-date DAG's;
    a ``--conf`` key that is neither is refused."""
    space_keys = [key for key in conf_keys if key not in REBUILD_RANGE_KEYS]
    if "as_of_date" in space_keys:
        raise ParamsError("as_of_date picks the day of a per-date run; a rebuild covers first_date..last_date")
    return RunConfig.from_params(space, params, space_keys), RebuildRange.from_params(params)


def _iso_date(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParamsError(f"{where} must be an ISO date like 2025-01-02, got {value!r}") from None
