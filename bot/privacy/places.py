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
_STREET_ALWAYS = (r"road|rd|street|avenue|ave|lane|lanes|ln|grove|crescent|cres|drive|gardens|gdns|terrace|tce"
                  r"|close|mews|boulevard|parade|cottages|villas|parkway|alley|gr")
_STREET_CAPITALISED = (r"Way|Place|Court|Ct|Walk|Hill|Park|Row|Rise|View|Green|Vale|Fold|Croft|Gate|Chase|Wynd|Brae"
                       r"|Path|End|Meadows?|Heights|Circus|Embankment|Approach|Yard|Wharf|Quay|Mount|Bank|Square|Sq"
                       r"|St|Dr|Pl|Broadway|Crossing|Fields|Side|Lodge|Dale|Common|Circle|Drove|Close|Grange|Wood|Woods"
                       r"|Hollow|Brow|Lea|Leas|Leys|Nook|Garth|Ride|Causeway|Esplanade|Promenade|Crest|Copse|Dene|Downs"
                       r"|Glade|Holme|Knoll|Mead|Orchard|Paddock|Pastures|Reach|Spinney|Ridge|Brook|Bridge|Cross|Field"
                       r"|Glen|Hey|Lawn|Moor|Oval|Passage|Precinct|Quadrant|Sidings|Steps|Strand|Vista|Walks|Ways"
                       r"|Arcade|Cloisters|Corner|Drift|Loan|Vennel|Terrace|Mall|Market|Top|Farm|Gait|Houses|Mill")
_BUILDING = (r"House|Court|Tower|Towers|Lodge|Mansions|Heights|Point|Buildings|Block|Hall|Apartments|Flats|Estate"
             r"|Cottage|Farm|Barn|Rectory|Vicarage|Bungalow|Villa|Manor|Grange|Site|Caravan\s+Park|Wharf|Mill|Hostel")
_WORD = r"[A-Za-z][\w'’.-]*"
_CAP_WORD = r"(?:[A-Z][\w'’-]*|St\.?)"
_NUMBER = r"\d{1,4}[a-zA-Z]?(?:\s?[-–/]\s?\d{1,4}[a-zA-Z]?)?"
_UNIT = (r"(?:(?i:(?:basement|ground[ -]floor|first[ -]floor|top[ -]floor|upstairs|downstairs)\s+flat)"
         r"|(?i:(?:ground|first|second|third|top|\d{1,2}(?:st|nd|rd|th))\s+floor)"
         r"|(?i:flat|apartment|apt|unit|room|maisonette|studio|pitch|plot|berth)\.?\s*(?:no\.?\s*)?"
         r"(?:\d{1,4}[a-zA-Z]?(?:/\d{1,3})?|[A-Z])\b)")
# Words between a number and a street word that mean the number counts something else ("2 children in the park").
_NOT_STREET_NAME_TEXT = """
a an the of in on at to and or with for from by his her their our my your its this that these those is are was
were be been has have had will can may should would could not no per each every other more most some all any
children child people pupils students kids families times days weeks months years hours minutes staff members
min mins minute hr hrs hour second seconds mile miles km metres meters yards steps more less extra
"""
_NOT_STREET_NAME = frozenset(_NOT_STREET_NAME_TEXT.split())

_STREET = re.compile(
    rf"(?:\b(?i:no\.?|number)\s*)?\b{_NUMBER},?\s+((?:{_WORD}\s+){{1,4}})"
    rf"(?:(?i:{_STREET_ALWAYS})\b|({_STREET_CAPITALISED})\b|((?i:{_STREET_CAPITALISED}))\b)"
)
# A number and one word that is a street by its ending: "7 Ridgeway", "15 Eastgate", "3 Woodside".
_COMPOUND_STREET = re.compile(
    r"\b\d{1,4}[a-zA-Z]?,?\s+[A-Z][a-z]+(?:way|gate|side|fields?|croft|dale|wood|bank|hill|lea|mead|garth|holme"
    r"|ridge|moor|brook|stone|hurst|ley|leys|green|grove|mount|field)\b")
# A house number and a street named "The ...": "12 The Butts", "4 The Maltings".
_THE_STREET = re.compile(r"\b\d{1,4}[a-zA-Z]?,?\s+The\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\b")
# A house name before a numbered street: "The Willows, 5 Park Road".
_HOUSE_NAME = re.compile(r"\bThe\s+(?:[A-Z][\w'’-]*\s+){0,2}[A-Z][\w'’-]*(?=,\s*\d)")
# A lower-case street after a cue: "lives on elm grove".
_CUED_LOWER_STREET = re.compile(
    rf"\b(?:lives?|living|staying|moved|moving|address\s+is)\s+(?:at|on|in|to)\s+((?:[a-z][\w'’-]*\s+){{1,3}}"
    rf"(?:{_STREET_ALWAYS}|{_STREET_CAPITALISED.lower()}))\b")
# After a flat or plot number, a capitalised phrase is the building or site ("Flat 2, Y Bwthyn", "Pitch 4, Oak Site").
_UNIT_IN_BUILDING = re.compile(rf"{_UNIT},?\s+(?:{_CAP_WORD}[ \t]+){{0,3}}{_CAP_WORD}")
_UNIT_ALONE = re.compile(rf"\b{_UNIT}")
# Welsh streets put the street word first: "Heol y Parc", "Ffordd Las".
_WELSH_STREET = re.compile(
    r"\b(?:\d{1,4}[a-zA-Z]?,?\s+)?(?:Heol|Ffordd|Stryd|Lôn|Lon|Rhodfa|Cilgant)\s+(?:y\s+|yr\s+)?[A-Z][\w'’-]*")
_LIVES_CUE = re.compile(
    r"\b(?i:lives?|living|staying|stays|moved|moving|address(?:\s+is)?|resides?|residing|are|is|house|home|flat"
    r"|visited|visit|attended)\b[\w\s']{0,12}?"
    r"\b(?i:at|on|in|into|to|is|of|:)\s+$"
)
_NAMED_STREET = re.compile(
    rf"\b((?:{_CAP_WORD}\s+){{1,3}})(?:Road|Rd|Street|Avenue|Lane|Lanes|Grove|Crescent|Drive|Gardens|Terrace|Close"
    rf"|Mews|Parade|Parkway|({_STREET_CAPITALISED}|{_BUILDING}))\b"
)
_JOINED = re.compile(r"[ \t]*,[ \t]*|[ \t]+")


def _real_street_name(words: str) -> bool:
    names = words.split()
    if names == ["The"]:  # "9 The Crescent", "4 The Green"
        return True
    if names and names[0] == "The":
        names = names[1:]
    return bool(names) and not any(w.lower().strip(".,") in _NOT_STREET_NAME for w in names)


# Words one of the address patterns must contain. A scan finds them first, by looking each word up in a set,
# and runs the full patterns only near them: a long message costs little more than its length.
_WORD_AT = re.compile(r"[^\W\d_]+")
_STREET_HEADS = frozenset(w.lower() for w in re.findall(r"[A-Za-z]{2,}", _STREET_ALWAYS + "|" + _STREET_CAPITALISED))
_BUILDING_HEADS = frozenset(w.lower() for w in re.findall(r"[A-Z][a-z]+", _BUILDING))  # capitalised: "House"
_UNIT_HEADS_TEXT = "flat apartment apt unit room maisonette studio pitch plot berth floor"
_WELSH_HEADS_TEXT = "heol ffordd stryd lôn lon rhodfa cilgant"
_INSTITUTION_HEADS_TEXT = ("school academy college sixth nursery pre preschool playgroup centre center surgery practice"
                           " clinic unit hospital infirmary primary infants juniors ysgol")
_UNIT_HEADS = frozenset(_UNIT_HEADS_TEXT.split())
_WELSH_HEADS = frozenset(_WELSH_HEADS_TEXT.split())
_INSTITUTION_HEADS = frozenset(_INSTITUTION_HEADS_TEXT.split())


def _heads(text: str, lower_heads: frozenset[str],
           written_heads: frozenset[str] = frozenset()) -> list[tuple[int, int]]:
    """Where the head words are; ``written_heads`` count only when capitalised as written ("House")."""
    return [m.span() for m in _WORD_AT.finditer(text.lower())
            if m.group(0) in lower_heads or (m.group(0) in written_heads and text[m.start()].isupper())]


def _near(pattern: re.Pattern[str], text: str, heads: list[tuple[int, int]],
          before: int = 90, after: int = 60) -> Iterator[re.Match[str]]:
    """``pattern``'s matches in the stretches of ``text`` around ``heads`` (the words it must contain)."""
    windows: list[list[int]] = []
    for head_start, head_end in heads:
        start, end = max(0, head_start - before), min(len(text), head_end + after)
        if windows and start <= windows[-1][1]:
            windows[-1][1] = end
        else:
            windows.append([start, end])
    seen = -1
    for start, end in windows:
        for match in pattern.finditer(text, start, end):
            if match.start() > seen:
                seen = match.start()
                yield match


def addresses(text: str, not_names: frozenset[str] = frozenset()) -> Iterator[Hit]:
    """Street addresses, with the pieces people write together ("Flat 30, Crown Court, Primrose Street") as one."""
    streets, units = _heads(text, _STREET_HEADS, _BUILDING_HEADS), _heads(text, _UNIT_HEADS | _WELSH_HEADS)
    hits: list[Hit] = []
    for match in _near(_STREET, text, streets):
        if not _real_street_name(match.group(1)):
            continue
        if match.group(3) and not match.group(2):  # "22 elm park": an everyday street word in lower case
            hits.append((match.start(), match.end(), False))
            continue
        hits.append((match.start(), match.end(), match.group(1)[:1].isupper()))
    for match in _COMPOUND_STREET.finditer(text):
        cued = _LIVES_CUE.search(text, max(0, match.start() - 40), match.start()) is not None
        hits.append((match.start(), match.end(), cued))
    hits += [(m.start(), m.end(), True) for m in _HOUSE_NAME.finditer(text)]
    hits += [(m.start(), m.end(), True) for m in _THE_STREET.finditer(text)]
    hits += [(m.start(1), m.end(1), True) for m in _CUED_LOWER_STREET.finditer(text)]
    hits += [(m.start(), m.end(), True) for m in _near(_UNIT_IN_BUILDING, text, units, 30, 90)]
    hits += [(m.start(), m.end(), True) for m in _near(_WELSH_STREET, text, units)]
    hits += [(m.start(), m.end(), False) for m in _near(_UNIT_ALONE, text, units, 30, 20)]
    for match in _near(_NAMED_STREET, text, streets):
        first_word = match.group(1).split()[0].lower()
        if first_word in {"a", "an", "our", "my", "your", "his", "her", "their", "this", "that"}:
            continue
        # "Family Court", "Crown Court", "Police House": a service, not a home (words that name a street for
        # certain, "Road" or "Street", are never vetoed).
        if match.group(2) and (first_word in not_names or " ".join(match.group(0).lower().split()) in not_names):
            continue
        cued = _LIVES_CUE.search(text, max(0, match.start() - 40), match.start()) is not None
        hits.append((match.start(), match.end(), cued))
    yield from _merge(text, hits)


def _merge(text: str, hits: list[Hit]) -> Iterator[Hit]:
    """Overlapping hits, or hits joined only by a comma or spaces, become one; it is certain if any part is."""
    merged: list[Hit] = []
    for start, end, certain in sorted(hits):
        if merged and (start <= merged[-1][1] or _JOINED.fullmatch(text, merged[-1][1], start)):
            first, last_end, last_certain = merged[-1]
            merged[-1] = (first, max(last_end, end), last_certain or certain)
        else:
            merged.append((start, end, certain))
    yield from merged


# ---------------------------------------------------------------------------------------- institutions
_INSTITUTION = (
    r"(?:(?:Primary|Junior|Infants?|Secondary|High|Grammar|Community|Nursery|Preparatory|Prep|Middle|First|Special)"
    r"\s+)?(?:School|Academy)|College|Sixth\s+Form(?:\s+College)?|Nursery|Pre-?[Ss]chool|Playgroup|Day\s+Nursery"
    r"|Children['’]?s\s+Centre|Surgery|Medical\s+(?:Centre|Center|Practice|Group)|Health\s+Centre"
    r"|(?:Group|Family|Health|Dental)\s+Practice|Practice|Clinic|Pupil\s+Referral\s+Unit|Walk-in\s+Centre"
    r"|Urgent\s+Treatment\s+Centre|Minor\s+Injuries\s+Unit|Hospital|Infirmary|Primary|Infants|Juniors"
)
_INSTITUTION_RE = re.compile(
    rf"\b((?:(?:{_CAP_WORD}|of|the|and|&|C\s+of\s+E|CE|RC|CofE)[ \t]+){{1,5}}?)(?:{_INSTITUTION})\b")
# Welsh-medium schools put the school word first: "Ysgol Bryn Glas".
_YSGOL = re.compile(r"\bYsgol\s+(?:(?:y|yr|[A-Z][\w'’-]*)\s+){0,3}[A-Z][\w'’-]*")
_INSTITUTION_LOWER = re.compile(
    r"\b((?:[a-z][a-z'’-]+\s+){1,3}?)(?:(?:primary\s+|secondary\s+|junior\s+|infant\s+|high\s+)?(?:school|academy)"
    r"|nursery|pre-?school|playgroup|surgery|medical\s+centre|health\s+centre)\b"
)
# Words that make an institution generic rather than named ("the local primary school", "her GP surgery").
_GENERIC_TEXT = """
a an the my our your his her their its this that these those which what whose any each every some no one another
local nearby same new old previous current other next last first former receiving feeder home mainstream
primary secondary junior infant infants high grammar community special independent free faith village state
private boarding residential hospital sunday summer forest catholic church c e ce rc of and & gp gps doctor
doctors doctor's doctors' dental dentist family child child's children's childs pupil pupils referral unit
medical health practice school schools academy nursery nurseries surgery college good best bad general
at to from in on with for by about attends attended attending goes went go into via through or is was
their's his' local-authority la council private-sector voluntary maintained attached named given
"""
GENERIC = frozenset(_GENERIC_TEXT.split())




def institutions(text: str, not_names: frozenset[str]) -> Iterator[Hit]:
    heads = _heads(text, _INSTITUTION_HEADS)
    for match in _near(_INSTITUTION_RE, text, heads, 90, 40):
        words = [w for w in re.split(r"\s+", match.group(1).strip()) if w]
        while words and words[0].lower() in GENERIC:
            words = words[1:]
        if not any(w.lower().strip(".") not in GENERIC and w.lower() not in not_names for w in words):
            continue
        start = match.start(1) + match.group(1).find(words[0])
        if " ".join(text[start:match.end()].lower().replace("’", "'").split()) in not_names:
            continue  # a service on the veto list: "Virtual School"
        yield start, match.end(), True
    for match in _near(_YSGOL, text, heads, 0, 90):
        yield match.start(), match.end(), True
    for match in _near(_INSTITUTION_LOWER, text, heads, 90, 40):
        words = match.group(1).split()
        while words and (words[0] in GENERIC or words[0] in not_names):
            words = words[1:]
        if not words or any(w in GENERIC or w in not_names for w in words):
            continue
        start = match.start(1) + match.group(1).find(words[0])
        yield start, match.end(), False
