"""Quick questions answered from the register: "which ISAs cover health visitors?", "is there an
agreement with the police?". The hook answers only questions about *which agreements exist*; a
question about what an agreement should contain falls through to the guidance."""

from __future__ import annotations

import re

from bot.context import TurnContext
from bot.isa.model import ISAStatus
from bot.isa.search import search
from bot.messages import Choice, Link, Reply, ReplyKind, Source
from bot.storage.register import list_isas

_ABOUT_AGREEMENTS = re.compile(r"\b(isas?|(?:data |information )?sharing agreements?|agreements?|dsas?)\b", re.I)
_ASKS_WHICH = re.compile(r"\b(which|what|any|is there|are there|do we have|have we got|have we|list|show)\b", re.I)
_SUBJECT = re.compile(r"\b(?:with|covers?|covering|for|involving|between us and|between)\s+(?:the\s+|our\s+|a\s+|an\s+"
                      r"|local\s+)?(?P<subject>[^?.!]+)", re.I)
_FILLER = re.compile(r"\b(in place|in force|at the moment|currently|now|please)\b", re.I)
_ALL = re.compile(r"\b(in force|in place|do we have|have we got|are there|list|all)\b", re.I)


def register_question(question: str) -> tuple[bool, str | None]:
    """(is this a question about which agreements exist?, the party or topic it names, if any)."""
    if not (_ABOUT_AGREEMENTS.search(question) and _ASKS_WHICH.search(question)):
        return False, None
    match = _SUBJECT.search(question)
    if match:
        subject = _FILLER.sub("", match["subject"]).strip(" ,")
        if subject:
            return True, subject
    return (True, None) if _ALL.search(question) else (False, None)


async def answer_from_register(ctx: TurnContext, question: str) -> list[Reply] | None:
    """The question hook: replies citing the agreements, or None to let the guidance answer."""
    is_register_question, subject = register_question(question)
    if not is_register_question:
        return None
    s = ctx.assistant.strings
    async with ctx.reading() as conn:
        agreements = [isa for isa in await list_isas(conn) if isa.status != ISAStatus.ENDED]
    found = search(agreements, subject) if subject else [a for a in agreements if a.status == ISAStatus.ACTIVE]
    if subject and not found:
        return [Reply(s.get("isa.answer_none", subject=subject), kind=ReplyKind.ANSWER,
                      title=s.get("isa.answer_title"), sources=[Source(s.get("isa.register_name"), "isa list")])]
    if not found:
        return [Reply(s.get("isa.list_empty"), kind=ReplyKind.ANSWER, title=s.get("isa.answer_title"))]
    lines = [s.get("isa.answer_intro_subject", count=len(found), subject=subject) if subject
             else s.get("isa.answer_intro_all", count=len(found))]
    lines += [s.get("isa.answer_line", id=isa.id, title=isa.title, status=str(isa.status),
                    parties=", ".join(isa.parties), purpose=isa.purpose, date=isa.review_date.isoformat())
              for isa in found]
    lines.append(s.get("isa.answer_outro"))
    return [Reply("\n".join(lines), kind=ReplyKind.ANSWER, title=s.get("isa.answer_title"),
                  sources=[Source(isa.title, s.get("isa.register_entry", id=isa.id)) for isa in found],
                  links=[Link(isa.title, isa.document_url) for isa in found if isa.document_url],
                  choices=[Choice(s.get("isa.button_show", id=isa.id), f"isa show {isa.id}") for isa in found[:5]])]
