"""Block Kit rendering: neutral :class:`Reply` objects in, Slack messages (blocks + fallback text) out.

Slack rejects a whole message that breaks one of its limits, so every limit is applied here: long
text is split over several sections and, past the block budget, over several messages; labels are
shortened with an ellipsis. The conversation a button belongs to travels in its ``block_id``
(``<kind>|<channel>|<n>``) so a press in the user's DM can continue a walkthrough begun elsewhere.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from bot.messages import Reply, ReplyKind
from bot.strings import Strings

# Slack's published limits (https://api.slack.com/reference/block-kit)
MAX_BLOCKS_MESSAGE = 50
MAX_BLOCKS_VIEW = 100
MAX_SECTION_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_BUTTON_VALUE = 2000
MAX_ACTION_ID = 255
MAX_BLOCK_ID = 255
MAX_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_FALLBACK_TEXT = 3000  # the notification preview; Slack allows 40,000 but nobody reads that much

CHOICE_ACTION = "choice"  # action_id prefix of a button carrying a dialog or starter choice
COPY_ACTION = "copy_text"
TEXT_INPUT_ACTION = "text_input"  # opens a modal for a free-text walkthrough step
TEXT_MODAL_CALLBACK = "infoshare_text"
TEXT_MODAL_INPUT = "answer"
ELLIPSIS = "…"

_BOLD = re.compile(r"\*\*(.+?)\*\*", re.DOTALL)
_SLACK_BOLD = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])")


def escape(text: str) -> str:
    """Slack's three control characters, escaped as its docs require."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mrkdwn(text: str) -> str:
    """Our ``**bold**`` convention as Slack ``*bold*``, with control characters escaped."""
    return _BOLD.sub(r"*\1*", escape(text))


def unmrkdwn(text: str) -> str:
    """Section text we wrote back to what it said: our ``*bold*`` and Slack's escapes undone."""
    text = _SLACK_BOLD.sub(r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def restated(reply: Reply) -> bool:
    """A summary whose text already says every field (``Label: value``), so the fields would repeat it."""
    return reply.kind is ReplyKind.SUMMARY and bool(reply.fields) and all(
        f"{f.label}: {f.value}" in reply.text for f in reply.fields)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def split_text(text: str, limit: int = MAX_SECTION_TEXT) -> list[str]:
    """Chunks of at most ``limit`` characters, cut at a paragraph, line or word boundary where possible."""
    chunks: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"))
        if cut < limit // 2:
            cut = window.rfind(" ")
        if cut < limit // 2:
            cut = limit
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks


def block_id(kind: ReplyKind | str, conversation_channel: str, n: str) -> str:
    return shorten(f"{kind}|{conversation_channel}|{n}", MAX_BLOCK_ID)


def parse_block_id(value: str | None) -> tuple[str | None, str | None]:
    """``(kind, conversation channel)`` from a block_id we wrote; ``(None, None)`` for anything else."""
    parts = (value or "").split("|")
    if len(parts) != 3 or not parts[1]:
        return None, None
    return parts[0], parts[1]


@dataclass(slots=True)
class SlackMessage:
    """One ``chat.postMessage``-shaped payload."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": shorten(label, MAX_BUTTON_TEXT),
                                                         "emoji": True},
                              "action_id": action_id[:MAX_ACTION_ID]}
    if value:  # Slack's button value is 1..2000 characters, or absent
        button["value"] = value[:MAX_BUTTON_VALUE]
    if style:
        button["style"] = style
    return button


def action_pattern(action_id: str) -> re.Pattern[str]:
    """Matches ``action_id`` and the numbered variants :func:`_make_ids_unique` gives repeats of it."""
    return re.compile(rf"^{re.escape(action_id)}(_\d+)*$")


def _make_ids_unique(blocks: list[dict[str, Any]]) -> None:
    """Several replies stacked in one view repeat ids, which Slack rejects: number the repeats."""
    seen_actions: set[str] = set()
    seen_blocks: set[str] = set()
    for n, block in enumerate(blocks):
        if block.get("block_id") in seen_blocks:
            block["block_id"] = shorten(f"{block['block_id']}.{n}", MAX_BLOCK_ID)
        seen_blocks.add(block.get("block_id", ""))
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element["action_id"] in seen_actions:
                element["action_id"] = f"{element['action_id']}_{n}"
            seen_actions.add(element["action_id"])


class BlockRenderer:
    """Renders replies with the wording in ``strings`` (the ``slack.*`` keys)."""

    def __init__(self, strings: Strings):
        self.strings = strings
        # Slack: "if a message is updated, use a new block_id"; each rendering numbers its blocks afresh
        self._renderings = itertools.count(1)

    # ------------------------------------------------------------------ pieces
    def _text_blocks(self, reply: Reply) -> list[dict[str, Any]]:
        return [_section(chunk) for chunk in split_text(mrkdwn(reply.text))] if reply.text.strip() else []

    def _field_blocks(self, reply: Reply) -> list[dict[str, Any]]:
        if restated(reply):
            return []  # the summary's text already lists every field: show it once
        texts = [shorten(f"*{mrkdwn(f.label)}*\n{mrkdwn(f.value)}", MAX_FIELD_TEXT) for f in reply.fields]
        return [{"type": "section", "fields": [{"type": "mrkdwn", "text": t} for t in texts[i:i + MAX_FIELDS]]}
                for i in range(0, len(texts), MAX_FIELDS)]

    def _source_blocks(self, reply: Reply) -> list[dict[str, Any]]:
        if not reply.sources:
            return []
        label = self.strings.get("slack.sources")
        items = [f"{label} {mrkdwn(s.title)}" + (f" – {mrkdwn(s.ref)}" if s.ref else "") for s in reply.sources]
        if len(items) > MAX_CONTEXT_ELEMENTS:  # fold the rest into the last element
            items = [*items[: MAX_CONTEXT_ELEMENTS - 1], "\n".join(items[MAX_CONTEXT_ELEMENTS - 1:])]
        return [{"type": "context", "elements": [{"type": "mrkdwn", "text": shorten(t, MAX_SECTION_TEXT)}
                                                 for t in items]}]

    def _link_blocks(self, reply: Reply) -> list[dict[str, Any]]:
        lines = [f"<{link.url}|{mrkdwn(link.title)}>" for link in reply.links if link.url.startswith("http")]
        return [_section(chunk) for chunk in split_text("\n".join(lines))] if lines else []

    def _action_blocks(self, reply: Reply, conversation_channel: str, can_type_reply: bool) -> list[dict[str, Any]]:
        # navigation (Back, Why, Cancel) after the answers, in Slack's default (secondary) style
        buttons = [_button(c.label, f"{CHOICE_ACTION}_{i}", c.value)
                   for i, c in enumerate([*reply.choices, *reply.actions])]
        if reply.kind is ReplyKind.SUMMARY:
            buttons.append(_button(self.strings.get("slack.copy_text"), COPY_ACTION, "copy"))
        if reply.kind is ReplyKind.STEP and not reply.choices and not can_type_reply:
            # the modal shows the step's question, and Slack sends no message back from an ephemeral one
            buttons.append(_button(self.strings.get("slack.type_answer"), TEXT_INPUT_ACTION,
                                   shorten(reply.title + "\n" + reply.text if reply.title else reply.text,
                                           MAX_BUTTON_VALUE), "primary"))
        rendering = next(self._renderings)
        return [{"type": "actions",
                 "block_id": block_id(reply.kind, conversation_channel, f"{rendering}.{i // MAX_ACTIONS_ELEMENTS}"),
                 "elements": buttons[i:i + MAX_ACTIONS_ELEMENTS]}
                for i in range(0, len(buttons), MAX_ACTIONS_ELEMENTS)]

    # ------------------------------------------------------------------ whole replies
    def render(self, reply: Reply, conversation_channel: str, *, can_type_reply: bool = True,
               max_blocks: int = MAX_BLOCKS_MESSAGE) -> list[SlackMessage]:
        """One reply as one message, or several when it is too long for one; buttons go on the last."""
        head = [{"type": "header", "text": {"type": "plain_text", "text": shorten(reply.title, MAX_HEADER_TEXT),
                                            "emoji": True}}] if reply.title else []
        body = self._text_blocks(reply) + self._field_blocks(reply) + self._link_blocks(reply)
        tail = self._source_blocks(reply) + self._action_blocks(reply, conversation_channel, can_type_reply)
        fallback = self.fallback_text(reply)
        messages: list[SlackMessage] = []
        blocks = list(head)
        for block in body:
            if len(blocks) >= max_blocks:
                messages.append(SlackMessage(fallback, blocks))
                blocks = []
            blocks.append(block)
        if len(blocks) + len(tail) > max_blocks:
            messages.append(SlackMessage(fallback, blocks))
            blocks = []
        blocks += tail
        messages.append(SlackMessage(fallback, blocks))
        return messages

    def fallback_text(self, reply: Reply) -> str:
        """The message's top-level ``text`` (notifications, previews, screen readers): Slack reads it as
        mrkdwn, so it is escaped like the blocks, and it is never empty."""
        text = reply.title + "\n" + reply.text if reply.title else reply.text
        return shorten(mrkdwn(text), MAX_FALLBACK_TEXT) or self.strings.get("slack.fallback")

    def render_view_blocks(self, replies: list[Reply], conversation_channel: str) -> list[dict[str, Any]]:
        """Replies stacked into one view (App Home, modal), cut at Slack's 100-block limit with a note."""
        blocks: list[dict[str, Any]] = []
        for reply in replies:
            for message in self.render(reply, conversation_channel, max_blocks=MAX_BLOCKS_VIEW):
                blocks += message.blocks
            blocks.append({"type": "divider"})
        _make_ids_unique(blocks)
        if len(blocks) > MAX_BLOCKS_VIEW:
            note = {"type": "context", "elements": [{"type": "mrkdwn", "text": self.strings.get("slack.cut_short")}]}
            blocks = [*blocks[: MAX_BLOCKS_VIEW - 1], note]
        return blocks

    def plain_text(self, blocks: list[dict[str, Any]]) -> str:
        """The readable text of a message we rendered (for "Copy as text"): plain, as a case note wants it,
        with Slack's escapes and our bold undone, and without our buttons."""
        lines: list[str] = []
        for block in blocks:
            if block.get("type") == "header" and block.get("text"):
                lines.append(block["text"]["text"])
            elif block.get("type") == "section" and block.get("text"):
                lines.append(unmrkdwn(block["text"]["text"]))
            lines += [unmrkdwn(f["text"]) for f in block.get("fields", [])]
        return "\n\n".join(line for line in lines if line)

    def code_block(self, text: str) -> list[dict[str, Any]]:
        """Plain text in code blocks, split to fit sections (``` adds six characters)."""
        safe = escape(text.replace("```", "'''"))
        return [_section(f"```{chunk}```") for chunk in split_text(safe, MAX_SECTION_TEXT - 6)][:MAX_BLOCKS_MESSAGE]
