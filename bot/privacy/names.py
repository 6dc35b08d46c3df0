"""People's names: a names list of many origins, matched in any case, weighed by context.

A word in the names list is judged by how it is written and what surrounds it:
- a capitalised name that is not also an everyday word ("Priya", "Kowalski") is a name;
- a title or a relative before it ("Mrs Nguyen", "mum Sharon", "her brother Callum"), an age, a possessive
  or a verb of telling after it ("Callum (6)", "Priya's", "Thomas told me"), or a first name followed by a
  surname ("kayden price") make any listed word a name, in any case;
- a lower-case name alone ("siobhan") or a capitalised everyday word mid-sentence ("Rose") is only likely:
  it is redacted from what is stored, but the user is not warned for it.
A word found to be a name is a name wherever else it appears in the message. The veto list
(content/privacy.yaml) wins over all of this ("Mum", "Will", "Grace", "Early Help", "Clare's Law"),
except that a vetoed word written as part of a full name goes with it ("Grace Moore", "Nana Akua Mensah").
Each yields ``(start, end, certain)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bot.privacy.lexicon import FIRST, SURNAME, VETO, WORD, Lexicon

Hit = tuple[int, int, bool]

# A word: letters, with apostrophes and hyphens inside ("O'Neill", "Smith-Jones"); never part of "2nd" or "LL123".
_TOKEN = re.compile(r"(?<![\w'’])[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+(?:['’][^\W\d_]+)*)*(?![\d_])")
_TITLES_TEXT = "mr mrs ms miss mx dr master mister missus pc dc ds di sgt cllr prof rev fr sr"
_TITLES = frozenset(_TITLES_TEXT.split())
# Relatives and roles that introduce a name: "mum Sharon", "her brother, Callum", "the child: Amy", "called Rose".
_ROLES_TEXT = """
mum mam mom mummy mother dad daddy father stepdad step-dad stepmum step-mum stepfather step-father stepmother
step-mother brother sister half-brother half-sister stepbrother step-brother stepsister step-sister son daughter
stepson stepdaughter twin sibling nan nana nanna nanny gran granny grandma grandmother grandad granddad grandpa
grandfather grandson granddaughter aunt auntie aunty uncle cousin niece nephew partner boyfriend girlfriend husband
wife fiance fiancé fiancee fiancée ex ex-partner ex-husband ex-wife child pupil student baby toddler teenager infant
neighbour friend carer lodger landlord landlady client patient victim perpetrator referrer boy girl lad man woman
lady named called surname forename
"""
_ROLES = frozenset(_ROLES_TEXT.split())
_TWO_WORD_ROLES = frozenset({"young person", "known as", "goes by", "name is", "name was", "first name", "last name",
                             "surname is", "forename is", "name’s", "name's"})
_NAME_LABELS = frozenset({"name", "surname", "forename"})  # "name: Amy", "surname - Okafor"
# Verbs and prepositions that often come before a person: only a hint, enough to redact an everyday word.
_PERSON_HINTS_TEXT = "spoke speaking talked talking told asked saw seen met visited about with to for and from by"
_PERSON_HINTS = frozenset(_PERSON_HINTS_TEXT.split())
# Lower-case particles inside a full name: "Maria de Souza", "Aisha bint Ali", "Pieter van der Berg".
_PARTICLES = frozenset({"de", "da", "di", "del", "della", "van", "von", "der", "den", "la", "le", "du", "bin", "bint",
                        "ibn", "al", "el", "ben", "ap", "dos", "das"})
_CUE_WORDS = (_PARTICLES | _TITLES | _ROLES | _NAME_LABELS | _PERSON_HINTS
              | {w for cue in _TWO_WORD_ROLES for w in cue.split()})
# After a name: an age "(6)", ", 6,", "aged 6", "is 7"; a verb of telling.
_AFTER = re.compile(
    r"(?:\s*\(\s*(?:aged?\s*)?\d{1,2}\s*(?:yrs?|years?|y/?o|months?|m)?\s*\)"
    r"|,?\s+(?:aged?\s+|is\s+)\d{1,2}\b|,\s*\d{1,2}\s*(?:,|yrs?\b|years?\b|y/?o\b)"
    r"|\s+(?:told|tells|said|says|disclosed|discloses|reported|mentioned|asked|explained|admitted|alleged|claims"
    r"|claimed|confided|shared|revealed)\b)",
    re.IGNORECASE,
)
# Before a common noun, never before a name typed in lower case: "the lodger said", "a 12 year old says".
_WORD_BEFORE = re.compile(r"([a-z0-9]+)[ \t]{1,2}$", re.IGNORECASE)
_DETERMINERS = frozenset(["the", "a", "an", "my", "your", "his", "her", "our", "their", "next", "year", "years", "yr",
                         "yrs", "young", "old", "new", "little", "older", "younger", "eldest", "youngest"])
_POSSESSIVE_TAILS = frozenset({"'s", "’s", "s'", "s’"})
_SENTENCE_MARKS = frozenset(".!?:;\n\"“(•*")


@dataclass(slots=True)
class _Token:
    start: int
    end: int  # after a possessive "'s"
    base: str  # without the possessive
    lower: str
    flags: int  # names-list flags (0: not a listed name)
    capitalised: bool
    sentence_start: bool
    possessive: bool

    @property
    def listed(self) -> bool:
        return bool(self.flags & (FIRST | SURNAME))

    @property
    def usable(self) -> bool:
        """Listed and not vetoed: may be a name by itself."""
        return self.listed and not self.flags & VETO

    @property
    def everyday_word(self) -> bool:
        return bool(self.flags & WORD)


def _lookup(word: str, lexicon: Lexicon) -> int:
    """Flags of a word, a hyphenated name ("Smith-Jones") or an Irish/Scottish prefixed one ("O'Connor")."""
    flags = lexicon.flags(word)
    if flags & (FIRST | SURNAME) or flags & VETO:
        return flags
    if "-" in word:
        parts = [lexicon.flags(p) for p in word.split("-")]
        if all(p & (FIRST | SURNAME) for p in parts) and not all(p & VETO for p in parts):
            return (parts[0] & (FIRST | SURNAME)) | (WORD if all(p & WORD for p in parts) else 0)
        return 0
    head, _, tail = word.replace("’", "'").partition("'")
    if tail and head.lower() in {"o", "d", "l", "mc", "mac"} and lexicon.flags(tail) & (FIRST | SURNAME):
        return SURNAME
    return 0


def _caps_meaningful(text: str, lexicon: Lexicon) -> bool:
    """False when the whole message is in capitals or Title Case, so a capital says nothing about names.

    Judged on the everyday words ("With", "The", "Lives"), since a message may be full of proper names.
    """
    if text.isupper() and len(text) >= 12:
        return False
    everyday = [w for w in re.findall(r"[^\W\d_]{3,}", text) if w.lower() in lexicon.not_names_in_lower_case]
    return len(everyday) < 3 or sum(1 for w in everyday if w[0].isupper()) / len(everyday) < 0.7


def _vetoed_phrase_starts(text: str, tokens: list[re.Match[str]], lexicon: Lexicon) -> set[int]:
    """Indexes of the tokens inside a vetoed phrase ("Clare's Law", "Early Help")."""
    inside: set[int] = set()
    lower = text.lower().replace("’", "'")
    for index, match in enumerate(tokens):
        for phrase in lexicon.not_name_phrases.get(lower[match.start():match.end()].removesuffix("'s"), ()):
            if lower.startswith(phrase, match.start()) and not lower[match.start() + len(phrase):][:1].isalnum():
                covered, following = match.start() + len(phrase), index
                while following < len(tokens) and tokens[following].start() < covered:
                    inside.add(following)
                    following += 1
    return inside


def _tokens(text: str, lexicon: Lexicon, caps_meaningful: bool) -> list[_Token | None]:
    """Every word that could be part of a name or a cue for one; None for the others (they end a name)."""
    matches = list(_TOKEN.finditer(text))
    vetoed = _vetoed_phrase_starts(text, matches, lexicon) if lexicon.not_name_phrases else set()
    tokens: list[_Token | None] = []
    previous_end = 0
    listed = lexicon.names
    for index, match in enumerate(matches):
        word = match.group(0)
        if word.islower() and word not in listed and word not in _CUE_WORDS and word.isalpha():
            tokens.append(None)  # the common case: an everyday lower-case word, not a name or a cue
            previous_end = match.end()
            continue
        tail = word[-2:]
        possessive = len(word) > 3 and tail in _POSSESSIVE_TAILS
        base = (word[:-2] if tail[1] == "s" else word[:-1]) if possessive else word
        flags = _lookup(base, lexicon) if len(base) >= 2 else 0
        if not flags and base.islower() and base not in _CUE_WORDS:
            tokens.append(None)
            previous_end = match.end()
            continue
        if flags and caps_meaningful and len(base) <= 6 and (base.isupper() or (base[:-1].isupper() and len(base) > 2)):
            flags = VETO  # an acronym such as "ISA", "SEN" or "GPs", not someone shouting a name
        if index in vetoed:
            flags |= VETO
        gap = text[previous_end:match.start()]
        sentence_start = index == 0 or not _SENTENCE_MARKS.isdisjoint(gap)
        if sentence_start and base.lower() in lexicon.not_names_in_lower_case:
            flags |= VETO  # a stopword capitalised only because it starts a sentence: "She says", "The"
        tokens.append(_Token(match.start(), match.end(), base, base.lower(), flags,
                             caps_meaningful and base[0].isupper(), sentence_start, possessive))
        previous_end = match.end()
    return tokens


def _cue_before(text: str, tokens: list[_Token | None], index: int) -> str | None:
    """"title", "role" or "hint" from the words just before token ``index``, or None."""
    previous = tokens[index - 1] if index else None
    token = tokens[index]
    if previous is None or token is None:
        return None
    gap = text[previous.end:token.start]
    if len(gap) > 3 or gap.strip(" .,:;=-–\t"):
        return None
    word = previous.lower if not previous.possessive else previous.lower.removesuffix("'s").removesuffix("’s")
    if word in _TITLES and gap.strip(" .") == "":
        return "title"
    if word in _ROLES or (word in _NAME_LABELS and gap.strip(" ") in {":", "-", "=", "–"}):
        return "role"
    before = tokens[index - 2] if index >= 2 else None
    if before is not None and f"{before.lower} {word}" in _TWO_WORD_ROLES:
        return "role"
    return "hint" if word in _PERSON_HINTS else None


def _after_determiner(text: str, token: _Token) -> bool:
    """Whether a word comes straight after a determiner, a possessive or an age ("the lodger", "her boss",
    "12 year old", "15 yo"): there a lower-case word is a common noun, not a name."""
    before = _WORD_BEFORE.search(text[max(0, token.start - 24):token.start])
    return before is not None and (before.group(1).isdigit() or before.group(1).lower() in _DETERMINERS)


def _score(text: str, tokens: list[_Token | None], index: int, capitals_used: bool) -> int:
    """2 = a name, 1 = likely a name (redacted, no warning), 0 = not a name by itself."""
    token = tokens[index]
    if token is None or not token.usable:
        return 0
    if not token.capitalised and _after_determiner(text, token):
        return 0
    cue = _cue_before(text, tokens, index)
    if cue == "title":
        return 2
    # In a message typed without capitals, how a word is written says nothing either way.
    written_as_name = token.capitalised or not capitals_used
    if not written_as_name and token.everyday_word:
        return 1 if cue == "hint" and not capitals_used else 0
    if cue == "role" or token.possessive:  # "her brother Callum", "Priya's"; not "her child's file"
        return 2 if token.capitalised or not token.everyday_word else 0
    if _AFTER.match(text, token.end):  # "Callum (6)"; in lower case, "amir told me" is only likely
        return 2 if token.capitalised or not token.everyday_word else 1
    if not token.everyday_word:
        return 2 if token.capitalised else 1
    if token.capitalised and not token.sentence_start:
        return 1
    return 1 if cue == "hint" and not capitals_used else 0


def names(text: str, lexicon: Lexicon) -> Iterator[Hit]:
    caps = _caps_meaningful(text, lexicon)
    capitals_used = caps and any(ch.isupper() for ch in text)
    tokens = _tokens(text, lexicon, caps)
    scores = [_score(text, tokens, index, capitals_used) for index in range(len(tokens))]
    # A first name followed by a surname is a full name ("Kayden Price", "siobhan o'connor").
    for index in range(len(tokens) - 1):
        first, second = tokens[index], tokens[index + 1]
        if first is None or second is None:
            continue
        if not (first.usable and second.usable and first.flags & FIRST and second.flags & SURNAME):
            continue
        if first.possessive or not _adjacent(text, first, second) or first.capitalised != second.capitalised:
            continue
        if not (first.everyday_word and second.everyday_word):
            pair = 2
        elif first.capitalised and not first.sentence_start:
            pair = 1
        else:
            continue
        scores[index] = scores[index + 1] = max(scores[index], scores[index + 1], pair)
    # A word that is a name in one place is a name everywhere in the message ("jade ... jade").
    found: dict[str, int] = {}
    for token, score in zip(tokens, scores, strict=True):
        if token is not None and score:
            found[token.base.lower()] = max(score, found.get(token.base.lower(), 0))
    for index, token in enumerate(tokens):
        if token is not None and token.usable and found.get(token.base.lower(), 0) > scores[index]:
            scores[index] = found[token.base.lower()]
    yield from _spans(text, tokens, scores)


def _adjacent(text: str, first: _Token, second: _Token) -> bool:
    gap = text[first.end:second.start]
    return not gap or (gap.isspace() and "\n" not in gap and len(gap) <= 2)


def _joins(text: str, name: _Token, neighbour: _Token, before: bool) -> bool:
    """Whether a capitalised neighbour is part of the same full name: "Grace [Moore]", "[Freya] Lindqvist"."""
    if not (name.capitalised and neighbour.capitalised) or neighbour.base.isupper():
        return False
    if before and neighbour.listed:
        return not neighbour.possessive and bool(neighbour.flags & FIRST)
    if before:  # a capitalised word the list lacks, mid-sentence before a surname: "Xanthe Okafor"
        return not (neighbour.possessive or neighbour.sentence_start or neighbour.flags & VETO) \
            and bool(name.flags & SURNAME)
    if neighbour.listed:
        return bool(neighbour.flags & SURNAME)
    # A capitalised word the list lacks, right after a first name, is most likely the surname.
    return bool(name.flags & FIRST) and not name.possessive and not neighbour.flags & VETO


def _spans(text: str, tokens: list[_Token | None], scores: list[int]) -> Iterator[Hit]:
    """Join adjacent name words into one span, taking in the neighbours that complete a full name."""
    index = 0
    while index < len(tokens):
        head = tokens[index]
        if head is None or scores[index] == 0:
            index += 1
            continue
        first, last, start, end, best = index, index, head.start, head.end, scores[index]
        current = head
        while last + 1 < len(tokens):
            following = tokens[last + 1]
            if following is None or current.possessive or not _adjacent(text, current, following):
                break
            if following.lower in _PARTICLES and last + 2 < len(tokens):
                after = tokens[last + 2]
                if after is not None and after.capitalised and _adjacent(text, following, after) \
                        and (scores[last + 2] or _joins(text, current, after, before=False)):
                    last, current, end, best = last + 2, after, after.end, max(best, scores[last + 2])
                    continue
            if not (scores[last + 1] or _joins(text, current, following, before=False)):
                break
            last, current, end, best = last + 1, following, following.end, max(best, scores[last + 1])
        current = head
        while best == 2 and first > 0:
            previous = tokens[first - 1]
            if previous is None or scores[first - 1] or not _adjacent(text, previous, current) \
                    or not _joins(text, current, previous, before=True):
                break
            first, current, start = first - 1, previous, previous.start
        title = tokens[first - 1] if first else None
        if title is not None and _cue_before(text, tokens, first) == "title":
            start = title.start
        yield start, end, best == 2
        index = last + 1
