"""The App Home tab: what the bot can do, the user's recent decisions, and ISAs with reviews due."""

from __future__ import annotations

from typing import Any

from adapters.slack.blocks import MAX_BLOCKS_VIEW, BlockRenderer, mrkdwn, shorten, split_text
from bot import records
from bot.core import Assistant
from bot.storage import records as record_store
from bot.storage.register import due_isas

HOME_RECORDS = 5
HOME_ISAS = 10
ISA_REVIEW_WINDOW_DAYS = 30


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": shorten(text, 150)}}


async def home_blocks(assistant: Assistant, renderer: BlockRenderer, user_id: str, dm_channel: str) -> list[dict]:
    """The Home view for one user (``user_id`` qualified, ``slack:T:U``); buttons continue in the DM."""
    s = assistant.strings
    blocks: list[dict[str, Any]] = renderer.render_view_blocks([assistant.help_reply()], dm_channel)

    blocks.append(_header(s.get("slack.home.records_title")))
    mine = await record_store.list_records(assistant.engine, user_id, limit=HOME_RECORDS)
    lines = [mrkdwn(records.list_line(record, s)) for record in mine]
    blocks += [_section(chunk) for chunk in split_text("\n".join(lines))] if lines else \
        [_section(s.get("slack.home.no_records"))]

    blocks.append(_header(s.get("slack.home.isas_title")))
    today = assistant.clock().astimezone(assistant.settings.tz).date()
    async with assistant.engine.connect() as conn:
        due = (await due_isas(conn, today, ISA_REVIEW_WINDOW_DAYS))[:HOME_ISAS]
    lines = [s.get("slack.home.isa_line", id=isa.id, title=mrkdwn(isa.title), owner=mrkdwn(isa.owner),
                   review_date=isa.review_date.strftime("%d %b %Y"),
                   overdue=s.get("slack.home.overdue") if isa.review_date < today else "")
             for isa in due]
    blocks += [_section(chunk) for chunk in split_text("\n".join(lines))] if lines else \
        [_section(s.get("slack.home.no_isas", days=ISA_REVIEW_WINDOW_DAYS))]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": s.get("slack.home.footer")}]})
    return blocks[:MAX_BLOCKS_VIEW]



