"""Only installed workspaces get answers: a signed request from any other workspace is acked and dropped.

A signature only proves the request came from Slack for this app, and an app can be installed in, or
distributed to, other workspaces. Every payload must carry the workspace (``team_id``) and, on
Enterprise Grid, the organisation (``enterprise_id``) of the token bolt authorised it with: the single
``SLACK_BOT_TOKEN``, or in OAuth mode that workspace's own installation (bolt learns both before any
middleware of ours runs, and finds no installation for a workspace that never installed or has
uninstalled), and, when ``SLACK_APP_ID`` is set, that ``api_app_id``. Anything else is logged with its
reason and no turn runs.
"""

from __future__ import annotations

import logging

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


def foreign_reason(req: AsyncBoltRequest, app_id: str | None) -> str | None:
    """Why this request is not for the installed workspace (and app), or None when it is."""
    installed = req.context.authorize_result
    if installed is None:
        return "the installed workspace is not known (auth.test failed)"
    team, enterprise = req.context.team_id, req.context.enterprise_id
    if installed.enterprise_id and enterprise != installed.enterprise_id:
        return f"enterprise {enterprise!r} is not the installed {installed.enterprise_id!r}"
    if team and installed.team_id and team != installed.team_id:
        return f"team {team!r} is not the installed {installed.team_id!r}"
    if not team and not (installed.enterprise_id and enterprise):
        return "no team_id"
    payload_app = req.body.get("api_app_id") if isinstance(req.body, dict) else None
    if app_id and payload_app != app_id:
        return f"api_app_id {str(payload_app)[:20]!r} is not SLACK_APP_ID"
    return None


class WorkspaceGuard(AsyncMiddleware):
    """A bolt middleware (a class, so bolt calls it without argument injection on the ack path)."""

    def __init__(self, app_id: str | None = None):
        super().__init__()
        self.app_id = app_id

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse, next) -> BoltResponse:
        if reason := foreign_reason(req, self.app_id):
            log.warning("Slack request from another workspace ignored", extra={"reason": reason})
            return BoltResponse(status=200, body="")  # acked, so Slack does not retry it
        return await next()
