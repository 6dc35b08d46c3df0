"""When reminders fall due: 09:00 London on both sides of a clock change, bank holidays moved to the
next working day, lead times, weekly while overdue, snoozes, and weekly channel reminders."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from bot.reminders.schedule import (
    Calendar,
    ReminderKind,
    parse_time_of_day,
    parse_weekday,
    review_occurrences,
    weekly_occurrences,
)

LONDON = Calendar("Europe/London")
HOLIDAYS = Calendar("Europe/London", skip_bank_holidays=True, bank_holiday_region="England")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nine_o_clock_london_before_and_after_the_spring_change():
    assert LONDON.due(date(2027, 3, 27), time(9)) == utc(2027, 3, 27, 9)  # GMT
    assert LONDON.due(date(2027, 3, 29), time(9)) == utc(2027, 3, 29, 8)  # BST
    assert LONDON.due(date(2027, 10, 30), time(9)) == utc(2027, 10, 30, 8)
    assert LONDON.due(date(2027, 10, 31), time(9)) == utc(2027, 10, 31, 9)


def test_a_time_in_the_spring_gap_moves_forward_not_back():
    assert LONDON.due(date(2027, 3, 28), time(1, 30)) == utc(2027, 3, 28, 1, 30)  # 02:30 BST


def test_bank_holidays_move_to_the_next_working_day():
    assert HOLIDAYS.working_day(date(2027, 3, 29)) == date(2027, 3, 30)  # Easter Monday
    assert HOLIDAYS.working_day(date(2027, 3, 26)) == date(2027, 3, 30)  # Good Friday -> skip weekend and Monday
    assert HOLIDAYS.working_day(date(2027, 12, 25)) == date(2027, 12, 29)
    assert LONDON.working_day(date(2027, 3, 29)) == date(2027, 3, 29)  # skipping is off by default
    scotland = Calendar(skip_bank_holidays=True, bank_holiday_region="Scotland")
    assert scotland.working_day(date(2027, 3, 29)) == date(2027, 3, 29)  # not a holiday in Scotland


def test_review_reminders_at_lead_times_on_the_day_then_weekly():
    found = list(review_occurrences(date(2027, 4, 28), (30, 7, 0), LONDON, utc(2027, 3, 1), utc(2027, 5, 20)))
    assert [(o.tag, o.nominal.isoformat(), o.kind) for o in found] == [
        ("d30", "2027-03-29", ReminderKind.REVIEW_DUE), ("d7", "2027-04-21", ReminderKind.REVIEW_DUE),
        ("d0", "2027-04-28", ReminderKind.REVIEW_DUE), ("w1", "2027-05-05", ReminderKind.REVIEW_OVERDUE),
        ("w2", "2027-05-12", ReminderKind.REVIEW_OVERDUE), ("w3", "2027-05-19", ReminderKind.REVIEW_OVERDUE)]
    assert all(o.due_at.astimezone(LONDON.tz).hour == 9 for o in found)


def test_window_is_half_open_so_consecutive_runs_never_overlap():
    due = utc(2027, 3, 29, 8)
    assert [o.tag for o in review_occurrences(date(2027, 4, 28), (30,), LONDON, utc(2027, 3, 29), due)] == ["d30"]
    assert list(review_occurrences(date(2027, 4, 28), (30,), LONDON, due, utc(2027, 3, 30))) == []
    early = utc(2027, 3, 29, 7, 59)
    assert list(review_occurrences(date(2027, 4, 28), (30,), LONDON, utc(2027, 3, 1), early)) == []


def test_a_snooze_holds_reminders_until_its_day():
    found = list(review_occurrences(date(2027, 4, 28), (30, 7, 0), LONDON, utc(2027, 3, 1), utc(2027, 5, 20),
                                    snoozed_until=date(2027, 5, 1)))
    assert [(o.tag, o.nominal.isoformat()) for o in found] == [
        ("snooze-2027-05-01", "2027-05-01"), ("w1", "2027-05-05"), ("w2", "2027-05-12"), ("w3", "2027-05-19")]


def test_weekly_channel_reminder_on_bank_holiday_monday_moves_to_tuesday():
    found = list(weekly_occurrences(0, time(9), HOLIDAYS, utc(2027, 3, 20), utc(2027, 4, 10)))
    assert [(o.nominal.isoformat(), o.due_at) for o in found] == [
        ("2027-03-22", utc(2027, 3, 22, 9)), ("2027-03-29", utc(2027, 3, 30, 8)), ("2027-04-05", utc(2027, 4, 5, 8))]


@pytest.mark.parametrize("text", ["9am", "25:00", "09:60", "9"])
def test_bad_times_are_refused(text):
    with pytest.raises(ValueError, match="is not a time"):
        parse_time_of_day(text)


def test_weekdays():
    assert parse_weekday("Monday") == 0
    assert parse_weekday("sun") == 6
    with pytest.raises(ValueError, match="is not a weekday"):
        parse_weekday("someday")
