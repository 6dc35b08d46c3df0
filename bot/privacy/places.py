"""Where a family lives and which school or surgery a child attends: a UK address grammar and institution names.

Addresses: a house number and a street word ("22 Elm Grove", "9a Station Road"), a flat or apartment before
it ("Flat 3, 14 Mill Lane", "Apartment 12, Victoria House"), or a named street or building after "lives at".
Institutions: a proper name before School, Academy, Nursery, Surgery, Medical Centre and the like
("St Bartholomew's Primary School", "Oakwood Surgery"), never a generic one ("the GP surgery").
Each yields ``(start, end, certain)``: certain spans also warn the user and refuse a walkthrough answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Hit = tuple[int, int, bool]

# Street words that are only ever streets, in any case; and those that are everyday words too ("park", "way"),
# which count only when capitalised ("Elm Park").
_STREET_ALWAYS = (r"road|rd|street|avenue|ave|lane|ln|grove|crescent|cres|drive|gardens|gdns|terrace|tce|close"
                  r"|mews|boulevard|parade|cottages|villas")
_STREET_CAPITALISED = (r"Way|Place|Court|Ct|Walk|Hill|Park|Row|Rise|View|Green|Vale|Fold|Croft|Gate|Chase|Wynd|Brae"
                       r"|Path|End|Meadows?|Heights|Circus|Embankment|Approach|Yard|Wharf|Quay|Mount|Bank|Square|Sq"
                       r"|St|Dr|Pl|Broadway|Row|Crossing|Fields|Side|Lodge|Dale|Common|Walk")
_BUILDING = r"House|Court|Tower|Towers|Lodge|Mansions|Heights|Point|Buildings|Block|Hall|Apartments|Flats|Estate"
_WORD = r"[A-Za-z][\w'’.-]*"
_CAP_WORD = r"(?:[A-Z][\w'’-]*|St\.?)"
_NUMBER = r"\d{1,4}[a-zA-Z]?(?:\s?[-–/]\s?\d{1,4}[a-zA-Z]?)?"
_UNIT = r"(?i:flat|apartment|apt|unit|room|maisonette|studio)\.?\s*(?:no\.?\s*)?\d{1,4}[a-zA-Z]?"
# Words between a number and a street word that mean the number counts something else ("2 children in the park").
_NOT_STREET_NAME = frozenset("""
a an the of in on at to and or with for from by his her their our my your its this that these those is are was
were be been has have had will can may should would could not no per each every other more most some all any
children child people pupils students kids families times days weeks months years hours minutes staff members
""".split())

_STREET = re.compile(
    rf"(?:{_UNIT},?\s+)?\b{_NUMBER},?\s+((?:{_WORD}\s+){{1,3}}?)"
    rf"(?:(?i:{_STREET_ALWAYS})\b|(?:{_STREET_CAPITALISED})\b)"
)
_UNIT_IN_BUILDING = re.compile(rf"{_UNIT},?\s+(?:{_CAP_WORD}\s+){{1,3}}(?:{_BUILDING})\b")
_UNIT_ALONE = re.compile(rf"\b{_UNIT}\b")
_LIVES_CUE = re.compile(
    r"\b(?i:lives?|living|staying|stays|moved|moving|address(?:\s+is)?|resides?|residing)\b[\w\s]{0,12}?"
    r"\b(?i:at|on|in|to|is|:)\s+(?i:the\s+)?$"
)
_NAMED_STREET = re.compile(
    rf"\b((?:{_CAP_WORD}\s+){{1,3}})(?:Road|Rd|Street|Avenue|Lane|Grove|Crescent|Drive|Gardens|Terrace|Close"
    rf"|Mews|Parade|{_STREET_CAPITALISED}|{_BUILDING})\b"
)


def _real_street_name(words: str) -> bool:
    names = words.split()
    return bool(names) and not any(w.lower().strip(".,") in _NOT_STREET_NAME for w in names)


def addresses(text: str) -> Iterator[Hit]:
    for match in _STREET.finditer(text):
        if _real_street_name(match.group(1)):
            capitalised = match.group(1)[:1].isupper()
            yield match.start(), match.end(), capitalised
    for match in _UNIT_IN_BUILDING.finditer(text):
        yield match.start(), match.end(), True
    for match in _UNIT_ALONE.finditer(text):
        yield match.start(), match.end(), False
    for match in _NAMED_STREET.finditer(text):
        first_word = match.group(1).split()[0]
        if first_word.lower() in {"the", "a", "an", "our", "my", "your", "his", "her", "their", "this", "that"}:
            continue
        cued = _LIVES_CUE.search(text, max(0, match.start() - 40), match.start()) is not None
        yield match.start(), match.end(), cued


# ---------------------------------------------------------------------------------------- institutions
_INSTITUTION = (
    r"(?:(?:Primary|Junior|Infants?|Secondary|High|Grammar|Community|Nursery|Preparatory|Prep|Middle|First|Special)"
    r"\s+)?(?:School|Academy)|College|Sixth\s+Form(?:\s+College)?|Nursery|Pre-?school|Playgroup|Day\s+Nursery"
    r"|Children['’]?s\s+Centre|Surgery|Medical\s+(?:Centre|Center|Practice|Group)|Health\s+Centre"
    r"|(?:Group|Family|Health)\s+Practice|Practice|Clinic|Pupil\s+Referral\s+Unit"
)
_INSTITUTION_RE = re.compile(
    rf"\b((?:(?:{_CAP_WORD}|of|the|and|&|C\s+of\s+E|CE|RC|CofE)[ \t]+){{1,5}}?)(?:{_INSTITUTION})\b")
_INSTITUTION_LOWER = re.compile(
    r"\b((?:[a-z][a-z'’-]+\s+){1,3}?)(?:(?:primary\s+|secondary\s+|junior\s+|infant\s+|high\s+)?(?:school|academy)"
    r"|nursery|pre-?school|playgroup|surgery|medical\s+centre|health\s+centre)\b"
)
# Words that make an institution generic rather than named ("the local primary school", "her GP surgery").
GENERIC = frozenset("""
a an the my our your his her their its this that these those which what whose any each every some no one another
local nearby same new old previous current other next last first former receiving feeder home mainstream
primary secondary junior infant infants high grammar community special independent free faith village state
private boarding residential hospital sunday summer forest catholic church c e ce rc of and & gp gps doctor
doctors doctor's doctors' dental dentist family child child's children's childs pupil pupils referral unit
medical health practice school schools academy nursery nurseries surgery college good best bad general
at to from in on with for by about attends attended attending goes went go into via through or is was
their's his' local-authority la council private-sector voluntary maintained attached named given
""".split())


def institutions(text: str, not_names: frozenset[str]) -> Iterator[Hit]:
    for match in _INSTITUTION_RE.finditer(text):
        words = [w for w in re.split(r"\s+", match.group(1).strip()) if w]
        while words and words[0].lower() in GENERIC | not_names:
            words = words[1:]
        if not any(w.lower().strip(".") not in GENERIC and w.lower() not in not_names for w in words):
            continue
        start = match.start(1) + match.group(1).find(words[0])
        yield start, match.end(), True
    for match in _INSTITUTION_LOWER.finditer(text):
        words = match.group(1).split()
        while words and (words[0] in GENERIC or words[0] in not_names):
            words = words[1:]
        if not words or any(w in GENERIC or w in not_names for w in words):
            continue
        start = match.start(1) + match.group(1).find(words[0])
        yield start, match.end(), False
