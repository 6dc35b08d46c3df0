"""The web chat in a real headless browser (Debian's chromium driven by Playwright) against the real server.

Skips with the reason when chromium or Playwright is missing; ``scripts/test.py`` installs chromium
on CI when it runs as root.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from adapters.web import SESSION_COOKIE, user_for_session
from app import build_app

try:
    from playwright.async_api import async_playwright, expect
except ImportError:  # the skip below says so
    async_playwright = expect = None
from bot.http import ASSISTANT
from bot.messages import CardField, Choice, Reply, ReplyKind
from tests.conftest import make_settings

CHROMIUM = Path("/usr/bin/chromium")
SAFE_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 800}
DESKTOP = {"width": 1280, "height": 800}
TIMEOUT_MS = 15_000


def _skip_reason() -> str | None:
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        return ("browser test skipped: chromium is not installed "
                "(apt-get install chromium; scripts/test.py does this when run as root)")
    if async_playwright is None:
        return "browser test skipped: playwright is not installed (pip install -r requirements-dev.txt)"
    return None


# One server and one browser for the module (each test opens a fresh browser context, so a new user).
pytestmark = [pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
              pytest.mark.asyncio(loop_scope="module")]


async def _colour_command(ctx, args: str) -> list[Reply]:
    """A tiny command so the test knows exactly which buttons and card come back."""
    if args:
        return [Reply(f"You picked **{args}**.\nColour: {args}\nMarkup: <b>not bold</b>", kind=ReplyKind.SUMMARY,
                      title="Your pick", summary={"colour": args},
                      fields=[CardField("Colour", args), CardField("Markup", "<b>not bold</b>")])]
    return [Reply("Pick a colour <script>alert(1)</script>", kind=ReplyKind.STEP,
                  choices=[Choice("Red", "colour red"), Choice("Blue", "colour blue")])]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(tmp_path_factory) -> AsyncIterator[tuple[str, web.Application]]:
    app = await build_app(make_settings(tmp_path_factory.mktemp("browser")))
    app[ASSISTANT].register_command("colour", _colour_command, "help.command")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}/", app
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser():
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM if CHROMIUM.exists() else
                                                                        shutil.which("chromium")),
                                                    args=SAFE_FLAGS)
        try:
            yield launched
        finally:
            await launched.close()


async def _open(browser, url: str, viewport: dict):
    context = await browser.new_context(viewport=viewport)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    await page.goto(url)
    await expect(page.locator("#message")).to_be_focused()
    return context, page, errors


async def _bot_messages(page) -> int:
    return await page.locator("#log article.msg.bot").count()


async def _wait_for_reply(page, before: int) -> None:
    """Wait until more than ``before`` bot messages are shown and the typing indicator is gone.

    Only locators here: the page's Content-Security-Policy forbids the eval that wait_for_function needs.
    """
    await page.locator(f"#log article.msg.bot >> nth={before}").wait_for()
    await page.locator("#typing").wait_for(state="detached")


async def _send(page, text: str) -> None:
    before = await _bot_messages(page)
    await page.fill("#message", text)
    await page.keyboard.press("Enter")
    await _wait_for_reply(page, before)


async def test_a_question_is_answered_with_sources(server, browser):
    url, app = server
    assistant = app[ASSISTANT]
    topic = next(t for t in assistant.content.topics if t.sources and t.examples)
    context, page, errors = await _open(browser, url, DESKTOP)
    try:
        await _send(page, topic.examples[0])
        answer = page.locator("#log article.kind-answer").last
        await answer.wait_for()
        assert (await answer.locator("h2.title").inner_text()) == topic.title
        sources = answer.locator(".sources li")
        assert await sources.count() == len(topic.sources)
        assert topic.sources[0].title in await sources.first.inner_text()
        # the disclaimer came first, once
        assert assistant.strings.get("disclaimer")[:40] in await page.locator("#log .kind-notice").first.inner_text()
        assert await page.locator("#log .msg.user .text").last.inner_text() == topic.examples[0]
        assert errors == []
    finally:
        await context.close()


async def test_buttons_cards_and_copy(server, browser):
    url, app = server
    context, page, errors = await _open(browser, url, DESKTOP)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    try:
        await _send(page, "colour")
        step = page.locator("#log article.kind-step").last
        assert "Pick a colour <script>alert(1)</script>" in await step.inner_text()  # shown as text, not run
        assert await page.locator("#log script").count() == 0
        before = await _bot_messages(page)
        await step.get_by_role("button", name="Blue").click()
        await _wait_for_reply(page, before)
        assert await step.get_by_role("button", name="Blue").get_attribute("aria-pressed") == "true"
        assert await step.get_by_role("button", name="Red").is_disabled()

        card = page.locator("#log article.kind-summary").last
        assert await card.locator("strong").inner_text() == "blue"  # **bold** rendered
        # a summary's text holds its fields, shown once (no second list), markup shown as text
        assert await card.locator("dl.fields").count() == 0
        assert "Markup: <b>not bold</b>" in await card.inner_text()
        await card.get_by_role("button", name="Copy as text").click()
        await expect(page.locator("#status")).to_have_text(app[ASSISTANT].strings.get("web.script.copied"))
        copied = await page.evaluate("navigator.clipboard.readText()")
        assert copied.startswith("Your pick")
        assert "Colour: blue" in copied
        assert errors == []
    finally:
        await context.close()


async def test_phone_width_and_keyboard_only_use(server, browser):
    url, _ = server
    context, page, errors = await _open(browser, url, PHONE)
    try:
        # Focus order: skip link, the example questions, the walkthrough button, the message box, Send.
        await page.keyboard.press("Tab")
        await expect(page.locator("#send")).to_be_focused()
        await page.keyboard.press("Shift+Tab")
        await expect(page.locator("#message")).to_be_focused()
        await page.keyboard.press("Shift+Tab")
        await expect(page.locator("button.start")).to_be_focused()  # the walkthrough, offered from the start
        for number in (3, 2, 1):
            await page.keyboard.press("Shift+Tab")
            await expect(page.locator("button.example").nth(number - 1)).to_be_focused()
        await page.keyboard.press("Shift+Tab")
        await expect(page.locator("a.skip-link")).to_be_focused()
        await page.keyboard.press("Enter")  # the skip link goes straight to the message box
        await expect(page.locator("#message")).to_be_focused()

        # Enter in the message box sends; nothing needs a mouse.
        await page.keyboard.type("<img src=x onerror=alert(1)> colour")
        await page.keyboard.press("Shift+Enter")
        assert await page.input_value("#message") == "<img src=x onerror=alert(1)> colour\n"
        await page.fill("#message", "")
        await page.keyboard.type("colour")
        before = await _bot_messages(page)
        await page.keyboard.press("Enter")
        await _wait_for_reply(page, before)

        # Shift+Tab from the message box reaches the newest buttons; Enter presses one.
        await page.keyboard.press("Shift+Tab")
        assert await page.evaluate("document.activeElement.textContent") == "Blue"
        before = await _bot_messages(page)
        await page.keyboard.press("Enter")
        await _wait_for_reply(page, before)
        await expect(page.locator("#message")).to_be_focused()  # focus back in the box

        # New replies are announced, and the page fits a phone without sideways scrolling.
        assert await page.get_attribute("#log", "role") == "log"
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        send_box = await page.locator("#send").bounding_box()
        assert send_box
        assert send_box["x"] + send_box["width"] <= PHONE["width"]
        assert send_box["y"] + send_box["height"] <= PHONE["height"]
        assert await page.locator("#log img").count() == 0
        assert errors == []
    finally:
        await context.close()


async def test_proactive_messages_appear_without_a_reload(server, browser):
    url, app = server
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.clock.install()  # so the test can jump past the 10-second poll instead of waiting
    try:
        await page.goto(url)
        session = next(c for c in await context.cookies() if c["name"] == SESSION_COOKIE)
        assert session["httpOnly"]
        assert session["sameSite"] == "Strict"
        assert await page.evaluate("document.cookie") == ""  # the page cannot read (or send as data) its id
        user = user_for_session(session["value"])
        cursor_key = "infoshare.outbox"
        for _ in range(100):  # the first poll only fetches the cursor
            if await page.evaluate(f"localStorage.getItem({cursor_key!r})") is not None:
                break
            await page.wait_for_timeout(50)
        await app[ASSISTANT].delivery.send(user, [Reply("Reminder: the school ISA is due for review.",
                                                        kind=ReplyKind.REMINDER, choices=[Choice("Open it", "help")])])
        await page.clock.run_for(11_000)
        reminder = page.locator("#log article.kind-reminder")
        await expect(reminder).to_contain_text("Reminder: the school ISA is due for review.")
        await expect(reminder.get_by_role("button", name="Open it")).to_be_enabled()
    finally:
        await context.close()


async def test_a_lost_connection_is_explained_and_the_page_keeps_working(server, browser):
    url, app = server
    context, page, _console_errors = await _open(browser, url, PHONE)  # the failed request logs one
    try:
        await page.route("**/api/chat", lambda route: route.abort())
        await page.fill("#message", "can I share?")
        await page.keyboard.press("Enter")
        notice = page.locator("#log .kind-error")
        await expect(notice).to_have_text(app[ASSISTANT].strings.get("web.script.offline"))
        await expect(page.locator("#send")).to_be_enabled()
        await page.unroute("**/api/chat")
        await _send(page, "help")
        assert await page.locator("#log article.kind-smalltalk").count() == 1
    finally:
        await context.close()


async def _step(page):
    """The newest step, pinned (``.last`` would move on to the next one when it arrives)."""
    steps = page.locator("#log article.kind-step")
    return steps.nth(await steps.count() - 1)


async def _press(page, article, name: str) -> None:
    """Press a button from the keyboard: focus it, then Enter (no mouse)."""
    before = await _bot_messages(page)
    await article.get_by_role("button", name=name, exact=True).focus()
    await page.keyboard.press("Enter")
    await _wait_for_reply(page, before)


async def test_walkthrough_navigation_resume_after_reload_and_a_box_that_fits(server, browser):
    url, app = server
    strings = app[ASSISTANT].strings
    context, page, errors = await _open(browser, url, DESKTOP)
    try:
        start = page.get_by_role("button", name=strings.get("choices.decide"))
        before = await _bot_messages(page)
        await start.click()
        await _wait_for_reply(page, before)
        step = await _step(page)
        assert (await step.locator("h2.title").inner_text()).startswith("Step 1 of about ")
        actions = step.locator(".actions button.secondary")
        assert await actions.all_inner_texts() == ["Why this question?", "Cancel"]  # no Back on the first step
        assert await step.locator(".actions").get_attribute("role") == "group"

        await _send(page, "CR-1001")
        step = await _step(page)
        assert (await step.locator("h2.title").inner_text()).startswith("Step 2 of about ")
        assert await step.locator(".actions button").all_inner_texts() == ["Back", "Why this question?", "Cancel"]
        await _press(page, step, "Why this question?")
        assert await page.locator("#log article.kind-answer").last.locator("h2.title").inner_text() == "Why I ask this"
        assert await step.get_by_role("button", name="Back").is_disabled()  # the pressed step is spent
        await _press(page, await _step(page), "Back")
        assert "case reference" in (await (await _step(page)).inner_text()).lower()
        await _send(page, "CR-1001")

        # One line in the box fits it exactly: no scrollbar, no 1 px overflow.
        await page.fill("#message", "a one-line question")
        await page.locator("#message").dispatch_event("input")
        sizes = await page.evaluate("[document.getElementById('message').scrollHeight, "
                                    "document.getElementById('message').clientHeight]")
        assert sizes[0] <= sizes[1], sizes
        await page.fill("#message", "")

        await page.reload()  # mid-walkthrough: the step comes back, and typing carries on from it
        await expect(page.locator("#log article.kind-step")).to_have_count(1)
        step = await _step(page)
        assert (await step.locator("h2.title").inner_text()).startswith("Step 2 of about ")
        assert "walkthrough in progress" in await page.locator("#log article.msg.bot").first.inner_text()
        await _send(page, "decide")
        offer = page.locator("#log article.msg.bot").last
        assert await offer.get_by_role("button").all_inner_texts() == ["Carry on where I was", "Start again"]
        await _press(page, offer, "Carry on where I was")
        assert (await (await _step(page)).locator("h2.title").inner_text()).startswith("Step 2 of about ")
        assert errors == []
    finally:
        await context.close()
