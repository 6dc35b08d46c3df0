#!/usr/bin/env python3
"""The privacy guard measured on a blind corpus: recall per kind, clean messages, false alarms, speed, memory.

    .venv/bin/python bench/privacy_bench.py                                  # dev set, misses listed
    .venv/bin/python bench/privacy_bench.py bench/data/privacy-sealed.yaml   # sealed set: totals only
    .venv/bin/python bench/privacy_bench.py CORPUS --json

A corpus (bench/data/privacy-dev.yaml, written blind by another session) holds ``identifying`` messages
with their ``spans`` ({kind, value}), ``benign`` practitioners' questions and ``case_references``.
A span counts as redacted when every letter and digit of every occurrence of its value is inside a
finding (the high-recall tier: what is stored and logged). "Warned" counts the high-precision tier:
the findings that warn the user and refuse a typed walkthrough answer. A file whose first line says
"sealed" is never tuned on, so its misses are not printed.

Targets (issue 13): >= 95% of all spans, of names and of addresses redacted; <= 3% of benign questions
flagged; every case reference kept; scan p99 <= 2 ms for a typical message and <= 20 ms for 4,000
characters; at most 50 MB of memory added by the guard. The baseline beside each figure is a plain
``str.lower`` of the same text, timed in the same run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEV = ROOT / "bench" / "data" / "privacy-dev.yaml"
EVAL_SET = ROOT.parent / "shared" / "eval" / "qa-dev.yaml"


def ordinary_questions() -> list[str]:
    """Every example phrasing in content/ and the QA evaluation set: none should warn."""
    from bot.content import load_content

    texts = [t for topic in load_content(ROOT / "content").topics for t in topic.examples]
    if EVAL_SET.exists():
        texts += [case["question"] for case in yaml.safe_load(EVAL_SET.read_text())["cases"] if "question" in case]
    return texts


def _covered(findings: Any, start: int, end: int, text: str) -> bool:
    spans = [(f.start, f.end) for f in findings]
    return all(any(a <= i < b for a, b in spans) for i in range(start, end) if text[i].isalnum())


def _occurrences(text: str, value: str) -> list[tuple[int, int]]:
    found, position = [], text.find(value)
    while position >= 0:
        found.append((position, position + len(value)))
        position = text.find(value, position + 1)
    return found


def _certain(findings: Any) -> list[Any]:
    return [f for f in findings if getattr(f, "certain", True)]  # the original guard had one tier


def evaluate(corpus: dict[str, Any], scan: Any) -> dict[str, Any]:
    spans_by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # total, redacted, warned
    clean = 0
    missed: list[tuple[str, str, str]] = []
    for message in corpus["identifying"]:
        text = message["text"]
        result = scan(text)
        certain = _certain(result.findings)
        all_redacted = True
        for span in message["spans"]:
            counts = spans_by_kind[span["kind"]]
            counts[0] += 1
            places = _occurrences(text, span["value"])
            redacted = bool(places) and all(_covered(result.findings, a, b, text) for a, b in places)
            counts[1] += redacted
            counts[2] += bool(places) and all(_covered(certain, a, b, text) for a, b in places)
            if not redacted:
                all_redacted = False
                missed.append((span["kind"], span["value"], text))
        clean += all_redacted
    benign = corpus["benign"]
    redacted_benign = [(t, scan(t)) for t in benign]
    flagged = [(t, r) for t, r in redacted_benign if _certain(r.findings)]
    touched = [(t, r) for t, r in redacted_benign if r.findings]
    kept = lost = 0
    lost_refs: list[tuple[str, str]] = []
    for case in corpus["case_references"]:
        result = scan(case["text"])
        for ref in case["refs"]:
            if ref in result.redacted:
                kept += 1
            else:
                lost += 1
                lost_refs.append((ref, case["text"]))
    return {
        "spans": {kind: {"total": c[0], "redacted": c[1], "warned": c[2]} for kind, c in sorted(spans_by_kind.items())},
        "messages": len(corpus["identifying"]), "clean_messages": clean,
        "benign": len(benign), "benign_warned": len(flagged), "benign_redacted": len(touched),
        "case_references": kept + lost, "case_references_kept": kept,
        "_missed": missed, "_flagged": [(t, r.redacted) for t, r in flagged],
        "_touched": [(t, r.redacted) for t, r in touched if not _certain(r.findings)], "_lost": lost_refs,
    }


def _timed(function: Any, text: str, repeat: int) -> list[float]:
    """CPU time per call in milliseconds (thread time, so a busy machine does not inflate it)."""
    samples = []
    for _ in range(repeat):
        started = time.thread_time_ns()
        function(text)
        samples.append((time.thread_time_ns() - started) / 1e6)
    return samples


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def speed(corpus: dict[str, Any], scan: Any) -> dict[str, float]:
    messages = [m["text"] for m in corpus["identifying"]] + list(corpus["benign"])
    typical, baseline = [], []
    for text in messages:
        typical += _timed(scan, text, 20)
        baseline += _timed(str.lower, text, 20)
    dense = _timed(scan, " ".join(messages)[:4000], 100)  # the whole corpus run together: details everywhere
    ordinary = _timed(scan, " ".join(corpus["benign"])[:4000], 100)  # a long message of ordinary questions
    return {"typical_p99_ms": _p99(typical), "typical_median_ms": statistics.median(typical),
            "baseline_lower_p99_ms": _p99(baseline), "long_4000_p99_ms": _p99(dense),
            "long_4000_median_ms": statistics.median(dense), "long_4000_ordinary_p99_ms": _p99(ordinary),
            "long_4000_ordinary_median_ms": statistics.median(ordinary)}


def _percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.1f}%)" if whole else "0/0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEV)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--no-speed", action="store_true", help="skip the timing runs")
    args = parser.parse_args()
    corpus = yaml.safe_load(args.corpus.read_text(encoding="utf-8"))
    sealed = "sealed" in args.corpus.read_text(encoding="utf-8").splitlines()[0].lower()

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    from bot.privacy import scan  # imported here: the import (which loads the names list) is measured

    scan("warm up: load the names list")
    traced = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss_added = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024

    figures = evaluate(corpus, scan)
    ordinary = ordinary_questions()
    figures["ordinary_questions"] = len(ordinary)
    figures["ordinary_warned"] = sum(1 for text in ordinary if _certain(scan(text).findings))
    figures["memory_traced_peak_mb"] = traced / 1e6
    figures["memory_rss_added_mb"] = rss_added
    if not args.no_speed:
        figures.update(speed(corpus, scan))
    if args.json:
        print(json.dumps({k: v for k, v in figures.items() if not k.startswith("_")}, indent=2))
        return 0

    total = sum(c["total"] for c in figures["spans"].values())
    redacted = sum(c["redacted"] for c in figures["spans"].values())
    warned = sum(c["warned"] for c in figures["spans"].values())
    print(f"corpus: {args.corpus} ({'sealed' if sealed else 'dev'})")
    print(f"{'kind':<14} {'redacted (stored/logged)':>26} {'warned (precision tier)':>26}")
    for kind, counts in figures["spans"].items():
        print(f"{kind:<14} {_percent(counts['redacted'], counts['total']):>26} "
              f"{_percent(counts['warned'], counts['total']):>26}")
    print(f"{'all spans':<14} {_percent(redacted, total):>26} {_percent(warned, total):>26}")
    print(f"whole messages clean: {_percent(figures['clean_messages'], figures['messages'])}")
    print(f"benign warned (false alarms): {_percent(figures['benign_warned'], figures['benign'])}")
    print(f"benign with anything redacted: {_percent(figures['benign_redacted'], figures['benign'])}")
    print(f"case references kept: {_percent(figures['case_references_kept'], figures['case_references'])}")
    print(f"content examples and QA set warned: {_percent(figures['ordinary_warned'], figures['ordinary_questions'])}")
    print(f"memory added: {figures['memory_traced_peak_mb']:.1f} MB traced, "
          f"{figures['memory_rss_added_mb']:.1f} MB RSS")
    if not args.no_speed:
        print(f"scan p99, corpus messages: {figures['typical_p99_ms']:.3f} ms "
              f"(median {figures['typical_median_ms']:.3f}; "
              f"baseline str.lower p99 {figures['baseline_lower_p99_ms']:.4f} ms)")
        print(f"scan p99, 4,000 characters of identifying messages: {figures['long_4000_p99_ms']:.3f} ms "
              f"(median {figures['long_4000_median_ms']:.3f})")
        print(f"scan p99, 4,000 characters of ordinary questions: {figures['long_4000_ordinary_p99_ms']:.3f} ms "
              f"(median {figures['long_4000_ordinary_median_ms']:.3f})")
    if not sealed:
        for kind, value, text in figures["_missed"]:
            print(f"missed {kind}: {value!r} in {text!r}")
        for _text, shown in figures["_flagged"]:
            print(f"false alarm: {shown!r}")
        for _text, shown in figures["_touched"]:
            print(f"redacted, not warned: {shown!r}")
        for ref, text in figures["_lost"]:
            print(f"case reference lost: {ref!r} in {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
