#!/usr/bin/env python3
"""The README's screenshot of the web chat: ``python3 scripts/screenshot.py [docs/images/web-chat.png]``.

Starts the real server on a throwaway SQLite database, asks one question in headless chromium (Debian's,
at /usr/bin/chromium, driven by Playwright from requirements-dev.txt) and saves the page as it looks.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTION = "Do I need consent to refer to children's social care?"
VIEWPORT = {"width": 900, "height": 1180}


async def main(out: Path) -> int:
    from aiohttp import web
    from playwright.async_api import async_playwright

    from app import build_app
    from bot.config import Settings

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    settings = Settings(database_url=f"sqlite:///{tempfile.mkdtemp()}/screenshot.db", scheduler_enabled=False)
    runner = web.AppRunner(await build_app(settings), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = await browser.new_page(viewport=VIEWPORT)
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.fill("#message", QUESTION)
            await page.keyboard.press("Enter")
            await page.locator("#log article.msg.bot >> nth=1").wait_for()
            await page.locator("#typing").wait_for(state="detached")
            out.parent.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(out))
            await browser.close()
    finally:
        await runner.cleanup()
    print(f"screenshot written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "images" / "web-chat.png")))
