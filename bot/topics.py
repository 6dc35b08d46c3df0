"""Guidance topics, the units the question engine retrieves and answers with; the out-of-scope examples
it learns to abstain on; and the vocabulary (abbreviations, synonyms, stopwords, small talk) it uses to
understand how practitioners type."""

from __future__ import annotations

import re
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
    danger_phrases: tuple[str, ...] = ()  # a question with one of these gets this topic's answer first
    # A question with a word of every list, the first's (a child "told" me) soon followed by the second's (dad
    # "hits" her), gets this topic's answer first.
    lead_when: tuple[frozenset[str], ...] = ()
    lead_unless_told_by: frozenset[str] = frozenset()  # an adult telling ("mum told me") is no child's disclosure
    # Like danger_phrases, by words: any one alternative, each a word of every list ("toddler" + "can't wake").
    danger_when: tuple[tuple[frozenset[str], ...], ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """content/vocabulary.yaml: how people type, kept as data so a content owner can tune it."""

    abbreviations: dict[str, str]
    synonyms: dict[str, tuple[str, ...]]
    stopwords: frozenset[str]
    smalltalk: dict[str, tuple[str, ...]]
    capital_abbreviations: dict[str, str] = field(default_factory=dict)
    # A long story with a word of every list (a child, and telling or sharing) is a practitioner's question,
    # however many everyday words it also has, so it is not routed out of scope.
    story_in_scope: tuple[frozenset[str], ...] = ()
    # Phrases that mean a command ("walk me through a decision" is ``decide``): a newcomer types what the
    # button says, or what they want, rather than the command word.
    command_phrases: dict[str, tuple[str, ...]] = field(default_factory=dict)


def word_lists(groups: Any) -> tuple[frozenset[str], ...]:
    """Content word lists as sets of lower-case words."""
    return tuple(frozenset(str(word).lower() for word in group) for group in groups)


def has_every_list(words: set[str], groups: tuple[frozenset[str], ...]) -> bool:
    """Whether ``words`` include a word of every list (never true of no lists)."""
    return bool(groups) and all(not words.isdisjoint(group) for group in groups)


EMPTY_VOCABULARY = Vocabulary({}, {}, frozenset(), {})

# An answer opening "Yes." or "No." reads as permission for whatever was asked, even a question it did not
# answer: each answer must state its rule instead.
_BARE_VERDICT = re.compile(r"^\s*(?:yes|no)\s*[.,!;:]", re.IGNORECASE)


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
            if _BARE_VERDICT.match(item["answer"]):
                problems.append(ContentProblem(display, document["topics"][index].lines.get("answer", line),
                                               f"topic {item['id']!r}: the answer opens with a bare yes or no; "
                                               "state the rule instead"))
            topics.append(Topic(
                id=item["id"],
                title=item["title"],
                answer=" ".join(item["answer"].split()),
                sources=tuple(Source(s["title"], s["ref"]) for s in item["sources"]),
                examples=tuple(item["examples"]),
                related=tuple(item.get("related", ())),
                keywords=tuple(item.get("keywords", ())),
                offer_walkthrough=bool(item.get("offer_walkthrough", False)),
                danger_phrases=tuple(item.get("danger_phrases", ())),
                lead_when=word_lists(item.get("lead_when", ())),
                lead_unless_told_by=frozenset(str(w) for w in item.get("lead_unless_told_by", ())),
                danger_when=tuple(word_lists(alternative) for alternative in item.get("danger_when", ())),
            ))
    first_topic: dict[str, str] = {}
    for topic in topics:
        for example in topic.examples:
            key = " ".join(example.lower().split())
            first_id = first_topic.setdefault(key, topic.id)
            if first_id != topic.id:  # one phrasing, two topics: the router cannot learn both
                topic_file, topic_line = where[topic.id]
                problems.append(ContentProblem(topic_file, topic_line, f"topic {topic.id!r}: example {example!r} "
                                               f"is also an example of topic {first_id!r}"))
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
        capital_abbreviations={key: str(value) for key, value in document.get("capital_abbreviations", {}).items()},
        story_in_scope=word_lists(document.get("story_in_scope", ())),
        command_phrases={key: tuple(str(p) for p in phrases)
                         for key, phrases in document.get("command_phrases", {}).items()},
    )


def load_out_of_scope(root: Path, topics: list[Topic]) -> dict[str, tuple[str, ...]]:
    """Load ``content/out-of-scope.yaml``: kinds of question the assistant does not answer, with examples.

    An example that is also a topic's example would teach the router two opposite things, so it is an error.
    """
    path = root / "out-of-scope.yaml"
    if not path.exists():
        return {}
    document = load_validated(path, "out-of-scope", root)
    display = str(path.relative_to(root))
    in_scope = {" ".join(example.lower().split()): topic.id for topic in topics for example in topic.examples}
    problems = []
    for kind, examples in document["kinds"].items():
        for index, example in enumerate(examples):
            topic_id = in_scope.get(" ".join(example.lower().split()))
            if topic_id is not None:
                problems.append(ContentProblem(display, examples.lines[index],
                                               f"{kind}: {example!r} is also an example of topic {topic_id!r}"))
    if problems:
        raise ContentError(problems)
    return {kind: tuple(examples) for kind, examples in document["kinds"].items()}
