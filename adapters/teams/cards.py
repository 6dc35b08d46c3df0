"""Neutral replies as Teams sees them: an Adaptive Card (schema 1.5, what Teams renders) or plain text.

Pure functions over plain dicts, so the renderer is testable without botbuilder and survives a move to
the Microsoft 365 Agents SDK unchanged. A button's ``data`` is ``{"choice": value, "kind": card kind}``:
``choice`` comes back as ``IncomingTurn.choice``; ``kind`` tells the handler whether the card pressed
was a walkthrough step, which is what it may update in place; ``conversation`` (only on private cards sent
to the personal chat) names the conversation whose dialog the button belongs to. A navigation button
(Back, Why, Cancel) carries ``text`` instead of ``choice``: its value is the word a user can type, and it
arrives as if typed, as does a step's text box (input id ``text``). Where the options are too many or
too long for a row of buttons they are a radio list whose input id is ``choice``, so the submitted data
has the same shape. Everything clickable sits in body ``ActionSet``s (answers, then links and "Copy as
text", then the secondary Back / Why / Cancel), each within Teams' six-button limit.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import replace
from typing import Any

from bot.messages import Reply, ReplyKind
from bot.strings import Strings

ADAPTIVE_CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
ADAPTIVE_CARD_VERSION = "1.5"  # the highest version Teams renders on every client
CARD_KINDS = {ReplyKind.ANSWER, ReplyKind.STEP, ReplyKind.SUMMARY, ReplyKind.LIST, ReplyKind.REMINDER}
IN_PLACE_KINDS = {ReplyKind.STEP, ReplyKind.SUMMARY}  # the walkthrough: one card per step
MAX_ACTIONS = 6  # Teams' host config ``actions.maxActions``: the most buttons one set shows
BUTTON_ROW_CHARACTERS = 60  # titles in one row beyond this get cut off: Teams never wraps a button's title
MAX_CARD_BYTES = 28 * 1024  # the lowest message limit Microsoft documents (28 KB), counted in UTF-16
SHORTEST_CUT = 200  # texts shorter than this are never cut to fit a card


_CODE = re.compile(r"`([^`\n]+)`")  # content marks commands as `code`; Teams cards have no code style
_MARKDOWN_SIGNIFICANT = re.compile(r"([\\`*_\[\]~])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+\.)(?=\s)", re.MULTILINE)  # a line Teams would turn into a list item


def _escape_markdown(text: str) -> str:
    text = _MARKDOWN_SIGNIFICANT.sub(r"\\\1", text)
    return _LIST_START.sub(lambda m: m.group(1) + (m.group(2)[:-1] + "\\." if m.group(2).endswith(".")
                                                   else "\\" + m.group(2)), text)


def card_markdown(text: str) -> str:
    """Text for a TextBlock or fact, which Teams reads as markdown: user input (an ISA title, a typed
    answer) and content both arrive as plain text, so every markdown-significant character is escaped;
    backtick code spans become bold, and each line its own paragraph (markdown joins single newlines)."""
    lines = [line for line in text.split("\n") if line.strip()]
    return "\n\n".join(
        "".join(f"**{_escape_markdown(part)}**" if index % 2 else _escape_markdown(part)
                for index, part in enumerate(_CODE.split(line)))
        for line in lines)


def without_code_marks(text: str) -> str:
    """Plain text (button titles, the text to copy): backtick code spans lose their backticks."""
    return _CODE.sub(r"\1", text)


def needs_card(reply: Reply) -> bool:
    """Buttons, fields, sources and structured replies need a card; a short notice reads best as text."""
    return bool(reply.kind in CARD_KINDS or reply.choices or reply.actions or reply.fields or reply.sources
                or reply.links or reply.title or reply.summary)


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
    ``& < >`` escaped, so ``<draft>`` in a typed title is shown, not dropped as a tag; code spans stay code."""
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


def _submit(title: str, data: dict[str, Any], **style: Any) -> dict[str, Any]:
    return {"type": "Action.Submit", "title": without_code_marks(title), "data": data, **style}


def _action_sets(actions: list[dict[str, Any]], **style: Any) -> list[dict[str, Any]]:
    """ActionSets of at most ``MAX_ACTIONS`` each: Teams drops or hides the rest of a longer one."""
    return [{"type": "ActionSet", "actions": actions[i:i + MAX_ACTIONS], **style}
            for i in range(0, len(actions), MAX_ACTIONS)]


def _choices(reply: Reply, strings: Strings, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The answers to pick from: one row of buttons when they fit, else a list showing every option in full.

    Teams never wraps a button's title and shows at most ``MAX_ACTIONS`` in a row, so a long or many-option
    step (a walkthrough's lawful bases) becomes radio buttons (``Input.ChoiceSet``, id ``choice``, which
    Teams merges into the submitted data) and one submit button."""
    titles = [without_code_marks(choice.label) for choice in reply.choices]
    if len(titles) <= MAX_ACTIONS and sum(map(len, titles)) <= BUTTON_ROW_CHARACTERS:
        return _action_sets([_submit(choice.label, {"choice": choice.value, **data}) for choice in reply.choices])
    return [
        {"type": "Input.ChoiceSet", "id": "choice", "style": "expanded", "wrap": True, "isRequired": True,
         "label": strings.get("teams.choose_label"), "errorMessage": strings.get("teams.choose_error"),
         "choices": [{"title": title, "value": choice.value}
                     for title, choice in zip(titles, reply.choices, strict=True)]},
        *_action_sets([_submit(strings.get("teams.choose"), data, style="positive")]),
    ]


def _card(reply: Reply, strings: Strings, origin: str | None, shortened: bool) -> dict[str, Any]:
    data = {"kind": str(reply.kind), **({"conversation": origin} if origin else {})}
    body: list[dict[str, Any]] = []
    if reply.title:
        body.append(_text_block(reply.title, weight="Bolder", size="Medium"))
    if reply.text.strip() or not body:  # a title-only reply needs no empty paragraph under it
        body.append(_text_block(reply.text))
    if reply.fields and reply.summary is None:  # a decision summary's text already shows every field
        body.append({"type": "FactSet", "facts": [{"title": card_markdown(f.label), "value": card_markdown(f.value)}
                                                  for f in reply.fields]})
    if reply.sources:
        body.append(_text_block(sources_line(reply, strings), size="Small", isSubtle=True))
    if shortened:
        body.append(_text_block(strings.get("teams.shortened"), size="Small", isSubtle=True))
    if reply.choices:
        body += _choices(reply, strings, data)
    elif reply.kind == ReplyKind.STEP:  # a step with nothing to pick is answered in words: a box for them
        body += [{"type": "Input.Text", "id": "text", "isRequired": True, "label": strings.get("teams.answer_label"),
                  "errorMessage": strings.get("teams.answer_error")},
                 *_action_sets([_submit(strings.get("teams.send"), data, style="positive")])]
    more: list[dict[str, Any]] = [{"type": "Action.OpenUrl", "title": without_code_marks(link.title), "url": link.url}
                                  for link in reply.links]
    if reply.kind == ReplyKind.SUMMARY:
        # Teams cards cannot write to the clipboard: reveal the plain text, ready to select and copy.
        more.append({
            "type": "Action.ShowCard",
            "title": strings.get("teams.copy_as_text"),
            "card": {"type": "AdaptiveCard", "version": ADAPTIVE_CARD_VERSION,
                     "body": [_text_block(without_code_marks(plain_text(reply, strings)), fontType="Monospace")]},
        })
    body += _action_sets(more)
    # Back / Why / Cancel: secondary, last, apart from the answers; they never submit (or check) the list,
    # and come back as the word typed (``text``), which every step understands.
    navigation = [_submit(action.label, {"text": action.value, **data}, style="default", associatedInputs="none")
                  for action in reply.actions]
    body += _action_sets(navigation, separator=True, spacing="Medium")
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": ADAPTIVE_CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }


def card_bytes(card: dict[str, Any]) -> int:
    """A card's size as Teams counts a message: its JSON in UTF-16."""
    return len(json.dumps(card, ensure_ascii=False).encode("utf-16-le"))


def _halve_longest(reply: Reply) -> Reply | None:
    """The reply with its longest text (the text or a field's value) cut in half, or None if none is long."""
    texts = [reply.text, *(f.value for f in reply.fields)]
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    if len(texts[longest]) < SHORTEST_CUT:
        return None
    cut = texts[longest][:len(texts[longest]) // 2].rstrip() + "…"
    if longest == 0:
        return replace(reply, text=cut)
    fields = list(reply.fields)
    fields[longest - 1] = replace(fields[longest - 1], value=cut)
    return replace(reply, fields=fields)


def adaptive_card(reply: Reply, strings: Strings, origin: str | None = None) -> dict[str, Any]:
    """One Adaptive Card 1.5 for one reply, within Teams' limits on buttons and size. ``origin`` (a
    conversation id) goes into each button's data when the card is shown somewhere other than where the
    dialog runs (a private card sent to the personal chat). A reply too big for one Teams message has its
    longest texts shortened, and says so, rather than being refused by Teams."""
    card = _card(reply, strings, origin, shortened=False)
    while card_bytes(card) > MAX_CARD_BYTES and (shorter := _halve_longest(reply)) is not None:
        reply = shorter
        card = _card(reply, strings, origin, shortened=True)
    return card


def render(reply: Reply, strings: Strings, origin: str | None = None) -> dict[str, Any]:
    """The Bot Framework activity fields for one reply: ``{"text": ...}`` or ``{"attachments": [...]}``."""
    if not needs_card(reply):
        return {"text": text_message(reply, strings), "text_format": "markdown"}
    card = adaptive_card(reply, strings, origin)
    return {"attachments": [{"contentType": ADAPTIVE_CARD_CONTENT_TYPE, "content": card}],
            "summary": without_code_marks(reply.title or reply.text)[:100]}
