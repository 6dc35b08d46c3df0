"""Who and where: the one identity type for people and conversations on every channel.

An :class:`Identity` is issued by an adapter (the only code that knows its channel's id shapes) and
compared by its canonical :attr:`Identity.key` everywhere else: the ISA register, decision records,
reminders, admin checks, subject access and erasure. The key is ``<channel>:<scope>:<id>`` when the
channel's ids are only unique inside a workspace (Slack: ``slack:T1:U1``) and ``<channel>:<id>``
when they are unique on their own (Teams AAD object ids and conversation ids, local names). Two
people in different workspaces therefore never share a key, and nothing outside the adapter ever
re-parses one.

Typed addresses (an ISA owner, a reminder channel, ``ADMINS``) are read by the channel's
:class:`AddressParser`, found in :class:`Addresses` by the prefix before the first ``:``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from bot.strings import Strings, WordedError


class AddressKind(StrEnum):
    USER = "user"
    CONVERSATION = "conversation"


class AddressProblem(StrEnum):
    """Why a typed address names no one: keys under ``address`` in content/strings.yaml."""

    WRONG_SHAPE = "wrong_shape"  # not the channel's shape for that kind of address
    UNKNOWN_CHANNEL = "unknown_channel"  # the prefix names no configured channel
    NO_CHANNEL = "no_channel"  # no channel is configured at all
    NO_WORKSPACE = "no_workspace"  # a Slack id without the workspace it belongs to, and none to assume


class AddressError(WordedError, ValueError):
    """A malformed address; its reason names the text, the kind of address and what it should look like."""

    prefix = "address."

    def __init__(self, problem: AddressProblem, text: str, kind: AddressKind, **fields: Any):
        super().__init__(str(problem), text=text, kind=kind, **fields)

    def reason(self, strings: Strings) -> str:
        kind = strings.get(f"address.kind.{self.fields['kind']}")
        return strings.get(f"{self.prefix}{self.key}", **{**self.fields, "kind": kind})


@dataclass(frozen=True, slots=True)
class Identity:
    """A user or a conversation on one channel; ``scope`` is the workspace when ids need one."""

    channel: str
    id: str
    scope: str | None = None

    @property
    def key(self) -> str:
        """The canonical form every table stores and every comparison uses."""
        if self.scope:
            return f"{self.channel}:{self.scope}:{self.id}"
        return f"{self.channel}:{self.id}" if self.id else self.channel

    def __str__(self) -> str:
        return self.key


class AddressParser(Protocol):
    """One channel's reading of typed addresses (implemented by each adapter)."""

    channel: str

    def parse(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> Identity:
        """The identity ``text`` names, or an :class:`AddressError` saying what is wrong.

        ``within`` is who typed it: a Slack user's ``slack:U2`` means U2 in their own workspace.
        """

    def legacy_keys(self, identity: Identity) -> tuple[str, ...]:
        """Older stored forms of the same identity that a migration could not rewrite (for subject access)."""


class PatternAddresses:
    """An :class:`AddressParser` for a channel whose ids are unique on their own (no workspace scope): one
    pattern for users and one for conversations, each capturing the id. Adapters subclass it with their shapes."""

    channel: str
    label: str  # how the error names the channel: "Teams", "local chat"
    user_pattern: re.Pattern[str]
    conversation_pattern: re.Pattern[str]
    user_shape: str
    conversation_shape: str

    def parse(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> Identity:
        raw = text.strip()
        user = kind is AddressKind.USER
        match = (self.user_pattern if user else self.conversation_pattern).fullmatch(raw)
        if match is None:
            shape = self.user_shape if user else self.conversation_shape
            raise AddressError(AddressProblem.WRONG_SHAPE, raw, kind, channel=self.label, shape=shape)
        return self.issue(match.group(1) or "", kind)

    def issue(self, value: str, kind: AddressKind) -> Identity:
        """The identity for a matched id (a channel with case-insensitive ids normalises it here)."""
        return Identity(self.channel, value)

    def legacy_keys(self, identity: Identity) -> tuple[str, ...]:
        return ()


class Addresses:
    """The address parsers of every channel, registered by the composition root."""

    def __init__(self) -> None:
        self._parsers: dict[str, AddressParser] = {}

    def register(self, parser: AddressParser) -> None:
        self._parsers[parser.channel] = parser

    def parse(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> Identity:
        """An :class:`AddressError` (with the reason) for an unknown channel or a malformed address."""
        text = text.strip()
        parser = self._parsers.get(text.split(":", 1)[0])
        if parser is None:
            if not self._parsers:
                raise AddressError(AddressProblem.NO_CHANNEL, text, kind)
            known = ", ".join(f"{name}:…" for name in sorted(self._parsers))
            raise AddressError(AddressProblem.UNKNOWN_CHANNEL, text, kind, known=known)
        return parser.parse(text, kind, within=within if within and within.channel == parser.channel else None)

    def key(self, text: str, kind: AddressKind, *, within: Identity | None = None) -> str:
        return self.parse(text, kind, within=within).key

    def legacy_keys(self, identity: Identity) -> tuple[str, ...]:
        parser = self._parsers.get(identity.channel)
        return parser.legacy_keys(identity) if parser else ()
