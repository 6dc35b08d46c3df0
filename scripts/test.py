#!/usr/bin/env python3
"""The whole test suite: ``python3 scripts/test.py`` (extra arguments go to pytest).

Creates .venv with the test requirements when missing, installs headless Chromium for the web chat
test when it can (Debian package, as root), then runs ``ruff check`` and ``pytest``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from scripts.bootstrap import PYTHON, ROOT, ensure_venv


def ensure_chromium() -> None:
    """The browser test needs Debian's chromium; install it if we can, else that test skips."""
    if shutil.which("chromium") or os.environ.get("SKIP_BROWSER_INSTALL"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("chromium not found and cannot be installed here: the browser test will skip", file=sys.stderr)
        return
    print("Installing chromium for the web chat browser test ...", file=sys.stderr, flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, check=False,
                   stdout=subprocess.DEVNULL)


def main() -> int:
    ensure_venv(["requirements.txt", "requirements-dev.txt"])
    ensure_chromium()
    lint = subprocess.run([str(PYTHON), "-m", "ruff", "check", "."], cwd=ROOT)
    tests = subprocess.run([str(PYTHON), "-m", "pytest", "-q", *sys.argv[1:]], cwd=ROOT)
    if lint.returncode:
        print("ruff check failed", file=sys.stderr)
    return tests.returncode or lint.returncode


if __name__ == "__main__":
    sys.exit(main())
