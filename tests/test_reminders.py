"""Reminders delivered exactly once, durably: two replicas on one database, a replica killed between
claim and send, failed sends retried with backoff, a removed channel reported to its owner, missed
occurrences after downtime, and a 30-day simulation across a clock change and a bank holiday."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from app import address_book, build_assistant
from bot.core import Assistant
from bot.delivery import DeliveryError, DeliveryFailure
from bot.isa import install_isa
from bot.isa.importexport import import_agreements, read_csv
from bot.messages import Reply
from bot.reminders.schedule import Calendar, review_occurrences, weekly_occurrences
from bot.reminders.scheduler import ReminderScheduler, SchedulerPolicy
from bot.storage.db import create_engine, migrate
from bot.storage.tables import reminder_occurrences, reminder_subscriptions
from tests.conftest import make_settings

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "content" / "isa-example.csv"
LONDON = ZoneInfo("Europe/London")


def london(*args) -> datetime:
    return datetime(*args, tzinfo=LONDON)


class RecordingSender:
    """A fake channel: records what was posted, and when (the simulated time). With ``slack`` set,
    ``slack:`` addresses go through the real Slack sender (to the fake Slack API) first."""

    def __init__(self, clock: list[datetime] | None = None, fail: dict[str, list[DeliveryError]] | None = None,
                 slack=None):
        self.sent: list[tuple[str, list[Reply], datetime | None]] = []
        self.clock = clock
        self.fail = fail or {}
        self.slack = slack

    async def send(self, address: str, replies: list[Reply]) -> None:
        errors = self.fail.get(address)
        if errors:
            raise errors.pop(0) if len(errors) > 1 or not errors[0].permanent else errors[0]
        if self.slack is not None and address.startswith("slack:"):
            await self.slack.send(address, replies)
        self.sent.append((address, replies, self.clock[0] if self.clock else None))


class HangingSender:
    """Wraps a sender; after ``after`` sends, the next one never returns (the replica is killed there)."""

    def __init__(self, inner: RecordingSender, after: int):
        self.inner, self.after, self.calls = inner, after, 0
        self.entered = asyncio.Event()

    async def send(self, address: str, replies: list[Reply]) -> None:
        self.calls += 1
        if self.calls > self.after:
            self.entered.set()
            await asyncio.Event().wait()
        await self.inner.send(address, replies)


_LOADED: dict[str, tuple] = {}  # content and question engine, loaded once for this module (loading is slow)


async def make_replica(tmp_path: Path, url: str, sender, like: Assistant | None = None, **settings):
    """An assistant wired as app.py wires the ISA part, on ``url``; replicas share the loaded content."""
    if like is None:
        configured = replace(make_settings(tmp_path, **settings), database_url=url)
        if "content" not in _LOADED:
            template = await build_assistant(configured)
            await template.engine.dispose()
            _LOADED["content"] = (template.content, template.qa)
        content, qa = _LOADED["content"]
        engine = create_engine(url)
        await migrate(engine)
    else:
        configured, content, qa, engine = like.settings, like.content, like.qa, create_engine(url)
    built = Assistant(configured, engine, content, qa, addresses=address_book())
    install_isa(built)
    for prefix in ("slack", "teams", "local"):
        built.delivery.register(prefix, sender)
    return built


MASH = "slack:T0COUNCIL:C0MASH01"  # the MASH channel in the example register


async def seed(assistant, subscribe: str | None = MASH, owner: str = "local:team-lead") -> None:
    agreements = read_csv(EXAMPLE.read_text(), address_book())
    await import_agreements(assistant.engine, agreements, "test", datetime(2027, 1, 1, tzinfo=UTC))
    if subscribe:
        async with assistant.engine.begin() as conn:
            await conn.execute(insert(reminder_subscriptions).values(
                channel=subscribe, weekday=0, time_of_day="09:00", timezone="Europe/London", active=1,
                created_by=owner, created_at=datetime(2027, 1, 1, tzinfo=UTC)))


async def occurrence_rows(assistant):
    async with assistant.engine.connect() as conn:
        return (await conn.execute(select(reminder_occurrences).order_by(reminder_occurrences.c.id))).all()


@pytest.fixture
async def replicas(tmp_path, db_url):
    """Two replicas of the assistant on one database, sharing one recording channel."""
    sender = RecordingSender()
    first = await make_replica(tmp_path, db_url, sender)
    second = await make_replica(tmp_path, db_url, sender, like=first)
    await seed(first)
    yield first, second, sender
    await first.engine.dispose()
    await second.engine.dispose()


# ---------------------------------------------------------------- exactly once
async def test_two_replicas_at_the_same_moment_send_each_reminder_once(replicas):
    first, second, sender = replicas
    now = london(2027, 3, 29, 9, 0)
    a, b = ReminderScheduler(first), ReminderScheduler(second)
    reports = await asyncio.gather(a.run_due(now), b.run_due(now), a.run_due(now), b.run_due(now))
    sent = [item for report in reports for item in report.sent]
    assert len(sent) == len(sender.sent) > 0
    assert Counter((address, replies[0].title) for address, replies, _ in sender.sent).most_common(1)[0][1] == 1
    assert {s.kind for s in sent} == {"review_due", "channel_reminder"}
    again = await a.run_due(now)
    assert again.sent == []
    assert len(sender.sent) == len(sent)


async def test_crash_between_claim_and_send_is_retried_after_the_lease_expires(replicas):
    first, second, sender = replicas
    now = london(2027, 3, 29, 9, 0)
    policy = SchedulerPolicy(lease=timedelta(minutes=5))
    crashed, survivor = ReminderScheduler(first, policy), ReminderScheduler(second, policy)
    await crashed.materialise(now.astimezone(UTC))
    pending = [r for r in await occurrence_rows(first) if r.status == "pending"]
    assert await crashed.claim(pending[0].id, now.astimezone(UTC))  # ... and the replica dies here
    before_expiry = await survivor.run_due(now + timedelta(minutes=4))
    held = next(r for r in await occurrence_rows(first) if r.id == pending[0].id)
    assert held.status == "claimed"
    assert held.lease_owner == crashed.worker_id
    assert len(sender.sent) == len(before_expiry.sent) == len(pending) - 1
    after_expiry = await survivor.run_due(now + timedelta(minutes=6))
    assert [(s.kind, s.channel) for s in after_expiry.sent] == [(pending[0].kind, pending[0].channel)]
    assert len(sender.sent) == len(pending)
    row = next(r for r in await occurrence_rows(first) if r.id == pending[0].id)
    assert row.status == "sent"
    assert row.attempts == 2
    assert row.lease_owner is None


async def test_a_failed_send_is_retried_with_backoff_not_dropped(tmp_path, db_url):
    down = DeliveryError(DeliveryFailure.UNREACHABLE, channel="Slack", detail="503")
    still_down = DeliveryError(DeliveryFailure.UNREACHABLE, channel="Slack", detail="timed out")
    sender = RecordingSender(fail={MASH: [down, still_down]})
    assistant = await make_replica(tmp_path, db_url, sender)
    try:
        await seed(assistant)
        scheduler = ReminderScheduler(assistant, SchedulerPolicy(backoff_base=timedelta(minutes=1)))
        start = london(2027, 3, 22, 9, 0)  # the Monday channel reminder
        first = await scheduler.run_due(start)
        worded = assistant.strings.get
        assert [f.reason for f in first.failed] == [worded("delivery.unreachable", channel="Slack", detail="503")]
        assert MASH not in {
            s.channel for s in first.sent}
        assert (await scheduler.run_due(start + timedelta(seconds=30))).failed == []  # not yet: backoff
        second = await scheduler.run_due(start + timedelta(minutes=1))
        assert [f.reason for f in second.failed] == [worded("delivery.unreachable", channel="Slack",
                                                            detail="timed out")]
        assert (await scheduler.run_due(start + timedelta(minutes=2))).sent == []  # backoff doubled to 2 min
        third = await scheduler.run_due(start + timedelta(minutes=3))
        assert [s.channel for s in third.sent] == [MASH]
        row = next(r for r in await occurrence_rows(assistant) if r.channel == MASH
                   and r.kind == "channel_reminder" and r.payload["nominal"] == "2027-03-22")
        assert row.status == "sent"
        assert row.attempts == 3
    finally:
        await assistant.engine.dispose()


async def test_an_owner_hears_once_when_sends_keep_failing(tmp_path):
    sender = RecordingSender(fail={MASH: [DeliveryError(DeliveryFailure.UNREACHABLE, channel="Slack",
                                                        detail="503")] * 100})
    assistant = await make_replica(tmp_path, f"sqlite:///{tmp_path / 'flaky.db'}", sender)
    try:
        await seed(assistant, owner="local:team-lead")
        scheduler = ReminderScheduler(assistant, SchedulerPolicy(backoff_base=timedelta(minutes=1)))
        start = london(2027, 3, 22, 9, 0)
        failures = 0
        for minute in range(0, 40):
            failures += len((await scheduler.run_due(start + timedelta(minutes=minute))).failed)
        assert failures == 6  # at 0, 1, 3, 7, 15 and 31 minutes: exponential backoff
        notices = [replies[0].text for address, replies, _ in sender.sent if address == "local:team-lead"]
        assert len(notices) == 1
        assert assistant.strings.get("delivery.unreachable", channel="Slack", detail="503") in notices[0]
        row = next(r for r in await occurrence_rows(assistant) if r.kind == "channel_reminder"
                   and r.payload["nominal"] == "2027-03-22")
        assert row.status == "failed"
        assert row.next_attempt_at is not None
    finally:
        await assistant.engine.dispose()


async def test_a_channel_the_bot_left_is_reported_to_the_owner_and_paused(tmp_path, db_url):
    gone = DeliveryError(DeliveryFailure.REFUSED, permanent=True, channel="Slack",
                         detail="chat.postMessage: channel_not_found")
    sender = RecordingSender(fail={"slack:T0COUNCIL:C0GONE": [gone]})
    assistant = await make_replica(tmp_path, db_url, sender)
    try:
        await seed(assistant, subscribe="slack:T0COUNCIL:C0GONE", owner="local:team-lead")
        scheduler = ReminderScheduler(assistant)
        report = await scheduler.run_due(london(2027, 3, 22, 9, 0))
        assert [(f.channel, f.permanent) for f in report.failed] == [("slack:T0COUNCIL:C0GONE", True)]
        notices = [replies for address, replies, _ in sender.sent if address == "local:team-lead"]
        assert len(notices) == 1
        assert "couldn't post the weekly channel reminder to slack:T0COUNCIL:C0GONE" in notices[0][0].text
        assert "paused" in notices[0][0].text
        async with assistant.engine.connect() as conn:
            sub = (await conn.execute(select(reminder_subscriptions))).one()
        assert sub.active == 0
        assert sub.paused_reason == assistant.strings.get("delivery.refused", channel="Slack",
                                                          detail="chat.postMessage: channel_not_found")
        next_week = await scheduler.run_due(london(2027, 3, 29, 9, 0))
        assert "slack:T0COUNCIL:C0GONE" not in {s.channel for s in next_week.sent + next_week.failed}
    finally:
        await assistant.engine.dispose()


async def test_after_downtime_recent_misses_are_sent_once_older_ones_skipped(replicas):
    first, _, sender = replicas
    scheduler = ReminderScheduler(first, SchedulerPolicy(grace=timedelta(hours=24)))
    await scheduler.run_due(london(2027, 3, 14, 12, 0))
    sender.sent.clear()
    # Down from Sunday 14 March until Tuesday 23 March 08:00: Monday 22 March 09:00 is within 24 h.
    report = await scheduler.run_due(london(2027, 3, 23, 8, 0))
    assert {(s.kind, s.channel, s.occurrence) for s in report.sent} >= {
        ("channel_reminder", MASH, "2027-03-22T09:00:00+00:00")}
    assert all(s.occurrence.startswith("2027-03-22") for s in report.sent)
    rows = await occurrence_rows(first)
    skipped = [r for r in rows if r.status == "skipped"]
    assert any(r.kind == "channel_reminder" and r.payload["nominal"] == "2027-03-15" for r in skipped)
    assert all("grace" in r.last_error for r in skipped)
    assert (await scheduler.run_due(london(2027, 3, 23, 8, 0))).sent == []


async def test_marking_reviewed_stops_the_old_reminders(replicas):
    first, _, _sender = replicas
    scheduler = ReminderScheduler(first)
    await scheduler.materialise(london(2027, 3, 29, 9, 0).astimezone(UTC))
    first.clock = lambda: london(2027, 3, 29, 9, 0).astimezone(UTC)
    from tests.conftest import turn

    async with first.engine.connect() as conn:
        from bot.storage.register import list_isas

        health = next(i for i in await list_isas(conn) if i.title.startswith("Health visiting"))
    replies = await first.handle(turn("", user=health.owner, choice=f"isa reviewed {health.id} 2028-03-29"))
    assert "2028-03-29" in replies[-1].text
    report = await scheduler.run_due(london(2027, 3, 29, 9, 0))
    assert "Health visiting and children's centres" not in {s.isa for s in report.sent}
    assert any(r.status == "skipped" and r.isa_id == health.id for r in await occurrence_rows(first))


async def test_reminders_say_what_is_due_with_buttons_and_a_tip(replicas):
    first, _, sender = replicas
    await ReminderScheduler(first).run_due(london(2027, 3, 29, 9, 0))
    posted = {(address, replies[0].title.split(": ")[-1]): replies[0] for address, replies, _ in sender.sent}
    review = posted[("teams:19:earlyhelp@thread.tacv2", "Health visiting and children's centres")]
    assert review.title == "ISA review due today: Health visiting and children's centres"
    assert [c.label for c in review.choices] == ["Mark reviewed", "Snooze 7 days"]
    assert review.choices[0].value.startswith("isa reviewed ")
    assert review.choices[1].value.endswith(" 7")
    assert [link.title for link in review.links] == ["Open document"]
    owner_copy = posted[("teams:3f2b8c1e-7d4a-4b7e-9c1a-2d5e6f708192", "Health visiting and children's centres")]
    assert owner_copy.title == review.title
    channel = posted[(MASH, "Information sharing reminder")]
    assert "MASH partnership agreement" in channel.text
    assert "Practice tip" in channel.text
    assert "Health visiting" not in channel.text  # only the agreements linked to this channel


# ---------------------------------------------------------------- 30 days, two replicas, one killed
def expected_deliveries(start: datetime, end: datetime, grace: timedelta) -> set[tuple[str, datetime]]:
    """(address, due instant) for every reminder due in the window, computed from the example file."""
    calendar = Calendar("Europe/London", skip_bank_holidays=True, bank_holiday_region="England")
    expected = set()
    for isa in read_csv(EXAMPLE.read_text(), address_book()):
        for o in review_occurrences(isa.review_date, (30, 7, 0), calendar, start - grace, end):
            expected |= {(address, o.due_at) for address in isa.reminder_addresses}
    for o in weekly_occurrences(0, time(9), calendar, start - grace, end):
        expected.add((MASH, o.due_at))
    return expected


def next_step(now: datetime) -> datetime:
    """Hourly through the morning, when reminders fall due (09:00) and retries follow; sparser otherwise."""
    local = now.astimezone(LONDON)
    if 6 <= local.hour < 13:
        return now + timedelta(hours=1)
    following = next(h for h in (0, 6, 13, 18, 24) if h > local.hour)
    if following == 24:
        return london(*(local.date() + timedelta(days=1)).timetuple()[:3], 0, 0)
    return london(*local.timetuple()[:3], following, 0)


@pytest.fixture
async def fake_slack_sender(tmp_path):
    """The real Slack sender, talking to the fake Slack Web API on loopback."""
    from adapters.slack.blocks import BlockRenderer
    from adapters.slack.client import SlackApi, make_web_client
    from adapters.slack.sender import SlackSender
    from bot.content import load_content
    from tests.fake_slack import FakeSlack

    fake = await FakeSlack().start()
    settings = make_settings(tmp_path, slack_bot_token="xoxb-test", slack_api_base_url=fake.base_url)
    api = SlackApi(make_web_client(settings))
    await api.start()
    yield fake, SlackSender(api, BlockRenderer(load_content(settings.content_dir).strings))
    await api.close()
    await fake.stop()
    fake.assert_valid()


async def test_thirty_days_two_replicas_one_killed_every_reminder_exactly_once(tmp_path, pg_url, fake_slack_sender):
    fake, slack_sender = fake_slack_sender
    clock = [london(2027, 3, 15, 0, 0)]
    sender = RecordingSender(clock, slack=slack_sender)
    hanging = HangingSender(sender, after=3)
    first = await make_replica(tmp_path, pg_url, hanging, skip_bank_holidays=True)
    second = await make_replica(tmp_path, pg_url, sender, like=first)
    policy = SchedulerPolicy(lease=timedelta(minutes=5), send_timeout=timedelta(seconds=30))
    doomed, survivor = ReminderScheduler(first, policy, "doomed"), ReminderScheduler(second, policy, "survivor")
    try:
        await seed(first)
        start, end = clock[0], london(2027, 4, 14, 0, 0)
        killed_at = None
        while clock[0] <= end:
            now = clock[0]
            tasks = [asyncio.create_task(survivor.run_due(now))]
            if killed_at is None:
                doomed_task = asyncio.create_task(doomed.run_due(now))
                entered = asyncio.create_task(hanging.entered.wait())
                await asyncio.wait([doomed_task, entered], return_when=asyncio.FIRST_COMPLETED)
                if hanging.entered.is_set():  # it claimed and is mid-send: kill it (no cleanup, no release)
                    doomed_task.cancel()
                    killed_at = now
                entered.cancel()
                await asyncio.gather(doomed_task, entered, return_exceptions=True)
            await asyncio.gather(*tasks)
            clock[0] = next_step(now)

        assert killed_at is not None, "the replica was never killed mid-send"
        rows = {r.key: r for r in await occurrence_rows(first)}
        delivered = Counter(address for address, _, _ in sender.sent)
        recorded = Counter(r.channel for r in rows.values() if r.status == "sent")
        assert delivered == recorded, "a reminder was delivered twice, or sent without being recorded"
        due_instant = {(r.channel, r.due_at.astimezone(UTC)) for r in rows.values() if r.status != "skipped"}
        assert due_instant == expected_deliveries(start, end, policy.grace), "lost or unexpected reminders"
        assert all(r.status == "sent" for r in rows.values() if r.status != "skipped"), "a reminder was not sent"
        sent = [r for r in rows.values() if r.status == "sent"]
        assert all(r.sent_at >= r.due_at for r in sent), "a reminder was sent early"
        assert all(r.sent_at - r.due_at <= timedelta(hours=1) for r in sent), "a reminder was late"
        assert len(sender.sent) == len(sent)
        posted = Counter(call.args["channel"] for call in fake.of("chat.postMessage"))
        slack_channels = (r.channel.split(":")[2] for r in sent if r.channel.startswith("slack:"))
        slack_rows = Counter(c for c in slack_channels if c.startswith("C"))
        assert {c: n for c, n in posted.items() if c.startswith("C")} == slack_rows  # each once, in Slack itself
        assert any("Mark reviewed" in str(call.buttons()) for call in fake.of("chat.postMessage"))
        channel_times = sorted(r.due_at.astimezone(UTC) for r in sent if r.kind == "channel_reminder")
        assert channel_times == [datetime(2027, 3, 15, 9, tzinfo=UTC), datetime(2027, 3, 22, 9, tzinfo=UTC),
                                 datetime(2027, 3, 30, 8, tzinfo=UTC),  # Easter Monday -> Tuesday, now BST
                                 datetime(2027, 4, 5, 8, tzinfo=UTC), datetime(2027, 4, 12, 8, tzinfo=UTC)]
        retried = [r for r in rows.values() if r.attempts > 1]
        assert retried
        assert all(r.status == "sent" for r in retried)
    finally:
        await first.engine.dispose()
        await second.engine.dispose()


# ---------------------------------------------------------------- the command line
async def test_run_due_twice_sends_nothing_the_second_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    seeded = await make_replica(tmp_path, url, RecordingSender())
    await seed(seeded, subscribe=None)
    preview = await ReminderScheduler(seeded).preview(london(2027, 3, 29, 9, 0))  # --dry-run: nothing recorded
    assert preview
    assert await occurrence_rows(seeded) == []
    await seeded.engine.dispose()
    env = {"DATABASE_URL": url, "PATH": "/usr/bin"}
    command = [sys.executable, "-m", "bot", "reminders", "run-due", "--now", "2027-03-29T09:00", "--json"]
    first = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    second = subprocess.run(command, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    lines = [json.loads(line) for line in first.stdout.splitlines()]
    assert {"kind": "review_due", "isa": "Schools attendance and children missing education", "channel": "local",
            "occurrence": "2027-03-29T09:00:00+01:00"} in lines
    assert all(set(line) == {"kind", "isa", "channel", "occurrence"} for line in lines)
    assert {(p.kind, p.channel) for p in preview} >= {(line["kind"], line["channel"]) for line in lines}
    assert second.returncode == 0
    assert second.stdout == ""
    assert "teams:19:earlyhelp@thread.tacv2: failed, will retry" in first.stderr  # Teams not configured here


async def test_the_server_runs_the_scheduler_in_the_background_and_stops_cleanly(tmp_path):
    from aiohttp.test_utils import TestServer

    from app import build_app
    from bot.http import ASSISTANT

    app = await build_app(make_settings(tmp_path, scheduler_enabled=True))
    assistant = app[ASSISTANT]
    sender = RecordingSender()
    assistant.delivery.register("local", sender)
    a_minute_ago = (datetime.now(UTC) - timedelta(minutes=1)).astimezone(LONDON)
    async with assistant.engine.begin() as conn:
        await conn.execute(insert(reminder_subscriptions).values(
            channel="local:team-room", weekday=a_minute_ago.weekday(), time_of_day=a_minute_ago.strftime("%H:%M"),
            timezone="Europe/London", active=1, created_by="local:lead", created_at=datetime.now(UTC)))
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        for _ in range(100):
            if sender.sent:
                break
            await asyncio.sleep(0.1)
    finally:
        await server.close()
    assert [address for address, _, _ in sender.sent] == ["local:team-room"]
    assert "Practice tip" in sender.sent[0][1][0].text
