"""``python -m bot teams package`` builds an uploadable Teams app package."""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from jsonschema import ValidationError

from adapters.teams.package import PLACEHOLDER_ID, PackageOptions, build_manifest, outline_icon
from bot.content import load_content
from cli import main
from tests.teams_harness import MANIFEST_SCHEMA, validate_manifest

GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def png_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from the PNG header."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height, _depth, colour_type = struct.unpack(">IIBB", data[16:26])
    return width, height, colour_type


def test_package_has_manifest_and_icons(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MicrosoftAppId", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("MicrosoftAppPassword", "secret")
    out = tmp_path / "pkg" / "infoshare.zip"
    assert main(["teams", "package", "--out", str(out), "--version", "1.2.3", "--domain", "bot.example.org",
                 "--website-url", "https://council.example.org", "--privacy-url", "https://council.example.org/p",
                 "--terms-url", "https://council.example.org/t"]) == 0
    assert str(out) in capsys.readouterr().out
    with zipfile.ZipFile(out) as package:
        assert sorted(package.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(package.read("manifest.json"))
        color, outline = package.read("color.png"), package.read("outline.png")
    validate_manifest(manifest)  # the official v1.17 schema: Teams refuses an upload that fails it
    assert manifest["manifestVersion"] == "1.17"
    assert "v1.17/MicrosoftTeams.schema.json" in manifest["$schema"]
    assert manifest["id"] == manifest["bots"][0]["botId"] == "11111111-2222-3333-4444-555555555555"
    assert manifest["version"] == "1.2.3"
    assert manifest["developer"]["privacyUrl"] == "https://council.example.org/p"
    assert len(manifest["name"]["short"]) <= 30
    assert len(manifest["description"]["short"]) <= 80
    assert re.fullmatch(r"#[0-9A-F]{6}", manifest["accentColor"])
    assert manifest["icons"] == {"color": "color.png", "outline": "outline.png"}
    assert manifest["validDomains"] == ["bot.example.org"]
    bot = manifest["bots"][0]
    assert bot["scopes"] == ["personal", "team", "groupChat"]
    commands = bot["commandLists"][0]["commands"]
    assert [c["title"] for c in commands] == ["help", "ask", "decide", "records", "isa"]
    assert all(0 < len(c["description"]) <= 128 for c in commands)
    assert png_info(color) == (192, 192, 6)
    assert png_info(outline) == (32, 32, 6)


def test_the_official_manifest_schema_enforces_teams_limits():
    """What the review found: a developer name over 32 characters is refused by the v1.17 schema."""
    strings = load_content(Path(__file__).resolve().parent.parent / "content").strings
    manifest = build_manifest(PackageOptions(bot_id=PLACEHOLDER_ID), strings)
    validate_manifest(manifest)
    assert MANIFEST_SCHEMA["properties"]["developer"]["properties"]["name"]["maxLength"] == 32
    with pytest.raises(ValidationError, match="too long"):
        validate_manifest({**manifest, "developer": {**manifest["developer"], "name": "x" * 33}})
    with pytest.raises(ValidationError):
        validate_manifest({**manifest, "manifestVersion": "1.16"})


def test_outline_icon_is_white_on_transparent():
    data = outline_icon()
    idat = data[data.index(b"IDAT") + 4:data.index(b"IEND") - 8]
    rows = zlib.decompress(idat)
    pixels = {tuple(rows[r * 129 + 1 + c * 4:r * 129 + 5 + c * 4]) for r in range(32) for c in range(32)}
    assert pixels == {(255, 255, 255, 255), (0, 0, 0, 0)}


def test_without_app_id_the_placeholder_is_used_with_a_warning(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MicrosoftAppId", raising=False)
    out = tmp_path / "teams.zip"
    assert main(["teams", "package", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "placeholder" in err
    assert "MicrosoftAppId" in err
    manifest = json.loads(zipfile.ZipFile(out).read("manifest.json"))
    validate_manifest(manifest)
    assert GUID.fullmatch(manifest["bots"][0]["botId"])


def test_bad_arguments_are_explained(tmp_path, capsys):
    assert main(["teams", "package", "--out", str(tmp_path / "x.zip"), "--privacy-url", "http://x"]) == 2
    assert "https://" in capsys.readouterr().err
