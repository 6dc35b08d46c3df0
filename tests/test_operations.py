"""Operations: /metrics, health and readiness, graceful shutdown, and the container files."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.background import add_background_task, sleep_or_stop
from tests.conftest import make_settings
from tests.servers import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


async def _client(settings) -> TestClient:
    from app import build_app

    client = TestClient(TestServer(await build_app(settings)))
    await client.start_server()
    return client


async def test_metrics_count_turns_answers_and_latency(tmp_path):
    from bot.http import ASSISTANT
    from bot.metrics import metrics
    from tests.conftest import turn

    client = await _client(make_settings(tmp_path))
    try:
        before = _turns_counted(metrics)
        await client.app[ASSISTANT].handle(turn("help"))
        response = await client.get("/metrics")
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        body = await response.text()
        assert _turns_counted(metrics) == before + 1
        for name in ("infoshare_turns_total", "infoshare_answers_total", "infoshare_abstentions_total",
                     "infoshare_walkthroughs_started_total", "infoshare_walkthroughs_completed_total",
                     "infoshare_records_stored_total", "infoshare_reminders_sent_total",
                     "infoshare_reminders_failed_total", "infoshare_turn_seconds_bucket"):
            assert name in body, name
        assert 'outcome="command:help"' in body
    finally:
        await client.close()


async def test_records_and_walkthroughs_are_counted_from_the_writes(tmp_path):
    from bot.http import ASSISTANT
    from bot.metrics import metrics
    from bot.storage.db import utcnow
    from bot.storage.records import store

    client = await _client(make_settings(tmp_path))
    try:
        engine = client.app[ASSISTANT].engine
        stored, completed = metrics.value("records_stored"), metrics.value("walkthroughs_completed")
        record, _ = await store(engine, "local:m", {"decision": "share", "reference": "R1"}, "metrics-key", utcnow())
        await store(engine, "local:m", {"decision": "share", "reference": "R1"}, "metrics-key", utcnow())  # retry
        await store(engine, "local:m", {"decision": "share", "reference": "R1"}, "metrics-amend", utcnow(),
                    amends_id=record.id)
        assert metrics.value("records_stored") == stored + 2
        assert metrics.value("walkthroughs_completed") == completed + 1

        from sqlalchemy import insert, update

        from bot.storage.tables import reminder_occurrences as occ

        sent, failed = metrics.value("reminders_sent"), metrics.value("reminders_failed")
        async with engine.begin() as conn:
            await conn.execute(insert(occ).values(key="k1", kind="review_due", channel="local", due_at=utcnow(),
                                                  status="claimed", attempts=0))
            await conn.execute(update(occ).where(occ.c.key == "k1").values(status="failed", last_error="x"))
            await conn.execute(update(occ).where(occ.c.key == "k1").values(status="sent", sent_at=utcnow()))
            await conn.execute(update(occ).where(occ.c.key == "nothing").values(status="sent"))  # no row: no count
        assert (metrics.value("reminders_sent"), metrics.value("reminders_failed")) == (sent + 1, failed + 1)
    finally:
        await client.close()


def _turns_counted(metrics) -> float:
    return sum(sample.value for family in metrics.registry.collect() if family.name == "infoshare_turns"
               for sample in family.samples if sample.name == "infoshare_turns_total")


def test_inc_is_generic_and_never_raises():
    from bot.metrics import metrics

    metrics.inc("records_stored")
    metrics.inc("ops_test_events", kind="x")
    metrics.inc("ops_test_events", kind="x")
    assert metrics.value("ops_test_events", kind="x") == 2
    metrics.inc("ops_test_events", wrong_label="y")  # logged, not raised
    metrics.inc("records_stored", unexpected="z")


async def test_health_and_readiness(tmp_path):
    client = await _client(make_settings(tmp_path))
    try:
        assert (await client.get("/healthz")).status == 200
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["database"] is True
    finally:
        await client.close()


async def test_background_task_is_asked_to_stop_and_finishes_its_work():
    app = web.Application()
    finished: list[str] = []

    async def worker(stop: asyncio.Event) -> None:
        while not await sleep_or_stop(stop, 0.01):
            pass
        await asyncio.sleep(0.05)  # the unit of work in hand (e.g. releasing a lease) completes
        finished.append("released")

    add_background_task(app, "worker", worker)
    client = TestClient(TestServer(app))
    await client.start_server()
    await asyncio.sleep(0.05)
    await client.close()
    assert finished == ["released"]


async def test_shutdown_lets_an_in_flight_turn_finish_before_the_database_closes(tmp_path):
    from app import build_app
    from bot.http import ASSISTANT
    from tests.conftest import turn

    app = await build_app(make_settings(tmp_path))
    started = asyncio.Event()

    async def slow_turn(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)  # the turn is still running when shutdown begins
        replies = await request.app[ASSISTANT].handle(turn("help", user="local:in-flight"))
        return web.json_response({"replies": [r.to_dict() for r in replies]})

    app.router.add_post("/test/slow", slow_turn)
    server = TestServer(app)
    await server.start_server()

    async def call() -> tuple[int, dict]:
        async with aiohttp.ClientSession() as session, session.post(server.make_url("/test/slow")) as response:
            return response.status, await response.json()

    request = asyncio.create_task(call())
    await started.wait()
    await server.close()  # stop listening, drain in-flight requests, stop background tasks, dispose the engine
    status, body = await request
    assert status == 200
    assert body["replies"], "the in-flight turn was answered in full"


async def test_sigterm_stops_cleanly_with_background_tasks(tmp_path):
    server = ServerProcess(f"sqlite:///{tmp_path / 'term.db'}", tmp_path / "server.log", SCHEDULER_ENABLED="true")
    await server.start()
    try:
        assert server.terminate(timeout=30) == 0
    finally:
        server.kill()
    lines = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    messages = [entry["message"] for entry in lines]
    assert "background task stopped" in messages, messages
    assert not [entry for entry in lines if entry["level"] == "ERROR"], lines


def _dockerfile_instruction(name: str) -> str:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.findall(rf"^{name}\s+(.*)$", text, flags=re.MULTILINE)
    assert found, f"Dockerfile has no {name}"
    return found[-1]


async def test_dockerfile_healthcheck_command_works_against_a_live_server(tmp_path):
    healthcheck = _dockerfile_instruction("HEALTHCHECK")
    argv = json.loads(healthcheck[healthcheck.index("CMD") + 3:].strip())
    assert argv[0] == "python"
    server = ServerProcess(f"sqlite:///{tmp_path / 'hc.db'}", tmp_path / "server.log")
    await server.start()
    try:
        ok = await asyncio.to_thread(subprocess.run, [sys.executable, *argv[1:]],
                                     env={**os.environ, "PORT": str(server.port)}, capture_output=True, timeout=10)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.terminate()
    down = await asyncio.to_thread(subprocess.run, [sys.executable, *argv[1:]],
                                   env={**os.environ, "PORT": str(server.port)}, capture_output=True, timeout=10)
    assert down.returncode != 0


def test_container_files_are_production_shaped():
    assert _dockerfile_instruction("FROM").startswith("python:3.11-slim")
    user = _dockerfile_instruction("USER")
    assert user not in {"root", "0"}
    assert json.loads(_dockerfile_instruction("CMD")) == ["python", "app.py"]
    assert "HOST=0.0.0.0" in (ROOT / "Dockerfile").read_text()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", "data", ".git"} <= set(ignored)
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"] == "postgres:16"
    assert "healthcheck" in db
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert bot["environment"]["DATABASE_URL"].startswith("postgresql://")
    assert not any("password" in str(v).lower() and "${" not in str(v)
                   for v in {**db["environment"], **bot["environment"]}.values()), "secrets must come from env"
