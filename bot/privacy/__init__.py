"""The privacy guard: spots identifying details in what users type, and redacts them.

Runs on every incoming message before anything is logged or stored, and on every log line. It has two
tiers. Everything it finds (the high-recall tier) is redacted from what is stored or logged: over-redacting
a transcript costs almost nothing. Only findings it is sure of (the high-precision tier, ``certain``) warn
the user and refuse a walkthrough's typed answer, because a guard that cries wolf teaches people to ignore
it. Case references (REF-12345, LL123456, CP-2024-0087) are never findings.

Detectors: check-digit and format patterns (``structured``), names (``names``), addresses and schools or
surgeries (``places``). Word lists live in data: ``bot/data/names.tsv.gz`` and ``content/privacy.yaml``.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from bot.privacy import structured
from bot.privacy.lexicon import Lexicon, current_lexicon, use_content
from bot.privacy.names import names as find_names
from bot.privacy.places import addresses, institutions
from bot.privacy.structured import nhs_number_valid

__all__ = ["Finding", "PrivacyScan", "nhs_number_valid", "redact", "scan", "use_content", "without_details"]

KINDS = ("email", "nhs_number", "ni_number", "postcode", "phone", "date_of_birth", "address", "institution", "name")


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # one of KINDS
    start: int
    end: int
    certain: bool = True  # the high-precision tier: warn the user, refuse a typed walkthrough answer


@dataclass(frozen=True, slots=True)
class PrivacyScan:
    findings: tuple[Finding, ...]  # everything found: all of it is redacted
    redacted: str

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds redacted, sorted (never the values): what ``ask --json`` reports."""
        return tuple(sorted({f.kind for f in self.findings}))

    @property
    def certain(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.certain)

    @property
    def warning_kinds(self) -> tuple[str, ...]:
        """The kinds the guard is sure of, sorted: these warn the user and refuse a typed answer."""
        return tuple(sorted({f.kind for f in self.findings if f.certain}))

    def to_json(self) -> dict[str, object]:
        """The ``privacy`` field of ``ask --json`` and ``chat --json``: kinds (sorted, never values), text as stored."""
        return {"kinds": list(self.kinds), "redacted": self.redacted}

    def words_flagged(self, text: str) -> tuple[str, ...]:
        """The certain findings' words in lower case (for a confirmed "not a person", never a whole answer)."""
        return tuple(sorted({text[f.start:f.end].lower() for f in self.certain}))


Hits = Iterator[tuple[int, int, bool]]


def _sure(spans: Iterable[tuple[int, int]]) -> Hits:
    return ((start, end, True) for start, end in spans)


def _detectors(lex: Lexicon) -> tuple[tuple[str, Callable[[str], Hits]], ...]:
    return (
        ("email", lambda t: _sure(structured.emails(t))),
        ("nhs_number", lambda t: _sure(structured.nhs_numbers(t))),
        ("ni_number", lambda t: _sure(structured.ni_numbers(t))),
        ("postcode", lambda t: _sure(structured.postcodes(t))),
        ("phone", lambda t: _sure(structured.phones(t))),
        ("date_of_birth", lambda t: _sure(structured.dates_of_birth(t))),
        ("address", lambda t: addresses(t, lex.not_names)),
        ("institution", lambda t: institutions(t, lex.not_names)),
        ("name", lambda t: find_names(t, lex)),
    )


def scan(text: str) -> PrivacyScan:
    """Find identifying details in ``text`` and return them with a redacted copy."""
    found = _Spans()
    for kind, detect in _detectors(current_lexicon()):
        for start, end, certain in detect(text):
            found.add(Finding(kind, start, end, certain))
    for finding in _dates_beside_names(text, found.findings):
        found.add(finding)
    return PrivacyScan(tuple(found.findings), redact(text, found.findings))


class _Spans:
    """Findings kept sorted and never overlapping: the first detector wins a span, except that a longer
    detail takes in shorter ones inside it ("Broad Street" in "Broad Street Surgery") and a sure finding takes
    in the unsure pieces it overlaps."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._ends: list[int] = []

    def add(self, new: Finding) -> None:
        low = bisect.bisect_right(self._ends, new.start)
        high = low
        while high < len(self.findings) and self.findings[high].start < new.end:
            high += 1
        overlapping = self.findings[low:high]
        if overlapping:
            inside = all(new.start <= f.start and f.end <= new.end and (new.certain or not f.certain)
                         for f in overlapping) and (new.start, new.end) != (overlapping[0].start, overlapping[0].end)
            unsure = new.certain and not any(f.certain for f in overlapping)
            if not (inside or unsure):
                return
            new = Finding(new.kind, min(new.start, overlapping[0].start), max(new.end, overlapping[-1].end),
                          new.certain)
        self.findings[low:high] = [new]
        self._ends[low:high] = [new.end]


def _dates_beside_names(text: str, findings: list[Finding]) -> list[Finding]:
    """A full date right after a name ("Amy Jones 03/04/2016", "Amy (12.9.2015)") is most likely her birth."""
    name_ends = {f.end for f in findings if f.kind == "name"}
    dates = []
    for match in structured.FULL_DATE.finditer(text):
        before = text[max(0, match.start() - 4):match.start()]
        if match.start() - len(before) + len(before.rstrip(" ,(-")) in name_ends:
            dates.append(Finding("date_of_birth", match.start(), match.end(), False))
    return dates


def without_details(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with each finding removed: what the question engine reads (details never carry meaning)."""
    out: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start >= position:
            out.append(text[position:finding.start])
            position = finding.end
    out.append(text[position:])
    return " ".join("".join(out).split())


def redact(text: str, findings: Iterable[Finding]) -> str:
    """Replace each finding's span with ``[kind]``; overlapping spans are merged."""
    out: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < position:
            continue
        out.append(text[position:finding.start])
        out.append(f"[{finding.kind}]")
        position = finding.end
    out.append(text[position:])
    return "".join(out)
