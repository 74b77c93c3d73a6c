"""Writing ``joint_embeddings`` rows directly, as earlier tools did (for the e2e and CLI tests)."""

from __future__ import annotations

import json

import numpy as np

from joint_context.vectors import encode_vector


def insert_joint_row(historical_conn, joint_type, as_of_date, scope, vector, *, model_id="joint-regime-core-v1",
                     created_at=None) -> None:
    """One row, bypassing the package (``vector`` None stores NULL)."""
    historical_conn.execute(
        "INSERT INTO joint_embeddings (joint_type, as_of_date, entity_scope, model_id, vector, created_at)"
        " VALUES (%s, %s, %s::jsonb, %s, %s, COALESCE(%s, now()))",
        (joint_type, as_of_date, json.dumps(scope), model_id,
         None if vector is None else encode_vector(np.asarray(vector)), created_at),
    )


def macro_scope(region: str, **filters: str) -> dict:
    return {"region": region, "source": "regime+macro", "macro_filters": filters}


def news_scope(region: str, **filters: str) -> dict:
    return {"region": region, "source": "regime+news", "news_filters": filters}
