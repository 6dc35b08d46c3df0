"""Every wording key the code asks for exists in content/strings.yaml, so no user ever meets a KeyError."""

from pathlib import Path

from bot.content import literal_keys, unworded_literals, worded_keys
from bot.strings import load_strings

ROOT = Path(__file__).resolve().parent.parent


def test_every_literal_wording_key_exists():
    missing = unworded_literals(load_strings(ROOT / "content"), ROOT)
    assert not missing, "wording keys used in code but missing from content/strings.yaml:\n" + "\n".join(
        map(str, missing))


def test_the_scan_finds_keys():
    """Guard against the regex silently matching nothing."""
    found = literal_keys(ROOT)
    assert found["errors.database"].startswith("bot/")
    assert "records.amend_cancelled" in found  # self.strings.get(...) in dialogs/
    assert len(found) > 100


def test_every_reason_the_code_names_has_its_wording():
    """``FieldProblem(Problem.NOT_A_DATE)`` is worded by ``isa.problem.not_a_date``, a delivery failure by
    ``delivery.<failure>``, an address problem by ``address.<problem>`` (the content check says the same)."""
    strings = load_strings(ROOT / "content")
    keys = worded_keys()
    assert {"isa.problem.not_a_date", "delivery.refused", "address.wrong_shape", "address.kind.user"} <= set(keys)
    assert [key for key in keys if key not in strings] == []
