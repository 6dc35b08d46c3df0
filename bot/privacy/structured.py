"""Detectors for identifiers with a fixed shape: e-mail, NHS and NI numbers, postcodes, phones, dates of birth.

Each yields ``(start, end)`` spans. People type these with single or double spaces, dashes or dots between
the groups, so every separator allows any run of them. Each detector is tuned against false alarms on
ordinary practitioners' questions (guidance dates such as "May 2024", section numbers, case references).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[int, int]
_SEP = r"[ \t.-]{0,3}"  # between digit groups: "943 476 5919", "943-476-5919", "485 777  3456"


def nhs_number_valid(digits: str) -> bool:
    """The NHS number modulus-11 check (10 digits, weights 10..2, check digit last)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    if check == 11:
        check = 0
    return check != 10 and check == int(digits[9])


# ---------------------------------------------------------------------------------------- e-mail, NHS
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CHANNEL_ID_DOMAIN = re.compile(r"@(?:thread\.[a-z0-9]+|unq\.gbl\.spaces)$", re.IGNORECASE)  # Teams ids, not people


def emails(text: str) -> Iterator[Span]:
    for match in _EMAIL.finditer(text):
        if not _CHANNEL_ID_DOMAIN.search(match.group(0)):
            yield match.start(), match.end()


_NHS = re.compile(rf"(?<![\w/-])(\d{{3}}){_SEP}(\d{{3}}){_SEP}(\d{{4}})(?![\w/]|-\d)")  # not inside a longer reference


def nhs_numbers(text: str) -> Iterator[Span]:
    for match in _NHS.finditer(text):
        if nhs_number_valid("".join(match.groups())):
            yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- NI number
# Two prefix letters (first not D F I Q U V; second not D F I O Q U V), six digits, suffix A-D.
_NI_SEP = r"[ \t.-]{0,3}"
_NI = re.compile(rf"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]){_NI_SEP}(\d{{2}}){_NI_SEP}(\d{{2}}){_NI_SEP}(\d{{2}})"
                 rf"(?:{_NI_SEP}([A-D]))?\b", re.IGNORECASE)
_NI_UNALLOCATED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_NI_CUE = re.compile(r"\b(?:ni|nino|national\s+insurance)(?:\s+(?:no|number|num))?\.?\s*(?:is|:|-)?\s*$", re.IGNORECASE)


def ni_numbers(text: str) -> Iterator[Span]:
    for match in _NI.finditer(text):
        if match.group(1).upper() in _NI_UNALLOCATED:
            continue
        # Without its suffix letter ("LA123456" is a case reference) or in spaced lower case ("on 12 03 15")
        # it only counts right after "NI number".
        written = match.group(0)
        loose = not match.group(5) or (not written.isupper() and not written.replace(" ", "").isalnum())
        if loose and not _NI_CUE.search(text, max(0, match.start() - 40), match.start()):
            continue
        yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- postcode
# The full UK format (outward code: A9, A99, AA9, AA99, A9A, AA9A; inward code: 9AA) and GIR 0AA.
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|(?:[A-PR-UWYZ](?:\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRV-Y]))"
    r" {0,2}\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_ORDINAL_TAIL = re.compile(r"\d(?:st|nd|rd|th)$", re.IGNORECASE)


def postcodes(text: str) -> Iterator[Span]:
    for match in _POSTCODE.finditer(text):
        code = match.group(0)
        if not (code.isupper() or code.islower()):
            continue  # "Y6 2Nd" and other mixed case are not how people write postcodes
        if code.islower() and _ORDINAL_TAIL.search(code):
            continue  # "y6 2nd" is a school year and an ordinal
        yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- phone
# +44 / 0044 / 0 followed by a UK number written with spaces, hyphens, dots or brackets.
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)44[\s.-]?(?:\(0\)[\s.-]?)?|\(?0)\d[\d\s().-]{7,18}\d(?![\d-])")


def phones(text: str) -> Iterator[Span]:
    for match in _PHONE.finditer(text):
        raw = match.group(0)
        digits = re.sub(r"\D", "", raw)
        if raw.startswith(("+44", "0044")):
            digits = digits[4:] if raw.startswith("0044") else digits[2:]
            digits = digits.removeprefix("0")  # the "(0)" people add after +44
        else:
            digits = digits[1:]
        # The national significant number: 10 digits (9 for a few old area codes), starting 1 or 2
        # (landlines), 5 or 7 (mobiles, personal numbers). 03, 08 and 09 numbers belong to organisations
        # (the MASH, a helpline), so telling the bot one identifies nobody.
        groups = len(re.findall(r"\d+", raw))
        if len(digits) in (9, 10) and digits[0] in "1257" and groups <= 5:
            yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- dates of birth
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_NUMERIC_DATE = r"(?:0?[1-9]|[12]\d|3[01])\s?([/.-])\s?(?:0?[1-9]|1[0-2])\s?\1\s?(?:\d{4}|\d{2})"
_ISO_DATE = r"(?:19|20)\d{2}([/.-])(?:0?[1-9]|1[0-2])\2(?:0?[1-9]|[12]\d|3[01])"
_WORDED_DATE = rf"{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}|{_MONTH}\s+{_DAY},?\s+\d{{4}}"
FULL_DATE = re.compile(rf"(?<![\w/.-])(?:{_NUMERIC_DATE}|{_ISO_DATE}|{_WORDED_DATE})(?![\w/-]|\.\d)", re.IGNORECASE)
# A birth cue: "dob", "d.o.b", "DOB:", "date of birth", "born", "b." (as in "Amy b. 3/4/2016"), "birthday".
_DOB_CUE = re.compile(
    r"(?:\b(?:d\s?\.?\s?o\s?\.?\s?b\b\.?|date\s+of\s+birth|birth\s*date|birthday|born)|(?<![\w.])b\.)"
    r"\s*(?:(?:[:=-]|is|was|on|in|the|of)\s*)*",
    re.IGNORECASE,
)
# After a birth cue a date may be partial: "born in 2015", "DOB 3/4", "birthday is 3rd May".
_PARTIAL_DATE = re.compile(
    rf"(?:{_NUMERIC_DATE}|{_ISO_DATE}|{_WORDED_DATE}"
    rf"|\d{{1,2}}\s?[/.-]\s?\d{{1,2}}(?:\s?[/.-]\s?\d{{2,4}})?"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+(?:{_DAY}(?:,?\s+\d{{4}})?|\d{{4}})"
    rf"|(?:19|20)\d{{2}})(?![\w/-])",
    re.IGNORECASE,
)


_MONTH_WORD = re.compile(_MONTH, re.IGNORECASE)


def dates_of_birth(text: str) -> Iterator[Span]:
    """Dates right after a birth cue. A date with no cue is an incident, a meeting or a document: not a birth."""
    if not any(ch.isdigit() for ch in text) and not _MONTH_WORD.search(text):
        return  # no date at all (the common case): skip the cue search
    for cue in _DOB_CUE.finditer(text):
        partial = _PARTIAL_DATE.match(text, cue.end())
        if partial:
            yield partial.start(), partial.end()


def full_dates(text: str) -> Iterator[Span]:
    for match in FULL_DATE.finditer(text):
        yield match.start(), match.end()
