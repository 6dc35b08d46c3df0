"""Replay protection for signed requests, checked only after slack-bolt has verified the signature.

Slack's signature covers the timestamp and the body, and bolt rejects timestamps more than five
minutes old, so a captured request can only be replayed inside that window. Here the first copy
of a signature passes; an identical copy within the window is refused with 401 at once (in
memory, so the ack stays fast), and the signature also travels with the queued work as an
idempotency key claimed in the database, so a copy sent to another replica does nothing either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)

WINDOW_SECONDS = 5 * 60  # bolt's own limit on timestamp age, on either side of now


class ReplayGuard(AsyncMiddleware):
    """A bolt middleware class (not a function): bolt calls it directly, with no per-request argument
    injection, which keeps the ack path short."""

    CONTEXT_KEY = "infoshare_replay_key"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.clock = clock
        self._seen: dict[str, float] = {}  # signature -> when it stops mattering
        self._next_prune = 0.0

    def _prune(self, now: float) -> None:
        if now >= self._next_prune:
            self._seen = {k: expiry for k, expiry in self._seen.items() if expiry > now}
            self._next_prune = now + 30

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse, next) -> BoltResponse:
        if req.mode != "http":  # Socket Mode frames are authenticated by the connection, not signed
            return await next()
        signature = req.headers.get("x-slack-signature", [""])[0]
        timestamp = req.headers.get("x-slack-request-timestamp", ["0"])[0]
        key = f"{timestamp}:{signature}"
        now = self.clock()
        self._prune(now)
        if key in self._seen:
            log.warning("replayed Slack request refused", extra={"retry": req.headers.get("x-slack-retry-num")})
            return BoltResponse(status=401, body="")
        try:
            expiry = float(timestamp) + 2 * WINDOW_SECONDS
        except ValueError:
            expiry = now + 2 * WINDOW_SECONDS
        self._seen[key] = expiry
        req.context[self.CONTEXT_KEY] = f"slack:signature:{key}"
        return await next()
