"""The web page in a real browser: Debian's Chromium, headless, driven by Playwright (no browser is
downloaded: `executable_path` points at /usr/bin/chromium). Screenshots of the main pages are kept
in .artifacts/screenshots/ (CI keeps them; one is in the README)."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright, expect

from did_failover.admin.service import ADMIN, Service
from did_failover.storage import open_repository
from tests.plugins.web import PASSWORD, Site, StartSite
from tests.plugins.webhooks import StartReceiver
from tests.support.db import dump, execute
from tests.support.ops import cli
from tests.web.conftest import world

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("DID_FAILOVER_ARTIFACTS", ROOT / ".artifacts")) / "screenshots"


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from Debian's package; fails (never skips) when it is missing."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium", pytrace=False)
    async with async_playwright() as playwright:
        # --no-sandbox: the suite runs as root, where Chromium's sandbox refuses to start.
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        await launched.close()


@pytest.fixture
async def site(sqlite_url: str, start_site: StartSite) -> Site:
    await world(sqlite_url)
    return await start_site(sqlite_url)


async def _login(browser: Browser, site: Site, username: str, password: str = PASSWORD) -> Page:
    page = await (await browser.new_context(base_url=site.url)).new_page()
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    return page


async def _shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def test_an_admin_sets_a_busy_destination_and_the_cli_shows_it(browser: Browser, site: Site) -> None:
    """Log in, open the DID from the grid, choose PSTN for Busy, type a number, Save; then
    `did-failover transfer show` has it."""
    page = await _login(browser, site, "root")
    await expect(page.get_by_role("heading", level=1)).to_have_text("DIDs Call Transfer")
    await _shot(page, "dids")
    await page.get_by_role("link", name="15550001").click()
    await page.get_by_label("Busy type").select_option(label="PSTN")
    await page.get_by_label("Busy destination").fill("+4930123456")
    await _shot(page, "did")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": site.database_url}
    code, out, err = await cli(env, "transfer", "show", "15550001", "--json")
    assert (code, err) == (0, "")
    shown = json.loads(out)
    assert (shown["busy"], shown["updated_by"]) == ("pstn:+4930123456", "web:root")


async def test_a_step_is_added_to_a_forward_list_in_the_empty_row(browser: Browser, site: Site) -> None:
    """Busy -> mobile (20 s) -> desk and a second mobile together, whoever answers presses 1 ->
    voicemail, typed into the first row and then the empty rows that appear after saving; the CLI
    shows the list, the page a fourth, empty row."""
    page = await _login(browser, site, "root")
    await page.get_by_role("link", name="15550001").click()
    await page.get_by_label("Busy type").select_option(label="PSTN")
    await page.get_by_label("Busy destination").fill("+15557654321")
    await page.get_by_label("Busy ring seconds").fill("20")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await page.get_by_label("Busy step 2 type").select_option(label="Ring all")
    await page.get_by_label("Busy step 2 destination").fill("endpoint:desk & pstn:+15550001111")
    await page.get_by_label("Busy step 2: callee presses 1").check()
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await page.get_by_label("Busy step 3 type").select_option(label="Voicemail")
    await page.get_by_label("Busy step 3 destination").fill("100")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_text("Saved.")).to_be_visible()
    await expect(page.get_by_label("Busy step 4 type")).to_have_value("none")
    await expect(page.get_by_label("Busy step 2: callee presses 1")).to_be_checked()
    await expect(page.get_by_label("Busy: callee presses 1")).not_to_be_checked()
    await _shot(page, "did-forward-list")
    env = {**os.environ, "DID_FAILOVER_DATABASE_URL": site.database_url}
    code, out, err = await cli(env, "transfer", "show", "15550001", "--json")
    assert (code, err) == (0, "")
    assert (
        json.loads(out)["busy"]
        == "pstn:+15557654321/20,endpoint:desk&pstn:+15550001111/confirm,voicemail:100"
    )


async def test_a_refused_destination_shows_its_message_and_changes_nothing(
    browser: Browser, site: Site
) -> None:
    """The CLI's message next to the field, tied to it; what was typed stays; nothing stored."""
    page = await _login(browser, site, "root")
    await page.goto("/dids/15550001")
    before = dump(site.database_url)
    await page.get_by_label("No answer type").select_option(label="SIP URI")
    await page.get_by_label("No answer destination").fill("bob@pbx.example.com;evil=1")
    await page.get_by_role("button", name="Save").click()
    field = page.get_by_label("No answer destination")
    await expect(field).to_have_value("bob@pbx.example.com;evil=1")
    await expect(field).to_have_attribute("aria-describedby", "no_answer-error")
    await expect(page.locator("#no_answer-error")).to_contain_text("No answer destination: ")
    await _shot(page, "did-refused")
    assert dump(site.database_url) == before


async def test_the_status_switch_and_the_account_switch(browser: Browser, site: Site) -> None:
    """Turning one DID's transfer off, then its account's: the grid says off, then off (account)."""
    page = await _login(browser, site, "root")
    await page.get_by_role("button", name="Call transfer of 15550001: turn off").click()
    row = page.get_by_role("row").filter(has_text="15550001")
    await expect(row.locator(".status")).to_have_text("off")
    await row.get_by_role("button", name="Call transfer of 15550001: turn on").click()
    await page.get_by_role("link", name="Accounts").click()
    await _shot(page, "accounts")
    await page.get_by_role("button", name="Call transfer of account 1001: turn off").click()
    await page.get_by_role("link", name="DIDs Call Transfer").click()
    await expect(page.get_by_role("row").filter(has_text="15550001").locator(".status")).to_have_text(
        "off (account)"
    )


async def test_a_reseller_sees_only_its_dids_and_a_customer_has_no_account_switch(
    browser: Browser, site: Site
) -> None:
    """Reseller A: its DID, 404 on another reseller's. Customer A1: its DID, no Accounts page."""
    reseller = await _login(browser, site, "res-a")
    await expect(reseller.get_by_role("link", name="15550001")).to_be_visible()
    await _shot(reseller, "dids-reseller")
    await reseller.get_by_role("link", name="Accounts").click()
    await _shot(reseller, "accounts-reseller")
    await reseller.goto("/dids")
    await expect(reseller.get_by_role("link", name="15550002")).to_have_count(0)
    response = await reseller.goto("/dids/15550002")
    assert response is not None and response.status == 404
    customer = await _login(browser, site, "cust-a1")
    await expect(customer.get_by_role("link", name="15550001")).to_be_visible()
    await _shot(customer, "dids-customer")
    await expect(customer.get_by_role("link", name="Accounts")).to_have_count(0)
    response = await customer.goto("/accounts")
    assert response is not None and response.status == 404


async def test_logout_ends_the_session_and_a_forged_post_is_refused(browser: Browser, site: Site) -> None:
    """After Log out the old cookie opens nothing; a POST carrying the cookie but no token is 403."""
    page = await _login(browser, site, "root")
    forged = await page.context.request.post(f"{site.url}/dids/15550001/switch", form={"enabled": "off"})
    assert forged.status == 403
    cookies = await page.context.cookies()
    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login$"))
    replay = await browser.new_context(base_url=site.url)
    await replay.add_cookies(cookies)  # type: ignore[arg-type]
    again = await replay.new_page()
    await again.goto("/dids")
    await expect(again).to_have_url(re.compile(r"/login$"))


async def test_a_name_holding_a_script_is_shown_as_text(browser: Browser, site: Site) -> None:
    """No dialog opens, and the name reads as typed."""
    evil = "<script>alert('owned')</script>"
    execute(site.database_url, "UPDATE accounts SET name = ? WHERE number = '1001'", (evil,))
    page = await _login(browser, site, "root")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.get_by_role("link", name="Accounts").click()
    await expect(page.get_by_role("cell", name=evil)).to_be_visible()
    assert dialogs == []


async def test_failed_logins_are_throttled(browser: Browser, site: Site) -> None:
    """Five wrong passwords, then the page says to wait, even for the right one."""
    page = await (await browser.new_context(base_url=site.url)).new_page()
    await page.goto("/login")
    for password in [*(["wrong password!!"] * 5), PASSWORD]:
        await page.get_by_label("Username").fill("root")
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_contain_text("Too many failed logins")
    await _shot(page, "login-throttled")


WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
"""The axe-core rules run: WCAG 2.0 and 2.1, levels A and AA."""


async def _violations(page: Page, where: str) -> list[str]:
    """What axe-core finds on the page now, one line per rule and element."""
    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    return [
        f"{where}: {violation['id']} ({violation['impact']}) at {node['target']}"
        for violation in results.response["violations"]
        for node in violation["nodes"]
    ]


async def test_axe_core_finds_nothing_on_any_page_as_each_role_sees_it(browser: Browser, site: Site) -> None:
    """The login page (and its error), and as the admin, a reseller and a customer: the DIDs grid,
    a DID's page with a refused value shown, and Accounts where the role has it: no violation of
    WCAG 2.1 A or AA."""
    found: list[str] = []
    context = await browser.new_context(base_url=site.url, bypass_csp=True)
    page = await context.new_page()
    await page.goto("/login")
    found += await _violations(page, "login")
    await page.get_by_label("Username").fill("nobody")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_be_visible()
    found += await _violations(page, "login refused")
    await context.close()
    for username, did in (("root", "15550001"), ("res-a", "15550001"), ("cust-a1", "15550001")):
        context = await browser.new_context(base_url=site.url, bypass_csp=True)
        page = await context.new_page()
        await page.goto("/login")
        await page.get_by_label("Username").fill(username)
        await page.get_by_label("Password").fill(PASSWORD)
        await page.get_by_role("button", name="Log in").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("DIDs Call Transfer")
        found += await _violations(page, f"{username} DIDs")
        await page.goto(f"/dids/{did}")
        await page.get_by_label("Busy type").select_option(label="PSTN")
        await page.get_by_label("Busy destination").fill("123&PJSIP/evil")
        await page.get_by_role("button", name="Save").click()
        await expect(page.locator("[aria-invalid=true]").first).to_be_visible()
        found += await _violations(page, f"{username} DID refused")
        if username != "cust-a1":
            await page.goto("/accounts")
            found += await _violations(page, f"{username} Accounts")
        await context.close()
    assert found == []


async def test_a_reseller_pages_its_dids_with_next_last_and_previous(
    browser: Browser, sqlite_url: str, start_site: StartSite
) -> None:
    """60 more DIDs of reseller A's customer: Next shows the rest, Last the end, Previous goes back,
    each page says where it is; axe-core finds nothing on a page with the page links."""
    await world(sqlite_url)
    async with open_repository(sqlite_url, 5.0) as repo:
        for i in range(60):
            await Service(repo).add_did(ADMIN, f"1555800{i:04d}", "1001", "endpoint:desk")
    site = await start_site(sqlite_url)
    page = await _login(browser, site, "res-a")
    await expect(page.get_by_text("61 DIDs, page 1 of 2")).to_be_visible()
    await expect(page.get_by_role("link", name="Previous")).to_have_count(0)
    await page.get_by_role("navigation", name="Pages of DIDs").get_by_role("link", name="Next").click()
    await expect(page.get_by_text("61 DIDs, page 2 of 2")).to_be_visible()
    await expect(page.get_by_role("link", name="15558000059")).to_be_visible()
    await expect(page.get_by_role("link", name="Next")).to_have_count(0)
    await _shot(page, "dids-pages")
    found = await _violations(page, "res-a DIDs page 2")
    await page.get_by_role("link", name="Previous").click()
    await expect(page.get_by_text("61 DIDs, page 1 of 2")).to_be_visible()
    await expect(page.get_by_role("link", name="15550001")).to_be_visible()
    await page.get_by_role("link", name="Last").click()
    await expect(page.get_by_role("link", name="15558000059")).to_be_visible()
    assert found == []


async def test_the_webhooks_page_adds_tests_and_removes_with_nothing_for_axe(
    browser: Browser, sqlite_url: str, start_site: StartSite, receiver: StartReceiver
) -> None:
    """An admin adds a webhook on the page (the secret shown once), tests it (the receiver verifies
    the ping), a refused URL is named by its label, then it is removed; a reseller's page has no
    Reseller field. axe-core finds nothing on any of these states."""
    await world(sqlite_url)
    site = await start_site(sqlite_url, webhook_allow="127.0.0.0/8", webhook_timeout="2")
    target = await receiver()
    page = await _login(browser, site, "root")
    await page.get_by_role("link", name="Webhooks").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Webhooks")
    found = await _violations(page, "webhooks empty")
    await page.get_by_label("URL").fill("ftp://example.com/")
    await page.get_by_role("button", name="Add webhook").click()
    await expect(page.get_by_role("alert")).to_have_text(
        "URL: must start with http:// or https://, got 'ftp://example.com/'"
    )
    found += await _violations(page, "webhooks refused")
    await page.get_by_label("URL").fill(target.url())
    await page.get_by_label("change.made: a change-log row, with actor, old and new value").uncheck()
    await page.get_by_role("button", name="Add webhook").click()
    secret = (await page.locator("#webhook-secret").text_content()) or ""
    assert secret.startswith("whsec_")
    target.trust(secret)
    found += await _violations(page, "webhooks added")
    await page.get_by_role("button", name="Send a test ping to webhook 1").click()
    await expect(page.get_by_role("status")).to_have_text("Webhook 1 took the ping.")
    assert target.records()[-1]["verified"]
    await _shot(page, "webhooks")
    found += await _violations(page, "webhooks tested")
    assert await page.get_by_role("cell", name="call.ended", exact=True).count() == 1
    await page.get_by_role("button", name="Remove webhook 1").click()
    await expect(page.get_by_role("cell", name="No webhooks.")).to_be_visible()
    reseller = await _login(browser, site, "res-a")
    await reseller.goto("/webhooks")
    assert await reseller.get_by_label("Reseller").count() == 0
    await reseller.get_by_label("URL").fill(target.url("/reseller-a"))
    await reseller.get_by_role("button", name="Add webhook").click()
    await expect(reseller.get_by_role("cell", name=target.url("/reseller-a"))).to_be_visible()
    await _shot(reseller, "webhooks-reseller")
    found += await _violations(reseller, "webhooks reseller")
    assert found == []
