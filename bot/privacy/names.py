"""People's names: a names list of many origins, matched in any case, weighed by context.

A word in the names list is judged by how it is written and what surrounds it:
- a capitalised name that is not also an everyday word ("Priya", "Kowalski") is a name;
- a title or a relative before it ("Mrs Nguyen", "mum Sharon", "her brother Callum"), an age, a possessive
  or a verb of telling after it ("Callum (6)", "Priya's", "Thomas told me"), or a first name followed by a
  surname ("kayden price") make any listed word a name, in any case;
- a lower-case name alone ("siobhan") or a capitalised everyday word mid-sentence ("Rose") is only likely:
  it is redacted from what is stored, but the user is not warned for it.
The veto list (content/privacy.yaml) wins over everything: "Mum", "Will", "Grace", "Early Help".
Each yields ``(start, end, certain)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.privacy.lexicon import FIRST, SURNAME, WORD, Lexicon

Hit = tuple[int, int, bool]

_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_TITLE = re.compile(r"\b(?:mr|mrs|ms|miss|mx|dr|master|mister|missus)\.?\s+$", re.IGNORECASE)
# Relatives and roles that introduce a name: "mum Sharon", "her brother, Callum", "the child: Amy".
_ROLE = re.compile(
    r"\b(?:mum|mam|mom|mummy|mother|dad|daddy|father|step-?dad|step-?mum|step-?father|step-?mother|brother|sister"
    r"|half-?brother|half-?sister|step-?brother|step-?sister|son|daughter|stepson|stepdaughter|twin|sibling"
    r"|nan|nana|nanna|nanny|gran|granny|grandma|grandmother|grandad|granddad|grandpa|grandfather|grandson"
    r"|granddaughter|aunt|auntie|aunty|uncle|cousin|niece|nephew|partner|boyfriend|girlfriend|husband|wife|fianc[ée]e?"
    r"|ex|ex-partner|ex-husband|ex-wife|child|pupil|student|baby|toddler|teenager|infant|neighbour|friend|carer"
    r"|lodger|landlord|landlady|client|patient|victim|perpetrator|referrer|boy|girl|lad|man|woman|lady|young\s+person)"
    r"(?:['’]s)?\s*[:,-]?\s+$",
    re.IGNORECASE,
)
_NAMING = re.compile(
    r"\b(?:named|called|known\s+as|goes\s+by|name\s*(?:is|was|['’]s|:|=|-)|surname\s*(?:is|:)?|forename\s*(?:is|:)?"
    r"|first\s+name\s*(?:is|:)?|last\s+name\s*(?:is|:)?)\s*$",
    re.IGNORECASE,
)
# After a name: an age "(6)", ", 6,", "aged 6", "is 7"; a possessive; a verb of telling.
_AFTER = re.compile(
    r"(?:\s*\(\s*(?:aged?\s*)?\d{1,2}\s*(?:yrs?|years?|y/?o|months?|m)?\s*\)"
    r"|,?\s+(?:aged?\s+|is\s+)\d{1,2}\b|,\s*\d{1,2}\s*(?:,|yrs?\b|years?\b|y/?o\b)"
    r"|\s+(?:told|tells|said|says|disclosed|discloses|reported|mentioned|asked|explained|admitted|alleged|claims"
    r"|claimed|confided|shared|revealed)\b)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n\"“(]\s*|^\s*[-•*]\s*)$")
_SPACE_ONLY = re.compile(r"[ \t]+")


@dataclass(slots=True)
class _Token:
    start: int
    end: int  # including a possessive "'s"
    flags: int
    capitalised: bool
    sentence_start: bool
    possessive: bool

    @property
    def everyday_word(self) -> bool:
        return bool(self.flags & WORD)


def _lookup(word: str, lexicon: Lexicon) -> int:
    """Flags of a word, a hyphenated name ("Smith-Jones") or an Irish/Scottish prefixed one ("O'Connor")."""
    flags = lexicon.flags(word)
    if flags:
        return flags
    if "-" in word:
        parts = [lexicon.flags(p) for p in word.split("-")]
        if all(parts):
            return (parts[0] & (FIRST | SURNAME)) | (WORD if all(p & WORD for p in parts) else 0)
        return 0
    head, _, tail = word.replace("’", "'").partition("'")
    if tail and head.lower() in {"o", "d", "l", "mc", "mac"} and lexicon.flags(tail):
        return SURNAME
    return 0


def _tokens(text: str, lexicon: Lexicon, caps_meaningful: bool) -> list[_Token | None]:
    tokens: list[_Token | None] = []
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        possessive = _POSSESSIVE.search(word) is not None and not word.lower().startswith(("o'", "o’", "d'", "d’"))
        base = _POSSESSIVE.sub("", word) if possessive else word
        flags = _lookup(base, lexicon) if len(base) >= 2 else 0
        if flags and base.isupper() and caps_meaningful and len(base) <= 5:
            flags = 0  # an acronym such as "ISA" or "SEN", not someone shouting a name
        if not flags:
            tokens.append(None)
            continue
        sentence_start = _SENTENCE_END.search(text, max(0, match.start() - 4), match.start()) is not None
        tokens.append(_Token(match.start(), match.end(), flags, caps_meaningful and base[0].isupper(),
                             sentence_start, possessive))
    return tokens


def _caps_meaningful(text: str) -> bool:
    """False when the whole message is in capitals or Title Case, so a capital says nothing about names."""
    words = [w for w in re.findall(r"[^\W\d_]{4,}", text)]
    if len(words) < 4:
        return not text.isupper() or len(text) < 12
    capitalised = sum(1 for w in words if w[0].isupper())
    return capitalised / len(words) < 0.7


def _cued_before(text: str, token: _Token) -> str | None:
    window = text[max(0, token.start - 30):token.start]
    if _TITLE.search(window):
        return "title"
    if _NAMING.search(window):
        return "naming"
    if _ROLE.search(window):
        return "role"
    return None


def names(text: str, lexicon: Lexicon) -> Iterator[Hit]:
    caps = _caps_meaningful(text)
    tokens = _tokens(text, lexicon, caps)
    # Score each listed word: 2 = a name, 1 = likely a name, 0 = not by itself.
    scores = []
    for index, token in enumerate(tokens):
        if token is None:
            scores.append(0)
            continue
        before = _cued_before(text, token)
        after = not token.possessive and _AFTER.match(text, token.end) is not None
        written_as_name = token.capitalised or not caps
        if before in {"title", "naming"}:
            score = 2
        elif before == "role" or after or token.possessive:
            score = 2 if (written_as_name or not token.everyday_word) else 0
        elif not token.everyday_word:
            score = 2 if token.capitalised else 1
        else:
            score = 1 if token.capitalised and not token.sentence_start else 0
        scores.append(score)
    # A first name followed by a surname is a full name ("Kayden Price", "siobhan o'connor").
    for index in range(len(tokens) - 1):
        first, second = tokens[index], tokens[index + 1]
        if first is None or second is None or not _adjacent(text, first, second):
            continue
        if not (first.flags & FIRST and second.flags & SURNAME) or first.possessive:
            continue
        same_style = first.capitalised == second.capitalised
        if same_style and not (first.everyday_word and second.everyday_word):
            scores[index] = scores[index + 1] = max(scores[index], scores[index + 1], 2)
        elif same_style and first.capitalised and not first.sentence_start:
            scores[index] = scores[index + 1] = max(scores[index], scores[index + 1], 1)
    yield from _spans(text, tokens, scores)


def _adjacent(text: str, first: _Token, second: _Token) -> bool:
    gap = text[first.end:second.start]
    return not gap or _SPACE_ONLY.fullmatch(gap) is not None


def _spans(text: str, tokens: list[_Token | None], scores: list[int]) -> Iterator[Hit]:
    """Join adjacent name words into one span; a name carries its neighbours that are names too."""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token is None or scores[index] == 0:
            index += 1
            continue
        start, end, best, last = token.start, token.end, scores[index], index
        while last + 1 < len(tokens):
            following = tokens[last + 1]
            previous = tokens[last]
            if following is None or previous is None or previous.possessive or not _adjacent(text, previous, following):
                break
            if scores[last + 1] == 0 and not (following.capitalised and token.capitalised
                                              and following.flags & SURNAME):
                break
            last += 1
            end = following.end
            best = max(best, scores[last])
        title = _TITLE.search(text, max(0, start - 10), start)
        if title:
            start = title.start()
        yield start, end, best == 2
        index = last + 1
