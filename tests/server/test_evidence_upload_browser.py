"""The owner's upload page in a real browser (Debian's headless Chromium, driven by Playwright)
against the real server on 127.0.0.1: open the link, choose a file, see it uploaded and the
receipt with its SHA-256; or decline with a reason."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from tests.server.test_evidence_resume import issue_workstation_token, register_link
from tests.sync_server import ThreadServer

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason="Debian's chromium is not installed"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def live_link(tmp_path: Path, vault_settings: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """A running server, a workstation token and a fresh upload link."""
    db_url = f"sqlite:///{tmp_path / 'server.sqlite3'}"
    server = ThreadServer(db_url, **vault_settings).start()
    try:
        token = issue_workstation_token(db_url)
        yield server.url, token, register_link(server, token)
    finally:
        server.stop()


def _requests(url: str, token: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{url}/v1/incidents/2026-004512/evidence", headers={"Authorization": f"Bearer {token}"}
    )
    result: dict[str, Any] = answer.json()
    return result


def test_an_owner_uploads_a_video_and_gets_a_receipt(
    page: Page, live_link: tuple[str, str, str], video_clip: bytes, tmp_path: Path
):
    url, token, link = live_link
    clip = tmp_path / "front door.mp4"
    clip.write_bytes(video_clip)
    program = tmp_path / "holiday.mp4"  # a program renamed: refused on the page
    program.write_bytes(Path(shutil.which("ls") or "/bin/ls").read_bytes())
    digest = hashlib.sha256(video_clip).hexdigest()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(link)
    expect(page.locator("h1")).to_have_text("Footage request")
    expect(page.locator(".facts")).to_contain_text("Harbor Deli front door")
    expect(page.locator("#done")).to_be_disabled()
    page.locator("#files").set_input_files([str(clip), str(program)])
    expect(page.locator("#list li.kept")).to_contain_text(f"received (SHA-256 {digest})")
    expect(page.locator("#list li.kept progress")).to_have_attribute("value", str(len(video_clip)))
    expect(page.locator("#list li.refused")).to_contain_text(
        "holiday.mp4 was not kept: it is not a video file we can read"
    )
    page.locator("#done").click()
    expect(page.locator("h1")).to_have_text("Receipt")
    expect(page.locator("table")).to_contain_text("front door.mp4")
    expect(page.locator("table")).not_to_contain_text("holiday.mp4")
    expect(page.locator("td.hash")).to_have_text(digest)
    receipt = page.locator("#receipt").inner_text()
    [request] = _requests(url, token)["requests"]
    assert (request["status"], request["receipt_number"]) == ("fulfilled", receipt)
    assert errors == []
    page.goto(link)  # the link is used up
    expect(page.locator("h1")).to_have_text("This link was already used")


def test_an_owner_declines_with_a_reason(page: Page, live_link: tuple[str, str, str]):
    url, token, link = live_link
    page.goto(link)
    page.locator("#reason").fill("The recorder was broken that week")
    page.get_by_role("button", name="I have nothing to give").click()
    expect(page.locator(".ok")).to_contain_text("Your answer was recorded")
    [request] = _requests(url, token)["requests"]
    assert request["status"] == "declined"
    assert request["decline_reason"] == "The recorder was broken that week"


def test_the_page_continues_after_the_connection_breaks(
    page: Page, live_link: tuple[str, str, str], video_clip: bytes, tmp_path: Path
):
    _url, _token, link = live_link
    clip = tmp_path / "porch.mp4"
    clip.write_bytes(video_clip)
    broken: list[str] = []

    def break_the_first_chunk(route: Route) -> None:
        if route.request.method == "PUT" and not broken:
            broken.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/files/*", break_the_first_chunk)
    page.goto(link)
    page.locator("#files").set_input_files(str(clip))
    expect(page.locator("#list li.kept")).to_contain_text(
        hashlib.sha256(video_clip).hexdigest(), timeout=15_000
    )
    assert len(broken) == 1
