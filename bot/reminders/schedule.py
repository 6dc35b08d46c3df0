"""When reminders fall due: pure date arithmetic, no database and no clock of its own.

Review reminders fall at lead times before an agreement's review date (default 30 and 7 days),
on the day, then weekly while it is overdue; channel reminders fall weekly at a weekday and time.
Every occurrence is due at a *local* wall-clock time (09:00 Europe/London by default) and is
converted to UTC with zoneinfo, so it stays at 09:00 on both sides of a daylight-saving change.
With bank-holiday skipping on, an occurrence on a bank holiday moves to the next working day; its
identity (``nominal``) stays the same, so moving it never makes a second occurrence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

REVIEW_TIME = time(9, 0)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# The maintained ``holidays`` library names UK nations by ISO 3166-2 subdivision code.
BANK_HOLIDAY_REGIONS = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern ireland": "NIR",
                        "eng": "ENG", "wls": "WLS", "sct": "SCT", "nir": "NIR"}


class ReminderKind(StrEnum):
    REVIEW_DUE = "review_due"  # before or on the review date
    REVIEW_OVERDUE = "review_overdue"  # weekly after the review date passed
    CHANNEL = "channel_reminder"  # a channel's recurring reminder
    OWNER_NOTICE = "owner_notice"  # tells an owner a reminder could not be delivered


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One due reminder before it is addressed: ``tag`` and ``nominal`` make its identity."""

    kind: ReminderKind
    tag: str  # "d30", "d7", "d0", "w1"..., "snooze-2027-05-02", "weekly"
    nominal: date  # the day it belongs to before any bank-holiday move
    due_at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class Calendar:
    """Local time zone and which days are skipped."""

    timezone: str = "Europe/London"
    skip_bank_holidays: bool = False
    bank_holiday_region: str = "England"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_bank_holiday(self, day: date) -> bool:
        return self.skip_bank_holidays and day in _bank_holidays(self.bank_holiday_region, day.year)

    def working_day(self, day: date) -> date:
        """``day`` itself unless it is a bank holiday; then the next weekday that is not one."""
        if not self.is_bank_holiday(day):
            return day
        day += timedelta(days=1)
        while day.weekday() >= 5 or self.is_bank_holiday(day):
            day += timedelta(days=1)
        return day

    def local_to_utc(self, day: date, at: time) -> datetime:
        """The UTC instant of a local wall-clock time (PEP 495 ``fold=0``): a time in the spring-forward gap
        moves forward by the gap, a repeated autumn time means its first occurrence."""
        return datetime.combine(day, at, tzinfo=self.tz).astimezone(UTC)

    def due(self, nominal: date, at: time) -> datetime:
        return self.local_to_utc(self.working_day(nominal), at)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.tz).date()


@lru_cache(maxsize=64)
def _bank_holidays(region: str, year: int) -> frozenset[date]:
    import holidays

    subdivision = BANK_HOLIDAY_REGIONS.get(region.strip().lower(), region)
    return frozenset(holidays.country_holidays("GB", subdiv=subdivision, years=year))


def parse_time_of_day(text: str) -> time:
    """``"09:00"`` -> time(9, 0); ValueError with a reason otherwise."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a time like 09:00")
    value = int(hours), int(minutes)
    if not (0 <= value[0] < 24 and 0 <= value[1] < 60):
        raise ValueError(f"{text!r} is not a time of day")
    return time(*value)


def parse_weekday(text: str) -> int:
    key = text.strip().lower()[:3]
    if key not in WEEKDAYS:
        raise ValueError(f"{text!r} is not a weekday (mon, tue, ... sun)")
    return WEEKDAYS.index(key)


def review_occurrences(review_date: date, lead_days: tuple[int, ...], calendar: Calendar,
                       start: datetime, end: datetime, snoozed_until: date | None = None) -> Iterator[Occurrence]:
    """Review reminders due in ``(start, end]`` (UTC) for an agreement reviewed on ``review_date``.

    A snooze suppresses every reminder whose day is before ``snoozed_until`` and adds one on it.
    """
    candidates: list[tuple[ReminderKind, str, date]] = [
        (ReminderKind.REVIEW_DUE, f"d{lead}", review_date - timedelta(days=lead)) for lead in sorted(set(lead_days))
        if lead >= 0
    ]
    first_local = calendar.local_date(start) - timedelta(days=14)  # wide enough for any bank-holiday move
    last_local = calendar.local_date(end) + timedelta(days=1)
    week = max(1, (first_local - review_date).days // 7)
    while review_date + timedelta(days=7 * week) <= last_local:
        candidates.append((ReminderKind.REVIEW_OVERDUE, f"w{week}", review_date + timedelta(days=7 * week)))
        week += 1
    if snoozed_until is not None:
        candidates = [c for c in candidates if c[2] >= snoozed_until]
        kind = ReminderKind.REVIEW_DUE if snoozed_until <= review_date else ReminderKind.REVIEW_OVERDUE
        candidates.append((kind, f"snooze-{snoozed_until.isoformat()}", snoozed_until))
    for kind, tag, nominal in sorted(candidates, key=lambda c: c[2]):
        due_at = calendar.due(nominal, REVIEW_TIME)
        if start < due_at <= end:
            yield Occurrence(kind, tag, nominal, due_at)


def weekly_occurrences(weekday: int, at: time, calendar: Calendar, start: datetime, end: datetime
                       ) -> Iterator[Occurrence]:
    """A channel's weekly reminder occurrences due in ``(start, end]`` (UTC)."""
    day = calendar.local_date(start) - timedelta(days=14)
    day += timedelta(days=(weekday - day.weekday()) % 7)
    last = calendar.local_date(end)
    while day <= last:
        due_at = calendar.due(day, at)
        if start < due_at <= end:
            yield Occurrence(ReminderKind.CHANNEL, "weekly", day, due_at)
        day += timedelta(days=7)
