"""Decision records: stored append-only, seen only by their owner, exported as text, JSON, CSV, PDF.

The guide insists a decision is recorded with its reasons whether or not information is shared, so a
record holds the whole summary of a walkthrough. Nothing is ever overwritten: a correction is a new
row whose ``amends_id`` points at the original. Storing (bot/storage/records.py) is idempotent on a
key derived from the walkthrough, so a retried "Record this" cannot store the same decision twice.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.csvsafe import safe_cell
from bot.summary import FIELD_ORDER, LIST_FIELDS, display, summary_text


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


def shown_time(record: DecisionRecord) -> datetime:
    """When the record says it was decided (local time, as its summary shows it), else when it was stored."""
    try:
        return datetime.fromisoformat(str(record.summary["decided_at"]))
    except (KeyError, ValueError):
        return record.created_at


def list_line(record: DecisionRecord, strings: Any) -> str:
    amended = strings.get("records.amends_suffix", id=record.amends_id) if record.amends_id else ""
    return strings.get("records.list_line", id=record.id, date=shown_time(record).strftime("%d %b %Y %H:%M"),
                       reference=record.reference, decision=display("decision", record.decision, strings),
                       amended=amended)


# ---------------------------------------------------------------------------------------- export
def export_json(records: Iterable[DecisionRecord]) -> str:
    return json.dumps([r.to_json() for r in records], indent=2, ensure_ascii=False)


def export_csv(records: Iterable[DecisionRecord]) -> str:
    out = io.StringIO()
    columns = ["id", "created_at", "amends_id", *FIELD_ORDER, "decided_by_name", *LIST_FIELDS, "content_version"]
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = {name: record.summary.get(name, "") for name in (*FIELD_ORDER, "decided_by_name")}
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
