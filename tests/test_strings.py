"""Every wording key the code asks for exists in content/strings.yaml, so no user ever meets a KeyError."""

import re
from pathlib import Path

from bot.content import worded_keys
from bot.strings import load_strings

ROOT = Path(__file__).resolve().parent.parent
# `s.get("a.b")`, `strings.get("a.b", x=1)`, `self.strings.get('a.b')` - literal keys only.
KEY_USE = re.compile(
    r"""\b(?:s|strings|self\.strings|assistant\.strings|self\._strings)\.get\("""
    r"""\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']"""
)


def test_every_literal_wording_key_exists():
    strings = load_strings(ROOT / "content")
    missing = []
    for folder in ("bot", "dialogs", "adapters"):
        for path in (ROOT / folder).rglob("*.py"):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for key in KEY_USE.findall(line):
                    if key not in strings:
                        missing.append(f"{path.relative_to(ROOT)}:{number}: {key}")
    assert not missing, "wording keys used in code but missing from content/strings.yaml:\n" + "\n".join(missing)


def test_the_scan_finds_keys():
    """Guard against the regex silently matching nothing."""
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        found.update(KEY_USE.findall(path.read_text(encoding="utf-8")))
    assert "errors.database" in found
    assert len(found) > 10


def test_every_reason_the_code_names_has_its_wording():
    """``FieldProblem(Problem.NOT_A_DATE)`` is worded by ``isa.problem.not_a_date``, a delivery failure by
    ``delivery.<failure>``, an address problem by ``address.<problem>`` (the content check says the same)."""
    strings = load_strings(ROOT / "content")
    keys = worded_keys()
    assert {"isa.problem.not_a_date", "delivery.refused", "address.wrong_shape", "address.kind.user"} <= set(keys)
    assert [key for key in keys if key not in strings] == []
