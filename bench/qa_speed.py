#!/usr/bin/env python3
"""How fast the question engine answers, and how fast ``python -m bot ask`` starts.

    python bench/qa_speed.py [--rounds 20] [--starts 5]

Measures in one run, on this machine:
- in-process answer latency (p50/p99) over every example, evaluation and out-of-scope question, first
  time each question is seen ("cold") and repeated ("warm"); target p99 under 2 ms;
- a baseline on the same questions: a bare rapidfuzz ``process.extractOne`` over the same example
  strings (what "just fuzzy-match the examples" would cost);
- ``python -m bot ask --json`` start-up (wall time of the whole process, median of several runs; target
  under 1.5 s) beside a bare ``python -c pass`` start-up, and the ask process's peak resident memory.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

EVAL_SETS = [ROOT.parent / "shared" / "eval" / "qa-dev.yaml",
             *(ROOT / "tests" / "data" / name for name in ("qa-paraphrases.yaml", "qa-heldout-2.yaml",
                                                           "qa-heldout-3.yaml", "qa-blind-voices.yaml",
                                                           "qa-blind-scenarios.yaml", "qa-blind-nearmiss.yaml",
                                                           "qa-blind-own-1.yaml"))]
CALIBRATION = ROOT / "bench" / "data" / "out-of-scope-calibration.yaml"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def timed(function, questions: list[str]) -> list[float]:
    """Milliseconds per call (garbage collection paused, as timeit does)."""
    out = []
    gc.disable()
    try:
        for question in questions:
            started = time.perf_counter_ns()
            function(question)
            out.append((time.perf_counter_ns() - started) / 1e6)
    finally:
        gc.enable()
    return out


def best_of(rounds: list[list[float]]) -> list[float]:
    """Per question, the fastest of several rounds: filters out other processes' scheduling noise."""
    return [min(times) for times in zip(*rounds, strict=True)]


def questions_for(engine) -> list[str]:
    import yaml

    questions = [e for t in engine.topics for e in t.examples]
    for path in EVAL_SETS:
        if path.exists():
            questions += [c["q"] for c in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]]
    questions += yaml.safe_load(CALIBRATION.read_text(encoding="utf-8"))["questions"]
    return questions


def startup(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MB) over ``runs`` runs of ``command``."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return statistics.median(times), peak_kb / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="warm passes over all questions")
    parser.add_argument("--starts", type=int, default=5, help="process start-ups to take the median of")
    args = parser.parse_args()

    from rapidfuzz import fuzz, process

    from bot.content import load_content
    from bot.qa import QuestionEngine

    content = load_content(ROOT / "content")
    started = time.perf_counter()
    engine = QuestionEngine(content)
    build_ms = (time.perf_counter() - started) * 1000
    questions = questions_for(engine)

    cold = timed(engine.answer, questions)
    warm_rounds = [timed(engine.answer, questions) for _ in range(args.rounds)]
    warm = [ms for times in warm_rounds for ms in times]
    examples = [e.lower() for t in engine.topics for e in t.examples]
    baseline_rounds = [timed(lambda q: process.extractOne(q.lower(), examples, scorer=fuzz.WRatio), questions)
                       for _ in range(args.rounds)]
    baseline = [ms for times in baseline_rounds for ms in times]
    warm_best, baseline_best = best_of(warm_rounds), best_of(baseline_rounds)

    python_start, _ = startup([sys.executable, "-c", "pass"], args.starts)
    ask_start, ask_rss = startup([sys.executable, "-m", "bot", "ask", "--json", "what is an ISA?"], args.starts)

    rows = [
        ("engine build (ms)", f"{build_ms:.1f}", "", ""),
        ("answer p50, cold (ms)", f"{percentile(cold, 50):.3f}", "", ""),
        ("answer p99, cold (ms)", f"{percentile(cold, 99):.3f}", "< 2", ""),
        ("answer p50, warm (ms)", f"{percentile(warm, 50):.3f}", "", f"{percentile(baseline, 50):.3f}"),
        ("answer p99, warm (ms)", f"{percentile(warm, 99):.3f}", "< 2", f"{percentile(baseline, 99):.3f}"),
        ("answer p99, best of rounds (ms)", f"{percentile(warm_best, 99):.3f}", "< 2",
         f"{percentile(baseline_best, 99):.3f}"),
        ("`python -m bot ask` start-up (s)", f"{ask_start:.2f}", "< 1.5", f"{python_start:.2f}"),
        ("`python -m bot ask` peak RSS (MB)", f"{ask_rss:.0f}", "", ""),
    ]
    print(f"{len(questions)} questions, {args.rounds} warm rounds, {args.starts} start-ups, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'measure':<36}{'engine':>10}{'target':>9}{'baseline':>11}")
    for name, value, target, base in rows:
        print(f"{name:<36}{value:>10}{target:>9}{base:>11}")
    print("baseline: rapidfuzz extractOne(WRatio) over the same example strings; `python -c pass` for start-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
