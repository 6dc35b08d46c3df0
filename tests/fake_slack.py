"""A fake Slack Web API on 127.0.0.1 for tests and the benchmark: records every call, checks every
Block Kit payload against Slack's limits, and can fail on demand (429 with Retry-After, 500, or a
Slack error such as ``channel_not_found``).

    fake = FakeSlack(); await fake.start()
    settings.slack_api_base_url = fake.base_url       # the bot's Web API calls land here
    fake.response_url("r1")                           # a response_url that also lands here
    fake.fail("chat.postMessage", status=429, retry_after=0)
    ...; assert fake.violations == []

Run alone for the benchmark: ``python tests/fake_slack.py`` prints its base URL and serves until killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T1"
TOKEN = "xoxb-test"

MESSAGE_METHODS = {"chat.postMessage", "chat.update", "chat.postEphemeral", "response_url"}
VIEW_METHODS = {"views.open", "views.publish", "views.update", "views.push"}


@dataclass
class Call:
    method: str
    args: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    path: str = ""
    result: dict[str, Any] = field(default_factory=dict)  # what the fake answered

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.args.get("blocks") or (self.args.get("view") or {}).get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else blocks

    def buttons(self) -> list[dict[str, Any]]:
        return [dict(e, block_id=b.get("block_id")) for b in self.blocks if b.get("type") == "actions"
                for e in b.get("elements", []) if e.get("type") == "button"]

    def text(self) -> str:
        """Everything readable in the message: fallback text, sections, fields, headers, context."""
        parts = [str(self.args.get("text") or "")]
        for block in self.blocks:
            if isinstance(block.get("text"), dict):
                parts.append(block["text"].get("text", ""))
            parts += [f.get("text", "") for f in block.get("fields", [])]
            parts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e.get("text"), str)]
        return "\n".join(parts)


class BlockKitViolation(AssertionError):
    pass


def _text_len(obj: Any) -> int:
    return len(obj.get("text", "")) if isinstance(obj, dict) else 0


def validate_blocks(blocks: Any, max_blocks: int) -> list[str]:
    """Every way ``blocks`` breaks Slack's published limits (an empty list when it is fine)."""
    problems: list[str] = []
    if not isinstance(blocks, list):
        return [f"blocks must be a list, got {type(blocks).__name__}"]
    if len(blocks) > max_blocks:
        problems.append(f"{len(blocks)} blocks, limit {max_blocks}")
    action_ids: list[str] = []
    block_ids: list[str] = []
    for n, block in enumerate(blocks):
        kind = block.get("type")
        where = f"block {n} ({kind})"
        if block.get("block_id"):
            block_ids.append(block["block_id"])
            if len(block["block_id"]) > 255:
                problems.append(f"{where}: block_id over 255")
        if kind == "section":
            if not block.get("text") and not block.get("fields"):
                problems.append(f"{where}: needs text or fields")
            if block.get("text") and not 1 <= _text_len(block["text"]) <= 3000:
                problems.append(f"{where}: text length {_text_len(block['text'])} not in 1..3000")
            fields = block.get("fields", [])
            if len(fields) > 10:
                problems.append(f"{where}: {len(fields)} fields, limit 10")
            problems += [f"{where}: field over 2000" for f in fields if _text_len(f) > 2000]
        elif kind == "header":
            if block["text"].get("type") != "plain_text" or not 1 <= _text_len(block["text"]) <= 150:
                problems.append(f"{where}: header must be plain_text of 1..150 chars")
        elif kind == "context":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 10:
                problems.append(f"{where}: {len(elements)} elements, allowed 1..10")
            problems += [f"{where}: element text over 3000" for e in elements if _text_len(e) > 3000]
        elif kind == "actions":
            elements = block.get("elements", [])
            if not 1 <= len(elements) <= 25:
                problems.append(f"{where}: {len(elements)} elements, allowed 1..25")
            for element in elements:
                action_ids.append(element.get("action_id", ""))
                if len(element.get("action_id", "")) > 255:
                    problems.append(f"{where}: action_id over 255")
                if element.get("type") == "button":
                    if not 1 <= _text_len(element.get("text")) <= 75:
                        problems.append(f"{where}: button text length {_text_len(element.get('text'))} not in 1..75")
                    if len(element.get("value", "")) > 2000:
                        problems.append(f"{where}: button value over 2000")
        elif kind == "input":
            if not 1 <= _text_len(block.get("label")) <= 2000:
                problems.append(f"{where}: input label not in 1..2000")
        elif kind != "divider":
            problems.append(f"{where}: block type the bot should not send")
    if len(set(action_ids)) != len(action_ids):
        problems.append(f"duplicate action_id in {action_ids}")
    if len(set(block_ids)) != len(block_ids):
        problems.append(f"duplicate block_id in {block_ids}")
    return problems


def _keys(value: Any) -> Any:
    """The shape of a payload (its keys, recursively), to check a model round trip loses nothing."""
    if isinstance(value, dict):
        return {k: _keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_keys(v) for v in value]
    return None


def sdk_problems(blocks: list[Any], view: dict[str, Any] | None = None) -> list[str]:
    """What slack_sdk's Block Kit models say about ``blocks`` (or a whole ``view``): each must parse,
    pass ``validate_json()`` and survive the round trip without losing a key."""
    problems: list[str] = []
    try:
        if view is not None:
            View(**view).validate_json()
        for n, raw in enumerate(blocks):
            block = Block.parse(raw)
            if block is None:
                problems.append(f"block {n}: slack_sdk cannot parse it")
                continue
            block.validate_json()
            if _keys(block.to_dict()) != _keys(raw):
                problems.append(f"block {n}: slack_sdk round trip changed it: {raw}")
    except (SlackObjectFormationError, TypeError, KeyError, ValueError) as exc:
        problems.append(f"slack_sdk: {type(exc).__name__}: {exc}")
    return problems


# What may follow "<" in mrkdwn we send (links, mentions, special mentions) and "&" (the three escapes).
_CONTROL = re.compile(r"<(?:https?://|mailto:|@[UW]|#C|!)[^<>]*>")
_ENTITY = re.compile(r"&(?:amp|lt|gt);")


def unescaped(text: str) -> list[str]:
    """Slack's control characters left raw in mrkdwn text (which Slack would read as markup)."""
    rest = _ENTITY.sub("", _CONTROL.sub("", text))
    return [c for c in "&<>" if c in rest]


def validate_call(method: str, args: dict[str, Any], models: bool = True) -> list[str]:
    """Slack's limits, and with ``models`` slack_sdk's Block Kit models too."""
    problems: list[str] = []
    if method in MESSAGE_METHODS:
        if raw := unescaped(str(args.get("text") or "")):
            problems.append(f"fallback text has unescaped {raw}: {str(args.get('text'))[:120]!r}")
        if len(str(args.get("text") or "")) > 40000:
            problems.append("top-level text over 40000")
        blocks = args.get("blocks")
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        if blocks is not None:
            problems += validate_blocks(blocks, 50) or (sdk_problems(blocks) if models else [])
        elif not args.get("text"):
            problems.append("a message needs text or blocks")
    elif method in VIEW_METHODS:
        view = args.get("view")
        view = json.loads(view) if isinstance(view, str) else view or {}
        problems += validate_blocks(view.get("blocks", []), 100) or (
            sdk_problems(view.get("blocks", []), view) if models else [])
        if view.get("type") == "modal":
            for part in ("title", "submit", "close"):
                if part in view and not 1 <= _text_len(view[part]) <= 24:
                    problems.append(f"modal {part} not in 1..24 chars")
        if len(view.get("private_metadata", "")) > 3000:
            problems.append("private_metadata over 3000")
    return [f"{method}: {p}" for p in problems]


class FakeSlack:
    def __init__(self, check_models: bool = True) -> None:
        self.check_models = check_models  # the benchmark's fake checks only the limits: it must stay cheap
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self._failures: dict[str, list[tuple[int, str | None, int]]] = {}
        self._ts = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Event()
        self.real_names: dict[str, str] = {"U1": "Alex Morgan"}  # users.info: everyone else is user_not_found
        self.not_member: set[str] = set()  # channels conversations.info says the bot is not in
        # bot token -> its workspace (auth.test's answer); install() adds one that oauth.v2.access can hand out
        self.workspaces: dict[str, dict[str, str]] = {TOKEN: {"team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}}
        self.codes: dict[str, str] = {}  # OAuth code -> the bot token oauth.v2.access exchanges it for

    # ------------------------------------------------------------------ test controls
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    def fail(self, method: str, *, status: int = 429, retry_after: int = 0, error: str | None = None,
             times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail: HTTP ``status`` or, with ``error``, ok=false."""
        self._failures.setdefault(method, []).extend([(status, error, retry_after)] * times)

    def of(self, *methods: str) -> list[Call]:
        return [c for c in self.calls if c.method in methods]

    async def wait_for(self, predicate, timeout: float = 10.0) -> list[Call]:
        """Wait until ``predicate(calls)`` is truthy; returns the calls."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate(self.calls):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"fake Slack never saw what the test waited for; calls: "
                                     f"{[(c.method, c.args.get('channel')) for c in self.calls]}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), min(remaining, 0.2))
        return self.calls

    def assert_valid(self) -> None:
        if self.violations:
            raise BlockKitViolation("Block Kit limits broken:\n" + "\n".join(self.violations))

    # ------------------------------------------------------------------ server
    async def start(self, port: int = 0) -> FakeSlack:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)  # slack_sdk sends users.info and friends as GET
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _read(self, request: web.Request) -> dict[str, Any]:
        raw = await request.text()
        body = json.loads(raw or "{}") if request.content_type == "application/json" else dict(parse_qsl(raw))
        return {**request.query, **body}

    def _record(self, method: str, args: dict[str, Any], request: web.Request) -> list[str]:
        self.calls.append(Call(method, args, dict(request.headers), request.path))
        problems = validate_call(method, args, self.check_models)
        self.violations += problems
        self.changed.set()
        if problems:
            print("\n".join(problems), file=sys.stderr)
        return problems

    def _failure(self, method: str) -> web.Response | None:
        pending = self._failures.get(method)
        if not pending:
            return None
        status, error, retry_after = pending.pop(0)
        if error:
            return web.json_response({"ok": False, "error": error})
        headers = {"Retry-After": str(retry_after)} if status == 429 else {}
        return web.json_response({"ok": False, "error": "ratelimited" if status == 429 else "fatal_error"},
                                 status=status, headers=headers)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await self._read(request)
        problems = self._record(method, args, request)
        bearer = request.headers.get("Authorization", "").removeprefix("Bearer ")
        token = bearer if bearer in self.workspaces else str(args.get("token") or "")
        if method != "oauth.v2.access" and token not in self.workspaces:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        failure = self._failure(method)
        if failure is not None:
            return failure
        if problems:
            return web.json_response({"ok": False, "error": "invalid_blocks"})
        answer = self._answer(method, args, token)
        if self.calls:  # the benchmark's fake keeps no history
            self.calls[-1].result = answer
        return web.json_response(answer)

    def install(self, code: str, token: str, team: str, bot_user: str, bot_id: str) -> None:
        """A workspace ``team`` whose admin will come back from Slack's consent page with ``code``."""
        self.workspaces[token] = {"team_id": team, "user_id": bot_user, "bot_id": bot_id}
        self.codes[code] = token

    def _answer(self, method: str, args: dict[str, Any], token: str = TOKEN) -> dict[str, Any]:
        ts = f"1700000000.{next(self._ts):06d}"
        if method == "auth.test":
            workspace = self.workspaces[token]
            return {"ok": True, "url": "https://test.slack.com/", "team": "Test", "user": "infoshare",
                    "team_id": workspace["team_id"], "user_id": workspace["user_id"], "bot_id": workspace["bot_id"],
                    "is_enterprise_install": False}
        if method == "oauth.v2.access":
            bot_token = self.codes.pop(str(args.get("code")), None)
            if bot_token is None:
                return {"ok": False, "error": "invalid_code"}
            workspace = self.workspaces[bot_token]
            return {"ok": True, "app_id": "A1", "authed_user": {"id": "UADMIN"}, "token_type": "bot",
                    "scope": "app_mentions:read,chat:write,commands", "access_token": bot_token,
                    "bot_user_id": workspace["user_id"], "team": {"id": workspace["team_id"], "name": "Second"},
                    "enterprise": None, "is_enterprise_install": False}
        if method == "chat.postMessage":
            return {"ok": True, "channel": args.get("channel"), "ts": ts,
                    "message": {"text": args.get("text"), "ts": ts, "bot_id": BOT_ID}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": ts}
        if method == "users.info":
            user = args.get("user", "")
            if user not in self.real_names:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": user, "profile": {"real_name": self.real_names[user],
                                                                 "display_name": self.real_names[user].split()[0]}}}
        if method == "conversations.info":
            channel = args.get("channel", "")
            return {"ok": True, "channel": {"id": channel, "is_member": channel not in self.not_member}}
        if method == "conversations.open":
            return {"ok": True, "channel": {"id": f"D{args.get('users', 'X')}"}}
        if method in VIEW_METHODS:
            return {"ok": True, "view": {"id": f"V{ts[-6:]}"}}
        return {"ok": True}

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"calls": getattr(self.calls, "seen", len(self.calls)),
                                  "violations": len(self.violations)})

    async def _response_url(self, request: web.Request) -> web.Response:
        args = await self._read(request)
        problems = self._record("response_url", args, request)
        failure = self._failure("response_url")
        if failure is not None:
            return failure
        return web.Response(status=400, text="invalid_blocks") if problems else web.Response(text="ok")


async def _serve() -> None:
    fake = await FakeSlack(check_models=False).start()
    fake.calls = _Discard()  # type: ignore[assignment]
    print(fake.base_url, flush=True)
    await asyncio.Event().wait()


class _Discard(list):
    """The benchmark's fake keeps no history (it would grow without bound)."""

    def append(self, item: Any) -> None:
        self.seen = getattr(self, "seen", 0) + 1


if __name__ == "__main__":
    asyncio.run(_serve())
