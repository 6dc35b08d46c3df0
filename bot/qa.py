"""Question answering over the guidance topics (interface; the engine fills this in)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.messages import Source


@dataclass(frozen=True)
class Answer:
    """The fixed contract of ``python -m bot ask --json``."""

    answered: bool
    answer: str
    sources: tuple[Source, ...] = field(default=())
    confidence: float = 0.0
    topic: str | None = None
    smalltalk: bool = False

    def to_json(self) -> dict:
        return {
            "answered": self.answered,
            "answer": self.answer,
            "sources": [{"title": s.title, "ref": s.ref} for s in self.sources],
            "confidence": round(self.confidence, 4),
            "topic": self.topic,
        }


class QuestionEngine:
    """Placeholder until the retrieval engine lands: always abstains."""

    def __init__(self, content) -> None:
        self.content = content

    def answer(self, question: str) -> Answer:
        return Answer(False, "I don't know yet. Please ask your line manager or designated safeguarding lead.")
