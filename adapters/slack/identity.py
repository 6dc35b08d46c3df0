"""Slack's addresses: ids are unique inside a workspace, so every identity carries its team.

Users are ``slack:<team>:<user>`` (``slack:T1:U1``) and conversations ``slack:<team>:<channel>``
(``slack:T1:C1``). A Slack user may type ``slack:U2`` or ``slack:C2``: it means their own workspace.
Without a workspace to assume (the command line, a CSV import) the team must be written out.
Imported only for id shapes: nothing here loads slack-bolt.
"""

from __future__ import annotations

import re

from bot.identity import AddressError, AddressKind, AddressProblem, Identity

CHANNEL = "slack"
_TEAM = r"[TE][A-Z0-9]{1,30}"
_IDS = {AddressKind.USER: r"[UW][A-Z0-9]{1,30}", AddressKind.CONVERSATION: r"[CGDU][A-Z0-9]{1,30}"}


class SlackAddresses:
    channel = CHANNEL

    def parse(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> Identity:
        raw = text.strip()
        match = re.fullmatch(rf"slack:(?:({_TEAM}):)?({_IDS[kind]})", raw, re.IGNORECASE)
        if match is None:
            shape = "slack:<team>:<user id>" if kind is AddressKind.USER else "slack:<team>:<channel id>"
            raise AddressError(AddressProblem.WRONG_SHAPE, raw, kind, channel="Slack", shape=shape)
        team = match.group(1) or (within.scope if within else None)
        if not team:
            raise AddressError(AddressProblem.NO_WORKSPACE, raw, kind, id=match.group(2).upper())
        return identity(team, match.group(2))

    def legacy_keys(self, identity: Identity) -> tuple[str, ...]:
        """Before migration 0008 the ISA register and audit log stored ``slack:<user>`` without the team."""
        return (f"{CHANNEL}:{identity.id}",)


def identity(team: str, slack_id: str) -> Identity:
    """A Slack user or conversation in workspace ``team`` (Slack ids are upper case)."""
    return Identity(CHANNEL, slack_id.upper(), team.upper())
