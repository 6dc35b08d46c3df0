"""Decision records: stored append-only, seen only by their owner, exported as text, JSON, CSV, PDF.

The guide insists a decision is recorded with its reasons whether or not information is shared, so a
record holds the whole summary of a walkthrough. Nothing is ever overwritten: a correction is a new
row whose ``amends_id`` points at the original. Storing is idempotent on a key derived from the
walkthrough, so a retried "Record this" cannot store the same decision twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.csvsafe import safe_cell
from bot.storage.db import durable_transaction
from bot.storage.tables import decision_records
from bot.summary import AMENDABLE_FIELDS, FIELD_ORDER, LIST_FIELDS, display, summary_text


class RecordNotFound(LookupError):
    """No record with that id belongs to this user (someone else's records are never revealed)."""


@dataclass(frozen=True)
class DecisionRecord:
    id: int
    user_id: str
    reference: str
    decision: str
    summary: dict[str, Any]
    content_version: str
    amends_id: int | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reference": self.reference, "decision": self.decision,
                "amends_id": self.amends_id, "created_at": self.created_at.isoformat(),
                "content_version": self.content_version, "summary": self.summary}


def _record(row: Any) -> DecisionRecord:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
    return DecisionRecord(id=row.id, user_id=row.user_id, reference=row.reference, decision=row.decision,
                          summary=dict(row.summary), content_version=row.content_version,
                          amends_id=row.amends_id, created_at=created)


# ---------------------------------------------------------------------------------------- storage
async def _by_key(conn: AsyncConnection, key: str) -> DecisionRecord | None:
    row = (await conn.execute(select(decision_records).where(decision_records.c.idempotency_key == key))).first()
    return _record(row) if row else None


async def store(engine: AsyncEngine, user_id: str, summary: dict[str, Any], idempotency_key: str,
                now: datetime, amends_id: int | None = None) -> tuple[DecisionRecord, bool]:
    """Store a confirmed summary once; (record, True) if new, (the earlier record, False) on a retry."""
    values = dict(user_id=user_id, reference=str(summary.get("reference", ""))[:100],
                  decision=str(summary["decision"]), summary=summary,
                  content_version=str(summary.get("content_version", ""))[:40], amends_id=amends_id,
                  idempotency_key=idempotency_key, created_at=now)
    try:
        async with durable_transaction(engine) as conn:
            existing = await _by_key(conn, idempotency_key)
            if existing is not None:
                return existing, False
            result = await conn.execute(insert(decision_records).values(**values))
            record_id = result.inserted_primary_key[0]
    except IntegrityError:  # a concurrent retry won the race on the unique key
        async with engine.connect() as conn:
            existing = await _by_key(conn, idempotency_key)
        if existing is None:
            raise
        return existing, False
    return DecisionRecord(id=record_id, user_id=user_id, reference=values["reference"], decision=values["decision"],
                          summary=summary, content_version=values["content_version"], amends_id=amends_id,
                          created_at=now), True


async def list_records(engine: AsyncEngine, user_id: str, limit: int | None = 10) -> list[DecisionRecord]:
    """The user's own records, newest first."""
    query = (select(decision_records).where(decision_records.c.user_id == user_id)
             .order_by(decision_records.c.created_at.desc(), decision_records.c.id.desc()))
    if limit:
        query = query.limit(limit)
    async with engine.connect() as conn:
        return [_record(row) for row in await conn.execute(query)]


async def get_record(engine: AsyncEngine, user_id: str, record_id: int) -> DecisionRecord:
    """One of the user's own records; RecordNotFound for a missing id or someone else's."""
    async with engine.connect() as conn:
        row = (await conn.execute(select(decision_records).where(
            decision_records.c.id == record_id, decision_records.c.user_id == user_id))).first()
    if row is None:
        raise RecordNotFound(record_id)
    return _record(row)


async def amend(engine: AsyncEngine, user_id: str, record_id: int, changes: dict[str, str], note: str,
                now: datetime, idempotency_key: str | None = None) -> DecisionRecord:
    """A new record linked to ``record_id`` with some free-text fields corrected; the original stays."""
    unknown = set(changes) - set(AMENDABLE_FIELDS)
    if unknown:
        raise ValueError(f"only {', '.join(AMENDABLE_FIELDS)} can be amended, not {', '.join(sorted(unknown))}")
    original = await get_record(engine, user_id, record_id)
    summary = {**original.summary, **changes, "amendment_note": note, "amends_id": record_id,
               "amended_at": now.isoformat()}
    key = idempotency_key or f"amend:{record_id}:{now.isoformat()}"
    record, _ = await store(engine, user_id, summary, key, now, amends_id=record_id)
    return record


def list_line(record: DecisionRecord, strings: Any) -> str:
    amended = strings.get("records.amends_suffix", id=record.amends_id) if record.amends_id else ""
    return strings.get("records.list_line", id=record.id, date=record.created_at.strftime("%d %b %Y %H:%M"),
                       reference=record.reference, decision=display("decision", record.decision, strings),
                       amended=amended)


# ---------------------------------------------------------------------------------------- export
def export_json(records: Iterable[DecisionRecord]) -> str:
    return json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False)


def export_csv(records: Iterable[DecisionRecord]) -> str:
    out = io.StringIO()
    columns = ["id", "created_at", "amends_id", *FIELD_ORDER, *LIST_FIELDS, "content_version"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = {name: record.summary.get(name, "") for name in FIELD_ORDER}
        row.update({name: " | ".join(record.summary.get(name) or []) for name in LIST_FIELDS})
        row.update(id=record.id, created_at=record.created_at.isoformat(), amends_id=record.amends_id or "",
                   content_version=record.content_version)
        writer.writerow({name: safe_cell(value) for name, value in row.items()})
    return out.getvalue()


def export_text(records: Iterable[DecisionRecord], strings: Any) -> str:
    return "\n\n".join(summary_text(r.summary, strings, r.id) for r in records) + "\n"


def export_pdf(records: Iterable[DecisionRecord], strings: Any) -> bytes:
    """One record per page, the same wording as the text export."""
    from xml.sax.saxutils import escape

    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

    buffer = io.BytesIO()
    styles = getSampleStyleSheet()
    story: list[Any] = []
    for index, record in enumerate(records):
        if index:
            story.append(PageBreak())
        text = summary_text(record.summary, strings, record.id)
        first, *rest = text.split("\n")
        story.append(Paragraph(escape(first), styles["Heading2"]))
        for line in rest:
            story.append(Paragraph(escape(line), styles["Normal"]) if line.strip() else Spacer(1, 6))
    if not story:
        story.append(Paragraph(escape(strings.get("records.none")), styles["Normal"]))
    SimpleDocTemplate(buffer, pagesize=A4, title=strings.get("records.pdf_title")).build(story)
    return buffer.getvalue()
