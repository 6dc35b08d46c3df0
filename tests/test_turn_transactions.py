"""A web chat question turn is one database transaction: the idempotency claim, the dialog-state and
last-seen read, the user touch and the transcript lines commit together (bench/load.py measures what
that buys; this proves it stays that way)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import event, func, select

from adapters.web import SESSION_COOKIE, user_for_session
from app import build_app
from bot.http import ASSISTANT
from bot.messages import ReplyKind
from bot.storage.tables import transcripts, users
from tests.conftest import make_settings
from tests.servers import session_token

QUESTION = "can I share without consent if a child is at risk of significant harm?"


async def test_a_question_turn_is_one_transaction(db_url: str, tmp_path: Path) -> None:
    app = await build_app(make_settings(tmp_path, database_url=db_url))
    async with TestClient(TestServer(app, host="127.0.0.1", port=0), cookie_jar=DummyCookieJar()) as client:
        assistant = client.app[ASSISTANT]
        engine = assistant.engine
        token = session_token("one-transaction")
        headers = {"Cookie": f"{SESSION_COOKIE}={token}"}
        commits: list[str] = []
        event.listen(engine.sync_engine, "commit", lambda _conn: commits.append("commit"))
        event.listen(engine.sync_engine, "rollback", lambda _conn: commits.append("rollback"))

        for number, first_contact in ((1, True), (2, False)):
            commits.clear()
            response = await client.post("/api/chat", json={"message_id": f"m{number}", "text": QUESTION},
                                         headers=headers)
            assert response.status == 200
            replies = (await response.json())["replies"]
            kinds = [reply["kind"] for reply in replies]
            assert kinds[-1] == ReplyKind.ANSWER.value
            assert (ReplyKind.NOTICE.value in kinds) is first_contact  # the disclaimer, once
            assert commits == ["commit"], f"turn {number}: {commits}"

        user = user_for_session(token)
        async with engine.connect() as conn:
            lines = (await conn.execute(select(transcripts.c.direction).where(transcripts.c.user_id == user)
                                        .order_by(transcripts.c.id))).scalars().all()
            met = (await conn.execute(select(func.count()).select_from(users).where(users.c.user_id == user))).scalar()
        assert lines.count("in") == 2
        assert len(lines) == 2 + 2 * len(replies) + 1  # both questions, both answers and the one disclaimer
        assert met == 1
