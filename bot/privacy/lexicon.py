"""The guard's word lists: the shipped names list and the sector veto list a safeguarding lead edits.

``bot/data/names.tsv.gz`` (built by ``scripts/build_names.py``; sources and licences in
``bot/data/NAMES-LICENCE.md``) holds about 117,000 first names and surnames of many origins. The veto
list is ``content/privacy.yaml`` (``not_names``) plus every abbreviation in ``content/vocabulary.yaml``:
words that are never a person here ("Mum", "Will", "Grace", "Early Help", "MASH"), however a names list
spells them.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

NAMES_FILE = Path(__file__).resolve().parent.parent / "data" / "names.tsv.gz"
DEFAULT_CONTENT = Path(__file__).resolve().parent.parent.parent / "content"

FIRST, SURNAME, WORD = 1, 2, 4  # a first name, a surname, also an everyday English word ("will", "price")
VETO = 8  # on the veto list: never a name by itself
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: a cold ask reads these files


@dataclass(frozen=True, slots=True)
class Lexicon:
    names: dict[str, int]  # lower-case name -> FIRST | SURNAME | WORD flags
    not_names: frozenset[str]  # lower-case words (and whole phrases) that are never a person
    # Abbreviations and stopwords from content/vocabulary.yaml: not a name unless written as one ("Li", not "li").
    not_names_in_lower_case: frozenset[str] = frozenset()
    # Vetoed phrases ("clare's law", "early help") by their first word, so a scan looks only where they may start.
    not_name_phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def flags(self, word: str) -> int:
        """The names-list flags of ``word`` (any case), with VETO when it is never a name by itself."""
        lower = word.lower()
        flags = self.names.get(lower, 0)
        if lower in self.not_names or (
                lower in self.not_names_in_lower_case and not (word[:1].isupper() and word[1:].islower())):
            flags |= VETO
        return flags


@cache
def _names() -> dict[str, int]:
    """Name -> flags, read in one pass (it runs on every cold ``python -m bot ask``, so no per-line work:
    a name never contains white space, so one split gives name, roles, name, roles, ...; the few distinct
    role strings are mapped once)."""
    flags = {"f": FIRST, "s": SURNAME, "w": WORD}
    with gzip.open(NAMES_FILE, "rt", encoding="utf-8") as handle:
        fields = handle.read().split()
    names, roles = fields[0::2], fields[1::2]
    by_roles = {r: sum(flags[letter] for letter in r) for r in set(roles)}
    return dict(zip(names, map(by_roles.__getitem__, roles), strict=True))


def read_lexicon(content_root: Path) -> Lexicon:
    """The names list with the veto lists from ``content_root`` (validated by ``content check``)."""
    words: set[str] = set()
    phrases: set[str] = set()
    privacy_file = content_root / "privacy.yaml"
    if privacy_file.exists():
        document = yaml.load(privacy_file.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for entry in document.get("not_names", ()):
            lower = " ".join(str(entry).lower().replace("’", "'").split())
            (phrases if " " in lower else words).add(lower)
    lower_only: set[str] = set()
    vocabulary_file = content_root / "vocabulary.yaml"
    if vocabulary_file.exists():
        document = yaml.load(vocabulary_file.read_text(encoding="utf-8"), Loader=_LOADER) or {}
        for section in ("abbreviations", "capital_abbreviations"):
            lower_only.update(str(key).lower() for key in (document.get(section) or {}))
        lower_only.update(str(word).lower() for word in document.get("stopwords") or ())
    by_first_word: dict[str, list[str]] = {}
    for phrase in sorted(phrases, key=len, reverse=True):
        by_first_word.setdefault(phrase.split()[0].removesuffix("'s"), []).append(phrase)
    return Lexicon(_names(), frozenset(words | phrases), frozenset(lower_only),
                   {word: tuple(group) for word, group in by_first_word.items()})


_current: Lexicon | None = None


def current_lexicon() -> Lexicon:
    """The lexicon in use: the packaged content's veto list until :func:`use_content` names another."""
    global _current
    if _current is None:
        _current = read_lexicon(DEFAULT_CONTENT)
    return _current


def use_content(content_root: Path) -> None:
    """Take the veto list from the content directory the server runs with (``CONTENT_DIR``)."""
    global _current
    _current = read_lexicon(content_root)
