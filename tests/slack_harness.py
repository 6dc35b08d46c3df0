"""Drive the real aiohttp server as Slack would: correctly signed events, commands and interactions.

Used by tests/test_slack*.py and bench/slack_bench.py. Slack's v0 signature is computed here from
scratch (HMAC-SHA256 of ``v0:<timestamp>:<body>``), not with slack_sdk, so the tests check the
server against the published scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from typing import Any
from urllib.parse import urlencode

import aiohttp

from tests.fake_slack import TEAM, Call, FakeSlack

SECRET = "test-signing-secret"
_ids = itertools.count(1)


def sign(body: str, secret: str = SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


def event_body(event: dict[str, Any], event_id: str | None = None, team: str = TEAM) -> str:
    return json.dumps({"token": "x", "team_id": team, "api_app_id": "A1", "type": "event_callback",
                       "event_id": event_id or f"Ev{next(_ids):08d}", "event_time": int(time.time()),
                       "event": event})


def dm_event(text: str, user: str = "U1", thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "message", "channel": f"D{user}", "channel_type": "im", "user": user, "text": text,
             "ts": f"1700000001.{next(_ids):06d}"}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def mention_event(text: str, channel: str = "C1", user: str = "U1") -> dict[str, Any]:
    return {"type": "app_mention", "channel": channel, "user": user, "text": f"<@UBOT> {text}",
            "ts": f"1700000002.{next(_ids):06d}"}


def command_body(fake: FakeSlack, text: str, channel: str = "C1", user: str = "U1") -> str:
    trigger = f"trig{next(_ids)}"
    return urlencode({"token": "x", "team_id": TEAM, "team_domain": "test", "channel_id": channel,
                      "channel_name": "directmessage" if channel.startswith("D") else "general", "user_id": user,
                      "user_name": "tester", "command": "/infoshare", "text": text, "api_app_id": "A1",
                      "response_url": fake.response_url(trigger), "trigger_id": trigger})


def action_body(fake: FakeSlack, message: Call, button: dict[str, Any], user: str = "U1") -> str:
    """A block_actions payload for pressing ``button`` on the message the bot sent in ``message``."""
    trigger = f"trig{next(_ids)}"
    ephemeral = message.method in {"response_url", "chat.postEphemeral"}
    channel = message.args.get("channel") or "C1"
    ts = message.result.get("ts") or message.args.get("ts") or f"1700000003.{next(_ids):06d}"
    container = {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral}
    if message.args.get("thread_ts"):
        container["thread_ts"] = message.args["thread_ts"]
    payload: dict[str, Any] = {
        "type": "block_actions", "user": {"id": user, "team_id": TEAM}, "team": {"id": TEAM},
        "api_app_id": "A1", "container": container, "channel": {"id": channel}, "trigger_id": trigger,
        "response_url": fake.response_url(trigger),
        "actions": [{"type": "button", "action_id": button["action_id"], "block_id": button.get("block_id"),
                     "value": button.get("value", ""), "text": button.get("text"),
                     "action_ts": f"{time.time():.6f}"}]}
    if not ephemeral:
        payload["message"] = {"type": "message", "ts": ts, "text": message.args.get("text"),
                              "blocks": message.blocks, "thread_ts": message.args.get("thread_ts")}
    return urlencode({"payload": json.dumps(payload)})


def view_submission_body(view_call: Call, text: str, user: str = "U1") -> str:
    view = view_call.args["view"]
    view = json.loads(view) if isinstance(view, str) else view
    payload = {"type": "view_submission", "team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
               "api_app_id": "A1", "trigger_id": f"trig{next(_ids)}",
               "view": {"id": view_call.result["view"]["id"], "hash": f"h{next(_ids)}", "type": "modal",
                        "callback_id": view["callback_id"], "private_metadata": view.get("private_metadata", ""),
                        "state": {"values": {"answer": {"answer": {"type": "plain_text_input", "value": text}}}}}}
    return urlencode({"payload": json.dumps(payload)})


class SlackClient:
    """Posts signed requests to the server's /slack/events."""

    def __init__(self, session: aiohttp.ClientSession, url: str, secret: str = SECRET):
        self.session = session
        self.url = url
        self.secret = secret

    async def send(self, body: str, *, json_body: bool = False, headers: dict[str, str] | None = None,
                   timestamp: int | None = None) -> tuple[int, str]:
        all_headers = {"Content-Type": "application/json" if json_body else "application/x-www-form-urlencoded",
                       **sign(body, self.secret, timestamp), **(headers or {})}
        async with self.session.post(self.url, data=body.encode(), headers=all_headers) as response:
            return response.status, await response.text()

    async def event(self, event: dict[str, Any], event_id: str | None = None, team: str = TEAM,
                    **kwargs) -> tuple[int, str]:
        return await self.send(event_body(event, event_id, team), json_body=True, **kwargs)
