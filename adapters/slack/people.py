"""Who a Slack user is, by name: the acting user's own name for "Decided by", and the names behind
``<@U…>`` mentions so the privacy guard sees "@Sam Jones" as the user wrote it, not a blank.

Names come from ``users.info`` (``profile.real_name``, else ``display_name``), cached per workspace and
user for ``ttl`` seconds. A failed call never fails the turn: the name is simply unknown (and that is
remembered briefly, so a Slack outage is not hammered once per message).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from adapters.slack.client import SlackApi
from bot.delivery import DeliveryError

log = logging.getLogger(__name__)

NAME_TTL = 3600.0
FAILURE_TTL = 60.0
MAX_CACHED = 10_000


class SlackPeople:
    def __init__(self, ttl: float = NAME_TTL, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._names: dict[tuple[str, str], tuple[str | None, float]] = {}

    async def name(self, api: SlackApi, team: str, user: str) -> str | None:
        """The user's real name (or display name) as their workspace shows it, or None."""
        now = self.clock()
        cached = self._names.get((team, user))
        if cached is not None and cached[1] > now:
            return cached[0]
        try:
            profile = await api.user_profile(user)
        except DeliveryError as exc:
            log.info("users.info failed; name unknown", extra={"reason": str(exc)})
            self._remember(team, user, None, now + FAILURE_TTL)
            return None
        name = str(profile.get("real_name") or profile.get("display_name") or "").strip() or None
        self._remember(team, user, name, now + self.ttl)
        return name

    async def names(self, api: SlackApi, team: str, users: Iterable[str]) -> dict[str, str]:
        found = {user: await self.name(api, team, user) for user in dict.fromkeys(users)}
        return {user: name for user, name in found.items() if name}

    def _remember(self, team: str, user: str, name: str | None, expires: float) -> None:
        if len(self._names) >= MAX_CACHED:
            self._names.clear()  # a crude bound: names are cheap to look up again
        self._names[(team, user)] = (name, expires)
