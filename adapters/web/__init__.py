"""The local web chat: a plain HTML/CSS/JS page and a small JSON API on the bot's own aiohttp server.

Needs no account and no credentials. The page keeps a random ``local:web-...`` user id in the
browser; ``POST /api/chat`` turns a message or a button press into an :class:`IncomingTurn` and
returns the neutral replies as JSON for ``chat.js`` to render. Proactive messages addressed to
``local`` or ``local:<user>`` are written to the ``local_outbox`` table and fetched by the page
from ``GET /api/outbox``.
"""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, insert, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters import Close
from adapters.local import CHANNEL, LocalAddresses, local_identity
from bot.config import LOOPBACK_HOSTS
from bot.core import Assistant
from bot.delivery import DeliveryError
from bot.messages import IncomingTurn, Reply
from bot.storage.db import utcnow
from bot.storage.tables import local_outbox

log = logging.getLogger(__name__)

BROADCAST = "local"  # the address for every local user
STATIC_DIR = Path(__file__).resolve().parent / "static"
USER_ID = re.compile(r"local:[A-Za-z0-9_.-]{1,64}")
MESSAGE_ID_MAX = 100
OUTBOX_BATCH = 50
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")
# Strings chat.js needs at run time (the rest are filled into the page on the server).
SCRIPT_STRINGS = ("you", "bot", "sources", "links", "copy", "copied", "copy_failed", "offline", "thinking",
                  "bad_reply", "choice_sent", "new_messages")
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class BadRequest(ValueError):
    """The request cannot be used; the argument names the ``web.errors.*`` wording shown to the caller."""


class LocalSender:
    """Proactive delivery for the local chat: store the replies; the page polls for them."""

    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def send(self, address: str, replies: list[Reply]) -> None:
        if address != BROADCAST and not USER_ID.fullmatch(address):
            raise DeliveryError(f"not a local chat address: {address!r}", permanent=True)
        now = utcnow()
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(local_outbox), [
                    {"conversation_id": address, "reply": reply.to_dict(), "created_at": now} for reply in replies])
        except SQLAlchemyError as exc:
            raise DeliveryError(f"could not store local message ({type(exc).__name__})") from exc


class WebChat:
    """Request handlers for the page and its API, bound to one assistant."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.page = render_page((STATIC_DIR / "index.html").read_text(encoding="utf-8"), assistant)

    def error(self, status: int, key: str, reason: str) -> web.Response:
        log.info("web chat request refused", extra={"status": status, "reason": reason})
        return web.json_response({"error": self.assistant.strings.get(f"web.errors.{key}")}, status=status,
                                 headers={"Cache-Control": "no-store"})

    async def index(self, request: web.Request) -> web.Response:
        return web.Response(text=self.page, content_type="text/html", charset="utf-8",
                            headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})

    async def chat(self, request: web.Request) -> web.Response:
        try:
            turn = parse_chat_request(await request.read())
        except BadRequest as exc:
            return self.error(400, str(exc), f"bad chat request: {exc}")
        replies = await self.assistant.handle(turn)
        return web.json_response({"replies": [reply.to_dict() for reply in replies]},
                                 headers={"Cache-Control": "no-store"})

    async def outbox(self, request: web.Request) -> web.Response:
        user = request.query.get("user", "")
        if not USER_ID.fullmatch(user):
            return self.error(400, "user", "bad outbox user")
        after_raw = request.query.get("after")
        if after_raw is not None and not (after_raw.isascii() and after_raw.isdigit() and len(after_raw) < 19):
            return self.error(400, "after", "bad outbox cursor")
        try:
            body = await read_outbox(self.assistant.engine, user, None if after_raw is None else int(after_raw))
        except SQLAlchemyError as exc:
            log.warning("could not read local outbox", extra={"reason": type(exc).__name__})
            return self.error(503, "unavailable", "outbox read failed")
        return web.json_response(body, headers={"Cache-Control": "no-store"})


def parse_chat_request(body: bytes) -> IncomingTurn:
    """Validate ``{"user", "text"}`` or ``{"user", "choice"}`` (optional ``message_id``) into a turn."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("json") from None
    if not isinstance(data, dict):
        raise BadRequest("json")
    user = data.get("user")
    if not isinstance(user, str) or not USER_ID.fullmatch(user):
        raise BadRequest("user")
    text, choice, message_id = data.get("text", ""), data.get("choice"), data.get("message_id")
    if not isinstance(text, str) or (choice is not None and not isinstance(choice, str)):
        raise BadRequest("types")
    if "text" not in data and choice is None:
        raise BadRequest("missing")
    if message_id is not None and (not isinstance(message_id, str) or not 0 < len(message_id) <= MESSAGE_ID_MAX):
        raise BadRequest("message_id")
    who = local_identity(user)
    return IncomingTurn(user=who, conversation=who, text=text, choice=choice,
                        message_id=f"{user}:{message_id}" if message_id else None)


async def read_outbox(engine: AsyncEngine, user: str, after: int | None) -> dict[str, Any]:
    """Messages for ``user`` (and broadcasts) after the cursor; without one, just the current cursor."""
    async with engine.connect() as conn:
        if after is None:
            latest = (await conn.execute(select(func.max(local_outbox.c.id)))).scalar()
            return {"replies": [], "last_id": latest or 0}
        rows = (await conn.execute(
            select(local_outbox.c.id, local_outbox.c.reply)
            .where(or_(local_outbox.c.conversation_id == user, local_outbox.c.conversation_id == BROADCAST))
            .where(local_outbox.c.id > after)
            .order_by(local_outbox.c.id).limit(OUTBOX_BATCH))).all()
    return {"replies": [row.reply for row in rows], "last_id": rows[-1].id if rows else after}


def render_page(template: str, assistant: Assistant) -> str:
    """Fill ``{{web.key}}`` placeholders (escaped) and the strings chat.js needs (as inert JSON)."""
    strings = assistant.strings
    script_strings = {key: strings.get(f"web.script.{key}") for key in SCRIPT_STRINGS}
    script_strings["max_chars"] = assistant.settings.max_message_chars
    inert_json = json.dumps(script_strings, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e")

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key == "script_strings":
            return inert_json
        if key == "max_chars":
            return str(assistant.settings.max_message_chars)
        return html.escape(strings.get(key))

    return _PLACEHOLDER.sub(fill, template)


def setup_web(app: web.Application, assistant: Assistant) -> None:
    """Mount the chat page, its static files and API, and the ``local`` proactive sender."""
    if assistant.settings.host not in LOOPBACK_HOSTS:
        log.warning("the local web chat has no sign-in: anyone who can reach this server can use it. "
                    "Keep / and /api/chat, /api/outbox behind your sign-on proxy or block them there",
                    extra={"host": assistant.settings.host})
    chat = WebChat(assistant)
    assistant.delivery.register(CHANNEL, LocalSender(assistant.engine))
    app.router.add_get("/", chat.index)
    app.router.add_post("/api/chat", chat.chat)
    app.router.add_get("/api/outbox", chat.outbox)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)


class WebChannel:
    """The local web chat as a :class:`adapters.Channel` (its sender also serves the terminal)."""

    name = CHANNEL
    addresses = LocalAddresses()

    def mount(self, app: web.Application, assistant: Assistant) -> str | None:
        if not assistant.settings.web_chat_enabled:  # off by default off loopback: the local chat has no sign-in
            return None
        setup_web(app, assistant)
        return "local web chat"

    async def open_sender(self, assistant: Assistant) -> tuple[LocalSender, Close]:
        async def close() -> None:
            return None

        return LocalSender(assistant.engine), close
