#!/usr/bin/env python3
"""The whole test suite: ``python3 scripts/test.py`` (extra arguments go to pytest).

On a fresh machine with only Python 3.11 this creates .venv and installs requirements.txt and
requirements-dev.txt (pytest, Playwright, ruff ...), installs Debian's headless chromium for the web
chat browser test when it can (as root, with apt-get), points the PostgreSQL tests at
``TEST_DATABASE_URL`` (default: the local server), then runs ``ruff check``, ``mypy`` (over the files
pyproject.toml names) and ``pytest`` and prints a short summary. Tests that cannot run here (no
chromium, no PostgreSQL) skip and say why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.bootstrap import PYTHON, ROOT, ensure_venv

DEFAULT_TEST_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
PYTEST_NO_TESTS = 5  # pytest's exit code when the arguments selected no tests


def ensure_chromium() -> str:
    """The browser test needs Debian's chromium; install it if we can, else that test skips."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return "chromium found"
    if os.environ.get("SKIP_BROWSER_INSTALL"):
        return "chromium missing (SKIP_BROWSER_INSTALL set): the browser test will skip"
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        return "chromium missing and not installable here (needs root and apt-get): the browser test will skip"
    print("Installing chromium for the web chat browser test ...", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    installed = subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"],
                               env=env, check=False, stdout=subprocess.DEVNULL)
    if installed.returncode == 0 and shutil.which("chromium"):
        return "chromium installed"
    return "chromium could not be installed: the browser test will skip"


def main() -> int:
    started = time.monotonic()
    ensure_venv(["requirements.txt", "requirements-dev.txt"])
    browser = ensure_chromium()
    os.environ.setdefault("TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)

    print("== ruff check .", flush=True)
    lint = subprocess.run([str(PYTHON), "-m", "ruff", "check", "."], cwd=ROOT).returncode
    print("== mypy", flush=True)
    types = subprocess.run([str(PYTHON), "-m", "mypy"], cwd=ROOT).returncode
    print("== pytest", flush=True)
    tests = subprocess.run([str(PYTHON), "-m", "pytest", "-q", "-rs", *sys.argv[1:]], cwd=ROOT).returncode
    if tests == PYTEST_NO_TESTS:
        print("pytest: the arguments selected no tests", file=sys.stderr)
        tests = 0

    print("\n== summary")
    print(f"ruff:     {'passed' if lint == 0 else 'FAILED'}")
    print(f"mypy:     {'passed' if types == 0 else 'FAILED'}")
    print(f"pytest:   {'passed' if tests == 0 else f'FAILED (exit code {tests})'}")
    print(f"browser:  {browser}")
    print(f"database: PostgreSQL tests use {os.environ['TEST_DATABASE_URL']} (skipped with the reason if unreachable)")
    print(f"time:     {time.monotonic() - started:.0f} s")
    return tests or lint or types


if __name__ == "__main__":
    sys.exit(main())
