"""The Teams test rig: our server (app.build_app) on 127.0.0.1, the fake Bot Connector as serviceUrl, tokens
signed with the fake's JWKS key, MSAL replaced at its network boundary, and Activity JSON as Teams sends it."""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jsonschema
from aiohttp import web

from app import build_app
from bot.http import ASSISTANT
from tests.conftest import make_settings
from tests.fake_connector import FakeConnector

APP_ID = "11111111-2222-3333-4444-555555555555"
BOT = {"id": f"28:{APP_ID}", "name": "InfoShare"}
USER = {"id": "29:user-one", "name": "Alex Practitioner", "aadObjectId": "aad-user-one"}
TENANT = "tenant-one"
TEAM_ID = "19:team-general@thread.tacv2"
CHANNEL_ID = "19:team-general@thread.tacv2"
OUTGOING_TOKEN = "outgoing-token-from-fake-msal"
SCHEMAS = Path(__file__).parent / "data" / "schemas"  # official, vendored: see its README.md
CARD_SCHEMA = json.loads((SCHEMAS / "adaptive-card-1.5.json").read_text())
MANIFEST_SCHEMA = json.loads((SCHEMAS / "MicrosoftTeams-1.17.schema.json").read_text())
TEAMS_HOST_CONFIG = json.loads((SCHEMAS / "microsoft-teams-light.hostconfig.json").read_text())
TEAMS_MSTEAMS_PROPERTY = {"width": "Full"}  # "Format cards in Teams": the one extension a card may carry
_ids = itertools.count(1_700_000_000_001)


class FakeMsal:
    """Stands in for ``msal.ConfidentialClientApplication`` (the network edge of token acquisition)."""

    instances: list[FakeMsal] = []

    def __init__(self, client_id: str, client_credential: str, authority: str, **_: Any):
        self.client_id, self.authority = client_id, authority
        self.acquired = 0
        self._cached = False
        FakeMsal.instances.append(self)

    def acquire_token_silent(self, scopes, account=None):
        return {"access_token": OUTGOING_TOKEN} if self._cached else None

    def acquire_token_for_client(self, scopes):
        self.acquired += 1
        self._cached = True
        return {"access_token": OUTGOING_TOKEN, "expires_in": 3600}


def validate_card(card: dict[str, Any]) -> None:
    """One card against the official Adaptive Card 1.5 schema; Teams' documented ``msteams`` property is
    checked on its own and left out of the copy the schema sees (the schema allows no extensions)."""
    copy = dict(card)
    msteams = copy.pop("msteams", TEAMS_MSTEAMS_PROPERTY)
    assert msteams == TEAMS_MSTEAMS_PROPERTY, f"msteams beyond what Teams documents: {msteams}"
    jsonschema.Draft6Validator(CARD_SCHEMA).validate(copy)


def validate_manifest(manifest: dict[str, Any]) -> None:
    """The package manifest against the official Teams manifest schema v1.17 (draft-06 rules: it uses
    ``const`` under a draft-04 header)."""
    jsonschema.Draft6Validator(MANIFEST_SCHEMA).validate(manifest)


def validate_cards(connector: FakeConnector) -> int:
    """Every Adaptive Card the bot sent must be valid Adaptive Card 1.5 (the official schema)."""
    count = 0
    for call in connector.calls:
        for card in call.cards:
            validate_card(card)
            count += 1
    return count


def card_actions(card: dict[str, Any]) -> list[dict[str, Any]]:
    """Every action on a card in the order Teams shows them (body ActionSets, then the card's own)."""
    found = [a for e in card.get("body", []) if e["type"] == "ActionSet" for a in e["actions"]]
    return found + card.get("actions", [])


def choice_presses(card: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Each answer a user can pick, as (what they read, the value Teams submits): a button's data, or a
    radio option merged into the data of the button after the list (Teams merges inputs by their id)."""
    body = card.get("body", [])
    for index, element in enumerate(body):
        if element["type"] == "Input.ChoiceSet":
            submit = next(e for e in body[index + 1:] if e["type"] == "ActionSet")["actions"][0]
            return [(c["title"], {**submit["data"], element["id"]: c["value"]}) for c in element["choices"]]
    return [(a["title"], a["data"]) for a in card_actions(card)
            if a["type"] == "Action.Submit" and "choice" in a["data"]]


def typed_submit(card: dict[str, Any], text: str) -> dict[str, Any] | None:
    """What Teams submits when the user types ``text`` in the card's text box and presses the button under
    it, or None if the card has no box."""
    body = card.get("body", [])
    for index, element in enumerate(body):
        if element["type"] == "Input.Text":
            submit = next(e for e in body[index + 1:] if e["type"] == "ActionSet")["actions"][0]
            return {**submit["data"], element["id"]: text}
    return None


def navigation_presses(card: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The secondary buttons (Back, Why, Cancel): they submit no input."""
    return [(a["title"], a["data"]) for a in card_actions(card)
            if a["type"] == "Action.Submit" and a.get("associatedInputs") == "none"]


def card_text(card: dict[str, Any]) -> str:
    """Everything a user can read on a card, including facts, options and button titles."""
    parts: list[str] = []
    for element in card.get("body", []):
        parts.append(element.get("text", ""))
        parts += [f"{f['title']} {f['value']}" for f in element.get("facts", [])]
        parts += [c["title"] for c in element.get("choices", [])]
        parts.append(element.get("label", ""))
    for action in card_actions(card):
        parts.append(action["title"])
        if action["type"] == "Action.ShowCard":
            parts.append(card_text(action["card"]))
    return "\n".join(parts)


GROUP_CHAT_ID = "19:group-chat-one@thread.v2"


def message(text: str = "", *, service_url: str, shared: bool = False, group: bool = False, mention: bool = False,
            value: dict[str, Any] | None = None, activity_id: str | None = None, reply_to: str | None = None,
            activity_type: str = "message", name: str | None = None,
            personal_chat: str = "a:personal-chat-one") -> dict[str, Any]:
    """A message (or invoke) activity as Teams posts it, in a personal chat, a channel thread or a group chat."""
    activity_id = activity_id or str(next(_ids))
    if group:  # a group chat: shared like a channel, but no team and no threads
        conversation = {"id": GROUP_CHAT_ID, "conversationType": "groupChat", "isGroup": True, "tenantId": TENANT}
        channel_data = {"tenant": {"id": TENANT}}
    elif shared:
        conversation = {"id": f"{CHANNEL_ID};messageid=1700000000000", "conversationType": "channel",
                        "isGroup": True, "tenantId": TENANT}
        channel_data = {"teamsChannelId": CHANNEL_ID, "teamsTeamId": TEAM_ID, "channel": {"id": CHANNEL_ID},
                        "team": {"id": TEAM_ID}, "tenant": {"id": TENANT}}
    else:
        conversation = {"id": personal_chat, "conversationType": "personal", "tenantId": TENANT}
        channel_data = {"tenant": {"id": TENANT}}
    entities = [{"type": "clientInfo", "locale": "en-GB", "country": "GB", "platform": "Web"}]
    if mention:
        text = f"<at>{BOT['name']}</at> {text}"
        entities.append({"type": "mention", "text": f"<at>{BOT['name']}</at>", "mentioned": BOT})
    activity = {
        "type": activity_type, "id": activity_id, "timestamp": "2026-11-28T01:00:00.000Z",
        "localTimestamp": "2026-11-28T01:00:00.000+00:00", "serviceUrl": service_url, "channelId": "msteams",
        "from": USER, "conversation": conversation, "recipient": BOT, "textFormat": "plain", "locale": "en-GB",
        "entities": entities, "channelData": channel_data,
    }
    if text:
        activity["text"] = text
    if value is not None:
        activity["value"] = value
    if reply_to:
        activity["replyToId"] = reply_to
    if name:
        activity["name"] = name
    return activity


def installation(*, service_url: str, added: bool, team: bool, kind: str = "conversationUpdate") -> dict[str, Any]:
    """The bot being added to / removed from a team or a personal chat."""
    if team:
        conversation = {"id": CHANNEL_ID, "conversationType": "channel", "isGroup": True, "tenantId": TENANT}
        channel_data = {"team": {"id": TEAM_ID, "name": "Safeguarding"}, "tenant": {"id": TENANT},
                        "eventType": "teamMemberAdded" if added else "teamMemberRemoved"}
    else:
        conversation = {"id": "a:personal-chat-one", "conversationType": "personal", "tenantId": TENANT}
        channel_data = {"tenant": {"id": TENANT}}
    activity = {"type": kind, "id": f"f:{next(_ids)}", "serviceUrl": service_url, "channelId": "msteams",
                "from": USER, "conversation": conversation, "recipient": BOT, "channelData": channel_data,
                "timestamp": "2026-11-28T01:00:00.000Z"}
    if kind == "conversationUpdate":
        activity["membersAdded" if added else "membersRemoved"] = [{"id": BOT["id"]}]
    else:
        activity["action"] = "add" if added else "remove"
    return activity


@dataclass
class TeamsRig:
    http: aiohttp.ClientSession
    base_url: str
    connector: FakeConnector
    app: web.Application

    @property
    def assistant(self):
        return self.app[ASSISTANT]

    def message(self, text: str = "", **kwargs: Any) -> dict[str, Any]:
        return message(text, service_url=self.connector.url, **kwargs)

    async def post(self, activity: dict[str, Any], *, token: str | None = "valid",
                   headers: dict[str, str] | None = None) -> aiohttp.ClientResponse:
        if token == "valid":
            token = self.connector.token(APP_ID, activity["serviceUrl"])
        sent = {"Authorization": f"Bearer {token}"} if token else {}
        sent.update(headers or {})
        async with self.http.post(f"{self.base_url}/api/messages", json=activity, headers=sent) as response:
            await response.read()
            return response


async def start_rig(tmp_path: Path, connector: FakeConnector, **overrides: Any):
    """Build and serve the app; returns (rig, runner) — the caller cleans up the runner and session."""
    values = {"microsoft_app_id": APP_ID, "microsoft_app_password": "app-secret",
              "teams_openid_metadata_url": connector.openid_url}
    values.update(overrides)
    app = await build_app(make_settings(tmp_path, **values))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return TeamsRig(aiohttp.ClientSession(), f"http://127.0.0.1:{port}", connector, app), runner


@contextlib.asynccontextmanager
async def serving(tmp_path: Path, monkeypatch: Any, **overrides: Any) -> AsyncIterator[TeamsRig]:
    """The app served against a fresh fake connector, with MSAL faked; the server and session closed after."""
    monkeypatch.setattr("botframework.connector.auth.microsoft_app_credentials.ConfidentialClientApplication",
                        FakeMsal)
    with FakeConnector() as connector:
        rig, runner = await start_rig(tmp_path, connector, **overrides)
        try:
            yield rig
        finally:
            await rig.http.close()
            await runner.cleanup()
