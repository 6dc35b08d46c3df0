"""Teams as a :class:`adapters.Channel`; botbuilder is imported only when Teams is mounted or sends."""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.teams.identity import CHANNEL, TeamsAddresses

if TYPE_CHECKING:
    from aiohttp import web

    from adapters import Close
    from adapters.teams.sender import TeamsSender
    from bot.core import Assistant


class TeamsChannel:
    name = CHANNEL
    addresses = TeamsAddresses()

    def mount(self, app: web.Application, assistant: Assistant) -> str | None:
        from adapters.teams import setup_teams

        return setup_teams(app, assistant, assistant.settings)

    async def open_sender(self, assistant: Assistant) -> tuple[TeamsSender, Close] | None:
        settings = assistant.settings
        if not settings.microsoft_app_id:
            return None
        from botbuilder.integration.aiohttp import CloudAdapter

        from adapters.teams.auth import PooledBotFrameworkAuthentication
        from adapters.teams.references import ReferenceStore
        from adapters.teams.sender import TeamsSender

        authentication = PooledBotFrameworkAuthentication.from_settings(settings)
        sender = TeamsSender(CloudAdapter(authentication), ReferenceStore(assistant.engine), assistant.strings,
                             settings.microsoft_app_id)
        return sender, authentication.pool.close
