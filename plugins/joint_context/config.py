"""A run's configuration: which contexts, weights and model ids, validated before any data is touched.

The DAG's params and the command line both end up here, so both accept and reject the same things.
No Airflow import: the DAG factory turns :func:`params_schema` into ``Param`` objects.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from joint_context.errors import JointDataError, ParamsError

__all__ = ["RegionScope", "ParamsError", "RunConfig", "default_params", "params_schema", "parse_contexts"]
from joint_context.spaces import JointSpace, canonical_json

if TYPE_CHECKING:
    from joint_context.joint import SimpleAverageJointModel

MAX_IDENTIFIER_LENGTH = 64  # model_id / source_type / filter columns are varchar(<= 64)
MAX_REGION_LENGTH = 32  # regimes.region is varchar(32)


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
    """Everything a run needs besides the date: contexts, the joint model, model ids and source type."""

    space: JointSpace
    contexts: tuple[RegionScope, ...]
    joint_model: SimpleAverageJointModel
    text_model_id: str
    source_type: str
    joint_model_id: str

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
            joint_model = SimpleAverageJointModel(merged["numeric_weight"], merged["text_weight"])
        except JointDataError as error:
            raise ParamsError(str(error)) from error
        return cls(
            space=space,
            contexts=contexts,
            joint_model=joint_model,
            text_model_id=_identifier(merged, "text_model_id"),
            source_type=_identifier(merged, "source_type"),
            joint_model_id=_identifier(merged, "joint_model_id"),
        )


def default_params(space: JointSpace) -> dict:
    return {
        "contexts": [dict(context) for context in space.default_contexts],
        "numeric_weight": 0.5,
        "text_weight": 0.5,
        "text_model_id": space.default_text_model_id,
        "source_type": space.default_source_type,
        "joint_model_id": space.default_joint_model_id,
    }


def params_schema(space: JointSpace) -> dict[str, dict]:
    """JSON schema keywords per param (with ``default``), for Airflow's ``Param`` and the trigger form."""
    defaults = default_params(space)
    identifier = {"type": "string", "minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH}
    context_properties = {
        "region": {"type": "string", "minLength": 1, "maxLength": MAX_REGION_LENGTH},
        **{
            text_filter.name: {
                "type": ["string", "null"], "minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH,
                "description": text_filter.description,
            }
            for text_filter in space.filters
        },
    }
    weight = {"type": "number", "minimum": 0}
    return {
        "contexts": {
            "default": defaults["contexts"],
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": context_properties,
                "required": ["region"],
                "additionalProperties": False,
            },
            "description": f"Regions and optional filters ({', '.join(space.filter_names)}); one row each.",
        },
        "numeric_weight": {"default": 0.5, **weight, "description": "w_num, >= 0 (w_num + w_text > 0)"},
        "text_weight": {"default": 0.5, **weight, "description": "w_text, >= 0 (w_num + w_text > 0)"},
        "text_model_id": {"default": defaults["text_model_id"], **identifier},
        "source_type": {"default": defaults["source_type"], **identifier},
        "joint_model_id": {"default": defaults["joint_model_id"], **identifier},
    }


def parse_contexts(space: JointSpace, raw_contexts: object) -> tuple[RegionScope, ...]:
    """Validate a ``contexts`` list. Values are canonical (a case-insensitive filter in lower case, see
    :meth:`TextFilter.canonical`), so two contexts that select the same rows are one key: repeating one is an error.
    """
    if not isinstance(raw_contexts, list) or not raw_contexts:
        raise ParamsError(f"contexts must be a non-empty list of objects, got {raw_contexts!r}")
    allowed = ("region", *space.filter_names)
    contexts: list[RegionScope] = []
    seen_scopes: dict[str, int] = {}
    for index, raw in enumerate(raw_contexts):
        where = f"contexts[{index}]"
        if not isinstance(raw, Mapping):
            raise ParamsError(f"{where} must be an object like {space.default_contexts[0]}, got {raw!r}")
        unknown = sorted(set(raw) - set(allowed))
        if unknown:
            raise ParamsError(f"{where} has unknown key(s) {unknown}; accepted: {list(allowed)}")
        region = raw.get("region")
        _check_text(region, f"{where}.region", MAX_REGION_LENGTH)
        filters = []
        for text_filter in space.filters:
            value = raw.get(text_filter.name)
            if value is None:
                continue
            _check_text(value, f"{where}.{text_filter.name}", MAX_IDENTIFIER_LENGTH)
            filters.append((text_filter.name, text_filter.canonical(value)))
        context = RegionScope(region=region, filters=tuple(filters))
        scope_key = canonical_json(space.entity_scope(context.region, context.filter_dict))
        if scope_key in seen_scopes:
            ignoring_case = [f.name for f in space.filters if f.case_insensitive and f.name in context.filter_dict]
            same = f"; {', '.join(ignoring_case)} ignores case" if ignoring_case else ""
            raise ParamsError(f"{where} repeats contexts[{seen_scopes[scope_key]}] ({context.describe()}{same}: "
                              "both select the same rows)")
        seen_scopes[scope_key] = index
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


def rebuild_params_schema(space: JointSpace) -> dict[str, dict]:
    """The rebuild DAG's params: the range, then exactly the per-date DAG's params (:func:`params_schema`)."""
    iso_date = {"type": "string", "format": "date"}
    return {
        "first_date": {**iso_date, "description": "First as_of_date to rebuild (ISO, inclusive), e.g. 2016-01-01"},
        "last_date": {**iso_date, "description": "Last as_of_date to rebuild (ISO, inclusive), e.g. 2025-12-31"},
        "chunk_days": {"default": DEFAULT_CHUNK_DAYS, "type": "integer", "minimum": 1,
                       "description": "Dates per rebuild_chunk task (one mapped task instance each)"},
        **params_schema(space),
    }


def rebuild_config(space: JointSpace, params: Mapping, conf_keys: Iterable[str] = ()
                   ) -> tuple[RunConfig, RebuildRange]:
    """A rebuild run's range and the :class:`RunConfig` of its space's params, validated as the per-date DAG's;
    a ``--conf`` key that is neither is refused."""
    space_keys = [key for key in conf_keys if key not in REBUILD_RANGE_KEYS]
    return RunConfig.from_params(space, params, space_keys), RebuildRange.from_params(params)


def _iso_date(value: object, where: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ParamsError(f"{where} must be an ISO date like 2025-01-02, got {value!r}") from None
