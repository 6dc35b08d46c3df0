#!/usr/bin/env python3
"""Calibrate the abstention threshold without looking at the test sets.

In-scope evidence: leave-one-out over the topics' own example phrasings (each example is asked of an
engine built without it; it must come back as its topic). Out-of-scope evidence: the questions in
bench/data/out-of-scope-calibration.yaml. Prints accuracy for a range of thresholds.

    python bench/qa_calibrate.py
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    import yaml

    from bot.content import load_content
    from bot.qa import QuestionEngine

    content = load_content(ROOT / "content")
    folds = max(len(t.examples) for t in content.topics)
    in_scope: list[tuple[float, bool]] = []  # (confidence, right topic)
    for fold in range(folds):
        held = {t.id: t.examples[fold] for t in content.topics if len(t.examples) > fold + 1}
        topics = [replace(t, examples=tuple(e for i, e in enumerate(t.examples) if not (t.id in held and i == fold)))
                  for t in content.topics]
        engine = QuestionEngine(replace(content, topics=topics))
        for topic_id, question in held.items():
            ranked = engine.rank(question)
            top = ranked[0] if ranked else (0.0, -1)
            in_scope.append((top[0], top[1] >= 0 and engine.topics[top[1]].id == topic_id))
    engine = QuestionEngine(content)
    outside = yaml.safe_load((ROOT / "bench" / "data" / "out-of-scope-calibration.yaml").read_text())["questions"]
    out_scores = [(engine.rank(q)[:1] or [(0.0, -1)])[0][0] for q in outside]
    print(f"{len(in_scope)} held-out examples, {len(out_scores)} out-of-scope questions")
    print(f"{'threshold':>9} {'in-scope right':>15} {'in-scope answered':>18} {'abstained OOS':>14}")
    for step in range(10, 56, 2):
        threshold = step / 100
        right = sum(ok and score >= threshold for score, ok in in_scope) / len(in_scope)
        answered = sum(score >= threshold for score, _ in in_scope) / len(in_scope)
        abstained = sum(score < threshold for score in out_scores) / len(out_scores)
        print(f"{threshold:>9.2f} {right:>15.1%} {answered:>18.1%} {abstained:>14.1%}")
    worst = sorted(zip(out_scores, outside, strict=True), reverse=True)[:8]
    print("highest-scoring out-of-scope questions:")
    for score, question in worst:
        print(f"  {score:.3f}  {question}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
