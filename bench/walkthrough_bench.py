"""Walkthrough benchmark: safety figures, then turns and engine time to a decision summary per golden scenario.

Safety first: the proof of the tree's invariants (states explored, paths proven, time, beside the time to
load and soundness-check the tree without proving it, measured in the same run), path lengths over every
path, the emergency path length from ``decide``, and random walks (uniform choice at each step) through the
pure engine and through ``python -m bot chat --json``: median and longest walk, and the share of walks that
said risk or emergency ending in share / share partially (the honest exception, "none of it is needed", is
counted separately). Targets: proof < 10 s, median walk <= 11 answers, none over 20, emergency <= 6.

Plays each tests/transcripts/*.yaml through the pure engine many times (engine time = ``dialog.step``
only) and once through the full assistant on a temporary SQLite database (a whole turn: privacy
guard, state load/save, transcript log). Prints a small table, then the engine's step latency
percentiles beside a baseline measured in the same run (a JSON round trip of the same state, the
least any persisted step must cost) and the target: engine step p99 < 2 ms. Step latency is shown
as wall time and as CPU time of the thread (which a busy machine's preemption does not inflate); the
target is judged on CPU time, and the load average is printed so wall-time outliers can be read.

    .venv/bin/python bench/walkthrough_bench.py [--repeat 200] [--walks 5000] [--chat-walks 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import yaml  # noqa: E402

from bot.content import load_content  # noqa: E402
from dialogs.base import Inbound  # noqa: E402
from dialogs.walkthrough import WalkthroughDialog  # noqa: E402

TARGET_P99_MS = 2.0
TARGET_PROOF_S, TARGET_MEDIAN, TARGET_LONGEST, TARGET_EMERGENCY = 10.0, 11, 20, 6
# Answers that establish a risk of significant harm or an emergency (values in content/trees/walkthrough.yaml).
RISK_ANSWERS = {"emergency", "safeguard", "significant_harm", "treat_as_harm", "under13_sexual", "exploitation"}
NONE_NEEDED = "None of the information is necessary"


def walkthrough_dialog(content) -> WalkthroughDialog:
    return WalkthroughDialog(content.trees["walkthrough"], {t.id: t for t in content.topics}, content.version)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def inputs_of(transcript: dict) -> list[dict]:
    """The answers after ``decide`` (the dialog's start), as the engine sees them."""
    return [s for s in transcript["steps"] if s.get("text") != "decide"]


def play_engine(dialog: WalkthroughDialog, steps: list[dict]
                ) -> tuple[int, float, list[float], list[float], list[float]]:
    """(turns to summary, engine seconds, per-step wall seconds, per-step CPU seconds, JSON round trips)."""
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    started = time.perf_counter()
    state = dialog.start("", Inbound(text="decide", choice=None, now=now, user_id="local:bench")).state
    total = time.perf_counter() - started
    step_times, cpu_times, baseline = [], [], []
    turns = 1
    for index, step in enumerate(steps, 1):
        inbound = Inbound(text=step.get("text", ""), choice=step.get("choice"), now=now + timedelta(seconds=index),
                          user_id="local:bench")
        cpu_began, began = time.thread_time(), time.perf_counter()
        stepped = dialog.step(state, inbound)
        elapsed, cpu = time.perf_counter() - began, time.thread_time() - cpu_began
        state, replies = stepped.state, stepped.replies
        began = time.perf_counter()
        json.loads(json.dumps(state))
        baseline.append(time.perf_counter() - began)
        step_times.append(elapsed)
        cpu_times.append(cpu)
        total += elapsed
        turns += 1
        if any(r.summary for r in replies):
            break
    return turns, total, step_times, cpu_times, baseline


async def full_turns(transcripts: dict[str, dict]) -> dict[str, float]:
    """Median wall time of a whole assistant turn per scenario (SQLite, one run each)."""
    from app import build_assistant
    from tests.conftest import make_settings, turn

    medians = {}
    with tempfile.TemporaryDirectory() as tmp:
        assistant = await build_assistant(make_settings(Path(tmp)))
        try:
            await assistant.handle(turn("hello", user="local:warm", conversation="local:warm"))
            for name, transcript in transcripts.items():
                user = f"local:bench-{name}"
                times = []
                for step in transcript["steps"]:
                    began = time.perf_counter()
                    await assistant.handle(turn(step.get("text", ""), choice=step.get("choice"), user=user,
                                                conversation=user))
                    times.append(time.perf_counter() - began)
                medians[name] = statistics.median(times)
        finally:
            await assistant.engine.dispose()
    return medians


class Walks:
    """Tally of random walks: answers per walk, and how walks that said risk or emergency ended."""

    def __init__(self) -> None:
        self.lengths: list[int] = []
        self.risk = self.risk_shared = self.risk_none_needed = self.emergencies = self.act_now_next = 0

    def add(self, answers: int, risk: bool, summary: dict, emergency: bool, act_now_next: bool) -> None:
        self.lengths.append(answers)
        if risk:
            self.risk += 1
            self.risk_shared += summary["decision"] in {"share", "share_partially"}
            self.risk_none_needed += any(NONE_NEEDED in r for r in summary["reasons"])
        if emergency:
            self.emergencies += 1
            self.act_now_next += act_now_next

    def line(self, label: str) -> str:
        shared = self.risk_shared / self.risk if self.risk else 1.0
        return (f"{label}: {len(self.lengths)} walks, answers median {statistics.median(self.lengths):g}, longest "
                f"{max(self.lengths)}; risk/emergency walks {self.risk}: {shared:.1%} share or share partially, "
                f"{self.risk_none_needed} 'none of it is needed', "
                f"{self.risk - self.risk_shared - self.risk_none_needed} other; act-now in the next reply "
                f"{self.act_now_next}/{self.emergencies} emergencies")


def _pick(replies: list[dict], rng: random.Random, answers: int) -> tuple[dict, str | None]:
    """A random answer to the step shown: a choice at random, or a short typed text."""
    step = replies[-1]  # the step (or summary) is always the last reply
    if step["choices"]:
        value = rng.choice(step["choices"])["value"]
        return {"choice": value}, value
    return {"text": "CR-1234" if answers == 0 else "notes on the concern"}, None


def engine_walks(dialog: WalkthroughDialog, count: int, seed: int = 11) -> Walks:
    """Random walks through the pure engine (the same steps the core runs for every channel)."""
    rng, tally, now = random.Random(seed), Walks(), datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    for walk in range(count):
        begun = dialog.start("", Inbound(text="decide", choice=None, now=now, user_id=f"local:w{walk}"))
        state, replies = begun.state, begun.replies
        risk = emergency = act_now_next = False
        answers, summary = 0, None
        while summary is None:
            shown = [{"choices": [{"value": c.value} for c in r.choices], "text": r.text} for r in replies]
            move, value = _pick(shown, rng, answers)
            stepped = dialog.step(state, Inbound(text=move.get("text", ""), choice=move.get("choice"),
                                                 now=now, user_id=f"local:w{walk}"))
            state, replies = stepped.state, stepped.replies
            answers += 1
            if value == "emergency":
                emergency, act_now_next = True, replies[-1].text.startswith("ACT NOW")
            risk |= value in RISK_ANSWERS
            summary = next((r.summary for r in replies if r.summary), None)
        tally.add(answers, risk, summary, emergency, act_now_next)
    return tally


def chat_walks(count: int, seed: int = 12) -> Walks:
    """Random walks through ``python -m bot chat --json`` (one process, one line per answer)."""
    rng, tally = random.Random(seed), Walks()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/walks.db", "SCHEDULER_ENABLED": "false",
               "PYTHONPATH": str(ROOT)}
        chat = subprocess.Popen([sys.executable, "-m", "bot", "chat", "--json", "--user", "bench-walks"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                cwd=ROOT, env=env)

        def send(move: dict) -> list[dict]:
            chat.stdin.write(json.dumps(move) + "\n")
            chat.stdin.flush()
            return json.loads(chat.stdout.readline())["replies"]

        try:
            for _ in range(count):
                replies = send({"text": "decide"})
                risk = emergency = act_now_next = False
                answers, summary = 0, None
                while summary is None:
                    move, value = _pick(replies, rng, answers)
                    replies = send(move)
                    answers += 1
                    if value == "emergency":
                        emergency, act_now_next = True, replies[-1]["text"].startswith("ACT NOW")
                    risk |= value in RISK_ANSWERS
                    summary = next((r["summary"] for r in replies if r["summary"]), None)
                tally.add(answers, risk, summary, emergency, act_now_next)
                send({"text": "cancel"})
        finally:
            chat.stdin.close()
            chat.wait(timeout=60)
    return tally


def safety(content_root: Path, walks: int, chat_count: int) -> bool:
    """Print the proof and random-walk figures with their targets; True when every target is met."""
    from bot.strings import load_strings
    from dialogs.proof import prove
    from dialogs.tree import load_trees

    strings = load_strings(content_root)
    topics = {t.id for t in load_content(content_root).topics}
    began = time.perf_counter()
    tree = load_trees(content_root, topics, strings)["walkthrough"]  # schema, soundness and the proof
    loaded = time.perf_counter() - began
    cpu, began = time.thread_time(), time.perf_counter()
    proof = prove(tree)
    proof_wall, proof_cpu = time.perf_counter() - began, time.thread_time() - cpu
    baseline = loaded - proof_wall  # loading and soundness-checking the tree without the proof
    fewest, most = proof.outcome_answers["out_emergency"]
    print(f"proof: {len(tree.invariants)} invariants over {proof.paths:,} paths ({proof.states:,} states explored) "
          f"in {proof_wall:.2f} s wall / {proof_cpu:.2f} s CPU; baseline (load and soundness-check the tree "
          f"without the proof) {max(baseline, 0):.2f} s; failures: {len(proof.failures)}")
    print(f"all paths: answers median {proof.median_length():g}, longest {max(proof.lengths)} "
          f"({' > '.join(proof.longest)})")
    print(f"emergency: {fewest} to {most} answers from `decide` to the summary (at most 6 unless it came in as a "
          "verified request; invariants emergency_within_six_answers and emergency_request_within_eight_answers)")
    engine = engine_walks(walkthrough_dialog(load_content(content_root)), walks)
    print(engine.line("random walks, engine"))
    chat = chat_walks(chat_count) if chat_count else None
    if chat:
        print(chat.line("random walks, chat --json"))
    safe_share = all(t.risk_shared + t.risk_none_needed == t.risk and t.act_now_next == t.emergencies
                     for t in (engine, chat) if t)
    median = statistics.median(engine.lengths)
    checks = {f"proof < {TARGET_PROOF_S:g} s": proof_wall < TARGET_PROOF_S and not proof.failures,
              f"median walk <= {TARGET_MEDIAN}": median <= TARGET_MEDIAN,
              f"no path over {TARGET_LONGEST}": max(proof.lengths) <= TARGET_LONGEST,
              f"own-concern emergency <= {TARGET_EMERGENCY}": not any(
                  "emergency_within_six_answers" in f for _, f in proof.failures),
              "risk/emergency walks end in share (or none needed), act-now next": safe_share}
    for name, ok in checks.items():
        print(f"target: walkthrough safety, {name} -> {'OK' if ok else 'FAILED'}")
    return all(checks.values())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200, help="engine runs per scenario (default 200)")
    parser.add_argument("--walks", type=int, default=5000, help="random walks through the engine (default 5000)")
    parser.add_argument("--chat-walks", type=int, default=100,
                        help="random walks through `python -m bot chat --json` (default 100; 0 to skip)")
    args = parser.parse_args()
    safe = safety(ROOT / "content", args.walks, args.chat_walks)
    print()
    content = load_content(ROOT / "content")
    dialog = walkthrough_dialog(content)
    paths = sorted((ROOT / "tests" / "transcripts").glob("*.yaml"))
    transcripts = {p.stem: yaml.safe_load(p.read_text()) for p in paths}
    turn_medians = asyncio.run(full_turns(transcripts))

    all_steps: list[float] = []
    all_cpu: list[float] = []
    all_baseline: list[float] = []
    print(f"{'scenario':28} {'turns':>5} {'engine ms to summary':>21} {'step p99 wall ms':>16} "
          f"{'turn median ms':>14} {'engine share':>12}")
    for name, transcript in transcripts.items():
        steps = inputs_of(transcript)
        turns, totals, per_step = [], [], []
        for _ in range(args.repeat):
            count, total, step_times, cpu_times, baseline = play_engine(dialog, steps)
            turns.append(count)
            totals.append(total)
            per_step += step_times
            all_cpu += cpu_times
            all_baseline += baseline
        all_steps += per_step
        step_median = statistics.median(per_step)
        print(f"{name:28} {statistics.median(turns):5.0f} {statistics.median(totals) * 1000:21.3f} "
              f"{percentile(per_step, 0.99) * 1000:16.3f} {turn_medians[name] * 1000:14.2f} "
              f"{step_median / turn_medians[name]:12.1%}")
    p50, p99 = percentile(all_steps, 0.5) * 1000, percentile(all_steps, 0.99) * 1000
    c50, c99 = percentile(all_cpu, 0.5) * 1000, percentile(all_cpu, 0.99) * 1000
    b50, b99 = percentile(all_baseline, 0.5) * 1000, percentile(all_baseline, 0.99) * 1000
    print()
    print(f"{'measure':40} {'p50 ms':>8} {'p99 ms':>8}")
    print(f"{'engine step, wall time':40} {p50:8.3f} {p99:8.3f}")
    print(f"{'engine step, CPU time':40} {c50:8.3f} {c99:8.3f}")
    print(f"{'baseline: JSON round trip of the state':40} {b50:8.3f} {b99:8.3f}")
    verdict = "OK" if c99 < TARGET_P99_MS else "OVER TARGET"
    print(f"target: engine step p99 (CPU) < {TARGET_P99_MS} ms -> {verdict} ({len(all_steps)} steps; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    return 0 if c99 < TARGET_P99_MS and safe else 1


if __name__ == "__main__":
    sys.exit(main())
