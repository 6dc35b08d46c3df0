"""The Teams app package: ``manifest.json`` (schema 1.17) and two icons, zipped, ready to upload.

The icons are drawn here with zlib and struct (no imaging library): ``color.png`` 192x192 on the accent
colour and ``outline.png`` 32x32 white on transparent, as Teams requires. Wording comes from
``teams.manifest`` and ``teams.commands`` in content/strings.yaml.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.strings import Strings

MANIFEST_VERSION = "1.17"
MANIFEST_SCHEMA = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
PLACEHOLDER_ID = "00000000-0000-0000-0000-000000000000"
ACCENT = (0x1F, 0x6F, 0x78)
COMMANDS = ("help", "ask", "decide", "records", "isa")
SCOPES = ["personal", "team", "groupChat"]
COLOR_SIZE, OUTLINE_SIZE = 192, 32


@dataclass(frozen=True)
class PackageOptions:
    bot_id: str
    version: str = "1.0.0"
    website_url: str = "https://www.example.org/infoshare"
    privacy_url: str = "https://www.example.org/infoshare/privacy"
    terms_url: str = "https://www.example.org/infoshare/terms"
    valid_domains: tuple[str, ...] = ()


def build_manifest(options: PackageOptions, strings: Strings) -> dict[str, Any]:
    m = "teams.manifest"
    commands = [{"title": name, "description": strings.get(f"teams.commands.{name}")[:128]} for name in COMMANDS]
    return {
        "$schema": MANIFEST_SCHEMA,
        "manifestVersion": MANIFEST_VERSION,
        "version": options.version,
        "id": options.bot_id,
        "developer": {"name": strings.get(f"{m}.developer_name")[:32], "websiteUrl": options.website_url,
                      "privacyUrl": options.privacy_url, "termsOfUseUrl": options.terms_url},
        "name": {"short": strings.get(f"{m}.short_name")[:30], "full": strings.get(f"{m}.full_name")[:100]},
        "description": {"short": strings.get(f"{m}.short_description")[:80],
                        "full": strings.get(f"{m}.full_description")[:4000]},
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [{"botId": options.bot_id, "scopes": SCOPES, "supportsFiles": False, "isNotificationOnly": False,
                  "commandLists": [{"scopes": SCOPES, "commands": commands}]}],
        "permissions": ["identity", "messageTeamMembers"],
        "validDomains": list(options.valid_domains),
    }


# ---------------------------------------------------------------------- icons
def _glyph(u: float, v: float) -> bool:
    """An "i" in a ring, in unit coordinates (0..1 across the icon)."""
    distance = ((u - 0.5) ** 2 + (v - 0.5) ** 2) ** 0.5
    ring = 0.33 <= distance <= 0.43
    dot = ((u - 0.5) ** 2 + (v - 0.33) ** 2) ** 0.5 <= 0.055
    stem = 0.45 <= u <= 0.55 and 0.43 <= v <= 0.70
    return ring or dot or stem


def png(width: int, height: int, pixel: Callable[[int, int], tuple[int, int, int, int]]) -> bytes:
    """An RGBA PNG from a pixel function."""
    rows = b"".join(b"\x00" + b"".join(struct.pack("4B", *pixel(x, y)) for x in range(width))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def color_icon() -> bytes:
    size = COLOR_SIZE
    return png(size, size, lambda x, y: (255, 255, 255, 255) if _glyph((x + 0.5) / size, (y + 0.5) / size)
               else (*ACCENT, 255))


def outline_icon() -> bytes:
    size = OUTLINE_SIZE
    return png(size, size, lambda x, y: (255, 255, 255, 255) if _glyph((x + 0.5) / size, (y + 0.5) / size)
               else (0, 0, 0, 0))


def build_package(options: PackageOptions, strings: Strings) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(build_manifest(options, strings), indent=2, ensure_ascii=False))
        archive.writestr("color.png", color_icon())
        archive.writestr("outline.png", outline_icon())
    return buffer.getvalue()
