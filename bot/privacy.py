"""The privacy guard: spots identifying details in what users type, and redacts them.

Runs on every incoming message before anything is logged or stored. It is a safety net, not a
guarantee: the wording it triggers asks people to use a case reference instead of details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    kind: str  # nhs_number, ni_number, postcode, phone, email, date_of_birth, name
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class PrivacyScan:
    findings: tuple[Finding, ...]
    redacted: str

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.kind for f in self.findings))


def nhs_number_valid(digits: str) -> bool:
    """The NHS number modulus-11 check (10 digits, weights 10..2, check digit last)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_NHS = re.compile(r"(?<!\d)(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?!\d)")


def scan(text: str) -> PrivacyScan:
    """Find identifying details in ``text`` and return them with a redacted copy."""
    findings: list[Finding] = []
    for match in _EMAIL.finditer(text):
        findings.append(Finding("email", match.start(), match.end()))
    for match in _NHS.finditer(text):
        if nhs_number_valid("".join(match.groups())):
            findings.append(Finding("nhs_number", match.start(), match.end()))
    return PrivacyScan(tuple(sorted(findings, key=lambda f: f.start)), redact(text, findings))


def redact(text: str, findings: list[Finding] | tuple[Finding, ...]) -> str:
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
