"""Bulk import and export of the register as CSV (fixed header) or YAML.

CSV: ``title,parties,purpose,data_categories,lawful_basis,owner,start_date,review_date,status,
document_url,channels``; lists are separated by ``;``, dates are ISO 8601, and the lawful basis
column holds the Article 6 basis optionally followed by ``;`` and the Article 9 condition. An empty
``channels`` means only the owner is reminded. Every row is validated before anything is written,
errors name the line, field and reason, and the whole import is one transaction: all or nothing.
A file is refused with one line, before it is parsed, when it is larger than ``MAX_IMPORT_BYTES``,
has more than ``MAX_IMPORT_ROWS`` agreements, or (YAML) uses anchors and aliases, which a register
never needs and which let a few hundred bytes expand into gigabytes.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.csvsafe import restore_cell, safe_cell
from bot.identity import Addresses
from bot.isa.model import CSV_FIELDS, ISA, ISAValidationError, build_isa
from bot.storage.register import list_isas, upsert_by_title
from bot.strings import shipped_strings

MAX_IMPORT_BYTES = 5 * 1024 * 1024
MAX_IMPORT_ROWS = 5000  # a council's register is hundreds; more is a mistake (or an attack)


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        return f"{where}{self.field}: {self.reason}"


class ImportFailed(ValueError):
    """The file cannot be imported; ``errors`` says where and why. Nothing was written."""

    def __init__(self, errors: list[RowError]):
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


def _record_to_fields(record: dict[str, Any]) -> dict[str, Any]:
    """A CSV/YAML record -> raw field values (splitting the Article 9 condition off the lawful basis)."""
    fields = dict(record)
    basis = fields.get("lawful_basis")
    if isinstance(basis, str) and ";" in basis and not fields.get("article9_condition"):
        article6, _, article9 = basis.partition(";")
        fields["lawful_basis"], fields["article9_condition"] = article6.strip(), article9.strip()
    return fields


def parse_records(records: list[tuple[int, dict[str, Any]]], addresses: Addresses,
                  field_lines: list[dict[str, int]] | None = None) -> list[ISA]:
    """Validate every record; raise with every row's problems rather than stopping at the first.

    ``field_lines`` (YAML) gives each field its own line; a CSV row is one line. A field's problem is
    worded as the chat words it (content/strings.yaml).
    """
    strings = shipped_strings()
    errors: list[RowError] = []
    agreements: list[ISA] = []
    seen: dict[str, int] = {}
    for index, (line, record) in enumerate(records):
        lines = field_lines[index] if field_lines else {}
        try:
            isa = build_isa(_record_to_fields(record), addresses)
        except ISAValidationError as exc:
            errors.extend(RowError(lines.get(e.field, line), e.field, e.reason(strings)) for e in exc.errors)
            continue
        key = isa.title.strip().lower()
        if key in seen:
            errors.append(RowError(line, "title", f"duplicates the title on line {seen[key]}"))
            continue
        seen[key] = line
        agreements.append(isa)
    if errors:
        raise ImportFailed(errors)
    return agreements


def _too_many(count: int, line: int) -> ImportFailed:
    return ImportFailed([RowError(line, "file", f"has more than {MAX_IMPORT_ROWS} agreements ({count} or more)")])


def read_csv(text: str, addresses: Addresses) -> list[ISA]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = tuple(h.strip() for h in reader.fieldnames or ())
        if header != CSV_FIELDS:
            raise ImportFailed([RowError(1, "header", f"must be exactly {','.join(CSV_FIELDS)}")])
        records = []
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise ImportFailed([RowError(reader.line_num, "row",
                                             f"must have exactly {len(CSV_FIELDS)} columns")])
            records.append((reader.line_num, {k.strip(): restore_cell(v) for k, v in row.items()}))
            if len(records) > MAX_IMPORT_ROWS:
                raise _too_many(len(records), reader.line_num)
    except csv.Error as exc:
        raise ImportFailed([RowError(reader.line_num, "file", f"is not valid CSV ({exc})")]) from None
    return parse_records(records, addresses)


class _Mark(Protocol):
    """Where a YAML event or error is (PyYAML's pure-Python and C parsers each have a Mark class)."""

    line: int


def _line_of(mark: _Mark | None) -> int:
    """The 1-based line a YAML mark points at (the first when the parser gave none)."""
    return mark.line + 1 if mark is not None else 1


def read_yaml(text: str, addresses: Addresses) -> list[ISA]:
    """A YAML list of mappings with the CSV's field names (lists may be YAML lists)."""
    try:
        alias = next((e for e in yaml.parse(text) if isinstance(e, yaml.AliasEvent)), None)
        if alias is not None:
            raise ImportFailed([RowError(_line_of(alias.start_mark), "file",
                                         "uses a YAML alias (*name); write each value out in full")])
        node = yaml.compose(text)
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ImportFailed([RowError(_line_of(getattr(exc, "problem_mark", None)), "file",
                                     "is not valid YAML")]) from None
    if node is not None and isinstance(document, dict) and "agreements" in document:
        node = next(v for k, v in node.value if k.value == "agreements")
        document = document["agreements"]
    if node is None or not isinstance(document, list) or not all(isinstance(item, dict) for item in document):
        raise ImportFailed([RowError(1, "file", "must be a list of agreements (mappings)")])
    if len(document) > MAX_IMPORT_ROWS:
        raise _too_many(len(document), node.value[MAX_IMPORT_ROWS].start_mark.line + 1)
    lines = [item.start_mark.line + 1 for item in node.value]
    field_lines = [{str(key.value): key.start_mark.line + 1 for key, _ in item.value
                    if isinstance(key, yaml.ScalarNode)} for item in node.value]
    unknown = [RowError(where.get(str(key), line), str(key)[:40], "is not a field")
               for line, where, item in zip(lines, field_lines, document, strict=True)
               for key in item if not (isinstance(key, str) and (key in CSV_FIELDS or key == "article9_condition"))]
    if unknown:
        raise ImportFailed(unknown)
    return parse_records(list(zip(lines, document, strict=True)), addresses, field_lines)


def read_file(path: Path, addresses: Addresses) -> list[ISA]:
    try:
        if path.stat().st_size > MAX_IMPORT_BYTES:
            raise ImportFailed([RowError(0, "file", f"is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB")])
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed([RowError(0, "file", f"cannot be read ({type(exc).__name__})")]) from None
    return read_yaml(text, addresses) if path.suffix.lower() in {".yaml", ".yml"} else read_csv(text, addresses)


async def import_agreements(engine: AsyncEngine, agreements: list[ISA], actor: str, now: datetime) -> dict[str, int]:
    """Write validated agreements in one transaction (matched to existing ones by title)."""
    async with engine.begin() as conn:
        return await upsert_by_title(conn, agreements, actor, now)


def _export_record(isa: ISA) -> dict[str, Any]:
    data = isa.comparable()
    basis = data.pop("lawful_basis")
    article9 = data.pop("article9_condition")
    data["lawful_basis"] = f"{basis}; {article9}" if article9 else basis
    return {name: data[name] for name in CSV_FIELDS}


def write_csv(agreements: list[ISA]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for isa in agreements:
        record = _export_record(isa)
        writer.writerow([safe_cell("; ".join(v) if isinstance(v, list) else (v or "")) for v in record.values()])
    return out.getvalue()


def write_yaml(agreements: list[ISA]) -> str:
    return yaml.safe_dump({"agreements": [_export_record(isa) for isa in agreements]}, sort_keys=False,
                          allow_unicode=True)


async def export_agreements(engine: AsyncEngine, fmt: str) -> str:
    async with engine.connect() as conn:
        agreements = await list_isas(conn, by_review_date=False)
    return write_yaml(agreements) if fmt == "yaml" else write_csv(agreements)
