"""``python -m bot teams package [--out PATH.zip]``: build the Teams app package to upload."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

_SEMVER = re.compile(r"\d{1,9}\.\d{1,9}\.\d{1,9}")


def register(subparsers) -> None:
    parser = subparsers.add_parser("teams", help="Microsoft Teams: build the app package")
    sub = parser.add_subparsers(dest="teams_command", metavar="ACTION", required=True)
    package = sub.add_parser("package", help="write the Teams app package (manifest.json and icons) as a zip")
    package.add_argument("--out", type=Path, default=Path("teams-app.zip"), help="where to write (teams-app.zip)")
    package.add_argument("--version", default="1.0.0", type=_semver, help="app version, e.g. 1.0.0")
    package.add_argument("--domain", action="append", default=[], dest="domains",
                         help="a domain the app may open (repeatable), e.g. bot.example.org")
    package.add_argument("--website-url", default=None, help="developer website (https)")
    package.add_argument("--privacy-url", default=None, help="privacy notice (https)")
    package.add_argument("--terms-url", default=None, help="terms of use (https)")
    package.set_defaults(func=build)


def _semver(raw: str) -> str:
    if not _SEMVER.fullmatch(raw):
        raise argparse.ArgumentTypeError("use three numbers, like 1.0.0")
    return raw


def build(args: argparse.Namespace) -> int:
    from adapters.teams.package import PLACEHOLDER_ID, PackageOptions, build_package
    from bot.config import ConfigError, load_settings
    from bot.content import load_content
    from bot.yamlload import ContentError

    try:
        settings = load_settings()
        strings = load_content(settings.content_dir).strings
    except (ConfigError, ContentError) as exc:
        print(f"Cannot build the package: {exc}", file=sys.stderr)
        return 2
    for url in (args.website_url, args.privacy_url, args.terms_url):
        if url is not None and not url.startswith("https://"):
            print(f"Teams needs https:// addresses, got {url!r}", file=sys.stderr)
            return 2
    bot_id = settings.microsoft_app_id or PLACEHOLDER_ID
    if not settings.microsoft_app_id:
        print(f"Warning: MicrosoftAppId is not set, so the package uses the placeholder bot id {PLACEHOLDER_ID}. "
              "Set MicrosoftAppId to your Azure Bot's app id and build again before uploading.", file=sys.stderr)
    defaults = PackageOptions(bot_id=bot_id)
    options = PackageOptions(
        bot_id=bot_id, version=args.version, valid_domains=tuple(args.domains),
        website_url=args.website_url or defaults.website_url, privacy_url=args.privacy_url or defaults.privacy_url,
        terms_url=args.terms_url or defaults.terms_url)
    if not (args.website_url and args.privacy_url and args.terms_url):
        print("Warning: using example.org developer links; pass --website-url, --privacy-url and --terms-url "
              "with your organisation's pages.", file=sys.stderr)
    try:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(build_package(options, strings))
    except OSError as exc:
        print(f"Cannot write {args.out}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"Teams app package written to {args.out} (bot id {bot_id}); upload it in Teams: Apps > Manage your apps "
          "> Upload an app.")
    return 0
