#!/usr/bin/env python3
"""Grade the question engine on an evaluation set (default ../shared/eval/qa-dev.yaml).

    python bench/qa_eval.py [--totals] [PATH ...]      e.g. tests/data/qa-paraphrases.yaml

Grading rule (as written in qa-dev.yaml): an answerable case must be answered, and for every group in
``must`` at least one alternative must appear in the answer (case-insensitive substring), and nothing
in ``must_not``. An unanswerable case must be abstained on: ``answered`` false, saying it does not know
and pointing to a human (manager, safeguarding lead, information governance). Exit code 1 on any failure.

Per set it reports in-scope correct, out-of-scope abstained, how many in-scope questions got the "one of
these" options instead of an answer, and the confidently-wrong rate: questions answered (not abstained,
not offered options) whose answer fails the rule, as a share of all questions. ``--totals`` prints only
the figures, never the questions (for a sealed set).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SET = ROOT.parent / "shared" / "eval" / "qa-dev.yaml"
ABSTAIN_SAYS = ("don't know", "do not know", "not sure")
ABSTAIN_POINTS_TO = ("manager", "safeguarding lead", "information governance")


@dataclass(frozen=True)
class Grade:
    question: str
    answerable: bool
    passed: bool
    why: str
    topic: str | None
    confidence: float
    answered: bool = False
    options: bool = False  # offered "one of these" instead of answering

    @property
    def confidently_wrong(self) -> bool:
        return self.answered and not self.passed


def grade_case(case: dict, answer) -> Grade:
    """Apply the evaluation set's rule to one case (and note whether it answered or offered options)."""
    grade = _grade(case, answer)
    return replace(grade, answered=answer.answered, options=bool(getattr(answer, "options", ())))


def _grade(case: dict, answer) -> Grade:
    text = answer.answer.lower()
    question = case["q"]
    if not case.get("answerable", True):
        if answer.answered:
            return Grade(question, False, False, f"answered (topic {answer.topic}) instead of abstaining",
                         answer.topic, answer.confidence)
        if not any(p in text for p in ABSTAIN_SAYS) or not any(p in text for p in ABSTAIN_POINTS_TO):
            return Grade(question, False, False, "abstained without saying so and pointing to a human",
                         answer.topic, answer.confidence)
        return Grade(question, False, True, "", answer.topic, answer.confidence)
    if not answer.answered:
        return Grade(question, True, False, "abstained", answer.topic, answer.confidence)
    missing = [group for group in case.get("must", []) if not any(alt.lower() in text for alt in group)]
    forbidden = [bad for bad in case.get("must_not", []) if bad.lower() in text]
    if missing or forbidden:
        why = "; ".join([f"missing one of {g}" for g in missing] + [f"contains {b!r}" for b in forbidden])
        return Grade(question, True, False, f"topic {answer.topic}: {why}", answer.topic, answer.confidence)
    return Grade(question, True, True, "", answer.topic, answer.confidence)


def grade_file(engine, path: Path) -> list[Grade]:
    import yaml

    cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
    return [grade_case(case, engine.answer(case["q"])) for case in cases]


def summarise(path: Path, grades: list[Grade], totals_only: bool = False) -> str:
    in_scope = [g for g in grades if g.answerable]
    out_scope = [g for g in grades if not g.answerable]

    def pct(items: list[Grade]) -> str:
        passed = sum(g.passed for g in items)
        return f"{passed}/{len(items)} ({100 * passed / max(len(items), 1):.1f}%)"

    wrong = sum(g.confidently_wrong for g in grades)
    options = sum(g.options for g in in_scope)
    lines = [f"== {path}", f"{'in-scope correct':<22}{pct(in_scope)}",
             f"{'out-of-scope abstained':<22}{pct(out_scope)}",
             f"{'in-scope offered options':<22} {options}/{len(in_scope)}",
             f"{'confidently wrong':<22}{wrong}/{len(grades)} ({100 * wrong / max(len(grades), 1):.1f}%)"]
    failures = [g for g in grades if not g.passed]
    if failures and not totals_only:
        lines.append("failures:")
        lines += [f"  - {'WRONG ' if g.confidently_wrong else ''}{g.question!r} (confidence {g.confidence:.3f}): "
                  f"{g.why}" for g in failures]
    lines.append(f"SUMMARY {path.name}: in-scope {pct(in_scope)}, out-of-scope abstained {pct(out_scope)}, "
                 f"options {options}, confidently wrong {wrong}/{len(grades)} "
                 f"({100 * wrong / max(len(grades), 1):.1f}%)")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    from bot.config import PROJECT_ROOT
    from bot.content import load_content
    from bot.qa import QuestionEngine

    engine = QuestionEngine(load_content(PROJECT_ROOT / "content"))
    totals_only = "--totals" in argv
    paths = [Path(a) for a in argv if a != "--totals"] or [DEFAULT_SET]
    failed = 0
    for path in paths:
        grades = grade_file(engine, path)
        print(summarise(path, grades, totals_only))
        failed += sum(not g.passed for g in grades)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
