"""The local web chat: a plain HTML/CSS/JS page and a small JSON API on the bot's own aiohttp server.

Who is chatting is decided by the server, never by the page: loading ``/`` sets a random session id
in a cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure`` behind HTTPS) and the user id is a hash of
it (``local:web-<hex>``), so the id that appears in records and logs is not the secret that proves
it. Behind a single sign-on proxy, ``WEB_TRUSTED_USER_HEADER`` names the header the proxy sets and
the user is ``local:sso-<that value>`` instead (see docs/security.md). The API only accepts
``application/json`` from the page's own origin. ``POST /api/chat`` turns a message or a button press
into an :class:`IncomingTurn` and returns the neutral replies as JSON for ``chat.js`` to render;
``POST /api/resume`` (on load) returns the step of a walkthrough still in progress.
Proactive messages addressed to ``local`` or ``local:<user>`` are written to the ``local_outbox`` table
and fetched by the page from ``GET /api/outbox``.
"""

from __future__ import annotations

import hashlib
import html
import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters import Close
from adapters.local import CHANNEL, LocalAddresses, local_identity
from bot.config import LOOPBACK_HOSTS
from bot.core import Assistant
from bot.delivery import DeliveryError, DeliveryFailure
from bot.http import cross_site_reason, is_json
from bot.messages import IncomingTurn, Reply
from bot.storage.db import utcnow
from bot.storage.outbox import LocalOutbox

log = logging.getLogger(__name__)

BROADCAST = "local"  # the address for every local user
STATIC_DIR = Path(__file__).resolve().parent / "static"
USER_ID = re.compile(r"local:[A-Za-z0-9_.@-]{1,100}")
SESSION_COOKIE = "infoshare_session"
SESSION_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
SESSION_MAX_AGE = 400 * 24 * 3600  # the longest browsers keep a cookie: records stay yours across visits
SSO_USER = re.compile(r"[A-Za-z0-9_.@-]{1,90}")
MESSAGE_ID_MAX = 100
OUTBOX_BATCH = 50
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z0-9_.]+)\s*\}\}")
# Strings chat.js needs at run time (the rest are filled into the page on the server).
SCRIPT_STRINGS = ("you", "bot", "sources", "links", "copy", "copied", "copy_failed", "offline", "thinking",
                  "bad_reply", "choice_sent", "new_messages", "actions")
PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class BadRequest(ValueError):
    """The request cannot be used; the argument names the ``web.errors.*`` wording shown to the caller."""


class LocalSender:
    """Proactive delivery for the local chat: store the replies; the page polls for them."""

    def __init__(self, engine: AsyncEngine):
        self.outbox = LocalOutbox(engine, BROADCAST)

    async def send(self, address: str, replies: list[Reply]) -> None:
        if address != BROADCAST and not USER_ID.fullmatch(address):
            raise DeliveryError(DeliveryFailure.NOT_AN_ADDRESS, permanent=True, channel="local chat", address=address)
        try:
            await self.outbox.add(address, [reply.to_dict() for reply in replies], utcnow())
        except SQLAlchemyError as exc:
            raise DeliveryError(DeliveryFailure.NOT_STORED, detail=type(exc).__name__) from exc


def user_for_session(token: str) -> str:
    """The user id for a session token: a one-way hash, so showing or logging it reveals no secret."""
    return "local:web-" + hashlib.sha256(token.encode("ascii")).hexdigest()[:24]


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class WebChat:
    """Request handlers for the page and its API, bound to one assistant."""

    def __init__(self, assistant: Assistant):
        self.assistant = assistant
        self.local_outbox = LocalOutbox(assistant.engine, BROADCAST)
        self.page = render_page((STATIC_DIR / "index.html").read_text(encoding="utf-8"), assistant)
        self.trusted_header = assistant.settings.web_trusted_user_header

    def identify(self, request: web.Request) -> str | None:
        """The user for this request: from the SSO proxy's header when configured, else the session
        cookie this server set; None when there is neither (nothing the page sends can choose it)."""
        if self.trusted_header:
            value = request.headers.get(self.trusted_header, "").strip().lower()
            return f"local:sso-{value}" if SSO_USER.fullmatch(value) else None
        token = request.cookies.get(SESSION_COOKIE, "")
        return user_for_session(token) if SESSION_TOKEN.fullmatch(token) else None

    def refusal(self, request: web.Request, *, json_body: bool) -> web.Response | None:
        """403 for another site's page, 415 for a body that is not exactly JSON, 401 without a user."""
        if reason := cross_site_reason(request):
            return self.error(403, "cross_site", f"cross-site request ({reason})")
        if json_body and not is_json(request):
            return self.error(415, "content_type", f"content type {request.content_type!r}")
        if self.identify(request) is None:
            return self.error(401, "session", "no session cookie" if not self.trusted_header
                              else f"no valid {self.trusted_header} header")
        return None

    def error(self, status: int, key: str, reason: str) -> web.Response:
        log.info("web chat request refused", extra={"status": status, "reason": reason})
        return web.json_response({"error": self.assistant.strings.get(f"web.errors.{key}")}, status=status,
                                 headers={"Cache-Control": "no-store"})

    def start_session(self, request: web.Request, response: web.StreamResponse) -> None:
        """Give a visitor without a session (and not behind SSO) a new one."""
        if not self.trusted_header and self.identify(request) is None:
            secure = request.secure or request.headers.get("X-Forwarded-Proto", "").lower() == "https"
            response.set_cookie(SESSION_COOKIE, new_session_token(), max_age=SESSION_MAX_AGE, path="/",
                                httponly=True, samesite="Strict", secure=secure)

    async def index(self, request: web.Request) -> web.Response:
        """The page. Arriving from a link on another site, the browser holds back the SameSite=Strict
        cookie, so no session is issued then (it would replace the visitor's own): chat.js asks
        ``/api/session`` instead, which always carries it."""
        response = web.Response(text=self.page, content_type="text/html", charset="utf-8",
                                headers={"Content-Security-Policy": PAGE_POLICY, "Cache-Control": "no-cache"})
        if request.headers.get("Sec-Fetch-Site", "none") in ("none", "same-origin"):
            self.start_session(request, response)
        return response

    async def session(self, request: web.Request) -> web.Response:
        """``POST /api/session`` from the page: keep the session it has, or start one."""
        if reason := cross_site_reason(request):
            return self.error(403, "cross_site", f"cross-site request ({reason})")
        if self.trusted_header and self.identify(request) is None:
            return self.error(401, "session", f"no valid {self.trusted_header} header")
        response = web.json_response({"ok": True}, headers={"Cache-Control": "no-store"})
        self.start_session(request, response)
        return response

    async def chat(self, request: web.Request) -> web.Response:
        if refused := self.refusal(request, json_body=True):
            return refused
        try:
            turn = parse_chat_request(await request.read(), self.identify(request) or "")
        except BadRequest as exc:
            return self.error(400, str(exc), f"bad chat request: {exc}")
        replies = await self.assistant.handle(turn)
        return web.json_response({"replies": [reply.to_dict() for reply in replies]},
                                 headers={"Cache-Control": "no-store"})

    async def resume(self, request: web.Request) -> web.Response:
        """``POST /api/resume`` when the page loads: the step of a walkthrough still in progress (a reload
        loses what was on screen), or no replies."""
        if refused := self.refusal(request, json_body=False):
            return refused
        who = local_identity(self.identify(request) or "")
        replies = await self.assistant.pending(IncomingTurn(user=who, conversation=who))
        return web.json_response({"replies": [reply.to_dict() for reply in replies]},
                                 headers={"Cache-Control": "no-store"})

    async def outbox(self, request: web.Request) -> web.Response:
        if refused := self.refusal(request, json_body=False):
            return refused
        user = self.identify(request) or ""
        after_raw = request.query.get("after")
        if after_raw is not None and not (after_raw.isascii() and after_raw.isdigit() and len(after_raw) < 19):
            return self.error(400, "after", "bad outbox cursor")
        try:
            body = await read_outbox(self.local_outbox, user, None if after_raw is None else int(after_raw))
        except SQLAlchemyError as exc:
            log.warning("could not read local outbox", extra={"reason": type(exc).__name__})
            return self.error(503, "unavailable", "outbox read failed")
        return web.json_response(body, headers={"Cache-Control": "no-store"})


def parse_chat_request(body: bytes, user: str) -> IncomingTurn:
    """Validate ``{"text"}`` or ``{"choice"}`` (optional ``message_id``) into a turn from ``user``; any
    ``user`` field in the body is ignored (the server decides who is chatting)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("json") from None
    if not isinstance(data, dict):
        raise BadRequest("json")
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


async def read_outbox(outbox: LocalOutbox, user: str, after: int | None) -> dict[str, Any]:
    """Messages for ``user`` (and broadcasts) after the cursor; without one, just the current cursor."""
    if after is None:
        return {"replies": [], "last_id": await outbox.latest_id()}
    rows = await outbox.after(user, after, OUTBOX_BATCH)
    return {"replies": [reply for _, reply in rows], "last_id": rows[-1][0] if rows else after}


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
    settings = assistant.settings
    if settings.host not in LOOPBACK_HOSTS and not settings.web_trusted_user_header:
        log.warning("the local web chat has no sign-in: anyone who can reach this server can use it. "
                    "Put it behind your sign-on proxy and set WEB_TRUSTED_USER_HEADER (docs/security.md)",
                    extra={"host": settings.host})
    if settings.host not in LOOPBACK_HOSTS and not settings.web_trusted_user_header and any(
            admin.startswith("local:") for admin in settings.admins):
        log.warning("ADMINS lists local: ids on a server others can reach: anyone holding that browser's session "
                    "cookie is an administrator. Prefer single sign-on (docs/security.md)")
    if settings.web_trusted_user_header:
        log.warning("web chat users come from a trusted proxy header: only safe if every request reaches this "
                    "server through a proxy that sets it", extra={"header": settings.web_trusted_user_header})
    chat = WebChat(assistant)
    assistant.delivery.register(CHANNEL, LocalSender(assistant.engine))
    app.router.add_get("/", chat.index)
    app.router.add_post("/api/session", chat.session)
    app.router.add_post("/api/chat", chat.chat)
    app.router.add_get("/api/outbox", chat.outbox)
    app.router.add_post("/api/resume", chat.resume)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)


class WebChannel:
    """The local web chat as a :class:`adapters.Channel` (its sender also serves the terminal)."""

    name = CHANNEL
    name_shown = "local web chat"  # what mount() returns: how start-up names it
    addresses = LocalAddresses()

    def mount(self, app: web.Application, assistant: Assistant) -> str | None:
        if not assistant.settings.web_chat_enabled:  # off by default off loopback: the local chat has no sign-in
            return None
        setup_web(app, assistant)
        return self.name_shown

    async def open_sender(self, assistant: Assistant) -> tuple[LocalSender, Close]:
        async def close() -> None:
            return None

        return LocalSender(assistant.engine), close
