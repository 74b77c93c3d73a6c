"""The OpenLineage methods the provider's listener calls on an operator, shared by every operator that reads or
writes the tables (Airflow layer; the provider is imported only when the listener calls, by :meth:`lineage`).

START names the datasets; COMPLETE and FAIL name them again with what ``execute`` got to
(``self.lineage_facts``: fields of :class:`joint_context.lineage.JointContextRunFacet`; none when it failed
before reading).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date


class ReportsLineage:
    """Mixin: implement :meth:`lineage`; ``execute`` fills ``self.lineage_facts`` as it goes."""

    lineage_facts: dict

    def lineage(self, facts: dict):
        """The task's ``OperatorLineage`` with ``facts`` in its run facet."""
        raise NotImplementedError

    def get_openlineage_facets_on_start(self):
        return self.lineage({})

    def get_openlineage_facets_on_complete(self, task_instance):
        return self.lineage(getattr(self, "lineage_facts", {}))

    def get_openlineage_facets_on_failure(self, task_instance):
        return self.get_openlineage_facets_on_complete(task_instance)


def date_facts(dates: list[date]) -> dict:
    """``as_of_date`` for one date, ``first_date`` and ``last_date`` for several."""
    if len(dates) == 1:
        return {"as_of_date": dates[0].isoformat()}
    return {"first_date": min(dates).isoformat(), "last_date": max(dates).isoformat()} if dates else {}


def count_facts(counts: Iterable[Mapping[str, int]]) -> dict:
    """The facet's counts from write counts (``written``, ``replaced``, ``skipped``, ``removed``), added up."""
    totals = dict.fromkeys(("written", "replaced", "skipped", "removed"), 0)
    for one in counts:
        for key in totals:
            totals[key] += one[key]
    return {"contexts_written": totals["written"], "contexts_replaced": totals["replaced"],
            "contexts_skipped": totals["skipped"], "stale_rows_removed": totals["removed"]}
