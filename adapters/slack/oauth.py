"""Slack across workspaces: slack-bolt's OAuth flow with its installation and state stores on our database.

``/slack/install`` sends an admin to Slack's consent page; ``/slack/oauth_redirect`` exchanges the code
(``oauth.v2.access``) and saves the workspace's bot token, encrypted with Fernet under ``SLACK_TOKEN_KEY``,
in ``slack_installations``. Every request is then authorised with that workspace's own token. Uninstalling
the app (``app_uninstalled``) or revoking its tokens (``tokens_revoked``) deletes the workspace's row.
Only bot tokens are kept: the bot asks for no user scopes and stores no installer.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import upsert, utcnow
from bot.storage.tables import slack_installations, slack_oauth_states

log = logging.getLogger(__name__)

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
# The bot scopes asked for at install: exactly manifest.yml's (tests compare the two).
BOT_SCOPES = ("app_mentions:read", "channels:read", "chat:write", "commands", "groups:read", "im:history",
              "im:write", "users:read")
STATE_SECONDS = 600


def installation_store(engine: AsyncEngine, settings) -> DatabaseInstallationStore:
    """The store for ``settings`` (OAuth mode); a missing or malformed ``SLACK_TOKEN_KEY`` is a ValueError
    saying how to make one."""
    if not settings.slack_token_key:
        raise ValueError("SLACK_TOKEN_KEY is not set: installed workspaces' tokens are encrypted with it. "
                         + MAKE_KEY)
    return DatabaseInstallationStore(engine, TokenCipher(settings.slack_token_key), settings.slack_client_id)


MAKE_KEY = "Make one with: python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"


class TokenCipher:
    """Bot tokens at rest: Fernet (AES-128-CBC with HMAC-SHA256) under a key from the environment."""

    def __init__(self, key: str):
        try:
            self._fernet = Fernet(key.encode())
        except (ValueError, TypeError) as exc:
            raise ValueError("SLACK_TOKEN_KEY is not a Fernet key. " + MAKE_KEY) from exc

    def encrypt(self, token: str) -> str:
        return self._fernet.encrypt(token.encode()).decode()

    def decrypt(self, stored: str) -> str | None:
        try:
            return self._fernet.decrypt(stored.encode()).decode()
        except InvalidToken:
            log.error("a stored Slack token does not decrypt with SLACK_TOKEN_KEY (was the key changed?)")
            return None


def _key(enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None) -> dict[str, str]:
    """The row's key: an organisation-wide install is the enterprise alone."""
    return {"enterprise_id": enterprise_id or "", "team_id": "" if is_enterprise_install else team_id or ""}


class DatabaseInstallationStore(AsyncInstallationStore):
    """slack_sdk's installation store interface (bot tokens only) on ``slack_installations``."""

    def __init__(self, engine: AsyncEngine, cipher: TokenCipher, client_id: str):
        self.engine = engine
        self.cipher = cipher
        self.client_id = client_id

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await self.async_save_bot(installation.to_bot())

    async def async_save_bot(self, bot: Bot) -> None:
        values = {"is_enterprise_install": bool(bot.is_enterprise_install), "app_id": bot.app_id,
                  "bot_id": bot.bot_id, "bot_user_id": bot.bot_user_id, "bot_scopes": ",".join(bot.bot_scopes),
                  "bot_token": self.cipher.encrypt(bot.bot_token), "installed_at": utcnow()}
        async with self.engine.begin() as conn:
            await upsert(conn, slack_installations, _key(bot.enterprise_id, bot.team_id, bot.is_enterprise_install),
                         values)
        log.info("Slack workspace installed", extra={"team": bot.team_id, "enterprise": bot.enterprise_id})

    async def async_find_bot(self, *, enterprise_id: str | None, team_id: str | None,
                             is_enterprise_install: bool | None = False) -> Bot | None:
        keys = [_key(enterprise_id, team_id, is_enterprise_install)]
        if enterprise_id and not is_enterprise_install:
            keys.append(_key(enterprise_id, None, True))  # a workspace of an organisation-wide install
        async with self.engine.connect() as conn:
            for key in keys:
                row = (await conn.execute(select(slack_installations).where(
                    slack_installations.c.enterprise_id == key["enterprise_id"],
                    slack_installations.c.team_id == key["team_id"]))).first()
                if row is not None:
                    return self._bot(row, team_id)
        return None

    async def find_token_for_team(self, team_id: str) -> str | None:
        """The bot token for a workspace, for proactive messages addressed ``slack:<team>:…``."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(slack_installations).where(
                slack_installations.c.team_id == team_id))).first()
        return self.cipher.decrypt(row.bot_token) if row is not None else None

    def _bot(self, row, team_id: str | None) -> Bot | None:
        token = self.cipher.decrypt(row.bot_token)
        if token is None:
            return None
        return Bot(app_id=row.app_id, enterprise_id=row.enterprise_id or None, team_id=row.team_id or team_id,
                   bot_token=token, bot_id=row.bot_id, bot_user_id=row.bot_user_id, bot_scopes=row.bot_scopes,
                   is_enterprise_install=row.is_enterprise_install, installed_at=row.installed_at.timestamp())

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(self, *, enterprise_id: str | None, team_id: str | None,
                                        user_id: str | None = None) -> None:
        if user_id is None:  # a user's own token: the bot keeps none, so there is nothing to delete
            await self.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        async with self.engine.begin() as conn:
            deleted = await conn.execute(delete(slack_installations).where(
                slack_installations.c.enterprise_id == (enterprise_id or ""),
                slack_installations.c.team_id.in_([team_id or "", ""] if enterprise_id else [team_id or ""])))
        log.info("Slack workspace's tokens deleted", extra={"team": team_id, "enterprise": enterprise_id,
                                                            "rows": deleted.rowcount})


class DatabaseStateStore(AsyncOAuthStateStore):
    """OAuth ``state`` values, each valid once and for ten minutes, on ``slack_oauth_states``."""

    def __init__(self, engine: AsyncEngine, expiration_seconds: int = STATE_SECONDS, clock=utcnow):
        self.engine = engine
        self.expiration = timedelta(seconds=expiration_seconds)
        self.clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args, **kwargs) -> str:
        state = secrets.token_urlsafe(32)
        now: datetime = self.clock()
        async with self.engine.begin() as conn:
            await conn.execute(delete(slack_oauth_states).where(slack_oauth_states.c.expires_at < now))
            await conn.execute(slack_oauth_states.insert().values(state=state, expires_at=now + self.expiration))
        return state

    async def async_consume(self, state: str) -> bool:
        async with self.engine.begin() as conn:
            deleted = await conn.execute(delete(slack_oauth_states).where(
                slack_oauth_states.c.state == state[:64], slack_oauth_states.c.expires_at >= self.clock()))
        return deleted.rowcount == 1
