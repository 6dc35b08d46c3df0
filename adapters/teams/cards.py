"""Neutral replies as Teams sees them: an Adaptive Card (schema 1.5, what Teams renders) or plain text.

Pure functions over plain dicts, so the renderer is testable without botbuilder and survives a move to
the Microsoft 365 Agents SDK unchanged. A button's ``data`` is ``{"choice": value, "kind": card kind}``:
``choice`` comes back as ``IncomingTurn.choice``; ``kind`` tells the handler whether the card pressed
was a walkthrough step, which is what it may update in place; ``conversation`` (only on private cards sent
to the personal chat) names the conversation whose dialog the button belongs to.
"""

from __future__ import annotations

import html
import re
from typing import Any

from bot.messages import Reply, ReplyKind
from bot.strings import Strings

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_VERSION = "1.5"  # the highest version Teams renders on every client
CARD_KINDS = {ReplyKind.ANSWER, ReplyKind.STEP, ReplyKind.SUMMARY, ReplyKind.LIST, ReplyKind.REMINDER}
IN_PLACE_KINDS = {ReplyKind.STEP, ReplyKind.SUMMARY}  # the walkthrough: one card per step


_CODE = re.compile(r"`([^`\n]+)`")  # content marks commands as `code`; Teams cards have no code style
_MARKDOWN_SIGNIFICANT = re.compile(r"([\\`*_\[\]~])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s)")  # a line Teams would turn into a list item


def _escape_markdown(text: str) -> str:
    text = _MARKDOWN_SIGNIFICANT.sub(r"\\\1", text)
    return _LIST_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\." if m.group(2).endswith(".")
                                                   else "\\" + m.group(2)), text)


def card_markdown(text: str) -> str:
    """Text for a TextBlock or fact, which Teams reads as markdown: user input (an ISA title, a typed
    answer) and content both arrive as plain text, so every markdown-significant character is escaped;
    ```code``` spans become bold, and each line its own paragraph (markdown joins single newlines)."""
    lines = [line for line in text.split("\n") if line.strip()]
    return "\n\n".join(
        "".join(f"**{_escape_markdown(part)}**" if index % 2 else _escape_markdown(part)
                for index, part in enumerate(_CODE.split(line)))
        for line in lines)


def without_code_marks(text: str) -> str:
    """Plain text (button titles, the text to copy): ```code``` spans lose their backticks."""
    return _CODE.sub(r"\1", text)


def needs_card(reply: Reply) -> bool:
    """Buttons, fields, sources and structured replies need a card; a short notice reads best as text."""
    return bool(reply.kind in CARD_KINDS or reply.choices or reply.fields or reply.sources or reply.links
                or reply.title or reply.summary)


def sources_line(reply: Reply, strings: Strings) -> str:
    cited = "; ".join(f"{s.title} ({s.ref})" if s.ref else s.title for s in reply.sources)
    return strings.get("teams.sources", sources=cited)


def plain_text(reply: Reply, strings: Strings) -> str:
    """The reply as plain text: what "Copy as text" shows. A decision summary's text is already the whole
    copy-ready record (its fields restate it), so it is copied as it is."""
    if reply.summary is not None:
        return reply.text
    lines: list[str] = []
    if reply.title:
        lines.append(reply.title)
    lines.append(reply.text)
    lines += [f"{f.label}: {f.value}" for f in reply.fields]
    if reply.sources:
        lines.append(sources_line(reply, strings))
    lines += [f"{link.title}: {link.url}" for link in reply.links]
    return "\n".join(line for line in lines if line)


def message_markdown(text: str) -> str:
    """Text for a text-only message (``textFormat: markdown``, where Teams also reads HTML): markdown and
    ``& < >`` escaped, so ``<draft>`` in a typed title is shown, not dropped as a tag; ```code``` stays code."""
    parts = _CODE.split(text)
    return "".join(f"`{html.escape(part, quote=False)}`" if index % 2
                   else _escape_markdown(html.escape(part, quote=False))
                   for index, part in enumerate(parts)).replace("\n", "\n\n")


def text_message(reply: Reply, strings: Strings) -> str:
    """A text-only Teams message (Teams renders its markdown subset); sources stay visible."""
    parts = [f"**{message_markdown(reply.title)}**"] if reply.title else []
    parts.append(message_markdown(reply.text))
    if reply.sources:
        parts.append(f"_{message_markdown(sources_line(reply, strings))}_")
    return "\n\n".join(parts)


def _text_block(text: str, **style: Any) -> dict[str, Any]:
    """A wrapped TextBlock showing ``text`` exactly (escaped for the markdown Teams applies)."""
    return {"type": "TextBlock", "text": card_markdown(text), "wrap": True, **style}


def adaptive_card(reply: Reply, strings: Strings, origin: str | None = None) -> dict[str, Any]:
    """One Adaptive Card 1.5 for one reply. ``origin`` (a conversation id) goes into each button's data when
    the card is shown somewhere other than where the dialog runs (a private card sent to the personal chat)."""
    extra = {"conversation": origin} if origin else {}
    body: list[dict[str, Any]] = []
    if reply.title:
        body.append(_text_block(reply.title, weight="Bolder", size="Medium"))
    body.append(_text_block(reply.text))
    if reply.fields and reply.summary is None:  # a decision summary's text already shows every field
        body.append({"type": "FactSet", "facts": [{"title": card_markdown(f.label), "value": card_markdown(f.value)}
                                                  for f in reply.fields]})
    if reply.sources:
        body.append(_text_block(sources_line(reply, strings), size="Small", isSubtle=True))
    actions: list[dict[str, Any]] = [
        {"type": "Action.Submit", "title": without_code_marks(choice.label),
         "data": {"choice": choice.value, "kind": str(reply.kind), **extra}}
        for choice in reply.choices
    ]
    actions += [{"type": "Action.OpenUrl", "title": without_code_marks(link.title), "url": link.url}
                for link in reply.links]
    if reply.kind == ReplyKind.SUMMARY:
        # Teams cards cannot write to the clipboard: reveal the plain text, ready to select and copy.
        actions.append({
            "type": "Action.ShowCard",
            "title": strings.get("teams.copy_as_text"),
            "card": {"type": "AdaptiveCard", "version": ADAPTIVE_CARD_VERSION,
                     "body": [_text_block(without_code_marks(plain_text(reply, strings)), fontType="Monospace")]},
        })
    card: dict[str, Any] = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
    if actions:
        card["actions"] = actions
    return card


def render(reply: Reply, strings: Strings, origin: str | None = None) -> dict[str, Any]:
    """The Bot Framework activity fields for one reply: ``{"text": ...}`` or ``{"attachments": [...]}``."""
    if not needs_card(reply):
        return {"text": text_message(reply, strings), "text_format": "markdown"}
    card = adaptive_card(reply, strings, origin)
    return {"attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "content": card}],
            "summary": reply.title or reply.text[:100]}
