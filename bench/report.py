#!/usr/bin/env python3
"""Every benchmark under bench/, briefly, plus the fault, replica and hostile-input tests: one table.

Each bench runs in its own process with short settings (below; an unknown bench runs with its
defaults) and a time limit; its headline line is picked from its output (a ``SUMMARY`` line, else its
last line). The load bench's rows are listed one per channel and concurrency, each bot row with its
throughput over its baseline's. ``--full`` also prints each bench's whole output. ``--seconds`` sets the
load bench's measured seconds per row. ``--write docs/measurements.md`` also writes the table, with the
targets it is read against, as the measurements page.

    python bench/report.py [--seconds 5] [--full] [--skip slack_bench,teams_bench] [--write docs/measurements.md]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"

# Short settings for each known bench; anything else in bench/ runs with no arguments.
SHORT_ARGS: dict[str, list[str]] = {
    "qa_eval": [],
    "qa_speed": ["--rounds", "3", "--starts", "2"],
    "qa_calibrate": [],
    "walkthrough_bench": ["--repeat", "20"],
    "slack_bench": ["--seconds", "2", "--rounds", "2"],
    "teams_bench": ["--seconds", "2"],
    "reminders_bench": ["--rows", "300"],
    "server_memory": ["--requests", "300"],
}
# The lines that carry each bench's result (default: a SUMMARY line, else the last line).
HEADLINES: dict[str, str] = {
    "qa_speed": r"^(answer p99, warm|`python -m bot ask` start-up)",
    "walkthrough_bench": r"^target:",
    "slack_bench": r"^(slash command|message event)\s+ours",
    "teams_bench": r"^our adapter vs stock",
    "reminders_bench": r"scheduler / baseline",
    "qa_calibrate": r"held-out examples",
    "privacy_bench": r"^(all spans|benign warned|scan p99, 4,000 characters of ordinary) ",
}
NOT_BENCHES = {"report", "__init__", "conftest"}
FAULT_TESTS = ["tests/test_faults.py", "tests/test_replicas.py", "tests/test_hostile.py"]
TIME_LIMIT = 600
# Throughput targets: (channel, bot row, baseline row, at least this many times the baseline).
LOAD_TARGETS = (
    ("web /api/chat", "bot: question turns", "bare aiohttp + 1 insert", 0.6),
    ("teams message activity", "bot", "bare botbuilder echo", 2.0),
)


def machine() -> str:
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
            f"load average {os.getloadavg()[0]:.1f}")


def headline(name: str, output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    pattern = HEADLINES.get(name)
    chosen = [line for line in lines if pattern and re.search(pattern, line)]
    chosen = chosen or [line for line in lines if line.startswith("SUMMARY")] or lines[-1:] or ["(no output)"]
    return " | ".join(chosen)


def run(name: str, argv: list[str], env: dict[str, str]) -> dict:
    started = time.monotonic()
    try:
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIME_LIMIT)
        status = "ok" if done.returncode == 0 else f"exit {done.returncode}"
        output = done.stdout + ("\n" + done.stderr if done.returncode else "")
    except subprocess.TimeoutExpired as exc:
        status, output = "timeout", (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout or ""
    return {"name": name, "status": status, "seconds": time.monotonic() - started, "output": output,
            "headline": headline(name, output)}


def load_rows(result: dict) -> list[dict]:
    """The load bench prints JSON: one table row per channel, server and concurrency."""
    try:
        data = json.loads(result["output"].strip().splitlines()[0])
    except (json.JSONDecodeError, IndexError):
        return [result]
    rows = []
    for row in data["rows"]:
        extra = f", lost {row['lost'] + row['duplicated']} of {row['confirmed']} records" if "lost" in row else ""
        ratio = ratio_to(data["rows"], row, row.get("baseline"))
        versus = f", {ratio:.2f}x {row['baseline']}" if ratio is not None else ""
        rows.append({**result, "name": f"load: {row['channel']}, {row['server']} x{row['clients']}", "row": row,
                     "headline": f"{row['rps']:.0f} req/s, p50 {row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, "
                                 f"{row['errors']} errors{extra}{versus}"})
    return rows or [result]


def ratio_to(rows: list[dict], row: dict, baseline: str | None) -> float | None:
    """``row``'s throughput over the ``baseline`` row's, same channel and concurrency, same run."""
    base = next((r for r in rows if r["channel"] == row["channel"] and r["clients"] == row["clients"]
                 and r["server"] == baseline), None)
    return row["rps"] / base["rps"] if base and base["rps"] else None


def target_lines(results: list[dict]) -> list[str]:
    """Each throughput target, met or not, from the load rows of this run."""
    rows = [r["row"] for r in results if "row" in r]
    lines = []
    for channel, server, baseline, floor in LOAD_TARGETS:
        for row in (r for r in rows if r["channel"] == channel and r["server"] == server):
            ratio = ratio_to(rows, row, baseline)
            if ratio is None:
                continue
            verdict = "met" if ratio >= floor and not row["errors"] else "NOT met"
            lines.append(f"{channel}, {server} x{row['clients']}: {ratio:.2f}x {baseline} "
                         f"(target >= {floor}x, no errors): {verdict}")
    return lines


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)[:220]


def markdown_page(table: str, targets: list[str], seconds: float) -> str:
    """docs/measurements.md: what was run, on what, the table and the targets, all from this run."""
    listed = "\n".join(f"- {line}" for line in targets) or "- (the load bench did not run)"
    return f"""# Measurements

Written by `python bench/report.py --seconds {seconds:g} --write docs/measurements.md`, which runs every bench
under `bench/` (each beside its baseline, measured in the same run) plus the fault, replica and hostile-input
tests. Figures vary with the machine's load (the load average is in the first line); compare a row with its
baseline, not across runs.

```
{table}
```

Throughput targets (the load bench: `python bench/load.py --clients 50`):

{listed}

What the load rows are: `web /api/chat` is whole question turns (privacy guard, database, answer) against a
bare aiohttp handler, and against one that also makes the minimum durable write of a turn (one SQLAlchemy
insert into the same kind of database); the walkthrough row adds clients that walk through decisions and
record them, and every confirmed record must be stored exactly once. Slack rows measure the acknowledgement
(the answer follows in the background); Teams rows are whole turns against a stock botbuilder echo bot.
How well questions are answered (the sealed blind set):
[content-editing.md](content-editing.md#how-well-it-answers).
"""


def kept_sections(page: Path) -> str:
    """The page's own ``## `` sections after the generated part (the history of targeted measurements, each
    with its command), kept when the table is rewritten."""
    if not page.exists():
        return ""
    text = page.read_text(encoding="utf-8")
    start = text.find("\n## ")
    return "" if start < 0 else text[start:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="load bench seconds per row")
    parser.add_argument("--full", action="store_true", help="print each bench's whole output too")
    parser.add_argument("--skip", default="", help="comma-separated bench names to leave out")
    parser.add_argument("--write", type=Path, help="also write the report as a Markdown page (docs/measurements.md)")
    args = parser.parse_args()
    skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOG_LEVEL": "WARNING"}
    env.setdefault("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")

    results: list[dict] = []
    for path in sorted(BENCH.glob("*.py")):
        name = path.stem
        if name in NOT_BENCHES or name in skip:
            continue
        if name == "load":
            argv = [sys.executable, str(path), "--seconds", str(args.seconds), "--json"]
            results += load_rows(run(name, argv, env))
            continue
        print(f"running {name} ...", file=sys.stderr, flush=True)
        results.append(run(name, [sys.executable, str(path), *SHORT_ARGS.get(name, [])], env))
    if "faults" not in skip:
        print("running fault, replica and hostile-input tests ...", file=sys.stderr, flush=True)
        results.append(run("faults, replicas, hostile input (pytest)",
                           [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FAULT_TESTS], env))

    width = max(len(r["name"]) for r in results)
    table = [f"Benchmark report, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {machine()}", "",
             f"{'bench':<{width}}  {'status':<8} {'secs':>6}  headline"]
    table += [f"{r['name']:<{width}}  {r['status']:<8} {r['seconds']:>6.1f}  {one_line(r['headline'])}"
              for r in results]
    targets = target_lines(results)
    print("\n" + "\n".join(table) + "\n\n" + "\n".join(targets))
    if args.write:
        page = markdown_page("\n".join(table), targets, args.seconds) + kept_sections(args.write)
        args.write.write_text(page, encoding="utf-8")
        print(f"\nwritten to {args.write}", file=sys.stderr)
    if args.full:
        seen = set()
        for r in results:
            if r["output"] in seen:
                continue
            seen.add(r["output"])
            print(f"\n===== {r['name']} ({r['status']})\n{r['output'].rstrip()}")
    return 0 if all(r["status"] == "ok" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
