"""What a reminder says: neutral Replies, rendered by each channel's adapter like any other reply."""

from __future__ import annotations

from datetime import date

from bot.content import Content
from bot.isa.model import ISA
from bot.messages import CardField, Choice, Link, Reply, ReplyKind, Source
from bot.reminders.schedule import ReminderKind
from bot.topics import Topic

SNOOZE_DAYS = 7


def one_year_after(day: date) -> date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def review_reply(content: Content, isa: ISA, kind: ReminderKind, today: date) -> Reply:
    """A review is coming up, due today or overdue: with Mark reviewed / Snooze / Open document."""
    s = content.strings
    days = (isa.review_date - today).days
    if kind == ReminderKind.REVIEW_OVERDUE or days < 0:
        title, text = s.get("reminders.review_overdue_title", title=isa.title), s.get(
            "reminders.review_overdue", title=isa.title, date=isa.review_date.isoformat(), days=-days)
    elif days == 0:
        title, text = s.get("reminders.review_today_title", title=isa.title), s.get(
            "reminders.review_today", title=isa.title, date=isa.review_date.isoformat())
    else:
        title, text = s.get("reminders.review_due_title", title=isa.title), s.get(
            "reminders.review_due", title=isa.title, date=isa.review_date.isoformat(), days=days)
    next_review = one_year_after(max(today, isa.review_date))
    choices = [Choice(s.get("reminders.button_reviewed"), f"isa reviewed {isa.id} {next_review.isoformat()}"),
               Choice(s.get("reminders.button_snooze", days=SNOOZE_DAYS), f"isa snooze {isa.id} {SNOOZE_DAYS}")]
    links = [Link(s.get("reminders.button_document"), isa.document_url)] if isa.document_url else []
    fields = [CardField(s.get("isa.field.parties"), ", ".join(isa.parties)),
              CardField(s.get("isa.field.review_date"), isa.review_date.isoformat()),
              CardField(s.get("isa.field.owner"), isa.owner)]
    return Reply(text, kind=ReplyKind.REMINDER, title=title, choices=choices, fields=fields, links=links,
                 sources=[Source(isa.title, s.get("isa.register_entry", id=isa.id))])


def practice_tip(content: Content, today: date) -> Topic | None:
    """One guidance topic per ISO week, the same for everyone that week (deterministic)."""
    topics = sorted(content.topics, key=lambda t: t.id)
    if not topics:
        return None
    year, week, _ = today.isocalendar()
    return topics[(year * 53 + week) % len(topics)]


def channel_reply(content: Content, in_force: list[ISA], linked: bool, today: date) -> Reply:
    """The weekly channel reminder: the agreements in force for the team, and a practice tip."""
    s = content.strings
    lines = [s.get("reminders.channel_intro" if linked else "reminders.channel_intro_all")]
    lines += [s.get("reminders.channel_isa", id=isa.id, title=isa.title, parties=", ".join(isa.parties),
                    date=isa.review_date.isoformat()) for isa in in_force]
    if not in_force:
        lines.append(s.get("reminders.channel_none"))
    sources = [Source(isa.title, s.get("isa.register_entry", id=isa.id)) for isa in in_force]
    links = [Link(isa.title, isa.document_url) for isa in in_force if isa.document_url]
    tip = practice_tip(content, today)
    if tip is not None:
        first_sentence = tip.answer.split("\n")[0].split(". ")[0].rstrip(".") + "."
        lines.append(s.get("reminders.channel_tip", title=tip.title, tip=first_sentence))
        sources += list(tip.sources)
    return Reply("\n".join(lines), kind=ReplyKind.REMINDER, title=s.get("reminders.channel_title"),
                 sources=sources, links=links)


def owner_notice_reply(content: Content, failed_channel: str, about: str, reason: str, paused: bool) -> Reply:
    s = content.strings
    text = s.get("reminders.undeliverable", channel=failed_channel, about=about, reason=reason)
    if paused:
        text += " " + s.get("reminders.undeliverable_paused", channel=failed_channel)
    return Reply(text, kind=ReplyKind.NOTICE, title=s.get("reminders.undeliverable_title"))
