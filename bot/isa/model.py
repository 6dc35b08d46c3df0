"""What an Information Sharing Agreement is in the register, and how its fields are validated.

Validation is shared by the chat dialog, the CSV/YAML import and the commands, so every route into
the register gives the same reasons for the same mistakes. The owner and the channels are stored
as canonical identity keys (``slack:T1:U1``, ``teams:<AAD object id>``, ``local:<name>``; see
:mod:`bot.identity`), read by the channels' own address parsers.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from bot.identity import AddressError, Addresses, AddressKind, Identity
from bot.strings import Strings, WordedError


class ISAStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    UNDER_REVIEW = "under review"
    ENDED = "ended"


# Statuses whose review date still matters: reminders are sent for these.
REVIEWABLE = (ISAStatus.ACTIVE, ISAStatus.UNDER_REVIEW)

# Fields in the fixed CSV header order (article 9 condition travels in lawful_basis after a ';').
CSV_FIELDS = ("title", "parties", "purpose", "data_categories", "lawful_basis", "owner", "start_date",
              "review_date", "status", "document_url", "channels")
EDITABLE_FIELDS = ("title", "parties", "purpose", "data_categories", "lawful_basis", "article9_condition", "owner",
                   "start_date", "review_date", "status", "document_url", "channels")
LIST_FIELDS = ("parties", "data_categories", "channels")
DATE_FIELDS = ("start_date", "review_date")

# Words that mark a data category as special category data (UK GDPR Article 9).
SPECIAL_CATEGORY_WORDS = ("health", "medical", "mental", "ethnic", "race", "racial", "religio", "belief",
                          "sexual", "sex life", "biometric", "genetic", "political", "trade union")

_URL = re.compile(r"^https?://\S+$")
TITLE_CHARS = 300


class Problem(StrEnum):
    """Why a field's value is wrong: keys under ``isa.problem`` in content/strings.yaml."""

    ONE_OF = "one_of"
    LIST_EMPTY = "list_empty"
    NOT_A_DATE = "not_a_date"
    NOT_A_WEB_ADDRESS = "not_a_web_address"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    ADDRESS = "address"
    REVIEW_BEFORE_START = "review_before_start"
    ARTICLE9_NEEDED = "article9_needed"


class FieldProblem(WordedError, ValueError):
    """Why a value is wrong, as a key under ``isa.problem`` in content/strings.yaml and its fields."""

    prefix = "isa.problem."

    def __init__(self, problem: Problem, **fields: Any):
        super().__init__(str(problem), **fields)


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    problem: FieldProblem

    def reason(self, strings: Strings) -> str:
        return self.problem.reason(strings)


class ISAValidationError(ValueError):
    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.field}: {e.problem.key}" for e in errors))
        self.errors = errors


@dataclass(slots=True)
class ISA:
    title: str
    parties: list[str]
    purpose: str
    data_categories: list[str]
    lawful_basis: str
    owner: str
    start_date: date
    review_date: date
    status: ISAStatus = ISAStatus.ACTIVE
    article9_condition: str | None = None
    document_url: str | None = None
    channels: list[str] = field(default_factory=list)
    id: int | None = None

    def values(self) -> dict[str, Any]:
        """Column values for the ``isas`` table (JSON-able lists, real dates)."""
        data = asdict(self)
        data.pop("id")
        data["status"] = str(self.status)
        return data

    def comparable(self) -> dict[str, Any]:
        """Field values as plain strings and lists, for audit diffs and exports."""
        data = self.values()
        for name in DATE_FIELDS:
            data[name] = data[name].isoformat()
        return data

    @property
    def reminder_addresses(self) -> list[str]:
        """Where review reminders go: the channels, and the owner directly (once)."""
        addresses = list(dict.fromkeys(self.channels))
        if self.owner not in addresses:
            addresses.append(self.owner)
        return addresses

    @classmethod
    def from_row(cls, row: Any) -> ISA:
        m = row._mapping
        return cls(id=m["id"], title=m["title"], parties=list(m["parties"]), purpose=m["purpose"],
                   data_categories=list(m["data_categories"]), lawful_basis=m["lawful_basis"],
                   article9_condition=m["article9_condition"], owner=m["owner"], start_date=m["start_date"],
                   review_date=m["review_date"], status=ISAStatus(m["status"]), document_url=m["document_url"],
                   channels=list(m["channels"]))


def can_edit(admins: frozenset[str], user_id: str, isa: ISA | None) -> bool:
    """Configured admins may change any ISA; an owner may change their own. Everyone may read.

    Canonical keys compare exactly, so a user in another Slack workspace never passes for an admin.
    """
    return user_id in admins or (isa is not None and user_id == isa.owner)


def is_special_category(categories: list[str]) -> bool:
    return any(word in c.lower() for c in categories for word in SPECIAL_CATEGORY_WORDS)


def split_list(value: Any) -> list[str]:
    """``"a; b;"`` or ``["a", "b"]`` -> ["a", "b"]."""
    if value is None:
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(";")
    return [str(item).strip() for item in items if str(item).strip()]


def parse_status(value: str) -> ISAStatus:
    key = value.strip().lower().replace("_", " ").replace("-", " ")
    for status in ISAStatus:
        if status.value == key:
            return status
    raise FieldProblem(Problem.ONE_OF, choices=", ".join(s.value for s in ISAStatus))


def _validate_list(name: str, raw: Any, addresses: Addresses, within: Identity | None) -> list[str]:
    items = split_list(raw)
    if name == "channels":
        return list(dict.fromkeys(_address(addresses, item, AddressKind.CONVERSATION, within) for item in items))
    if not items:
        raise FieldProblem(Problem.LIST_EMPTY)
    return items


def _address(addresses: Addresses, text: str, kind: AddressKind, within: Identity | None) -> str:
    """The canonical key of an address; the channel's parser says what is wrong with a bad one."""
    try:
        return addresses.key(text, kind, within=within)
    except AddressError as exc:
        raise FieldProblem(Problem.ADDRESS, reason=exc) from None


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FieldProblem(Problem.NOT_A_DATE, value=text) from None


def validate_field(name: str, raw: Any, addresses: Addresses, within: Identity | None = None) -> Any:
    """One field's value from user input (text or a list); ValueError with the reason if it is wrong.

    Addresses become canonical keys; ``within`` is who typed them (a Slack user's ``slack:C2`` is in
    their own workspace).
    """
    if name in LIST_FIELDS:
        return _validate_list(name, raw, addresses, within)
    text = "" if raw is None else str(raw).strip()
    if name in DATE_FIELDS:
        return raw if isinstance(raw, date) else _parse_date(text)
    if name == "status":
        return parse_status(text)
    if name == "owner":
        return _address(addresses, text, AddressKind.USER, within)
    if name == "document_url":
        if text and not _URL.match(text):
            raise FieldProblem(Problem.NOT_A_WEB_ADDRESS, value=text)
        return text or None
    if name == "article9_condition":
        return text or None
    if not text:
        raise FieldProblem(Problem.REQUIRED)
    if name == "title" and len(text) > TITLE_CHARS:
        raise FieldProblem(Problem.TOO_LONG, limit=TITLE_CHARS)
    return text


def build_isa(data: dict[str, Any], addresses: Addresses, isa_id: int | None = None,
              within: Identity | None = None) -> ISA:
    """A validated ISA from raw field values; ISAValidationError lists every problem, field by field."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name in EDITABLE_FIELDS:
        try:
            values[name] = validate_field(name, data.get(name), addresses, within)
        except FieldProblem as problem:
            errors.append(FieldError(name, problem))
    if not errors:
        if values["review_date"] < values["start_date"]:
            errors.append(FieldError("review_date", FieldProblem(Problem.REVIEW_BEFORE_START)))
        if is_special_category(values["data_categories"]) and not values["article9_condition"]:
            errors.append(FieldError("lawful_basis", FieldProblem(Problem.ARTICLE9_NEEDED)))
    if errors:
        raise ISAValidationError(errors)
    return ISA(id=isa_id, **values)


def diff(before: ISA | None, after: ISA) -> dict[str, dict[str, Any]]:
    """What changed, field by field: ``{"review_date": {"from": "2027-01-01", "to": "2028-01-01"}}``."""
    old = before.comparable() if before else {}
    new = after.comparable()
    return {name: {"from": old.get(name), "to": new[name]} for name in new if old.get(name) != new[name]}
