"""The privacy guard: spots identifying details in what users type, and redacts them.

Runs on every incoming message before anything is logged or stored, and on every log line. It is a
safety net, not a guarantee: the wording it triggers asks people to use a case reference instead of
details. Each detector is tuned against false alarms on ordinary practitioners' questions (guidance
dates such as "May 2024", section numbers, service names such as "Early Help"), because a guard
that cries wolf teaches people to ignore it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date


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


# ---------------------------------------------------------------------------------------- e-mail, NHS
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_CHANNEL_ID_DOMAIN = re.compile(r"@(?:thread\.[a-z0-9]+|unq\.gbl\.spaces)$", re.IGNORECASE)  # Teams ids, not people


def _emails(text: str) -> Iterator[tuple[int, int]]:
    for match in _EMAIL.finditer(text):
        if not _CHANNEL_ID_DOMAIN.search(match.group(0)):
            yield match.start(), match.end()
_NHS = re.compile(r"(?<![\w-])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![\w-])")  # not inside a longer reference

# ---------------------------------------------------------------------------------------- NI number
# Two prefix letters (first not D F I Q U V; second not D F I O Q U V), six digits, suffix A-D.
_NI = re.compile(r"\b([A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z])[ ]?(\d{2})[ ]?(\d{2})[ ]?(\d{2})(?:[ ]?([A-D]))?\b",
                 re.IGNORECASE)
_NI_UNALLOCATED = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})
_NI_CUE = re.compile(r"\b(?:ni|nino|national\s+insurance)(?:\s+(?:no|number|num))?\.?\s*(?:is|:|-)?\s*$", re.IGNORECASE)


def _ni_numbers(text: str) -> Iterator[tuple[int, int]]:
    for match in _NI.finditer(text):
        prefix = match.group(1)
        if prefix.upper() in _NI_UNALLOCATED:
            continue
        # Without its suffix letter ("LA123456" is a case reference) or in spaced lower case ("on 12 03 15")
        # it only counts right after "NI number".
        loose = not match.group(5) or (not match.group(0).isupper() and " " in match.group(0))
        if loose and not _NI_CUE.search(text, max(0, match.start() - 40), match.start()):
            continue
        yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- postcode
# The full UK format (outward code: A9, A99, AA9, AA99, A9A, AA9A; inward code: 9AA) and GIR 0AA.
_POSTCODE = re.compile(
    r"\b(?:GIR ?0AA|(?:[A-PR-UWYZ](?:\d{1,2}|[A-HK-Y]\d{1,2}|\d[A-HJKPSTUW]|[A-HK-Y]\d[ABEHMNPRV-Y]))"
    r" ?\d[ABD-HJLNP-UW-Z]{2})\b",
    re.IGNORECASE,
)
_ORDINAL_TAIL = re.compile(r"\d(?:st|nd|rd|th)$", re.IGNORECASE)


def _postcodes(text: str) -> Iterator[tuple[int, int]]:
    for match in _POSTCODE.finditer(text):
        code = match.group(0)
        if not (code.isupper() or code.islower()):
            continue  # "Y6 2Nd" and other mixed case are not how people write postcodes
        if code.islower() and _ORDINAL_TAIL.search(code):
            continue  # "y6 2nd" is a school year and an ordinal
        yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- phone
# +44 / 0044 / 0 followed by a UK number written with spaces, hyphens or brackets.
_PHONE = re.compile(r"(?<![\w+])(?:(?:\+|00)44[\s-]?(?:\(0\)[\s-]?)?|\(?0)\d[\d\s()-]{7,14}\d(?![\d-])")


def _phones(text: str) -> Iterator[tuple[int, int]]:
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
        if len(digits) in (9, 10) and digits[0] in "1257" and raw.count(" ") <= 4:
            yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- dates
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_FULL_DATE = re.compile(
    rf"(?<![\w/.-])(?:"
    rf"(?:0?[1-9]|[12]\d|3[01])([/-])(?:0?[1-9]|1[0-2])\1(?:\d{{4}}|\d{{2}})"  # 12/03/2015, 12-3-15
    rf"|(?:0?[1-9]|[12]\d|3[01])\.(?:0?[1-9]|1[0-2])\.\d{{4}}"  # 12.03.2015
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}"  # 12 March 2015, 3rd of May 2016
    rf"|{_MONTH}\s+{_DAY},?\s+\d{{4}}"  # March 12, 2015
    rf")(?![\w/-]|\.\d)",
    re.IGNORECASE,
)
# A date right after a date-of-birth cue may be partial: "born in 2015", "DOB 3/4", "birthday is 3rd May".
_DOB_CUE = re.compile(
    r"\b(?:d\.?o\.?b\b\.?|date\s+of\s+birth|birth\s*date|birthday|born)\s*(?:(?:[:=-]|is|was|on|in|the|of)\s*)*",
    re.IGNORECASE,
)
_PARTIAL_DATE = re.compile(
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}(?:[/.-]\d{{2,4}})?|\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH}(?:,?\s+\d{{4}})?"
    rf"|{_MONTH}\s+(?:{_DAY}(?:,?\s+\d{{4}})?|\d{{4}})"
    rf"|(?:19|20)\d{{2}})(?![\w/-])",
    re.IGNORECASE,
)
# Dates of documents and laws ("updated 12 March 2015", "since 25 May 2018") are not anyone's birthday.
# Dates of documents, laws and agreements ("updated 12 March 2015", "since 25 May 2018", "review by
# 1/4/2027") are not anyone's birthday; nor is any date in the future.
_DOCUMENT_DATE_CUE = re.compile(
    r"\b(?:since|published|updated|issued|revised|effective(?:\s+from)?|(?:in|into)\s+force(?:\s+on)?|dated"
    r"|commenced(?:\s+on)?|signed|agreed|reviewed|review(?:\s+(?:date|by|on|due))?|renewed|renewal|expires?|expiry"
    r"|starts|started|ends|ended|due|deadline)\s*(?::\s*)?(?:on\s+|by\s+)?(?:the\s+)?$",
    re.IGNORECASE,
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def _parse_date(written: str) -> date | None:
    """The calendar date of a full date as people write it (day first, as in the UK), or None."""
    numbers = [int(n) for n in re.findall(r"\d+", written)]
    words = re.findall(r"[a-z]+", written.lower())
    month_named = next((_MONTHS.index(w[:3]) + 1 for w in words if len(w) >= 3 and w[:3] in _MONTHS), None)
    if month_named is not None and len(numbers) == 2:
        (day, year), month = numbers, month_named
    elif len(numbers) == 3:
        day, month, year = numbers
    else:
        return None
    if year < 100:  # 12/03/15: the most recent such year that is not in the future
        year += 2000 if 2000 + year <= date.today().year else 1900
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dates(text: str) -> Iterator[tuple[int, int]]:
    cued: list[tuple[int, int]] = []
    for cue in _DOB_CUE.finditer(text):
        partial = _PARTIAL_DATE.match(text, cue.end())
        if partial:
            cued.append((partial.start(), partial.end()))
    yield from cued
    for match in _FULL_DATE.finditer(text):
        if any(start <= match.start() < end for start, end in cued):
            continue
        if _DOCUMENT_DATE_CUE.search(text, max(0, match.start() - 40), match.start()):
            continue
        written = _parse_date(match.group(0))
        if written is not None and written > date.today():
            continue
        yield match.start(), match.end()


# ---------------------------------------------------------------------------------------- names
_UPPER = "A-ZÀ-ÖØ-Þ"
_LOWER = "a-zß-öø-ÿ"
# Jane, O'Brien, McDonald, Smith-Jones, Zoë
_NAME_WORD = (rf"[{_UPPER}](?:[{_LOWER}]+|['’][{_UPPER}][{_LOWER}]+)"
              rf"(?:[{_UPPER}][{_LOWER}]+)?(?:-[{_UPPER}][{_LOWER}]+)?")
_NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}"
# Capitalised words that are services, roles, documents or sentence starters, never a person's name.
_NOT_NAMES_TEXT = """
a an the this that these those it he she they we i you his her their our my your its
mum mam mom dad mother father parent parents carer carers nan nana gran grandma granddad grandad grandpa
auntie aunt uncle sister brother son daughter baby child children kid kids boy girl pupil student client
sir madam miss doctor nurse gp head teacher headteacher worker practitioner visitor midwife officer
manager lead designated social care services service team family families hub hubs early help children's
childrens protection plan police school schools academy nursery college university act data information
sharing agreement agreements isa local authority council health court order safeguarding partnership board
assessment record records notice privacy teams slack microsoft google england wales scotland ireland
northern london uk britain government department education working together keeping safe mental gateway
front door multi agency mash dsl ico gdpr caldicott guardian housing probation youth justice adult adults
domestic abuse violence neglect harm risk emergency hospital trust foundation primary secondary centre
center unit network forum conference meeting panel review strategy discussion section form app system
portal tool inbox email phone number article schedule part annex golden rule rules principle principles
monday tuesday wednesday thursday friday saturday sunday january february march april may june july
august september october november december christmas easter yes no not please thanks thank hi hello
is can should do does what when who why how where if and or but so then also there here ok okay
consent referral referrals guidance advice policy procedure line support office home person people
looked after in need sexual exploitation criminal online professional professionals named operation encompass
signs graded profile right time prevent channel troubled supporting start life healthy programme sure framework
common disclosure scheme law around
"""
_NOT_NAMES = frozenset(_NOT_NAMES_TEXT.split())
_PERSON_BEFORE = re.compile(
    r"\b(?:he|she|they|him|her|his|boy|girl|child|kid|son|daughter|baby|mum|mam|mom|dad|mother|father|brother"
    r"|sister|pupil|student|client|man|woman|person|lady|teenager|toddler|infant|sibling|carer|parent|partner"
    r"|grandparent|stepdad|stepmum|foster\s+carer|young\s+person)(?:['’]s|s)?\s+(?:(?:is|was|['’]s|are|were|also)\s+)?$",
    re.IGNORECASE,
)
# "her name is Jane Smith", "named Jane", "name: Jane Smith"
_NAME_IS = re.compile(
    rf"\b(?i:name\s*(?:is|was|['’]s|:|=|-)|named|surname\s*(?:is|:)?|forename\s*(?:is|:)?)\s+({_NAME})")
# "called John Doe", "known as John Doe" (a single word only when a person was just mentioned)
_CALLED = re.compile(rf"\b(?i:called|known\s+as|goes\s+by)\s+({_NAME})")
# "child: Amy Jones", "Mum - Jane Smith", "the child, Amy Jones," (two or more words)
_ROLE_LABEL = re.compile(
    rf"\b(?i:child|young\s+person|pupil|student|client|patient|mum|mam|mother|dad|father|parent|carer|baby"
    rf"|sibling|brother|sister|son|daughter|boy|girl|partner|stepdad|stepmum|victim|perpetrator|referrer)"
    rf"(?:\s*[:=-]\s*|,\s*|\s+)({_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})"
)
# "Mr Smith", "Mrs. Jane Smith", "Ms O'Brien"
_TITLE = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+({_NAME})")


def _trim_name(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Drop trailing words that are not names; None when nothing name-like is left."""
    words = [(m.start() + start, m.end() + start) for m in re.finditer(r"\S+", text[start:end])]
    while words and text[words[-1][0]:words[-1][1]].lower() in _NOT_NAMES:
        words.pop()
    if not words or any(text[a:b].lower() in _NOT_NAMES for a, b in words):
        return None
    return words[0][0], words[-1][1]


def _names(text: str) -> Iterator[tuple[int, int]]:
    for pattern, min_words in ((_NAME_IS, 1), (_TITLE, 1), (_CALLED, 2), (_ROLE_LABEL, 2)):
        for match in pattern.finditer(text):
            span = _trim_name(text, match.start(1), match.end(1))
            if span is None:
                continue
            words = len(text[span[0]:span[1]].split())
            person_just_mentioned = pattern is _CALLED and _PERSON_BEFORE.search(
                text, max(0, match.start() - 60), match.start())
            if words >= min_words or person_just_mentioned:
                yield span


# ---------------------------------------------------------------------------------------- scan
_DETECTORS = (
    ("email", _emails),
    ("nhs_number", lambda text: ((m.start(), m.end()) for m in _NHS.finditer(text)
                                 if nhs_number_valid("".join(m.groups())))),
    ("ni_number", _ni_numbers),
    ("postcode", _postcodes),
    ("phone", _phones),
    ("date_of_birth", _dates),
    ("name", _names),
)


def scan(text: str) -> PrivacyScan:
    """Find identifying details in ``text`` and return them with a redacted copy."""
    findings: list[Finding] = []
    for kind, detect in _DETECTORS:
        for start, end in detect(text):
            if not any(f.start < end and start < f.end for f in findings):  # first detector wins a span
                findings.append(Finding(kind, start, end))
    findings.sort(key=lambda f: f.start)
    return PrivacyScan(tuple(findings), redact(text, findings))


def without_details(text: str, findings: list[Finding] | tuple[Finding, ...]) -> str:
    """``text`` with each finding removed: what the question engine reads (details never carry meaning)."""
    out: list[str] = []
    position = 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start >= position:
            out.append(text[position:finding.start])
            position = finding.end
    out.append(text[position:])
    return " ".join("".join(out).split())


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
