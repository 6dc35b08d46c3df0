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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from bot.privacy import structured
from bot.privacy.lexicon import Lexicon, current_lexicon, use_content
from bot.privacy.names import names
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
        ("address", addresses),
        ("institution", lambda t: institutions(t, lex.not_names)),
        ("name", lambda t: names(t, lex)),
    )


def scan(text: str, allowed: Iterable[str] = ()) -> PrivacyScan:
    """Find identifying details in ``text`` and return them with a redacted copy.

    ``allowed`` holds lower-case words the user has confirmed are not a person (a service the veto list
    lacks); certain findings made only of those words are dropped for this scan.
    """
    allowed_words = frozenset(allowed)
    findings: list[Finding] = []
    for kind, detect in _detectors(current_lexicon()):
        for start, end, certain in detect(text):
            if allowed_words and text[start:end].lower() in allowed_words:
                continue
            overlapping = [f for f in findings if f.start < end and start < f.end]
            if not overlapping:
                findings.append(Finding(kind, start, end, certain))
            elif certain and all(not f.certain for f in overlapping) and kind != "name":
                # A sure address or school replaces the unsure pieces a name detector would leave.
                findings = [f for f in findings if f not in overlapping]
                findings.append(Finding(kind, min(start, *(f.start for f in overlapping)),
                                        max(end, *(f.end for f in overlapping)), certain))
    findings.extend(_dates_beside_names(text, findings))
    findings.sort(key=lambda f: f.start)
    return PrivacyScan(tuple(findings), redact(text, findings))


def _dates_beside_names(text: str, findings: list[Finding]) -> Iterator[Finding]:
    """A full date right after a name ("Amy Jones 03/04/2016", "Amy (12.9.2015)") is most likely her birth."""
    for match in structured.FULL_DATE.finditer(text):
        if any(f.start < match.end() and match.start() < f.end for f in findings):
            continue
        gap_start = max(0, match.start() - 4)
        if any(f.kind == "name" and gap_start <= f.end <= match.start()
               and not text[f.end:match.start()].strip(" ,(-") for f in findings):
            yield Finding("date_of_birth", match.start(), match.end(), False)


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
