"""Retention and subject access: keep data only as long as the README says, and show all of it on request.

Two periods, both configurable:

* ``RETENTION_DAYS`` (default 30): conversation state, redacted transcripts, idempotency keys,
  unanswered questions, the local outbox, Teams dialog routes and the "met this user" rows.
* ``RECORD_RETENTION_DAYS`` (default 2555, about seven years): confirmed decision records and the
  audit log. A record is purged only when its whole amendment chain is older than the cutoff, so an
  amendment never points at nothing.

Every run that purges writes one ``audit_log`` entry with the cutoffs and the counts per table,
never any content. ``export_user`` gathers every row that names one user id, in every table, for a
subject access request. Same code on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import Settings
from bot.metrics import metrics
from bot.storage.db import claim_once, utcnow
from bot.storage.register import audit
from bot.storage.retention import erase_rows, purge_expired, rows_naming

log = logging.getLogger(__name__)

ACTOR = "system:retention"
PURGE_ACTION = "retention.purge"
ERASE_ACTION = "retention.erase_user"


@dataclass
class RetentionReport:
    now: datetime
    cutoff: datetime
    record_cutoff: datetime
    purged: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    @property
    def total(self) -> int:
        return sum(self.purged.values())

    def to_dict(self) -> dict[str, Any]:
        return {"now": self.now.isoformat(), "cutoff": self.cutoff.isoformat(),
                "record_cutoff": self.record_cutoff.isoformat(), "purged": self.purged,
                "total": self.total, "dry_run": self.dry_run}


async def run_retention(engine: AsyncEngine, settings: Settings, *, now: datetime | None = None,
                        dry_run: bool = False, once_key: str | None = None) -> RetentionReport | None:
    """Purge everything past its retention period; one audit entry says what went (counts only).

    With ``once_key`` the run happens at most once for that key across all replicas (None if it
    already ran); the key commits with the purge, so a failed run is retried next time.
    """
    now = now or utcnow()
    report = RetentionReport(now=now, cutoff=now - timedelta(days=settings.retention_days),
                             record_cutoff=now - timedelta(days=settings.record_retention_days), dry_run=dry_run)
    async with engine.begin() as conn:
        if once_key and not await claim_once(conn, once_key):
            return None
        report.purged = await purge_expired(conn, report.cutoff, report.record_cutoff, dry_run)
        if not dry_run and report.total:
            await audit(conn, ACTOR, PURGE_ACTION, None, {
                "cutoff": report.cutoff.isoformat(), "record_cutoff": report.record_cutoff.isoformat(),
                "retention_days": settings.retention_days, "record_retention_days": settings.record_retention_days,
                "purged": report.purged}, now)
    if not dry_run:
        for table_name, count in report.purged.items():
            if count:
                metrics.inc("retention_rows_purged", count, table=table_name)
    log.info("retention run", extra=report.to_dict())
    return report


async def run_daily_retention(engine: AsyncEngine, settings: Settings) -> RetentionReport | None:
    """The scheduled run: once a day across all replicas (an idempotency key per UTC date)."""
    return await run_retention(engine, settings, once_key=f"retention:{utcnow().date().isoformat()}")


def start_retention_schedule(app, settings: Settings) -> None:
    """Run retention daily in the background when the scheduler is enabled (called from app.py)."""
    if not settings.scheduler_enabled:
        return
    from bot.background import add_background_task, every
    from bot.http import ASSISTANT

    async def job() -> None:
        await run_daily_retention(app[ASSISTANT].engine, settings)

    add_background_task(app, "retention", every(3600, job, name="retention", first_delay=60))


# ---------------------------------------------------------------------- subject access
async def export_user(engine: AsyncEngine, user_id: str, legacy_keys: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every row, in every table, that names ``user_id``: the answer to a subject access request.

    ``user_id`` is a canonical identity key. ``legacy_keys`` are older forms of it that a migration
    could not rewrite (a Slack id whose workspace was unknown): rows under them may be this person's
    or someone with the same id in another workspace, so they are listed apart, for review.
    """
    async with engine.connect() as conn:
        tables = await rows_naming(conn, (user_id,))
        legacy = await rows_naming(conn, legacy_keys) if legacy_keys else {}
    export: dict[str, Any] = {"user_id": user_id, "exported_at": utcnow().isoformat(), "tables": tables,
                              "not_linked_to_users": ["unanswered_questions (redacted, anonymous)",
                                                      "processed_events (delivery ids only)"]}
    if legacy:
        export["legacy_matches"] = {"keys": list(legacy_keys), "tables": legacy,
                                    "note": "stored without a workspace; check they are this person's"}
    return export


# ---------------------------------------------------------------------- erasure
async def erase_user(engine: AsyncEngine, user_id: str, *, include_records: bool = False,
                     actor: str = "cli") -> dict[str, int]:
    """Delete what is held about ``user_id``; the audit entry names a hash of the id, not the id.

    The register and audit rows that name the user keep their place with the pseudonym
    ``erased:sha256:…`` instead (an agreement they owned then needs a new owner: ``isa edit``).
    """
    digest = hashlib.sha256(user_id.encode()).hexdigest()[:16]
    async with engine.begin() as conn:
        erased = await erase_rows(conn, user_id, f"erased:sha256:{digest}", include_records)
        await audit(conn, actor, ERASE_ACTION, f"sha256:{digest}",
                    {"erased": erased, "include_records": include_records}, utcnow())
    log.info("user data erased", extra={"subject": f"sha256:{digest}", "erased": erased})
    return erased
