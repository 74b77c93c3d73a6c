"""What the trigger form shows of a DAG's params: JSON schema keywords, a title and a description per param.

The DAG factory turns these into Airflow ``Param`` objects; what the values mean and how they are checked again
before any data is touched is :mod:`joint_context.config` (no Airflow import here either).
"""

from __future__ import annotations

import json

from joint_context.combined_config import combined_default_params
from joint_context.combined_space import CombinedSpace
from joint_context.config import (
    BRANCH_NORMALIZATION_VALUES,
    DEFAULT_CHUNK_DAYS,
    MAX_IDENTIFIER_LENGTH,
    MAX_REGION_LENGTH,
    default_params,
    l2_model_id,
)
from joint_context.spaces import TEXT_EMBEDDINGS_TABLE, JointSpace

__all__ = ["as_of_date_schema", "combined_params_schema", "contexts_description", "params_schema",
           "rebuild_params_schema"]


def params_schema(space: JointSpace) -> dict[str, dict]:
    """JSON schema keywords per param (with ``default``), for Airflow's ``Param`` and the trigger form: each has a
    ``title`` (the form's label) and a ``description`` (the help under it)."""
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
    formula = "z_joint = (w_num * z_num + w_text * z_text) / (w_num + w_text)"
    return {
        "as_of_date": as_of_date_schema("whose regimes and texts are read"),
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
            "title": "Contexts: regions and text filters",
            "description": contexts_description(space),
        },
        "numeric_weight": {
            "default": 0.5, **weight,
            "title": "Weight of the regime embedding (w_num)",
            "description": f"w_num in {formula}. A number >= 0; w_num + w_text must be > 0. With 0.5 and 0.5 the "
                           "joint vector is the plain average of the regime vector and the mean text vector.",
        },
        "text_weight": {
            "default": 0.5, **weight,
            "title": "Weight of the text embedding (w_text)",
            "description": f"w_text in {formula}, where z_text is the mean of the day's text vectors. A number >= 0; "
                           "w_num + w_text must be > 0.",
        },
        "text_model_id": {
            "default": defaults["text_model_id"], **identifier,
            "title": "Text embedding model",
            "description": f"Only text vectors of this model are averaged: {TEXT_EMBEDDINGS_TABLE}.model_id equals "
                           f"this value (default {defaults['text_model_id']}).",
        },
        "source_type": {
            "default": defaults["source_type"], **identifier,
            "title": "Text source type",
            "description": f"Only text vectors of this source are averaged: {TEXT_EMBEDDINGS_TABLE}.source_type "
                           f"equals this value (default {defaults['source_type']}).",
        },
        "joint_model_id": {
            "default": defaults["joint_model_id"], **identifier,
            "title": "Joint model id (written)",
            "description": "The model_id written on each joint row, part of its key: a run replaces the rows of "
                           "this id only. Change it only to keep a second version of the rows apart "
                           f"(default {defaults['joint_model_id']}).",
        },
        "branch_normalization": {
            "default": "none", "type": "string", "enum": list(BRANCH_NORMALIZATION_VALUES),
            "title": "Branch normalization",
            "description": "none: the weighted average of the branches as they are (a raw regime vector outweighs "
                           "a unit text vector); l2: each branch L2-normalised first, so the weights mean what they "
                           f"say. l2 needs its own joint_model_id (e.g. {l2_model_id(defaults['joint_model_id'])}).",
        },
    }


def as_of_date_schema(reads: str) -> dict:
    """The optional, time-zone-free day of a manual run: the trigger form's date field."""
    return {
        "default": None, "type": ["null", "string"], "format": "date",
        "title": "Day to process (UTC)",
        "description": f"The UTC day {reads} and whose rows are written (in a conf: YYYY-MM-DD, e.g. 2025-01-02). "
                       "Empty: the UTC day of the run's logical date; the logical date picker follows your "
                       "browser's time zone, so set this field to be sure of the day. Manual runs only: a "
                       "backfill's or a scheduled run's day is its own.",
    }


def combined_params_schema(space: CombinedSpace) -> dict[str, dict]:
    """The combined DAG's params, as :func:`params_schema` for the text spaces: a title and a description each."""
    defaults = combined_default_params(space)
    identifier = {"type": "string", "minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH}
    context_properties = {"region": {"type": "string", "minLength": 1, "maxLength": MAX_REGION_LENGTH}}
    for branch in space.branches:
        for text_filter in branch.space.filters:
            context_properties[text_filter.name] = {
                "type": ["string", "null"], "minLength": 1, "maxLength": MAX_IDENTIFIER_LENGTH,
                "description": f"{branch.space.joint_type} rows of this {branch.space.filters_key} "
                               f"({text_filter.description})",
            }
    weights = ", ".join(f"w_{branch.name}" for branch in space.branches)
    branch_rows = " + ".join(f"w_{branch.name} * J_{branch.name}" for branch in space.branches)
    formula = f"z = ({branch_rows}) / ({' + '.join(f'w_{branch.name}' for branch in space.branches)})"
    return {
        "as_of_date": as_of_date_schema(f"whose {' and '.join(b.space.joint_type for b in space.branches)} rows "
                                        "are combined"),
        "contexts": {
            "default": defaults["contexts"],
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": context_properties, "required": ["region"],
                      "additionalProperties": False},
            "title": "Contexts: regions and the branches' filters",
            "description": combined_contexts_description(space),
        },
        **{branch.weight_param: {
            "default": 0.5, "type": "number", "minimum": 0,
            "title": f"Weight of the {branch.name} row (w_{branch.name})",
            "description": f"w_{branch.name} in {formula}, where J_{branch.name} is the stored "
                           f"{branch.space.joint_type} row of the same region, filters and day. A number >= 0; "
                           f"the weights ({weights}) must not add up to 0. With 0 the {branch.space.joint_type} "
                           "row is neither read nor required.",
        } for branch in space.branches},
        "source_model_id": {
            "default": defaults["source_model_id"], **identifier,
            "title": "Model id of the rows combined",
            "description": "Only branch rows whose model_id equals this value are read (default "
                           f"{defaults['source_model_id']}); e.g. the joint_model_id an l2 run of the branches wrote.",
        },
        "joint_model_id": {
            "default": defaults["joint_model_id"], **identifier,
            "title": "Joint model id (written)",
            "description": "The model_id written on each combined row, part of its key: a run replaces the rows "
                           "of this id only. Change it only to keep a second version of the rows apart "
                           f"(default {defaults['joint_model_id']}).",
        },
    }


def combined_contexts_description(space: CombinedSpace) -> str:
    filters = "; ".join(f"{text_filter.name}: {branch.space.joint_type} rows of this {branch.space.filters_key} "
                        f"({text_filter.description})" for branch in space.branches
                        for text_filter in branch.space.filters)
    example = json.dumps(list(space.example_contexts or space.default_contexts))
    return (f"A list of contexts; each writes one row per day. A context is a region plus the filters that name "
            f"its stored branch rows, left out or null when not applied ({filters}). Example: {example}. A "
            "context whose rows are absent that day (weekends have no macro events) gets no row.")


def contexts_description(space: JointSpace) -> str:
    """What a context is, every filter of ``space`` with what it matches, and an example (the form shows no more)."""
    filters = "; ".join(f"{text_filter.name}: {text_filter.description}" for text_filter in space.filters)
    example = json.dumps(list(space.example_contexts or space.default_contexts))
    return (f"A list of contexts; each writes one row per day. A context is a region (runtime_db.regimes.region, "
            f"e.g. US) plus optional filters on the texts of {space.event_table}, left out or null when not "
            f"applied ({filters}). Example: {example}. A context without a regime or without texts that day "
            "gets no row.")


def rebuild_params_schema(space: JointSpace) -> dict[str, dict]:
    """The rebuild DAG's params: the range, then exactly the per-date DAG's params (:func:`params_schema`)."""
    iso_date = {"type": "string", "format": "date"}
    per_date = {name: schema for name, schema in params_schema(space).items() if name != "as_of_date"}
    return {
        "first_date": {**iso_date, "title": "First day to rebuild (UTC)",
                       "description": "First as_of_date to rebuild (YYYY-MM-DD, inclusive), e.g. 2016-01-01."},
        "last_date": {**iso_date, "title": "Last day to rebuild (UTC)",
                      "description": "Last as_of_date to rebuild (YYYY-MM-DD, inclusive), e.g. 2025-12-31."},
        "chunk_days": {"default": DEFAULT_CHUNK_DAYS, "type": "integer", "minimum": 1, "title": "Days per chunk",
                       "description": "Dates per rebuild_chunk task (one mapped task instance each): fewer, longer "
                                      "chunks cost less Airflow overhead, more spread over more workers."},
        **per_date,
    }
