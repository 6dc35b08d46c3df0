#!/usr/bin/env python3
"""A whole walkthrough in the real web chat of a running ``python app.py``, driven in Debian chromium from the
start page's button to a recorded summary, the way a person would: press the first option of each step, type
where a step asks for words. Prints each step and the number of answers; saves a full-page screenshot.

    .venv/bin/python scripts/evidence_web.py [URL] [PNG]   # defaults: http://localhost:3978, walkthrough.png
"""

from __future__ import annotations

import asyncio
import sys

from playwright.async_api import async_playwright

TYPED = ["CR-2024-118", "School attendance record and the class teacher's concerns", "Sam Carter, DSL"]
MAX_TURNS = 40


async def walk(url: str, screenshot: str) -> int:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium")
        page = await browser.new_page(viewport={"width": 420, "height": 900})
        await page.goto(url)
        await page.get_by_role("button", name="Walk me through a decision").click()
        answers = typed = 0
        for _ in range(MAX_TURNS):
            await page.wait_for_timeout(700)
            last = page.locator("article.msg.bot").last
            title = await last.locator("h2").first.inner_text() if await last.locator("h2").count() else ""
            text = " ".join((await last.inner_text()).split())
            if "Recorded as decision record" in text:
                print(f"recorded: {text[:100]}")
                break
            options = last.locator("div.choices:not(.actions) button.choice:not([disabled])")
            if await options.count():
                label = await options.first.inner_text()
                print(f"[{title}] pressed {label!r}")
                await options.first.click()
            else:
                words = TYPED[-1] if "Who decided" in title else TYPED[min(typed, len(TYPED) - 2)]
                typed += 1
                print(f"[{title}] typed {words!r}")
                box = page.locator("textarea").first
                await box.fill(words)
                await box.press("Enter")
            answers += 1
        await page.screenshot(path=screenshot, full_page=True)
        await browser.close()
    print(f"answers and presses from the first step to recorded: {answers}")
    return 0


if __name__ == "__main__":
    arguments = sys.argv[1:]
    sys.exit(asyncio.run(walk(arguments[0] if arguments else "http://localhost:3978",
                              arguments[1] if len(arguments) > 1 else "walkthrough.png")))
