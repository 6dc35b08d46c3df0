"""A question turn's writes are one database transaction: the idempotency claim, the user touch and the
transcript lines commit together, and the reply goes out only after that commit. Concurrent turns share
the transaction (group commit, bot/storage/group_commit.py); a failed commit fails only the turns whose
rows it held, with the database message and nothing half-written; shutting down writes what is queued.
(bench/load.py measures what that buys; this proves it stays that way.)"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.web import SESSION_COOKIE, user_for_session
from app import build_app, build_assistant
from bot.core import Assistant
from bot.http import ASSISTANT
from bot.messages import ReplyKind
from bot.storage.db import utcnow
from bot.storage.group_commit import TurnRecord, WriterClosed
from bot.storage.tables import processed_events, transcripts, users
from tests.conftest import make_settings, turn
from tests.servers import session_token

QUESTION = "can I share without consent if a child is at risk of significant harm?"
REFUSED = "xyzzy"  # a transcript line containing this is refused by the database (see refuse_lines)


def record_transactions(engine: AsyncEngine) -> list[list[str]]:
    """Each transaction the engine ends, as the first word of every statement in it and how it ended."""
    ended: list[list[str]] = []
    current: list[str] = []

    def statement(_conn, _cursor, sql: str, *_args) -> None:
        current.append(sql.split(None, 1)[0].upper())

    def end(how: str):
        def ending(_conn) -> None:
            ended.append([*current, how])
            current.clear()
        return ending

    event.listen(engine.sync_engine, "before_cursor_execute", statement)
    event.listen(engine.sync_engine, "commit", end("COMMIT"))
    event.listen(engine.sync_engine, "rollback", end("ROLLBACK"))
    return ended


async def refuse_lines(engine: AsyncEngine) -> None:
    """A trigger that makes the database refuse any transcript line containing REFUSED (a real failure)."""
    async with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            await conn.execute(text(f"CREATE TRIGGER refuse BEFORE INSERT ON transcripts WHEN NEW.text LIKE "
                                    f"'%{REFUSED}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
            return
        await conn.execute(text(f"CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN IF NEW.text LIKE "
                                f"'%{REFUSED}%' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$ "
                                "LANGUAGE plpgsql"))
        await conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON transcripts FOR EACH ROW "
                                "EXECUTE FUNCTION refuse()"))


async def lines_of(engine: AsyncEngine, user: str) -> list[str]:
    async with engine.connect() as conn:
        return list((await conn.execute(select(transcripts.c.direction).where(transcripts.c.user_id == user)
                                        .order_by(transcripts.c.id))).scalars())


async def test_a_question_turn_is_one_transaction(db_url: str, tmp_path: Path) -> None:
    app = await build_app(make_settings(tmp_path, database_url=db_url))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0), cookie_jar=DummyCookieJar()) as client:
        engine = client.app[ASSISTANT].engine
        token = session_token("one-transaction")
        headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
        transactions = record_transactions(engine)

        for number, first_contact in ((1, True), (2, False)):
            transactions.clear()
            response = await client.post("/api/chat", json={"message_id": f"m{number}", "text": QUESTION},
                                         headers=headers)
            assert response.status == 200
            replies = (await response.json())["replies"]
            kinds = [reply["kind"] for reply in replies]
            assert kinds[-1] == ReplyKind.ANSWER.value
            assert (ReplyKind.NOTICE.value in kinds) is first_contact  # the disclaimer, once
            committed = [t for t in transactions if t[-1] == "COMMIT"]
            assert len(committed) == 1, f"turn {number}: {transactions}"
            assert {"INSERT"} <= set(committed[0]), f"turn {number}: {transactions}"
            for other in transactions:  # the read before answering writes nothing and holds nothing
                assert other is committed[0] or set(other) <= {"SELECT", "ROLLBACK"}, f"turn {number}: {transactions}"

        user = user_for_session(token)
        lines = await lines_of(engine, user)
        async with engine.connect() as conn:
            met = (await conn.execute(select(func.count()).select_from(users).where(users.c.user_id == user))).scalar()
        assert lines.count("in") == 2
        assert len(lines) == 2 + 2 * len(replies) + 1  # both questions, both answers and the one disclaimer
        assert met == 1


async def test_concurrent_turns_share_commits_and_each_is_kept(db_url: str, tmp_path: Path) -> None:
    assistant = await build_assistant(make_settings(tmp_path, database_url=db_url))
    try:
        transactions = record_transactions(assistant.engine)
        people = [f"local:web-group{n}" for n in range(20)]
        results = await asyncio.gather(*(assistant.handle(turn(QUESTION, user=p, conversation=p, message_id=p))
                                         for p in people))
        assert all(replies[0].kind == ReplyKind.NOTICE and replies[-1].kind == ReplyKind.ANSWER
                   for replies in results)  # each new user greeted once, each question answered
        assert len([t for t in transactions if t[-1] == "COMMIT"]) < len(people)  # turns shared commits
        for person, replies in zip(people, results, strict=True):
            assert await lines_of(assistant.engine, person) == ["in"] + ["out"] * len(replies)
        again = await assistant.handle(turn(QUESTION, user=people[0], conversation=people[0], message_id=people[0]))
        assert again == []  # the claim was committed with the lines: a redelivery is dropped
    finally:
        await assistant.close()


async def test_a_refused_write_fails_only_its_turn_and_leaves_nothing(db_url: str, tmp_path: Path) -> None:
    assistant = await build_assistant(make_settings(tmp_path, database_url=db_url))
    try:
        await refuse_lines(assistant.engine)
        people = [f"local:web-refuse{n}" for n in range(6)]
        refused = people[2]
        questions = [f"{QUESTION} {REFUSED}" if p == refused else QUESTION for p in people]
        results = await asyncio.gather(*(assistant.handle(turn(q, user=p, conversation=p, message_id=p))
                                         for p, q in zip(people, questions, strict=True)))
        database_message = assistant.strings.get("errors.database")
        for person, replies in zip(people, results, strict=True):
            if person == refused:  # its reply is not sent: the user is told to try again
                assert [r.text for r in replies] == [database_message]
                assert await lines_of(assistant.engine, person) == []
            else:
                assert replies[-1].kind == ReplyKind.ANSWER
                assert await lines_of(assistant.engine, person) == ["in"] + ["out"] * len(replies)
        async with assistant.engine.connect() as conn:
            keys = set((await conn.execute(select(processed_events.c.key))).scalars())
            met = set((await conn.execute(select(users.c.user_id))).scalars())
        assert not any(refused in key for key in keys)  # nothing half-written: no claim,
        assert refused not in met  # no user row
        async with assistant.engine.begin() as conn:
            on_table = "" if conn.dialect.name == "sqlite" else " ON transcripts"
            await conn.execute(text(f"DROP TRIGGER refuse{on_table}"))
        retried = await assistant.handle(turn(questions[2], user=refused, conversation=refused, message_id=refused))
        assert retried[-1].kind == ReplyKind.ANSWER  # the retry is answered, not dropped as a duplicate
        assert retried[0].kind == ReplyKind.NOTICE  # and the user is greeted: the first turn never happened
    finally:
        await assistant.close()


async def test_shutting_down_writes_every_queued_turn_first(db_url: str, tmp_path: Path) -> None:
    assistant: Assistant = await build_assistant(make_settings(tmp_path, database_url=db_url))
    writer, now = assistant.turn_writer, utcnow()
    people = [f"local:web-drain{n}" for n in range(12)]
    queued = [asyncio.create_task(writer.write(TurnRecord(p, p, f"drain:{p}", now, None, "hello", ("hi",))))
              for p in people]
    await asyncio.sleep(0)  # every write is queued; none can have committed yet
    await assistant.turn_writer.close()
    await asyncio.sleep(0)  # the turns resume (their commit is done); one loop pass could not have written them
    assert all(task.done() and task.result().claimed for task in queued)
    try:
        for person in people:
            assert await lines_of(assistant.engine, person) == ["in", "out"]
        refused = await assistant.handle(turn(QUESTION, user="local:web-late", conversation="local:web-late"))
        assert [r.text for r in refused] == [assistant.strings.get("errors.database")]
        try:
            await writer.write(TurnRecord("local:web-late", "local:web-late", None, now, None, "x", ()))
        except WriterClosed:
            pass
        else:
            raise AssertionError("a write after close must be refused")
    finally:
        await assistant.engine.dispose()
