#!/usr/bin/env python3
"""Check the pinned and installed Python packages against the OSV vulnerability database (stdlib only).

``python3 scripts/audit.py`` reads every ``name==version`` pin in requirements.txt and
requirements-dev.txt, adds every package installed in this interpreter (the transitive ones that
actually run), asks OSV (https://api.osv.dev, the database pip-audit also uses) about each, and
prints the advisories. Exit codes: 0 no known vulnerability; 1 vulnerabilities found; 2 NOT AUDITED
(OSV could not be reached or answered badly: a clean result is never claimed without an answer).
Unpinned requirements are listed, because what they resolve to can change. ``OSV_API_URL`` points
it elsewhere (a mirror, or the tests' fake).
"""

from __future__ import annotations

import json
import os
import re
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENT_FILES = ("requirements.txt", "requirements-dev.txt")
OSV_API_URL = "https://api.osv.dev/v1/querybatch"
TIMEOUT_SECONDS = 20
BATCH = 500  # OSV accepts up to 1,000 queries per batch
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#]+)")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(files: list[Path]) -> tuple[dict[str, str], list[str]]:
    """``{name: version}`` for every ``==`` pin, and the names required without one."""
    pins: dict[str, str] = {}
    unpinned: list[str] = []
    for path in files:
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("-"):
                continue
            if pin := _PIN.match(line):
                pins[canonical(pin.group(1))] = pin.group(2)
            elif name := _NAME.match(line):
                unpinned.append(canonical(name.group(1)))
    return pins, unpinned


def installed_packages() -> dict[str, str]:
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}


def query_osv(packages: dict[str, str], url: str) -> dict[str, list[str]]:
    """``{name==version: [advisory ids]}`` for the packages OSV knows a vulnerability in.

    Raises OSError (URLError included) or ValueError when OSV cannot be reached or answers badly."""
    found: dict[str, list[str]] = {}
    items = sorted(packages.items())
    for start in range(0, len(items), BATCH):
        chunk = items[start:start + BATCH]
        body = json.dumps({"queries": [{"package": {"name": name, "ecosystem": "PyPI"}, "version": version}
                                       for name, version in chunk]}).encode()
        request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            results = json.loads(response.read())["results"]
        if len(results) != len(chunk):
            raise ValueError(f"OSV answered {len(results)} results for {len(chunk)} queries")
        for (name, version), result in zip(chunk, results, strict=True):
            if ids := [v["id"] for v in result.get("vulns") or []]:
                found[f"{name}=={version}"] = ids
    return found


def main() -> int:
    url = os.environ.get("OSV_API_URL", OSV_API_URL)
    pins, unpinned = pinned_requirements([ROOT / name for name in REQUIREMENT_FILES if (ROOT / name).exists()])
    packages = {**installed_packages(), **pins}
    print(f"Auditing {len(pins)} pinned and {len(packages) - len(pins)} other installed packages against {url}")
    if unpinned:
        print(f"Unpinned (audited at the installed version only): {', '.join(sorted(set(unpinned)))}")
    try:
        found = query_osv(packages, url)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"NOT AUDITED: the vulnerability database could not be used ({type(exc).__name__}: {exc}). "
              "This is not a clean result; run it where api.osv.dev is reachable.", file=sys.stderr)
        return 2
    if not found:
        print("No known vulnerabilities.")
        return 0
    for package, ids in sorted(found.items()):
        print(f"VULNERABLE {package}: {', '.join(ids)}")
    print(f"{len(found)} package(s) with known vulnerabilities; details at https://osv.dev/vulnerability/<id>")
    return 1


if __name__ == "__main__":
    sys.exit(main())
