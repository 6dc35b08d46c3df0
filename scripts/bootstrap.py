"""Create ``.venv`` and install requirements when missing, then re-run inside it (stdlib only).

Used by ``app.py`` and ``scripts/test.py`` so that a fresh machine with only Python 3.11 needs no
manual set-up. Re-installs when a requirements file changes (tracked by a hash stamp), first
upgrading the venv's own pip and setuptools: the copies ``venv`` bundles can be years old and carry
known vulnerabilities (``python3 scripts/audit.py`` checks everything installed).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
INSTALL_TOOLS = ("pip", "setuptools")


def _requirements_hash(requirements: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in requirements:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def ensure_venv(requirement_files: list[str], argv: list[str] | None = None) -> None:
    """Make sure we run in .venv with ``requirement_files`` installed; re-exec if we are not.

    ``argv`` is what to run again inside the venv (default: this script with its arguments).
    """
    files = [ROOT / name for name in requirement_files]
    stamp = VENV / f".installed-{'-'.join(p.stem for p in files)}"
    wanted = _requirements_hash(files)
    if not PYTHON.exists():
        print(f"Creating virtual environment in {VENV} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != wanted:
        print("Installing dependencies (first run only) ...", file=sys.stderr, flush=True)
        upgraded = subprocess.run([str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                                   "--upgrade", *INSTALL_TOOLS], check=False)
        if upgraded.returncode != 0:  # e.g. an offline wheel cache without them: the old ones still install
            print(f"Could not upgrade {' and '.join(INSTALL_TOOLS)}; carrying on with the venv's copies",
                  file=sys.stderr, flush=True)
        subprocess.run([str(PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        *[arg for p in files for arg in ("-r", str(p))]], check=True)
        stamp.write_text(wanted)
    if Path(sys.prefix).resolve() != VENV.resolve():
        os.execv(str(PYTHON), [str(PYTHON), *(argv if argv is not None else sys.argv)])
