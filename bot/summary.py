"""The decision summary as words: the order of its fields and the text pasted into a case record.

Pure (no storage), so the dialogs that build a summary and the core that stores and exports records
word it the same way.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

# The order a summary is shown in, everywhere (chat card, case-note text, CSV, PDF).
FIELD_ORDER = (
    "reference", "decided_at", "decided_by", "decision", "emergency", "purpose", "information", "recipient",
    "verification", "young_person", "views", "lawful_basis", "article9_condition", "consent", "family_informed",
    "identity_protection", "method", "advice_sought",
)
LIST_FIELDS = ("reasons", "next_steps")
# Free-text fields a user may correct in an amendment; everything else came from the guided answers.
AMENDABLE_FIELDS = ("reference", "purpose", "information", "recipient")


def display(name: str, value: Any, strings: Any, zone: str = "") -> str:
    if name == "decision":
        key = f"records.decision.{value}"
        return strings.get(key) if key in strings else str(value)
    if name == "decided_at" and value:
        try:
            when = datetime.fromisoformat(str(value))
            return f"{when:%d %B %Y %H:%M} {zone or when.strftime('%Z')}".strip()
        except ValueError:
            return str(value)
    return str(value)


def decided_by(summary: dict[str, Any], strings: Any, draft: bool = False) -> str:
    """Who decided: "Jane Smith (DSL) — id slack:T1:U1" from the name they gave, else the id alone; a
    draft not yet recorded says its name is still to come (an opaque id names nobody to the reader)."""
    user_id = str(summary.get("decided_by", ""))
    name, _, role = str(summary.get("decided_by_name") or "").partition(",")
    name, role = name.strip(), role.strip()
    if not name:
        return strings.get("records.decided_by_to_come") if draft else user_id
    key = "records.decided_by_role" if role else "records.decided_by_name"
    return strings.get(key, name=name, role=role, id=user_id)


def summary_fields(summary: dict[str, Any], strings: Any, draft: bool = False) -> list[tuple[str, str]]:
    """(label, value) pairs in display order, for a card or a table (``draft``: not recorded yet)."""
    pairs = []
    for name in FIELD_ORDER:
        if name == "decided_by" and summary.get(name):
            pairs.append((strings.get("records.field.decided_by"), decided_by(summary, strings, draft)))
        elif summary.get(name) not in (None, ""):
            pairs.append((strings.get(f"records.field.{name}"),
                          display(name, summary[name], strings, summary.get("decided_tz", ""))))
    if summary.get("amends_id"):
        pairs.append((strings.get("records.field.amends_id"), f"#{summary['amends_id']}"))
        pairs.append((strings.get("records.field.amendment_note"), str(summary.get("amendment_note", ""))))
    return pairs


def summary_text(summary: dict[str, Any], strings: Any, record_id: int | None = None, draft: bool = False) -> str:
    """Plain text a practitioner can paste straight into a case note (``draft``: not recorded yet)."""
    heading = strings.get("records.heading", reference=summary.get("reference", ""))
    lines = [heading + (f" ({strings.get('records.record_number', id=record_id)})" if record_id else "")]
    if summary.get("outcome_headline"):
        lines.append(summary["outcome_headline"])
    lines.append("")
    lines += [f"{label}: {value}" for label, value in summary_fields(summary, strings, draft)]
    for name in LIST_FIELDS:
        items = summary.get(name) or []
        if items:
            lines += ["", strings.get(f"records.field.{name}") + ":"]
            lines += [f"- {item}" for item in items]
    lines += ["", strings.get("records.footer", version=summary.get("content_version", ""))]
    return "\n".join(lines)
