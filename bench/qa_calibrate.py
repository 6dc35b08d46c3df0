#!/usr/bin/env python3
"""Compare question routers, each calibrated and thresholded on its own grouped held-out predictions.

    python bench/qa_calibrate.py [--quick] [PATH ...]
                        (default: the development set and every tests/data/qa-*.yaml set)

For each candidate (model x input normalisation, bot/qa.py ``NORMALISATION``) it trains a router
from content/ exactly as the engine does: grouped k-fold out-of-fold scores (a paraphrase family never
straddles train and validation) -> one softmax temperature -> one threshold; nothing is chosen by hand.
It prints what the grouped cross-validation saw (top-1 accuracy of in-scope examples; at the chosen
threshold, the shares of all held-out examples answered with their own topic, answered with an
unrelated topic (confidently wrong), and offered "one of these") and, per evaluation set, in-scope
correct, out-of-scope abstained, options offered and confidently wrong. Sets marked ``*`` are blind to
the router (under 5% of their questions are training examples); the others were folded into content/
as examples and only show that nothing regressed. The sealed set is never used here. ``--quick`` skips
logistic regression, which trains about twenty times slower.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BLIND_IF_UNDER = 0.05  # a set is blind to the router when under 5% of its questions are training examples
DEFAULT_SETS = [ROOT.parent / "shared" / "eval" / "qa-dev.yaml", *sorted((ROOT / "tests" / "data").glob("qa-*.yaml"))]


def held_out_summary(router) -> str:
    """Grouped-CV figures at the router's own threshold, as shares of all held-out examples."""
    from bot.router import decide

    probabilities, truth = router.held_out.probabilities, router.held_out.truth
    outside = router.outside_index
    inside = truth != outside
    topics = probabilities.copy()
    topics[:, outside] = -1.0
    accuracy = float((topics.argmax(axis=1) == truth)[inside].mean())
    right = wrong = options = 0
    for row, label in zip(probabilities, truth, strict=True):
        kind, order, _ = decide(row, outside, router.threshold, router.related)
        best = order[0]
        if kind == "answer":
            right += best == label
            wrong += best != label and not router.held_out.acceptable[label, best]
        options += kind == "options"
    n = len(truth)
    return f"{accuracy:>6.1%} {right / n:>6.1%} {wrong / n:>6.1%} {options / n:>6.1%}"


def main(argv: list[str]) -> int:
    import yaml

    from bench.qa_eval import grade_file
    from bot import router as routing
    from bot.content import load_content
    from bot.qa import NORMALISATION, QuestionEngine, _plain, training_set

    content = load_content(ROOT / "content", with_trees=False)
    shipped = QuestionEngine(content)
    paths = [Path(a) for a in argv if not a.startswith("--")] or DEFAULT_SETS
    examples = {_plain(text) for text in training_set(content).texts}
    blind = {}
    for path in paths:
        cases = yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]
        blind[path] = sum(_plain(case["q"]) in examples for case in cases) < BLIND_IF_UNDER * len(cases)
    models = ("svm", "ridge") if "--quick" in argv else ("logistic", "svm", "ridge")
    print(f"{len(training_set(content).texts)} training examples; grouped {routing.FOLDS}-fold held-out predictions; "
          f"shipped: {routing.MODEL}, {NORMALISATION}, threshold {shipped.router.threshold:.2f}")
    print("held-out columns: top-1 accuracy (in scope) | answered its own topic | answered an unrelated topic "
          "| options (shares of all)")
    print(f"{'router':<26}{'T':>5}{'temp':>6}{'fit s':>6}  {'acc':>6} {'right':>6} {'wrong':>6} {'opts':>6}")
    rows: list[tuple[str, QuestionEngine]] = []
    with tempfile.TemporaryDirectory() as scratch:  # a fresh cache: every candidate is trained here and now
        for model in models:
            for normalisation in ("vocabulary", "abbreviations", "plain"):
                name = f"{model}, {normalisation}"
                started = time.perf_counter()
                engine = QuestionEngine(content, cache_dir=Path(scratch), model=model, normalisation=normalisation)
                seconds = time.perf_counter() - started
                print(f"{name:<26}{engine.router.threshold:>5.2f}{engine.router.temperature:>6.2f}{seconds:>6.1f}  "
                      f"{held_out_summary(engine.router)}", flush=True)
                rows.append((name, engine))
    print("\nper set: in-scope correct / out-of-scope abstained / in-scope offered options / confidently wrong")
    for path in paths:
        print(f"{'*' if blind[path] else ' '} {path.name}")
        for name, engine in rows:
            grades = grade_file(engine, path)
            inside = [g for g in grades if g.answerable]
            outside = [g for g in grades if not g.answerable]
            print(f"    {name:<26} in {sum(g.passed for g in inside):>3}/{len(inside):<3} "
                  f"out {sum(g.passed for g in outside):>3}/{len(outside):<3} opt {sum(g.options for g in inside):>3} "
                  f"wrong {sum(g.confidently_wrong for g in grades):>3}/{len(grades)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
