"""Exactly-once durable delivery of reminders, safe with several replicas on one database.

Each run: *materialise* every occurrence due by ``now`` as a row in ``reminder_occurrences`` with a
unique key per (reminder, occurrence, address) (inserting twice is a no-op); then *claim* due rows
one by one with a lease (a conditional UPDATE whose row count says who won, atomic on SQLite and
PostgreSQL alike), *send* through ``assistant.delivery``, and *mark sent*. A replica that dies
between claim and mark leaves a lease that expires, and another replica sends it then. A failed send
is retried with exponential backoff and never silently dropped; a permanent failure (the bot was
removed from the channel, no sender for the address) is reported to the owner (itself a durable
occurrence) and pauses the channel's subscription. Occurrences missed by more than the grace window
(after downtime) are recorded as ``skipped`` and logged, never sent late.

Row status: ``pending`` -> ``claimed`` -> ``sent``; ``failed`` with ``next_attempt_at`` set is
retried, ``failed`` without it is undeliverable (reported); ``skipped`` was missed or no longer due.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from bot.background import add_background_task, sleep_or_stop
from bot.delivery import DeliveryError, DeliveryFailure
from bot.isa.model import ISA, REVIEWABLE, ISAStatus
from bot.messages import Reply
from bot.reminders import message
from bot.reminders.schedule import (
    Calendar,
    Occurrence,
    ReminderKind,
    parse_time_of_day,
    review_occurrences,
    weekly_occurrences,
)
from bot.storage import occurrences, subscriptions
from bot.storage.db import utcnow
from bot.storage.occurrences import OccurrenceStatus
from bot.storage.register import ISANotFound, get_isa, isas_by_id, list_isas, snoozes

if TYPE_CHECKING:
    from bot.core import Assistant

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SchedulerPolicy:
    grace: timedelta = timedelta(hours=24)  # missed occurrences older than this are skipped
    lease: timedelta = timedelta(minutes=5)  # a claim expires after this; must exceed send_timeout
    send_timeout: timedelta = timedelta(minutes=1)
    backoff_base: timedelta = timedelta(minutes=1)
    backoff_max: timedelta = timedelta(hours=1)
    notify_after_attempts: int = 5  # tell the owner once when a send keeps failing
    lookback: timedelta = timedelta(days=8)  # how far back (beyond grace) missed occurrences are recorded
    batch: int = 50


@dataclass(frozen=True, slots=True)
class SentReminder:
    kind: str
    isa: str | None
    channel: str
    occurrence: str  # local ISO datetime of when it was due

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "isa": self.isa, "channel": self.channel, "occurrence": self.occurrence}


@dataclass(frozen=True, slots=True)
class FailedSend:
    channel: str
    kind: str
    reason: str
    permanent: bool


@dataclass(slots=True)
class RunReport:
    sent: list[SentReminder] = field(default_factory=list)
    failed: list[FailedSend] = field(default_factory=list)


class ReminderScheduler:
    def __init__(self, assistant: Assistant, policy: SchedulerPolicy | None = None, worker_id: str | None = None):
        settings = assistant.settings
        self.assistant = assistant
        self.policy = policy or SchedulerPolicy(grace=timedelta(hours=settings.reminder_grace_hours))
        self.worker_id = worker_id or f"w-{uuid.uuid4().hex[:12]}"
        self.calendar = Calendar(settings.timezone, settings.skip_bank_holidays, settings.bank_holiday_region)
        self._sending: set[int] = set()

    @property
    def engine(self):
        return self.assistant.engine

    # ------------------------------------------------------------------ materialise
    async def planned(self, now: datetime) -> list[dict[str, Any]]:
        """Every occurrence row that should exist by ``now`` (within the lookback), not yet stored."""
        now = now.astimezone(UTC)  # SQLite stores times without a zone: everything in the database is UTC
        start = now - self.policy.grace - self.policy.lookback
        rows: list[dict[str, Any]] = []
        async with self.engine.connect() as conn:
            agreements = await list_isas(conn, REVIEWABLE)
            snoozed = await snoozes(conn)
            in_force = await subscriptions.active(conn)
            existing = await occurrences.keys_due_after(conn, start)
        lead_days = self.assistant.settings.reminder_lead_days
        for isa in agreements:
            if isa.id is None:  # read from the register, so always saved
                continue
            snooze = snoozed.get(isa.id)
            until = snooze[1] if snooze and snooze[0] == isa.review_date else None
            for o in review_occurrences(isa.review_date, lead_days, self.calendar, start, now, until):
                payload = {"isa_id": isa.id, "title": isa.title, "review_date": isa.review_date.isoformat(),
                           "nominal": o.nominal.isoformat()}
                for address in isa.reminder_addresses:
                    key = f"review:{isa.id}:{isa.review_date.isoformat()}:{o.tag}:{address}"
                    rows.append(self._row(key, o, address, now, isa.id, payload))
        for sub in in_force:
            try:
                at = parse_time_of_day(sub.time_of_day)
            except ValueError:
                log.error("bad reminder subscription time", extra={"subscription": sub.id})
                continue
            calendar = Calendar(sub.timezone, self.calendar.skip_bank_holidays, self.calendar.bank_holiday_region)
            for o in weekly_occurrences(sub.weekday, at, calendar, start, now):
                key = f"channel:{sub.id}:{o.nominal.isoformat()}:{sub.channel}"
                payload = {"subscription_id": sub.id, "nominal": o.nominal.isoformat(), "owner": sub.created_by}
                rows.append(self._row(key, o, sub.channel, now, None, payload))
        # Sorted, so replicas inserting the same rows at once take row locks in the same order (no deadlock).
        return sorted((row for row in rows if row["key"] not in existing), key=lambda row: row["key"])

    def _row(self, key: str, o: Occurrence, address: str, now: datetime, isa_id: int | None,
             payload: dict[str, Any]) -> dict[str, Any]:
        missed = o.due_at < now - self.policy.grace
        return dict(key=key[:400], kind=str(o.kind), isa_id=isa_id, channel=address, due_at=o.due_at,
                    status=str(OccurrenceStatus.SKIPPED if missed else OccurrenceStatus.PENDING), attempts=0,
                    last_error="missed: due more than the grace window before the scheduler ran" if missed else None,
                    payload=payload)

    async def materialise(self, now: datetime) -> int:
        """Store the occurrences due by ``now``; safe to run on every replica at once."""
        rows = await self.planned(now)
        added = 0
        async with self.engine.begin() as conn:
            for row in rows:
                stored = await occurrences.add(conn, row)
                added += stored
                if stored and row["status"] == OccurrenceStatus.SKIPPED:
                    log.warning("reminder skipped: missed by more than the grace window",
                                extra={"key": row["key"], "due_at": row["due_at"].isoformat()})
        return added

    # ------------------------------------------------------------------ claim, send, mark
    async def claim(self, occurrence_id: int, now: datetime) -> bool:
        """Take the lease on one occurrence; True only for the one replica whose UPDATE matched."""
        now = now.astimezone(UTC)
        async with self.engine.begin() as conn:
            return await occurrences.claim(conn, occurrence_id, now, self.worker_id, now + self.policy.lease)

    async def _finish(self, occurrence_id: int, **values: Any) -> bool:
        async with self.engine.begin() as conn:
            return await occurrences.finish(conn, occurrence_id, self.worker_id, **values)

    async def deliver_due(self, now: datetime, stop: asyncio.Event | None = None) -> RunReport:
        """Claim and send every due occurrence this replica can win; reports what it sent and what failed."""
        now = now.astimezone(UTC)
        report = RunReport()
        while True:
            async with self.engine.connect() as conn:
                candidates = await occurrences.claimable(conn, now, self.policy.batch)
                # The batch's agreements in one read (checked again for staleness just before each send).
                agreements = await isas_by_id(conn, {row.isa_id for row in candidates if row.isa_id is not None})
            if not candidates:
                return report
            random.shuffle(candidates)  # two replicas rarely contend for the same row in turn
            progressed = False
            for row in candidates:
                if stop is not None and stop.is_set():
                    return report
                if not await self.claim(row.id, now):
                    continue
                progressed = True
                await self._deliver(row, now, report, agreements)
            if not progressed:
                return report

    async def _deliver(self, row: Any, now: datetime, report: RunReport, agreements: dict[int, ISA]) -> None:
        try:
            replies, about = await self._compose(row, now, agreements)
        except _NoLongerDue as exc:
            await self._finish(row.id, status=OccurrenceStatus.SKIPPED, last_error=str(exc))
            log.info("reminder no longer due", extra={"key": row.key, "reason": str(exc)})
            return
        except Exception as exc:  # a bad row must not block the others: retry it with backoff, and say so
            log.exception("reminder could not be composed", extra={"key": row.key})
            await self._not_sent(row, now, report, _broken(exc), about=row.kind)
            return
        prefix = row.channel.split(":", 1)[0]
        if prefix not in self.assistant.delivery.channels():
            # Not configured here (e.g. a command-line run without Slack): retry later, tell the owner if it persists.
            await self._not_sent(row, now, report, DeliveryError(DeliveryFailure.NO_CHANNEL, prefix=prefix), about)
            return
        self._sending.add(row.id)
        try:
            await asyncio.wait_for(self.assistant.delivery.send(row.channel, replies),
                                   self.policy.send_timeout.total_seconds())
        except DeliveryError as exc:
            self._sending.discard(row.id)
            await self._not_sent(row, now, report, exc, about)
            return
        except Exception as exc:  # noqa: BLE001 - a timeout or an adapter bug must not lose the reminder
            self._sending.discard(row.id)
            await self._not_sent(row, now, report, _broken(exc), about)
            return
        self._sending.discard(row.id)  # a cancelled send stays in _sending: its lease must expire, not be released
        if not await self._finish(row.id, status=OccurrenceStatus.SENT, sent_at=now, last_error=None):
            log.error("reminder sent after its lease was lost", extra={"key": row.key})
        log.info("reminder sent", extra={"key": row.key, "channel": row.channel})
        if row.kind != ReminderKind.OWNER_NOTICE:
            due_local = row.due_at.astimezone(self.calendar.tz).isoformat()
            report.sent.append(SentReminder(row.kind, (row.payload or {}).get("title"), row.channel, due_local))

    async def _not_sent(self, row: Any, now: datetime, report: RunReport, error: DeliveryError, about: str) -> None:
        """Report a failed send and record it, with its reason worded by content (the owner may read it)."""
        reason = error.reason(self.assistant.strings)
        report.failed.append(FailedSend(row.channel, row.kind, reason, error.permanent))
        await self._failed(row, now, reason, permanent=error.permanent, about=about)

    async def _failed(self, row: Any, now: datetime, reason: str, *, permanent: bool, about: str) -> None:
        attempts = row.attempts + 1
        if permanent:
            await self._finish(row.id, status=OccurrenceStatus.FAILED, next_attempt_at=None, last_error=reason[:2000])
            log.error("reminder undeliverable", extra={"key": row.key, "channel": row.channel, "reason": reason})
            paused = await self._pause_subscription(row, reason)
            await self._notify_owner(row, now, reason, paused, about)
            return
        delay = min(self.policy.backoff_base * (2 ** (attempts - 1)), self.policy.backoff_max)
        await self._finish(row.id, status=OccurrenceStatus.FAILED, next_attempt_at=now + delay,
                           last_error=reason[:2000])
        log.warning("reminder send failed; will retry", extra={"key": row.key, "attempts": attempts,
                                                               "retry_in_s": delay.total_seconds(), "reason": reason})
        if attempts == self.policy.notify_after_attempts:
            await self._notify_owner(row, now, reason, False, about)

    async def _pause_subscription(self, row: Any, reason: str) -> bool:
        subscription_id = (row.payload or {}).get("subscription_id")
        if row.kind != ReminderKind.CHANNEL or subscription_id is None:
            return False
        async with self.engine.begin() as conn:
            await subscriptions.turn_off(conn, subscription_id, reason[:2000])
        log.warning("channel reminder paused", extra={"subscription": subscription_id, "channel": row.channel})
        return True

    async def _notify_owner(self, row: Any, now: datetime, reason: str, paused: bool, about: str) -> None:
        """Queue a durable notice to the owner (sent by the same exactly-once machinery)."""
        if row.kind == ReminderKind.OWNER_NOTICE:
            log.error("owner notice undeliverable", extra={"key": row.key, "reason": reason})
            return
        payload = row.payload or {}
        owner = payload.get("owner")
        if owner is None and row.isa_id is not None:
            async with self.engine.connect() as conn:
                try:
                    owner = (await get_isa(conn, row.isa_id)).owner
                except ISANotFound:
                    owner = None
        if not owner:
            log.error("no owner to tell about an undeliverable reminder", extra={"key": row.key})
            return
        notice = dict(key=f"notice:{row.id}:{'paused' if paused else row.attempts + 1}", kind=ReminderKind.OWNER_NOTICE,
                      isa_id=row.isa_id, channel=owner, due_at=now, status=OccurrenceStatus.PENDING, attempts=0,
                      payload={"failed_channel": row.channel, "about": about, "reason": reason[:300],
                               "paused": paused, "title": payload.get("title")})
        async with self.engine.begin() as conn:
            await occurrences.add(conn, notice)

    async def _compose(self, row: Any, now: datetime, agreements: dict[int, ISA]) -> tuple[list[Reply], str]:
        """The replies for an occurrence from the register as it is now (stale ones are skipped)."""
        content = self.assistant.content
        payload = row.payload or {}
        today = self.calendar.local_date(now)
        if row.kind == ReminderKind.OWNER_NOTICE:
            return [message.owner_notice_reply(content, payload["failed_channel"], payload["about"],
                                               payload["reason"], payload["paused"])], ""
        if row.kind == ReminderKind.CHANNEL:
            async with self.engine.connect() as conn:
                sub = await subscriptions.get(conn, payload["subscription_id"])
                if sub is None or not sub.active:
                    raise _NoLongerDue("the channel reminder was turned off")
                in_force = [isa for isa in await list_isas(conn, (ISAStatus.ACTIVE,)) if isa.start_date <= today]
            linked = [isa for isa in in_force if row.channel in isa.channels]
            about = content.strings.get("reminders.about_channel")
            return [message.channel_reply(content, linked or in_force, bool(linked), today)], about
        isa = agreements.get(row.isa_id)
        if isa is None:
            raise _NoLongerDue("the agreement was deleted")
        if isa.status not in REVIEWABLE or isa.review_date.isoformat() != payload.get("review_date"):
            raise _NoLongerDue("the agreement was reviewed or ended since")
        about = content.strings.get("reminders.about_review", title=isa.title)
        return [message.review_reply(content, isa, ReminderKind(row.kind), today)], about

    # ------------------------------------------------------------------ runs
    async def run_due(self, now: datetime, stop: asyncio.Event | None = None) -> RunReport:
        """One scheduler pass at ``now``: materialise, then deliver (until ``stop`` is set)."""
        now = now.astimezone(UTC)
        await self.materialise(now)
        return await self.deliver_due(now, stop)

    async def preview(self, now: datetime) -> list[SentReminder]:
        """What a run at ``now`` would send, without sending or recording anything (``--dry-run``)."""
        now = now.astimezone(UTC)
        rows = [r for r in await self.planned(now) if r["status"] == OccurrenceStatus.PENDING]
        async with self.engine.connect() as conn:
            stored = await occurrences.claimable(conn, now)
        due = [(r["kind"], r["payload"].get("title"), r["channel"], r["due_at"]) for r in rows]
        due += [(r.kind, (r.payload or {}).get("title"), r.channel, r.due_at) for r in stored
                if r.kind != ReminderKind.OWNER_NOTICE]
        due = [d for d in due if d[0] != ReminderKind.OWNER_NOTICE]
        return [SentReminder(kind, title, channel, at.astimezone(self.calendar.tz).isoformat())
                for kind, title, channel, at in sorted(due, key=lambda d: (d[3], d[2]))]

    async def release_leases(self) -> int:
        """On shutdown: give back claims this replica holds but has not started sending."""
        async with self.engine.begin() as conn:
            return await occurrences.release(conn, self.worker_id, self._sending)

    async def run_until_stopped(self, stop: asyncio.Event, interval: float = 30.0) -> None:
        """The background loop: a pass every ``interval`` seconds; on stop, give back unstarted claims."""
        try:
            while not stop.is_set():
                try:
                    await self.run_due(utcnow(), stop)
                except Exception as exc:  # noqa: BLE001 - a failed pass must not end the schedule; the next pass retries
                    log.error("scheduler pass failed; will retry", extra={"reason": f"{type(exc).__name__}: {exc}"})
                if await sleep_or_stop(stop, interval):
                    break
        finally:
            try:
                released = await self.release_leases()
                log.info("reminder scheduler stopped", extra={"released_leases": released})
            except SQLAlchemyError as exc:
                log.warning("could not release reminder leases", extra={"reason": type(exc).__name__})


def _broken(exc: Exception) -> DeliveryError:
    """A failure inside the bot (a bug, a timeout): retried, and named by its type for whoever reads it."""
    return DeliveryError(DeliveryFailure.BROKEN, detail=f"{type(exc).__name__}: {exc}" if str(exc)
                         else type(exc).__name__)


class _NoLongerDue(Exception):
    """The reminder's agreement or subscription changed since it was scheduled."""


# ---------------------------------------------------------------- app wiring
def start_reminder_scheduler(app: web.Application, assistant: Assistant) -> None:
    """Run the scheduler in the server's background (when SCHEDULER_ENABLED), stopping it cleanly."""
    if not assistant.settings.scheduler_enabled:
        log.info("reminder scheduler disabled (SCHEDULER_ENABLED=false)")
        return
    scheduler = ReminderScheduler(assistant)
    add_background_task(app, "reminders", scheduler.run_until_stopped, grace=15.0)
