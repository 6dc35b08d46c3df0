"""Prometheus metrics for operations: how many turns, how they ended, how long they took.

One process-wide ``metrics`` object on its own ``CollectorRegistry`` (never the library's global
one, so tests and embedding stay isolated). The core reports every turn through
``Assistant.observers``; records stored and reminders sent or failed are counted from the database
writes themselves; anything else is counted with ``metrics.inc(name, **labels)``:

    from bot.metrics import metrics
    metrics.inc("records_stored")
    metrics.inc("reminders_sent", channel="slack")

Names listed in ``COUNTERS`` are always exported (at zero before the first event) so dashboards
and alerts can rely on them; any other name becomes a counter the first time it is used. Counting
never raises: a metrics mistake must not break a user's turn.
"""

from __future__ import annotations

import logging

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

NAMESPACE = "infoshare"

# name -> (help text, label names). ``inc`` with these names must use exactly these labels.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "turns": ("Turns handled, by how they ended (answer, abstain, dialog, command:<name>, error...)",
              ("outcome",)),
    "answers": ("Questions answered from the guidance", ()),
    "abstentions": ("Questions the bot declined to answer and signposted to a person", ()),
    "walkthroughs_started": ("Decision walkthroughs started", ()),
    "walkthroughs_completed": ("Decision walkthroughs that reached a confirmed record", ()),
    "records_stored": ("Decision records stored (including amendments)", ()),
    "reminders_sent": ("Reminders delivered", ()),
    "reminders_failed": ("Reminder deliveries that failed (each attempt)", ()),
    "retention_rows_purged": ("Rows removed by the retention job, by table", ("table",)),
}

WALKTHROUGH_STARTED_OUTCOME = "command:decide"  # the core's outcome for a turn that starts a walkthrough
REMINDER_STATUS_METRICS = {"sent": "reminders_sent", "failed": "reminders_failed"}

# Turn latency buckets: the core's budget is milliseconds, database round trips tens of them.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._counters: dict[str, Counter] = {}
        for name, (documentation, labels) in COUNTERS.items():
            self._counter(name, documentation, labels)
        self.turn_seconds = Histogram(
            f"{NAMESPACE}_turn_seconds", "Time to handle one turn in the core, in seconds",
            ("outcome",), buckets=LATENCY_BUCKETS, registry=self.registry)

    def _counter(self, name: str, documentation: str, labels: tuple[str, ...]) -> Counter:
        counter = Counter(f"{NAMESPACE}_{name}", documentation, labels, registry=self.registry)
        self._counters[name] = counter
        return counter

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Count an event; unknown names become new counters, bad labels are logged, never raised."""
        try:
            counter = self._counters.get(name) or self._counter(name, name.replace("_", " "), tuple(sorted(labels)))
            (counter.labels(**{k: str(v) for k, v in labels.items()}) if labels else counter).inc(amount)
        except (ValueError, TypeError) as exc:
            log.warning("metric not counted", extra={"metric": name, "reason": str(exc)})

    def observe_turn(self, outcome: str, seconds: float) -> None:
        """An ``Assistant.observers`` callback: one call per turn."""
        self.inc("turns", outcome=outcome)
        if outcome == "answer":
            self.inc("answers")
        elif outcome == "abstain":
            self.inc("abstentions")
        elif outcome == WALKTHROUGH_STARTED_OUTCOME:
            self.inc("walkthroughs_started")
        self.turn_seconds.labels(outcome=outcome).observe(seconds)

    def observe_writes(self, engine: AsyncEngine) -> None:
        """Count records stored and reminders sent or failed from the writes themselves.

        The database is the system of record, so counting there means no feature can forget to
        report, and a write that fails (rolled back by the caller) is still counted only once it ran.
        """
        event.listen(engine.sync_engine, "after_execute", self._after_execute)

    def _after_execute(self, conn, clause, multiparams, params, execution_options, result) -> None:
        try:
            table = getattr(clause, "table", None)
            if table is None or not getattr(clause, "is_dml", False):
                return
            rows = [dict(p) for p in (result.context.compiled_parameters or [])]
            if table.name == "decision_records" and clause.is_insert:
                self.inc("records_stored", len(rows))
                originals = sum(1 for row in rows if row.get("amends_id") is None)
                if originals:
                    self.inc("walkthroughs_completed", originals)
            elif table.name == "reminder_occurrences" and clause.is_update and (result.rowcount or 0) > 0:
                status = str(rows[0].get("status", "")) if rows else ""
                if status in REMINDER_STATUS_METRICS:
                    self.inc(REMINDER_STATUS_METRICS[status], result.rowcount)
        except Exception as exc:  # noqa: BLE001 - counting must never break a write
            log.warning("write not counted", extra={"reason": type(exc).__name__})

    def value(self, name: str, **labels: str) -> float:
        """The current value of a counter (for tests and the CLI); 0 when never counted."""
        sample = self.registry.get_sample_value(f"{NAMESPACE}_{name}_total", labels or None)
        return sample or 0.0


metrics = Metrics()


async def metrics_endpoint(request: web.Request) -> web.Response:
    """``GET /metrics`` in whichever exposition format the scraper asks for."""
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encoder(metrics.registry), headers={"Content-Type": content_type})


def setup_metrics(app: web.Application, assistant) -> None:
    """Mount ``/metrics`` and subscribe to the core's per-turn reports."""
    if metrics.observe_turn not in assistant.observers:
        assistant.observers.append(metrics.observe_turn)
        metrics.observe_writes(assistant.engine)
    app.router.add_get("/metrics", metrics_endpoint)
