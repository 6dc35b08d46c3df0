"""Guidance topics, the units the question engine retrieves and answers with, and the vocabulary
(abbreviations, synonyms, stopwords, small talk) it uses to understand how practitioners type."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.messages import Source
from bot.yamlload import ContentError, ContentProblem, load_validated, load_yaml


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    answer: str
    sources: tuple[Source, ...]
    examples: tuple[str, ...]
    related: tuple[str, ...] = ()
    keywords: tuple[str, ...] = field(default=())
    offer_walkthrough: bool = False  # answers on this topic offer a "walk me through it" button


@dataclass(frozen=True)
class Vocabulary:
    """content/vocabulary.yaml: how people type, kept as data so a content owner can tune it."""

    abbreviations: dict[str, str]
    synonyms: dict[str, tuple[str, ...]]
    stopwords: frozenset[str]
    smalltalk: dict[str, tuple[str, ...]]
    weak_words: frozenset[str] = frozenset()
    capital_abbreviations: dict[str, str] = field(default_factory=dict)


EMPTY_VOCABULARY = Vocabulary({}, {}, frozenset(), {})


def load_topics(root: Path) -> list[Topic]:
    """Load every ``content/topics/*.yaml``; ids unique, related ids must exist."""
    problems: list[ContentProblem] = []
    topics: list[Topic] = []
    where: dict[str, tuple[str, int]] = {}
    for path in sorted((root / "topics").glob("*.yaml")):
        display = str(path.relative_to(root))
        try:
            document = load_validated(path, "topics", root)
        except ContentError as exc:
            problems.extend(exc.problems)
            # Remember the ids of a broken file anyway, so its neighbours' related links don't cascade.
            where.update({topic_id: (display, 0) for topic_id in _ids_in_broken_file(path)})
            continue
        for index, item in enumerate(document["topics"]):
            line = document["topics"].lines[index]
            if item["id"] in where:
                other = where[item["id"]]
                problems.append(ContentProblem(display, line, f"duplicate topic id {item['id']!r} "
                                               f"(first at {other[0]}:{other[1]})"))
                continue
            where[item["id"]] = (display, line)
            topics.append(Topic(
                id=item["id"],
                title=item["title"],
                answer=" ".join(item["answer"].split()),
                sources=tuple(Source(s["title"], s["ref"]) for s in item["sources"]),
                examples=tuple(item["examples"]),
                related=tuple(item.get("related", ())),
                keywords=tuple(item.get("keywords", ())),
                offer_walkthrough=bool(item.get("offer_walkthrough", False)),
            ))
    for topic in topics:
        for related in topic.related:
            if related not in where:
                display, line = where[topic.id]
                problems.append(ContentProblem(display, line,
                                               f"topic {topic.id!r}: related topic {related!r} does not exist"))
    if problems:
        raise ContentError(problems)
    return topics


def _ids_in_broken_file(path: Path) -> list[str]:
    try:
        document: Any = load_yaml(path)
    except ContentError:
        return []
    items = document.get("topics") if isinstance(document, dict) else None
    if not isinstance(items, list):
        return []
    return [item["id"] for item in items if isinstance(item, dict) and isinstance(item.get("id"), str)]


def load_vocabulary(root: Path) -> Vocabulary:
    """Load ``content/vocabulary.yaml``; without the file the engine works on plain words."""
    path = root / "vocabulary.yaml"
    if not path.exists():
        return EMPTY_VOCABULARY
    document = load_validated(path, "vocabulary", root)
    return Vocabulary(
        abbreviations={key: str(value) for key, value in document["abbreviations"].items()},
        synonyms={key: tuple(values) for key, values in document["synonyms"].items()},
        stopwords=frozenset(document["stopwords"]),
        smalltalk={key: tuple(str(p) for p in phrases) for key, phrases in document["smalltalk"].items()},
        weak_words=frozenset(document.get("weak_words", ())),
        capital_abbreviations={key: str(value) for key, value in document.get("capital_abbreviations", {}).items()},
    )
