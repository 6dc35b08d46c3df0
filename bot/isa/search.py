"""Finding agreements in the register by what a question names (a party, a purpose, a kind of data)."""

from __future__ import annotations

import re

from bot.isa.model import ISA

_SUFFIXES = ("ings", "ing", "ors", "ers", "ies", "ion", "or", "er", "es", "s")
_STOPWORDS = frozenset((
    "a", "an", "the", "and", "or", "of", "for", "with", "to", "in", "on", "at", "by", "our", "we", "us", "any", "is",
    "are", "there", "do", "does", "isa", "isas", "agreement", "agreements", "information", "sharing", "cover",
    "covers", "covering", "which", "what", "who", "have", "has", "service", "services", "team", "teams"))


def stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def terms(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in _STOPWORDS and len(w) > 1}


def search(agreements: list[ISA], query: str) -> list[ISA]:
    """Agreements whose title, parties, purpose or data categories mention every term of ``query``;
    failing that, those mentioning most of them (at least half)."""
    wanted = terms(query)
    if not wanted:
        return []
    scored = []
    for isa in agreements:
        haystack = terms(" ".join([isa.title, *isa.parties, isa.purpose, *isa.data_categories]))
        scored.append((len(wanted & haystack), isa))
    best = max((score for score, _ in scored), default=0)
    if best == 0 or best * 2 < len(wanted):
        return []
    return [isa for score, isa in scored if score == best]
