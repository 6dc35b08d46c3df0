"""Guidance topics: the units the question engine retrieves and answers with."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.messages import Source
from bot.yamlload import ContentError, ContentProblem, load_validated


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


def load_topics(root: Path) -> list[Topic]:
    """Load every ``content/topics/*.yaml``; ids unique, related ids must exist."""
    problems: list[ContentProblem] = []
    topics: list[Topic] = []
    where: dict[str, tuple[str, int]] = {}
    for path in sorted((root / "topics").glob("*.yaml")):
        try:
            document = load_validated(path, "topics", root)
        except ContentError as exc:
            problems.extend(exc.problems)
            continue
        display = str(path.relative_to(root))
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
                answer=item["answer"].strip(),
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
