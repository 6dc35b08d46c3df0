"""A fake Bot Connector (and Bot Framework token issuer) on 127.0.0.1 for the Teams tests and bench.

It runs its own event loop in a thread, because botbuilder fetches the OpenID metadata and signing keys
with blocking ``requests`` calls from the bot's loop. It serves:

- ``GET /v1/.well-known/openidconfiguration`` and ``GET /v1/keys``: the metadata and JWKS that
  ``TEAMS_OPENID_METADATA_URL`` points at; :meth:`FakeConnector.token` mints RS256 tokens with the served
  key (or a stranger's key, for forgeries).
- the Connector REST calls the bot makes: reply, send, update, create conversation; every one is
  recorded in :attr:`FakeConnector.calls` with its JSON body and ``Authorization`` header.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://api.botframework.com"
KEY_ID = "fake-connector-key"


_KEYS: dict[str, rsa.RSAPrivateKey] = {}
_KEYS_LOCK = threading.Lock()


def signing_key(name: str = "served") -> rsa.RSAPrivateKey:
    """One RSA key per name for the whole run (generating keys is slow); shared by the fake's thread and tests."""
    with _KEYS_LOCK:
        if name not in _KEYS:
            _KEYS[name] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return _KEYS[name]


@dataclass
class Call:
    kind: str  # "reply", "send", "update", "create_conversation"
    conversation_id: str | None
    activity_id: str | None
    body: dict[str, Any]
    authorization: str | None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def text(self) -> str | None:
        return self.body.get("text")

    @property
    def cards(self) -> list[dict[str, Any]]:
        return [a["content"] for a in self.body.get("attachments") or []
                if a.get("contentType") == "application/vnd.microsoft.card.adaptive"]


class FakeConnector:
    def __init__(self, *, record: bool = True):
        self.calls: list[Call] = []
        self.record = record
        self.fail_with: int | None = None  # answer every Connector call with this status (an outage)
        self.port = 0
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def openid_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/.well-known/openidconfiguration"

    def start(self) -> FakeConnector:
        ready = threading.Event()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._serve())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="fake-connector", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("fake connector did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    def __enter__(self) -> FakeConnector:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    async def _serve(self) -> None:
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._openid)
        app.router.add_get("/v1/keys", self._keys)
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._reply)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    # ------------------------------------------------------------------ tokens
    def token(self, app_id: str, service_url: str | None = None, *, key: str = "served", expires_in: int = 3600,
              issuer: str = ISSUER, audience: str | None = None) -> str:
        """A Bot Connector token as Teams sends it (``Authorization: Bearer <token>``)."""
        now = int(time.time())
        claims = {"iss": issuer, "aud": audience or app_id, "serviceurl": service_url or self.url,
                  "nbf": now - 60, "iat": now - 60, "exp": now + expires_in}
        return jwt.encode(claims, signing_key(key), algorithm="RS256", headers={"kid": KEY_ID})

    # ------------------------------------------------------------------ handlers
    async def _openid(self, request: web.Request) -> web.Response:
        return web.json_response({"issuer": ISSUER, "jwks_uri": f"http://127.0.0.1:{self.port}/v1/keys",
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key("served").public_key()))
        jwk.update(kid=KEY_ID, use="sig", endorsements=["msteams", "emulator"])
        return web.json_response({"keys": [jwk]})

    async def _record(self, request: web.Request, kind: str) -> tuple[Call, web.Response | None]:
        body = await request.json()
        call = Call(kind, request.match_info.get("cid"), request.match_info.get("aid"), body,
                    request.headers.get("Authorization"), dict(request.headers))
        if self.record:
            self.calls.append(call)
        if self.fail_with:
            return call, web.json_response({"error": {"code": "ServiceError", "message": "outage"}},
                                           status=self.fail_with)
        return call, None

    async def _send(self, request: web.Request) -> web.Response:
        _, failure = await self._record(request, "send")
        return failure or web.json_response({"id": f"activity-{next(self._ids)}"}, status=201)

    async def _reply(self, request: web.Request) -> web.Response:
        _, failure = await self._record(request, "reply")
        return failure or web.json_response({"id": f"activity-{next(self._ids)}"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        call, failure = await self._record(request, "update")
        return failure or web.json_response({"id": call.activity_id}, status=200)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        call, failure = await self._record(request, "create_conversation")
        member = (call.body.get("members") or [{}])[0].get("id", "unknown")
        return failure or web.json_response({"id": f"a:personal-{member}"}, status=201)

    # ------------------------------------------------------------------ assertions helpers
    def clear(self) -> None:
        self.calls.clear()

    def of_kind(self, *kinds: str) -> list[Call]:
        return [c for c in self.calls if c.kind in kinds]
