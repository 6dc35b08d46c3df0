#!/usr/bin/env python3
"""Compare question routers, each calibrated and thresholded on its own held-out predictions.

    python bench/qa_calibrate.py [--logistic] [PATH ...]
                                      (default: the development set and tests/data/qa-blind-*.yaml)

For each candidate (model x input normalisation) it trains a router from content/ exactly as the engine
does (k-fold out-of-fold scores -> temperature -> threshold; nothing chosen by hand), prints the
calibration it chose and, per evaluation set, in-scope correct, out-of-scope abstained, options offered
and confidently wrong, beside the engine as shipped. The shipped choice (bot/router.py ``MODEL``) is the
candidate that did best on a blind batch measured once (tests/data/qa-blind-own-1.yaml records it); the
sealed set is never used. Logistic regression trains about twenty times slower, so it runs only with
``--logistic``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_SETS = [ROOT.parent / "shared" / "eval" / "qa-dev.yaml",
                *sorted((ROOT / "tests" / "data").glob("qa-blind-*.yaml"))]


def main(argv: list[str]) -> int:
    from bench.qa_eval import grade_file
    from bot import router as routing
    from bot.content import load_content
    from bot.qa import QuestionEngine, _plain, training_set

    content = load_content(ROOT / "content")
    shipped = QuestionEngine(content)
    paths = [Path(a) for a in argv if a != "--logistic"] or DEFAULT_SETS
    print(f"{len(training_set(content).texts)} held-out examples (each scored by a {routing.FOLDS}-fold model that "
          f"never saw it): shipped router {routing.MODEL}, threshold {shipped.router.threshold:.2f}, "
          f"temperature {shipped.router.temperature:.2f}")
    candidates = [("shipped", None, None)]
    for model in ("logistic", "svm") if "--logistic" in argv else ("svm",):
        candidates.append((f"{model}, vocabulary", model, shipped.prepare))
        candidates.append((f"{model}, plain words", model, lambda text: _plain(text).split()))
    print(f"{'router':<24}{'T':>5}{'temp':>6}{'train s':>8}  " + "  ".join(f"{p.stem[:18]:>34}" for p in paths))
    for name, model, prepare in candidates:
        started = time.perf_counter()
        if model is None:
            engine = shipped
        else:
            router = routing.train(training_set(content), prepare, model)
            engine = QuestionEngine(content, router=router)
        seconds = time.perf_counter() - started
        cells = []
        for path in paths:
            grades = grade_file(engine, path)
            inside = [g for g in grades if g.answerable]
            outside = [g for g in grades if not g.answerable]
            cells.append(f"in {sum(g.passed for g in inside):>2}/{len(inside):<2} "
                         f"out {sum(g.passed for g in outside):>2}/{len(outside):<2} "
                         f"opt {sum(g.options for g in inside):>2} wrong "
                         f"{sum(g.confidently_wrong for g in grades):>2}")
        print(f"{name:<24}{engine.router.threshold:>5.2f}{engine.router.temperature:>6.2f}{seconds:>8.1f}  "
              + "  ".join(f"{c:>34}" for c in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
