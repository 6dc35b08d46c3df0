#!/usr/bin/env python3
"""The privacy guard: false alarms on real questions, catches on identifying details, and its speed.

    .venv/bin/python bench/privacy_bench.py

Scans every question in ../shared/eval/qa-dev.yaml and every example phrasing in content/ (none should
be flagged), the positive cases from tests/test_privacy.py (all should be), and times ``scan`` on a
typical question and on a maximum-length message. Prints a small table.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.content import load_content  # noqa: E402
from bot.privacy import scan  # noqa: E402
from tests.test_privacy import test_identifying_details_are_found_and_redacted as positives  # noqa: E402

EVAL_SET = ROOT.parent / "shared" / "eval" / "qa-dev.yaml"


def questions() -> list[str]:
    texts = [t for topic in load_content(ROOT / "content").topics for t in topic.examples]
    if EVAL_SET.exists():
        texts += [case["question"] for case in yaml.safe_load(EVAL_SET.read_text())["cases"] if "question" in case]
    return texts


def timed(text: str, repeat: int) -> list[float]:
    """CPU time per scan in microseconds (thread time, so a busy machine does not inflate it)."""
    samples = []
    for _ in range(repeat):
        started = time.thread_time_ns()
        scan(text)
        samples.append((time.thread_time_ns() - started) / 1000)
    return samples


def main() -> int:
    ordinary = questions()
    false_alarms = [(text, scan(text).kinds) for text in ordinary if scan(text).findings]
    cases = next(mark.args for mark in positives.pytestmark if mark.name == "parametrize")[1]
    missed = [(text, kind) for text, kind, _ in cases if kind not in scan(text).kinds]

    typical = timed("Mum says don't tell social care about the bruises. Can I still refer?", 2000)
    longest = timed(("Can I share the health visitor's notes with the school nurse without consent? " * 60)[:4000], 50)

    print(f"{'measure':<46} {'value':>12}")
    print(f"{'ordinary questions scanned':<46} {len(ordinary):>12}")
    print(f"{'false alarms (want 0)':<46} {len(false_alarms):>12}")
    print(f"{'identifying details scanned':<46} {len(cases):>12}")
    print(f"{'missed (want 0)':<46} {len(missed):>12}")
    print(f"{'scan, typical question, median (CPU us)':<46} {statistics.median(typical):>12.1f}")
    print(f"{'scan, typical question, p99 (CPU us)':<46} {statistics.quantiles(typical, n=100)[98]:>12.1f}")
    print(f"{'scan, 4000-char message, median (CPU us)':<46} {statistics.median(longest):>12.1f}")
    for text, kinds in false_alarms:
        print(f"false alarm: {kinds} {text!r}")
    for text, kind in missed:
        print(f"missed: {kind} {text!r}")
    return 1 if false_alarms or missed else 0


if __name__ == "__main__":
    sys.exit(main())
