"""The neutral message model: what every adapter turns its channel's payloads into, and back.

Adapters convert a native payload into an :class:`IncomingTurn`, hand it to the core, and render
the :class:`Reply` objects they get back (Block Kit, Adaptive Card, HTML, plain text). Nothing in
these types refers to a channel SDK; ``raw`` is an escape hatch holding the original payload as
plain JSON-able data for adapters only, never an SDK object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.identity import Identity


class ReplyKind(StrEnum):
    """What a reply is, so renderers can style it (and Slack can update a step in place)."""

    ANSWER = "answer"  # an answer to a question, with sources
    ABSTAIN = "abstain"  # the bot does not know; signposts a human
    SMALLTALK = "smalltalk"
    NOTICE = "notice"  # disclaimer, privacy warning, errors, confirmations
    STEP = "step"  # a walkthrough prompt
    SUMMARY = "summary"  # the decision summary card
    LIST = "list"  # records, ISAs and other listings
    REMINDER = "reminder"


@dataclass(frozen=True, slots=True)
class Choice:
    """A button: ``label`` is shown, ``value`` comes back in ``IncomingTurn.choice``."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Source:
    """Where an answer comes from: a document title and a section or URL."""

    title: str
    ref: str


@dataclass(frozen=True, slots=True)
class CardField:
    """A labelled value on a card (for example "Decision: Share")."""

    label: str
    value: str


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(slots=True)
class Reply:
    """One message from the bot, channel-neutral.

    ``private`` means the reply carries case details and must only be shown to the user who
    asked (a DM, an ephemeral message or a personal chat), never to a shared channel.
    ``summary`` is the structured decision summary on the reply that carries it. On a SUMMARY reply,
    ``text`` is the whole copy-ready record and ``fields`` restate it in structured form: text
    renderers show the text, card renderers may show the fields instead, never both.
    """

    text: str
    kind: ReplyKind = ReplyKind.NOTICE
    title: str | None = None
    choices: list[Choice] = field(default_factory=list)
    # Secondary navigation on a walkthrough step (Back, Why, Cancel): rendered after ``choices``, styled
    # as secondary; pressing one sends its value, the same word a user can type.
    actions: list[Choice] = field(default_factory=list)
    fields: list[CardField] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    summary: dict[str, Any] | None = None
    private: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The reply as JSON-ready data, field by field: ``asdict``'s recursive copy was a few per cent of a
        web turn's CPU. tests/test_messages.py checks it still matches ``asdict`` when a field is added."""
        return {"text": self.text, "kind": str(self.kind), "title": self.title,
                "choices": [{"label": c.label, "value": c.value} for c in self.choices],
                "actions": [{"label": a.label, "value": a.value} for a in self.actions],
                "fields": [{"label": f.label, "value": f.value} for f in self.fields],
                "sources": [{"title": s.title, "ref": s.ref} for s in self.sources],
                "links": [{"title": link.title, "url": link.url} for link in self.links],
                "summary": copy.deepcopy(self.summary), "private": self.private}


@dataclass(slots=True)
class IncomingTurn:
    """One thing a user did: typed text or pressed a button.

    ``user`` and ``conversation`` are issued by the adapter (see :mod:`bot.identity`); their keys
    (``slack:T1:U1``, ``teams:<aad id>``, ``local:alice``) never collide across channels or workspaces.
    ``message_id`` is the channel's id for the event; the core drops a second turn with the same
    id, which is how retried deliveries stay harmless.
    """

    user: Identity
    conversation: Identity
    text: str = ""
    choice: str | None = None
    message_id: str | None = None
    # The user's own name as the platform knows it (Slack real name, Teams display name), for "Decided
    # by" on their records; None where the channel does not say (the local user types it once).
    display_name: str | None = None
    raw: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def channel(self) -> str:
        return self.user.channel

    @property
    def user_id(self) -> str:
        return self.user.key

    @property
    def conversation_id(self) -> str:
        return self.conversation.key

    @property
    def input(self) -> str:
        """The user's input: the button value if one was pressed, else the text."""
        return self.choice if self.choice is not None else self.text
