"""The web app in Chromium against a real server, as a new user meets it: first-run admin,
a project, the snippet copied into a site, the site's events arriving live, a funnel and the
replay of a visitor who dropped, dashboards, settings and team, sign out and in.
Screenshots of each page go to test-artifacts/web/."""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import ServerProcess, free_port
from tests.e2e.conftest import ARTIFACTS
from userlens.demo import generate_events, generate_recordings

EMAIL = "owner@shop.test"
PASSWORD = "a long passphrase"
SHOTS = ARTIFACTS / "web"


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


SHOP_PAGE = """<!doctype html><html><head><title>Lensware</title>%(snippet)s</head><body>
<h1>Lensware replay fixture</h1>
<p id="msg">Nothing pressed yet</p>
<button id="trial" onclick="userlens.capture('trial_started')">Start trial</button>
<button id="pay" onclick="document.getElementById('msg').textContent = 'Pressed';
  fetch('/stock.json'); userlens.capture('pay_clicked'); console.error('checkout failed: boom')"
  >Pay now</button>
<script>window.top.__ranInPlayer = (window.top.__ranInPlayer || 0) + 1;</script>
<img src="/nope.png" onerror="window.top.__ranInPlayer = 99">
</body></html>"""


def visit(page: Page, url: str, button: str) -> None:
    """One visitor (a browser profile of their own): loads the page, waits for the recorder,
    presses `button` and leaves, which sends what is still buffered."""
    browser = page.context.browser
    assert browser is not None
    context = browser.new_context()
    visitor = context.new_page()
    visitor.goto(url)
    visitor.wait_for_function("window.userlens && userlens.session_recording_started()")
    visitor.wait_for_timeout(700)
    visitor.click(button)
    visitor.wait_for_timeout(1200)
    visitor.goto("about:blank")
    context.close()


def test_a_new_user_walks_from_install_to_a_replayed_drop_off(
    page: Page, server: ServerProcess, static_site: tuple[str, Path]
) -> None:
    """First run, a project, the snippet in a site, visitors browsing it, the live events, a
    funnel saved to a dashboard, the persons who dropped at step 2, one of their sessions
    played in a sandbox at its error, then sign out and in again."""
    page.goto(server.url)
    expect(page.get_by_role("heading", name="Welcome to Userlens")).to_be_visible()
    shot(page, "01-first-run")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create admin account").click()

    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    expect(page.get_by_text("No projects yet")).to_be_visible()
    shot(page, "02-projects-empty")
    page.get_by_label("Name").fill("Shop")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Create project").click()

    expect(page.get_by_role("heading", name="Shop")).to_be_visible()
    project_url = page.url
    assert re.fullmatch(r".*/projects/\d+", project_url)
    snippet = page.locator("pre code").first.inner_text()
    assert snippet.startswith(f'<script src="{server.url}/static/userlens.js" data-token="ulc_')
    expect(page.get_by_text("Waiting for the first event")).to_be_visible()
    shot(page, "03-install")

    # The snippet, pasted into a site on another origin: one visitor starts a trial, the other
    # goes to pay instead, which fails with an error in the console.
    site_url, root = static_site
    (root / "index.html").write_text(SHOP_PAGE % {"snippet": snippet})
    visit(page, f"{site_url}/index.html", "#trial")
    visit(page, f"{site_url}/index.html", "#pay")
    live = page.get_by_test_id("live-events")
    expect(live.get_by_text("$pageview").first).to_be_visible(timeout=20_000)
    expect(live.get_by_title(f"{site_url}/index.html").first).to_have_text("/index.html")
    expect(live.get_by_text("pay_clicked")).to_be_visible()
    shot(page, "04-live-events")

    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_role("tab", name="Funnel").click()
    for i, name in enumerate(["$pageview", "trial_started"], start=1):
        page.get_by_label(f"Step {i}", exact=True).fill(name)
        page.get_by_label(f"Step {i}", exact=True).blur()
    steps = page.get_by_test_id("funnel-steps")
    expect(steps.get_by_role("row").nth(1)).to_contain_text("2")
    expect(steps.get_by_role("row").nth(2)).to_contain_text("50.0 %")
    page.get_by_label("Name", exact=True).fill("Trial funnel")
    page.get_by_label("Dashboard").select_option(label="Product overview")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("added it to Product overview")
    shot(page, "05-funnel-saved")

    # The recording of the visitor who dropped is stored (with its console error) once the
    # recorder's last batch is in; then their session opens from the drop-off.
    sessions_api = project_url.replace("/projects/", "/api/projects/") + "/sessions"
    deadline = time.monotonic() + 30
    while not any(r["console_errors"] for r in page.request.get(sessions_api).json()["results"]):
        assert time.monotonic() < deadline, "the recording with the error never arrived"
        page.wait_for_timeout(300)
    # The shop's backend knows who the visitor who failed to pay is: the player names them.
    failed_visit = next(
        r for r in page.request.get(sessions_api).json()["results"] if r["console_errors"]
    )
    token = re.search(r'data-token="([^"]+)"', snippet)
    assert token is not None
    payer = failed_visit["distinct_id"]
    _capture(server, token.group(1), "$set", payer, {"$set": {"email": "payer@shop.test"}})
    person_api = f"{sessions_api.removesuffix('/sessions')}/persons/{payer}"
    _wait_for(
        page,
        lambda: page.request.get(person_api).json()["properties"].get("email") is not None,
        "the person's email was never stored",
    )
    steps.get_by_role("row").nth(2).get_by_role("button").last.click()  # dropped before step 2
    persons = page.get_by_test_id("persons")
    expect(persons.get_by_role("row")).to_have_count(2)
    shot(page, "06-funnel-dropped")
    persons.get_by_role("row").nth(1).get_by_role("link").last.click()

    frame_element = page.locator("[data-testid=stage] iframe")
    expect(frame_element).to_have_count(1, timeout=20_000)
    assert "allow-scripts" not in (frame_element.get_attribute("sandbox") or "")
    frame = page.frame_locator("[data-testid=stage] iframe")
    expect(frame.get_by_text("Lensware replay fixture")).to_be_visible()
    errors = page.get_by_test_id("event-list").locator("li.ev-error")
    expect(errors).to_have_count(1)
    errors.get_by_role("button").click()
    expect(frame.get_by_text("Pressed")).to_be_visible()
    page.get_by_role("button", name="Play").click()  # to the end
    expect(page.get_by_role("button", name="Play")).to_be_visible(timeout=10_000)
    page.get_by_label("Position").fill("0")  # back to the start: the page as first drawn
    expect(frame.get_by_text("Nothing pressed yet")).to_be_visible()
    errors.get_by_role("button").click()
    expect(frame.get_by_text("Pressed")).to_be_visible()
    expect(page.get_by_test_id("console")).to_contain_text("checkout failed: boom")
    failed = page.get_by_test_id("console").locator("li.ev-failed")
    expect(failed).to_contain_text(re.compile(r"GET \S+/stock\.json → 404"))
    expect(page.get_by_test_id("event-list")).to_contain_text("pay_clicked")
    expect(page.get_by_test_id("event-list")).not_to_contain_text("trial_started")
    expect(page.get_by_test_id("who")).to_contain_text("Chrome")
    expect(page.get_by_test_id("who").get_by_role("link")).to_have_text("payer@shop.test")
    page.get_by_role("button", name="Play").click()
    page.wait_for_timeout(1000)
    shot(page, "07-player")
    assert page.evaluate("window.__ranInPlayer") is None  # nothing recorded ran here
    page.reload()  # a link to the session opened directly: the recording is asked for early
    expect(frame.get_by_text("Lensware replay fixture")).to_be_visible()
    expect(page.get_by_test_id("console")).to_contain_text("checkout failed: boom")

    page.get_by_role("navigation").get_by_role("link", name="Dashboards").click()
    expect(page.get_by_role("heading", name="Product overview")).to_be_visible()
    expect(page.get_by_role("region", name="Trial funnel").get_by_test_id("chart")).to_be_visible()
    shot(page, "08-dashboard")

    page.get_by_role("navigation").get_by_role("link", name="Sessions").click()
    sessions = page.get_by_test_id("sessions")
    expect(sessions.get_by_role("row")).to_have_count(3)
    expect(sessions).to_contain_text("payer@shop.test")  # the visitor the backend named
    seen_urls = page.locator("#sessions-url-seen option")
    expect(seen_urls).to_have_count(1)  # offered as the user types
    expect(seen_urls).to_have_attribute("value", f"{site_url}/index.html")
    first_page = sessions.get_by_role("row").nth(1).get_by_role("cell").nth(2)
    expect(first_page).to_have_text("/index.html")  # the path; the whole URL on hover
    expect(first_page).to_have_attribute("title", f"{site_url}/index.html")
    page.get_by_label("Did the event").fill("trial_started")
    expect(sessions.get_by_role("row")).to_have_count(2)
    expect(sessions.locator("td.bad")).to_have_count(0)  # the visitor who started a trial
    page.get_by_label("Did the event").fill("")
    page.get_by_label("With errors").check()
    expect(sessions.locator("td.bad")).to_have_text(["1"])  # the one who failed to pay
    expect(sessions.get_by_role("row")).to_have_count(2)
    shot(page, "08b-sessions")
    page.get_by_label("With errors").uncheck()
    # The sessions of a cohort's persons: here, of those the backend gave an email.
    page.get_by_role("navigation").get_by_role("link", name="Cohorts").click()
    page.get_by_role("button", name="New cohort").click()
    page.get_by_label("Name").fill("Named payers")
    page.get_by_label("Kind of rule").select_option("has_property")
    page.get_by_label("Person property").fill("email")
    page.get_by_label("Operator").select_option("is_set")
    page.get_by_role("button", name="Create cohort").click()
    expect(page.get_by_role("heading", name="1 person")).to_be_visible()
    page.get_by_role("navigation").get_by_role("link", name="Sessions").click()
    expect(sessions.get_by_role("row")).to_have_count(3)
    page.get_by_label("Person in cohort").select_option(label="Named payers")
    expect(sessions.get_by_role("row")).to_have_count(2)
    expect(sessions).to_contain_text("payer@shop.test")
    page.get_by_label("Person in cohort").select_option(label="Anyone")
    page.get_by_label("Browser").fill("Firefox")
    expect(page.get_by_text("No recorded sessions match.")).to_be_visible()

    # A session that ends while a page is open brings the sign-in form up in place, and
    # signing in again carries on where the user was.
    page.context.clear_cookies()
    page.get_by_role("navigation").get_by_role("link", name="Dashboards").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Product overview")).to_be_visible()
    assert page.url.endswith("/dashboards")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "09-signed-out")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=re.compile("Shop"))).to_be_visible()


def test_a_form_on_another_site_changes_nothing(
    page: Page, server: ServerProcess, static_site: tuple[str, Path]
) -> None:
    """A signed-in admin visits a hostile page that posts a form to the server."""
    setup = httpx.post(f"{server.url}/api/setup", json={"email": EMAIL, "password": PASSWORD})
    assert setup.status_code == 201
    page.goto(f"{server.url}/signin")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()

    site_url, root = static_site
    (root / "evil.html").write_text(
        f'<form id="f" method="post" action="{server.url}/api/projects" '
        'enctype="text/plain"><input name=\'{"name":"Pwned","x":"\' value=\'"}\'></form>'
        "<script>document.getElementById('f').submit()</script>"
    )
    target = f"{server.url}/api/projects"
    with page.expect_response(lambda r: r.url == target and r.request.method == "POST") as answer:
        page.goto(f"{site_url}/evil.html")
    assert answer.value.status in (401, 403)
    page.goto(server.url)
    expect(page.get_by_text("No projects yet")).to_be_visible()


def _capture(
    server: ServerProcess, api_key: str, event: str, who: str, props: dict[str, Any]
) -> None:
    """One event through the capture endpoint, as an SDK sends it; acknowledged."""
    sent = httpx.post(
        f"{server.url}/capture/",
        json={"api_key": api_key, "event": event, "distinct_id": who, "properties": props},
    )
    assert sent.status_code == 200


def _wait_for(page: Page, ready: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Polls `ready` until it holds: acknowledged events are stored a moment later."""
    deadline = time.monotonic() + seconds
    while not ready():
        assert time.monotonic() < deadline, what
        page.wait_for_timeout(100)


def _shop_with_journeys(
    page: Page,
    server: ServerProcess,
    name: str,
    journeys: dict[str, int],
    sessions: bool = False,
    also: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A project whose persons went through landing, signup and checkout as far as
    `journeys` says, two hours ago, a minute a step (cleo has an email, so lists name her by
    it, and a company; checkouts carry an `amount`; with `sessions`, each person has a session
    of their own; `also` gives some of them one more event, half a minute after landing); then
    its admin signed in."""
    project, auth = server.project_with_admin(name)
    start = datetime.now(UTC) - timedelta(hours=2)
    batch = [
        {
            "event": event,
            "distinct_id": who,
            "timestamp": (start + timedelta(seconds=30)).isoformat(),
            "properties": {"$session_id": f"s-{who}"} if sessions else {},
        }
        for who, event in (also or {}).items()
    ]
    batch += [
        {
            "event": step_name,
            "distinct_id": who,
            "timestamp": (start + timedelta(minutes=step)).isoformat(),
            "properties": ({"$session_id": f"s-{who}"} if sessions else {})
            | ({"$set": {"email": "cleo@shop.test", "company": "Shop"}} if who == "cleo" else {})
            | ({"amount": 30} if step_name == "checkout" else {}),
        }
        for who, reached in journeys.items()
        for step, step_name in enumerate(["landing", "signup", "checkout"][:reached])
    ]
    sent = httpx.post(
        f"{server.url}/batch/", json={"api_key": project["api_token"], "batch": batch}
    )
    assert sent.status_code == 200
    # Acknowledged events are queryable a moment later; pages read what is there when opened.
    listed = f"{server.url}/api/projects/{project['id']}/events?limit=1000"
    deadline = time.monotonic() + 30
    while len(httpx.get(listed, headers=auth).json()["results"]) < len(batch):
        assert time.monotonic() < deadline, "the events were not stored"
        time.sleep(0.05)
    page.goto(f"{server.url}/signin")
    page.get_by_label("Email").fill(f"admin-{project['id']}@{name.lower()}.test")
    page.get_by_label("Password").fill("s3cret-pass")
    page.get_by_role("button", name="Sign in").click()
    return project


def test_insights_from_a_chart_to_the_people_behind_it(page: Page, server: ServerProcess) -> None:
    """Trends and a funnel built in the page, and the persons who dropped at step 2."""
    project = _shop_with_journeys(
        page, server, "Insights", {"ana": 3, "ben": 2, "cleo": 1, "dev": 2}, sessions=True
    )
    start = datetime.now(UTC) - timedelta(hours=2)
    page.get_by_role("link", name=re.compile("^Insights")).first.click()  # the project
    page.get_by_role("navigation").get_by_role("link", name="Insights").click()

    page.get_by_label("Event").fill("landing")
    page.get_by_label("Event").press("Enter")
    page.get_by_label("Event").blur()
    row = page.get_by_role("row", name=re.compile(r"^landing \(total\)"))
    expect(row.get_by_role("cell").last).to_have_text("4")
    expect(page.get_by_test_id("chart")).to_be_visible()
    expect(page.get_by_test_id("no-test-filters")).to_contain_text("None are defined yet")
    shot(page, "07-trends")
    # A series' own filter.
    page.get_by_role("button", name="Add a filter to series A").click()
    own = page.get_by_role("group", name="Series A filter 1")
    own.get_by_label("Property", exact=True).fill("$session_id")
    own.get_by_label("Value").fill("s-ana")
    expect(row.get_by_role("cell").last).to_have_text("1")
    page.get_by_role("button", name="Remove series A filter 1").click()
    expect(row.get_by_role("cell").last).to_have_text("4")
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Property", exact=True).fill("$session_id")
    page.get_by_label("Value").fill("s-ana")
    expect(row.get_by_role("cell").last).to_have_text("1")
    page.get_by_role("button", name="Remove filter 1").click()
    expect(row.get_by_role("cell").last).to_have_text("4")
    page.get_by_label("Break down by").fill("$session_id")
    lines = page.get_by_role("row", name=re.compile(r"^landing \(total\) · s-"))
    expect(lines).to_have_count(4)
    page.get_by_label("Lines for the top").fill("2")
    split = page.get_by_role("row", name=re.compile(r"^landing \(total\) · "))
    expect(split).to_have_count(3)  # two values, and the other two as one line
    expect(split.last).to_contain_text("Other")
    page.get_by_label("Lines for the top").fill("10")
    shot(page, "07b-trends-breakdown")
    page.get_by_label("Break down by").fill("")

    # Two series, a formula over them, the period before, and the sum of a property.
    page.get_by_role("button", name="Add series").click()
    page.locator("#trend-event-2").fill("signup")
    page.locator("#trend-event-2").blur()
    signups = page.get_by_role("row", name=re.compile(r"^signup \(total\)"))
    expect(signups.get_by_role("cell").last).to_have_text("3")
    page.get_by_label("Formula (optional)").fill("A / B * 100")
    ratio = page.get_by_role("row", name=re.compile(r"^A \/ B \* 100"))
    expect(ratio.get_by_role("cell").last).to_have_text("133.333")
    signups.get_by_role("button").filter(has_text="3").click()  # who signed up that day
    persons = page.get_by_test_id("persons")
    expect(persons.get_by_role("row")).to_have_count(4)  # ana, ben, dev and the head
    expect(persons).not_to_contain_text("cleo")
    page.get_by_role("button", name="Close").click()
    page.get_by_label("Compare with the period before").check()
    before = page.get_by_role("row", name=re.compile(r"^signup \(total\) \(previous period\)"))
    expect(before.get_by_role("cell").last).to_have_text("0")
    page.get_by_label("Chart", exact=True).select_option("number")
    expect(page.get_by_test_id("number")).to_have_text(["4", "3", "133.333"])  # A, B, formula
    expect(page.get_by_test_id("change").first).to_have_text("up from 0 in the period before")
    # The numbers say which days they count: the table's first and last.
    days = page.get_by_role("table").first.get_by_role("columnheader").all_inner_texts()[1:-1]
    expect(page.get_by_test_id("number-period")).to_have_text(f"{days[0]} – {days[-1]}")
    page.get_by_label("Chart", exact=True).select_option("line")
    page.get_by_label("Compare with the period before").uncheck()
    page.locator("#trend-math-2").select_option("sum")
    page.locator("#trend-event-2").fill("checkout")
    page.get_by_label("Of the number in property").fill("amount")
    summed = page.get_by_role("row", name=re.compile(r"^checkout \(sum of amount\)"))
    expect(summed.get_by_role("cell").last).to_have_text("30")
    shot(page, "07c-trends-series")
    page.get_by_role("button", name="Remove series B").click()
    expect(row.get_by_role("cell").last).to_have_text("4")
    # Custom dates: whole days, the first and the last included (the project is on UTC).
    page.get_by_label("Date range").select_option(label="Custom dates…")
    dates = page.get_by_role("group", name="Custom dates")
    day = start.date()
    dates.get_by_label("From").fill((day - timedelta(days=1)).isoformat())
    dates.get_by_label("To").fill((day - timedelta(days=1)).isoformat())
    expect(row.get_by_role("cell").last).to_have_text("0")
    dates.get_by_label("To").fill(day.isoformat())
    expect(row.get_by_role("cell").last).to_have_text("4")
    expect(page.get_by_role("table").first.get_by_role("columnheader")).to_have_count(4)
    shot(page, "07d-trends-custom-dates")
    page.get_by_label("Date range").select_option("-7d")
    expect(row.get_by_role("cell").last).to_have_text("4")

    page.get_by_role("tab", name="Funnel").click()
    # A new funnel goes from page views to the app's most seen event of its own.
    expect(page.get_by_label("Step 1", exact=True)).to_have_value("$pageview")
    expect(page.get_by_label("Step 2", exact=True)).to_have_value("landing")
    for i, name in enumerate(["landing", "signup", "checkout"], start=1):
        if i == 3:
            page.get_by_role("button", name="Add step").click()
        page.get_by_label(f"Step {i}", exact=True).fill(name)
        page.get_by_label(f"Step {i}", exact=True).blur()
    steps = page.get_by_test_id("funnel-steps")
    expect(steps.get_by_role("row").nth(1)).to_contain_text("4")
    expect(steps.get_by_role("row").nth(3)).to_contain_text("1")
    expect(steps.get_by_role("row").nth(2)).to_contain_text("75.0 %")
    # Each signup came a minute after its landing; ana's checkout two minutes after hers.
    expect(steps.get_by_role("row").nth(2).get_by_role("cell").last).to_have_text("1 min")
    expect(page.get_by_role("img", name="Time to convert")).to_be_visible()
    shot(page, "08-funnel")
    # Ana's checkout is the one conversion: one bar, whose persons are her.
    page.get_by_role("img", name="Time to convert").click()
    expect(page.get_by_role("region", name=re.compile(r"^Reached step 3 · took "))).to_be_visible()
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(2)
    expect(
        page.get_by_test_id("persons").get_by_role("link", name="ana", exact=True)
    ).to_be_visible()
    page.get_by_role("button", name="Close").click()
    # The histogram's bins are readable steps (a minute, two, five...), or equal ones.
    expect(page.get_by_label("Histogram bins")).to_have_value("steps")
    page.get_by_label("Histogram bins").select_option("linear")
    expect(page.get_by_role("img", name="Time to convert")).to_be_visible()
    page.get_by_label("Histogram bins").select_option("steps")
    # A one-minute window: signup a minute after landing still counts, checkout after two not.
    page.get_by_label("Conversion window").fill("1")
    page.get_by_label("Window unit").select_option("minute")
    expect(steps.get_by_role("row").nth(3)).to_contain_text("0.0 %")
    expect(steps.get_by_role("row").nth(2)).to_contain_text("75.0 %")
    page.get_by_label("Conversion window").fill("14")
    page.get_by_label("Window unit").select_option("day")
    expect(steps.get_by_role("row").nth(3)).to_contain_text("25.0 %")
    # A step's own filter: ana's checkout was of 30.
    page.get_by_role("button", name="Add a filter to step 3").click()
    own = page.get_by_role("group", name="Step 3 filter 1")
    own.get_by_label("Property", exact=True).fill("amount")
    own.get_by_label("Operator").select_option("gt")
    own.get_by_label("Value").fill("50")
    expect(steps.get_by_role("row").nth(3)).to_contain_text("0.0 %")
    own.get_by_label("Operator").select_option("lt")
    expect(steps.get_by_role("row").nth(3)).to_contain_text("25.0 %")
    page.get_by_role("button", name="Remove step 3 filter 1").click()

    steps.get_by_role("row").nth(2).get_by_role("button").last.click()  # dropped before step 2
    persons = page.get_by_test_id("persons")
    expect(persons.get_by_role("row")).to_have_count(2)
    expect(persons.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    expect(persons).to_contain_text("· cleo")  # and her distinct id
    expect(persons).to_contain_text("s-cleo")
    shot(page, "09-funnel-dropped")
    page.get_by_role("button", name="Persons who reached step 3").click()
    expect(page.get_by_role("region", name="Reached step 3")).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(2)  # ana alone checked out
    expect(persons.get_by_role("link", name="ana", exact=True)).to_be_visible()
    page.get_by_role("button", name="Close").click()

    # Broken down by session: a row per value, and the drop-off of one of them.
    page.get_by_label("Break down by").fill("$session_id")
    by_session = page.get_by_test_id("funnel-lines").get_by_role("row")
    expect(by_session).to_have_count(5)  # the head, then one per session
    expect(by_session.filter(has_text="s-ana").get_by_role("cell").last).to_have_text("100.0 %")
    # The time to convert, a colour per session (ana's alone reached the last step).
    expect(page.get_by_role("img", name="Time to convert")).to_be_visible()
    cleos = by_session.filter(has_text="s-cleo")
    expect(cleos.get_by_role("cell").last).to_have_text("0.0 %")
    cleos.get_by_role("button", name="1 dropped").click()  # she dropped before step 2
    expect(page.get_by_role("region", name="Dropped before step 2 · s-cleo")).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(2)
    expect(persons).to_contain_text("cleo")
    page.get_by_role("button", name="Persons of s-ben who reached step 2").click()
    expect(page.get_by_role("region", name="Reached step 2 · s-ben")).to_be_visible()
    expect(persons.get_by_role("link", name="ben", exact=True)).to_be_visible()
    shot(page, "09b-funnel-breakdown")
    page.get_by_label("Break down by").fill("")
    expect(page.get_by_test_id("funnel-lines")).to_have_count(0)
    expect(page.get_by_test_id("funnel-steps")).to_have_count(1)

    # Conversion over time: this month's attempts, of which ana's converted; they may still.
    page.get_by_label("Show").select_option("month")
    now = page.get_by_test_id("funnel-periods").get_by_role("row").last
    expect(now.get_by_role("cell")).to_have_text(
        [re.compile("still converting"), "4", "1", "3", "25.0 %"]
    )
    expect(page.get_by_role("img", name="Funnel chart")).to_be_visible()
    shot(page, "09c-funnel-over-time")
    now.get_by_role("button", name=re.compile("^Persons who converted")).click()
    expect(page.get_by_role("region", name=re.compile("^Reached step 3 · started"))).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(2)
    expect(persons.get_by_role("link", name="ana", exact=True)).to_be_visible()
    page.get_by_role("button", name="Close").click()
    # The three who did not get there, wherever they stopped: cleo after landing, ben and dev
    # after signing up, each at the last step they reached.
    now.get_by_role("button", name=re.compile("^Persons who did not convert")).click()
    expect(
        page.get_by_role("region", name=re.compile("^Did not reach step 3 · started"))
    ).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(4)
    expect(persons).to_contain_text("s-cleo")
    expect(persons).not_to_contain_text("s-ana")
    page.get_by_role("button", name="Close").click()
    page.get_by_label("Show").select_option("")
    expect(page.get_by_test_id("funnel-steps")).to_have_count(1)

    page.get_by_label("Name", exact=True).fill("Signup funnel")
    page.get_by_label("Dashboard").select_option(label="Product overview")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("added it to Product overview")
    page.get_by_role("navigation").get_by_role("link", name="Dashboards").click()
    expect(page.get_by_role("heading", name="Product overview")).to_be_visible()
    tiles = page.get_by_test_id("tile")
    expect(tiles).to_have_count(7)
    funnel_tile = page.get_by_role("region", name="Signup funnel")
    expect(funnel_tile.get_by_test_id("chart")).to_be_visible()
    page.get_by_role("button", name="Move Signup funnel earlier").click()
    expect(tiles.nth(5)).to_have_attribute("aria-label", "Signup funnel")
    expect(
        page.get_by_role("region", name="Weekly retention").get_by_test_id("retention")
    ).to_be_visible()
    page.get_by_label("Dates").select_option("-7d")
    page.wait_for_timeout(1000)
    shot(page, "12-dashboard")

    # Filters for every tile, on top of each one's own: a browser nobody used leaves nobody
    # in the signup funnel, whose four persons come back once the filter goes.
    def funnel_answer(response: Any) -> bool:
        body = response.request.post_data or ""
        return response.url.endswith("/query") and '"kind":"funnel"' in body.replace(" ", "")

    page.get_by_role("button", name="Filters").click()
    shared = page.get_by_role("region", name="Filters for every tile")
    shared.get_by_role("button", name="Add filter").click()
    shared.get_by_label("Property", exact=True).fill("$browser")
    with page.expect_response(funnel_answer) as filtered:
        shared.get_by_label("Value").fill("Netscape")
    assert "Netscape" in (filtered.value.request.post_data or "")
    assert filtered.value.json()["lines"][0]["steps"][0]["count"] == 0
    expect(page.get_by_role("button", name="Filters (1)")).to_be_visible()
    unsaved = page.get_by_role("status", name="Changes not saved")
    expect(unsaved).to_contain_text("not saved with the dashboard")
    shot(page, "12a-dashboard-filtered")
    # Saved with the dashboard, they hold after a reload (and for everyone who opens it).
    unsaved.get_by_role("button", name="Save for everyone").click()
    expect(unsaved).to_have_count(0)
    with page.expect_response(funnel_answer) as reloaded:
        page.reload()
    assert "Netscape" in (reloaded.value.request.post_data or "")
    expect(page.get_by_role("button", name="Filters (1)")).to_be_visible()
    expect(page.get_by_label("Dates")).to_have_value("-7d")
    page.get_by_role("button", name="Filters (1)").click()
    # The answer without the filter: one still in flight from the reload may come first.
    with page.expect_response(
        lambda r: funnel_answer(r) and "Netscape" not in (r.request.post_data or "")
    ) as unfiltered:
        shared.get_by_role("button", name="Remove filter 1").click()
    assert unfiltered.value.json()["lines"][0]["steps"][0]["count"] == 4
    expect(page.get_by_role("button", name="Filters", exact=True)).to_be_visible()
    # Discarding goes back to what is saved; saving none leaves none.
    with page.expect_response(funnel_answer) as back:
        unsaved.get_by_role("button", name="Discard").click()
    assert back.value.json()["lines"][0]["steps"][0]["count"] == 0
    with page.expect_response(funnel_answer):
        shared.get_by_role("button", name="Remove filter 1").click()
    page.get_by_label("Dates").select_option("")
    unsaved.get_by_role("button", name="Save for everyone").click()
    expect(unsaved).to_have_count(0)
    page.get_by_label("New dashboard name").fill("Growth")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name="Growth")).to_be_visible()
    page.get_by_role("button", name="Rename dashboard…").click()
    page.get_by_label("New name of the dashboard").fill("Growth team")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("heading", name="Growth team")).to_be_visible()
    expect(page.get_by_text("This dashboard is empty")).to_be_visible()
    shot(page, "12b-new-dashboard")
    page.get_by_role("navigation", name="Dashboards").get_by_role(
        "link", name="Product overview"
    ).click()
    expect(tiles).to_have_count(7)
    page.get_by_role("navigation", name="Dashboards").get_by_role(
        "link", name="Growth team"
    ).click()
    page.get_by_role("button", name="Delete dashboard…").click()
    page.get_by_role("button", name="Delete “Growth team” for good").click()
    expect(page.get_by_role("heading", name="Product overview")).to_be_visible()
    expect(page.get_by_role("navigation", name="Dashboards")).to_have_count(0)  # one left

    # Events but no recordings: the sessions page says how recordings start.
    page.get_by_role("navigation").get_by_role("link", name="Sessions").click()
    nothing = page.get_by_test_id("no-recordings")
    expect(nothing).to_contain_text("Nothing recorded yet")
    expect(nothing.get_by_role("link", name="Install")).to_be_visible()
    page.get_by_label("Browser").fill("Firefox")
    expect(page.get_by_text("No recorded sessions match.")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Persons").click()
    page.get_by_label("Search distinct ids and properties").fill("CLE")
    listed = page.get_by_test_id("persons-list")
    expect(listed.get_by_role("row")).to_have_count(2)
    # Her properties as labelled values, not as JSON; the one she is named by is not repeated.
    expect(listed.get_by_role("row").nth(1)).to_contain_text("company Shop")
    expect(listed).not_to_contain_text("{")
    expect(listed).not_to_contain_text("email")
    expect(page.get_by_text("1 person", exact=True)).to_be_visible()
    listed.get_by_role("link", name="cleo@shop.test").click()
    expect(page.get_by_role("heading", name="cleo@shop.test")).to_be_visible()
    expect(page.get_by_test_id("person-events")).to_contain_text("landing")
    shot(page, "16-person")

    # The events as stored, filtered by name and person, each with all its properties.
    page.get_by_role("navigation").get_by_role("link", name="Events").click()
    stored = page.get_by_test_id("events").get_by_role("row")
    expect(stored).to_have_count(9)  # 3 + 2 + 1 + 2 events, and a head
    # A person shows by the name they go by (cleo by her email), the distinct id on hover;
    # a person with no email or name, by the distinct id.
    cleo = page.get_by_test_id("events").get_by_role("link", name="cleo@shop.test", exact=True)
    expect(cleo).to_have_count(1)
    expect(
        page.get_by_test_id("events").get_by_role("cell", name="cleo@shop.test")
    ).to_have_attribute("title", "cleo@shop.test · cleo")
    expect(page.get_by_test_id("events").get_by_role("link", name="ben", exact=True)).to_have_count(
        2
    )
    page.get_by_label("Event", exact=True).fill("signup")
    expect(stored).to_have_count(4)
    page.get_by_role("button", name="Add filter").click()
    where = page.get_by_role("group", name="Filter 1")
    where.get_by_label("Property", exact=True).fill("$session_id")
    where.get_by_label("Value").fill("s-ana")
    expect(stored).to_have_count(2)  # ana's signup
    page.get_by_role("button", name="Remove filter 1").click()
    expect(stored).to_have_count(4)
    page.get_by_label("Person (distinct id)").fill("ben")
    expect(stored).to_have_count(2)
    stored.nth(1).get_by_role("button", name=re.compile("^signup at ")).click()
    shown = page.get_by_role("table", name="Properties of signup")
    expect(shown.get_by_role("row", name=re.compile(r"^\$session_id"))).to_contain_text("s-ben")
    shot(page, "16c-events")
    page.get_by_test_id("event-properties").get_by_role("link", name="ben").click()
    expect(page.get_by_role("heading", name="ben")).to_be_visible()
    page.get_by_role("link", name="All their events").click()  # from the person, back
    expect(page.get_by_text("Events of ben")).to_be_visible()
    expect(stored).to_have_count(3)  # landing, signup and a head
    shot(page, "16d-events-of-a-person")
    page.get_by_role("button", name="Show everyone's events, not only ben's").click()
    expect(stored).to_have_count(9)

    # Internal users are defined once, in Settings (cleo is staff: her email is the shop's);
    # an insight then leaves them out on request.
    page.get_by_role("navigation").get_by_role("link", name="Settings").click()
    internal = page.get_by_role("form", name="Internal and test users")
    internal.get_by_role("button", name="Add filter").click()
    internal.get_by_label("Property of").select_option("person")
    internal.get_by_label("Property", exact=True).fill("email")
    internal.get_by_label("Operator").select_option("not_contains")
    internal.get_by_label("Value").fill("@shop.test")
    internal.get_by_role("button", name="Save filters").click()
    expect(internal.get_by_role("status")).to_contain_text("Saved")
    shot(page, "16b-test-users")
    page.get_by_role("navigation").get_by_role("link", name="Events").click()
    expect(stored).to_have_count(9)
    page.get_by_label("Leave out internal and test users").check()
    expect(stored).to_have_count(8)  # cleo's landing is left out
    expect(page.get_by_test_id("events")).not_to_contain_text("cleo")
    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_label("Event").fill("landing")
    page.get_by_label("Event").blur()
    expect(row.get_by_role("cell").last).to_have_text("4")
    expect(page.get_by_test_id("no-test-filters")).to_have_count(0)
    page.get_by_label("Leave out internal and test users").check()
    expect(row.get_by_role("cell").last).to_have_text("3")
    page.get_by_role("tab", name="Funnel").click()  # the choice holds for every kind
    expect(page.get_by_label("Leave out internal and test users")).to_be_checked()
    page.get_by_label("Leave out internal and test users").uncheck()

    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_role("tab", name="Retention").click()
    page.get_by_label("Starting event").fill("landing")
    expect(page.get_by_test_id("retention").get_by_role("row").nth(1)).to_be_visible()
    # All cohorts together: the four who landed today, all there in their first period.
    mean = page.get_by_test_id("retention-mean").get_by_role("cell")
    expect(mean.nth(0)).to_have_text("All cohorts")
    expect(mean.nth(1)).to_have_text("4")
    expect(mean.nth(2)).to_have_text("100%")
    expect(page.get_by_role("img", name="Retention curve")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("cohort,persons,period 0") and lines[-1].split(",")[1] == "4"
    page.get_by_role("button", name=re.compile(r"^Persons of cohort \d+, period 0$")).click()
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(5)
    shot(page, "17-retention")
    page.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Add filter").click()  # retention takes filters too
    page.get_by_label("Property", exact=True).fill("$session_id")
    page.get_by_label("Value").fill("s-ana")
    page.get_by_role("button", name=re.compile(r"^Persons of cohort \d+, period 0$")).click()
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(2)  # ana alone
    page.get_by_role("button", name="Remove filter 1").click()
    # By a person property: cleo's company, and the three without one; a curve each.
    expect(page.get_by_label("Breakdown property of")).to_have_value("person")
    page.get_by_label("Break down by").fill("company")
    page.get_by_label("Table of").select_option(label="Shop")
    expect(mean.nth(1)).to_have_text("1")
    page.get_by_role("button", name=re.compile(r"^Persons of cohort \d+, period 0$")).click()
    expect(page.get_by_role("region", name=re.compile(r"· Shop$"))).to_be_visible()
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(2)
    expect(
        page.get_by_test_id("persons").get_by_role("link", name="cleo@shop.test")
    ).to_be_visible()
    page.get_by_role("button", name="Close").click()
    page.get_by_label("Table of").select_option(label="(none)")
    expect(mean.nth(1)).to_have_text("3")
    expect(page.get_by_role("img", name="Retention curve")).to_be_visible()
    shot(page, "17a-retention-by-company")
    # By a property of the start event: each person's session of their landing.
    page.get_by_label("Breakdown property of").select_option("event")
    page.get_by_label("Break down by").fill("$session_id")
    page.get_by_label("Table of").select_option(label="s-ana")
    expect(mean.nth(1)).to_have_text("1")
    page.get_by_role("button", name=re.compile(r"^Persons of cohort \d+, period 0$")).click()
    expect(page.get_by_role("region", name=re.compile(r"· s-ana$"))).to_be_visible()
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(2)  # ana
    page.get_by_role("button", name="Close").click()
    page.get_by_label("Break down by").fill("")
    expect(page.get_by_label("Table of")).to_have_count(0)
    page.get_by_role("tab", name="Lifecycle").click()
    expect(page.get_by_role("img", name="Lifecycle")).to_be_visible()
    page.locator("#lifecycle-event").fill("landing")
    numbers = page.get_by_test_id("numbers")
    numbers.get_by_role("button", name=re.compile(r"^Persons: new, ")).filter(has_text="4").click()
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(5)  # all four, new
    shot(page, "17b-lifecycle-persons")
    page.get_by_role("tab", name="Stickiness").click()
    expect(page.get_by_role("img", name="Stickiness")).to_be_visible()
    page.locator("#stickiness-event").fill("landing")
    numbers.get_by_role("button", name=re.compile(r", 1$")).click()  # landed on one day
    expect(page.get_by_test_id("persons").get_by_role("row")).to_have_count(5)
    page.get_by_role("tab", name="Paths").click()
    page.get_by_label("Include custom events").check()
    paths = page.get_by_test_id("paths")
    expect(paths).to_contain_text("landing → signup")
    expect(paths.get_by_role("img", name="Paths flow")).to_be_visible()
    expect(page.get_by_label("First, the project's page groups")).to_be_checked()
    expect(page.get_by_test_id("project-groups")).to_contain_text("None are defined yet")
    # An admin defines the project's page groups in place; the paths are asked for again.
    page.get_by_role("button", name="Edit the project's page groups").click()
    editor = page.get_by_role("group", name="The project's page groups")
    editor.get_by_role("button", name="Add a rule").click()
    editor.get_by_label("Pattern").fill("^/product/\\d+")
    editor.get_by_label("Shown as").fill("/product/:id")
    shot(page, "18b-paths-project-groups")

    def paths_answer(response: Any) -> bool:
        body = response.request.post_data or ""
        return response.url.endswith("/query") and '"kind":"paths"' in body.replace(" ", "")

    with page.expect_response(paths_answer):
        editor.get_by_role("button", name="Save for the project").click()
    expect(page.get_by_test_id("project-groups")).to_have_text(
        "^/product/\\d+ as /product/:id (Settings)"
    )
    # Left out, signup is no step: the paths go from landing straight on to checkout.
    left_out = page.get_by_label("Leave out (one page or event a line)")
    left_out.fill("signup")
    expect(paths).to_contain_text("landing → checkout")
    expect(paths).not_to_contain_text("landing → signup")
    # A rule that groups pages must match something wherever it matches; it says so.
    page.get_by_role("button", name="Add a rule").click()
    rule = page.get_by_role("group", name="Rule 1")
    rule.get_by_label("Pattern").fill("/?")
    expect(page.get_by_role("alert").first).to_have_text(
        "path_cleaning.0.regex: the pattern must match at least one character wherever it matches"
    )
    rule.get_by_label("Pattern").fill("^/product/\\w+")
    rule.get_by_label("Shown as").fill("/product/:id")
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(paths).to_contain_text("landing → checkout")
    shot(page, "18a-paths-grouped-and-left-out")
    page.get_by_role("button", name="Remove rule 1").click()
    left_out.fill("")
    expect(paths).to_contain_text("landing → signup")
    shot(page, "18-paths")
    paths.get_by_role("button", name=re.compile(r"landing → signup")).first.click()
    persons = page.get_by_test_id("persons")
    expect(persons.get_by_role("row")).to_have_count(4)  # ana, ben and dev; cleo stopped
    expect(persons).not_to_contain_text("cleo")
    shot(page, "19-paths-persons")
    page.get_by_role("button", name="Add filter").click()  # paths take filters too
    page.get_by_label("Property", exact=True).fill("$session_id")
    page.get_by_label("Value").fill("s-ben")
    expect(persons).to_have_count(0)  # those persons were of the paths before the filter
    paths.get_by_role("button", name=re.compile(r"landing → signup")).first.click()
    expect(persons.get_by_role("row")).to_have_count(2)  # ben alone
    page.get_by_role("button", name="Remove filter 1").click()
    paths.get_by_role("button", name=re.compile(r"landing → signup")).first.click()
    expect(persons.get_by_role("row")).to_have_count(4)

    # dev asks to be forgotten: deleted from their page, in two clicks.
    persons.get_by_role("link", name="dev", exact=True).click()
    expect(page.get_by_role("heading", name="dev")).to_be_visible()
    history = page.get_by_test_id("person-events").get_by_role("listitem")
    expect(history).to_have_count(2)  # signup, then landing: one under the other
    first, second = (history.nth(i).bounding_box() for i in range(2))
    assert first and second and second["y"] >= first["y"] + first["height"]
    page.get_by_role("button", name="Delete person…").click()
    shot(page, "20-delete-person")
    page.get_by_role("button", name="Delete dev for good").click()
    expect(page.get_by_role("status")).to_have_text(
        "dev was deleted, with their events and recordings."
    )
    expect(page.get_by_test_id("persons-list").get_by_role("row")).to_have_count(4)  # and a head
    expect(page.get_by_test_id("persons-list")).not_to_contain_text("dev")
    api = f"{server.url}/api/projects/{project['id']}"
    assert page.request.get(f"{api}/persons/dev").status == 404
    page.goto(f"{server.url}/projects/{project['id']}/persons/dev")  # an old link to them
    expect(page.get_by_role("heading", name="No such person")).to_be_visible()
    page.get_by_role("link", name="Search the persons").click()
    expect(page.get_by_test_id("persons-list").get_by_role("row")).to_have_count(4)
    assert page.request.get(f"{api}/events?distinct_id=dev").json()["results"] == []

    # eve cancelled between landing and signing up: an exclusion leaves her attempt out.
    eve = [
        {
            "event": name,
            "distinct_id": "eve",
            "timestamp": (start + timedelta(minutes=i)).isoformat(),
        }
        for i, name in enumerate(["landing", "cancel", "signup"])
    ]
    sent = httpx.post(f"{server.url}/batch/", json={"api_key": project["api_token"], "batch": eve})
    assert sent.status_code == 200
    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_role("tab", name="Funnel").click()
    for i, name in enumerate(["landing", "signup"], start=1):
        page.get_by_label(f"Step {i}", exact=True).fill(name)
        page.get_by_label(f"Step {i}", exact=True).blur()
    counts = page.get_by_test_id("funnel-steps").get_by_role("row")
    expect(counts.nth(1)).to_contain_text("4")  # ana, ben, cleo and eve
    expect(counts.nth(2)).to_contain_text("3")
    page.get_by_role("button", name="Add exclusion").click()
    page.get_by_role("group", name="Exclusion 1").get_by_label("Event").fill("cancel")
    expect(counts.nth(1)).to_contain_text("3")
    expect(counts.nth(2)).to_contain_text("2")
    shot(page, "21-funnel-exclusion")

    # Cleo also signs in on another device: her person page lists both ids, each in full.
    laptop = "cleo-on-her-laptop-0f6a1c2e-5d4b-4e8f-9a7c-3b2d1e0f9a8b"
    _capture(server, project["api_token"], "$create_alias", "cleo", {"alias": laptop})
    stored_by = f"{server.url}/api/projects/{project['id']}/persons/{laptop}"
    _wait_for(
        page,
        lambda: page.request.get(stored_by).status == 200,
        "the alias was never stored",
        seconds=10,
    )
    page.goto(f"{server.url}/projects/{project['id']}/persons/{laptop}")
    expect(page.get_by_role("heading", name="cleo@shop.test")).to_be_visible()
    expect(page.get_by_test_id("distinct-ids").locator("div")).to_have_text(["cleo", laptop])


def test_a_funnel_says_which_events_set_converters_apart(page: Page, server: ServerProcess) -> None:
    """Those who took the tour checked out; those who asked for help did not. The funnel
    finds both, with the persons behind each count, and leaves out what it is told to."""
    _shop_with_journeys(
        page,
        server,
        "Correlation",
        {"ana": 3, "ben": 3, "cleo": 1, "dev": 1, "eve": 2},
        sessions=True,
        also={"ana": "tour", "ben": "tour", "cleo": "help", "dev": "help"},
    )
    page.get_by_role("link", name=re.compile("^Correlation")).first.click()
    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_role("tab", name="Funnel").click()
    for i, name in enumerate(["landing", "signup", "checkout"], start=1):
        if i == 3:
            page.get_by_role("button", name="Add step").click()
        page.get_by_label(f"Step {i}", exact=True).fill(name)
        page.get_by_label(f"Step {i}", exact=True).blur()
    expect(page.get_by_test_id("funnel-steps").get_by_role("row").nth(3)).to_contain_text("2")
    shot(page, "26-funnel-correlation-ask")
    page.get_by_role("button", name="Find correlated events").click()
    region = page.get_by_role("region", name="Correlated events")
    expect(region).to_contain_text("2 converted, 3 dropped.")
    # Odds with one added to each count: (2+1)/(0+1) against (0+1)/(3+1), twelve times.
    success = page.get_by_test_id("correlation-success").get_by_role("row")
    expect(success).to_have_count(2)
    expect(success.nth(1).get_by_role("cell")).to_have_text(
        ["tour", "2 100 %", "0 0 %", "12× more likely to convert", "×"]
    )
    # (0+1)/(2+1) against (2+1)/(1+1): 4.5 times less.
    failure = page.get_by_test_id("correlation-failure").get_by_role("row")
    expect(failure.nth(1).get_by_role("cell")).to_have_text(
        ["help", "0 0 %", "2 67 %", "4.5× less likely to convert", "×"]
    )
    shot(page, "26-funnel-correlation")
    page.get_by_role("button", name="Persons with help who dropped").click()
    persons = page.get_by_role("region", name="Did help and dropped")
    expect(persons.get_by_test_id("persons").get_by_role("row")).to_have_count(3)
    expect(persons).to_contain_text("s-dev")
    expect(persons.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    persons.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Leave out tour").click()
    expect(page.get_by_test_id("correlation-left-out")).to_have_text("Also left out: tour")
    expect(success.nth(1)).to_have_text("Nothing here.")
    page.get_by_role("button", name="Put back").click()
    expect(success.nth(1).get_by_role("cell").first).to_have_text("tour")
    # Person properties: cleo, who dropped, is the one with a company.
    region.get_by_role("tab", name="Person properties").click()
    expect(region).to_contain_text("Choose one or more person properties")
    region.get_by_label("Person property").fill("company")
    region.get_by_role("button", name="Compare").click()
    expect(success.nth(1)).to_have_text("Nothing here.")
    expect(failure.nth(1).get_by_role("cell")).to_have_text(
        ["company = Shop", "0 0 %", "1 33 %", "2.0× less likely to convert", ""]
    )
    shot(page, "26b-funnel-correlation-properties")
    page.get_by_role("button", name="Persons with company = Shop who dropped").click()
    persons = page.get_by_role("region", name="With company = Shop and dropped")
    expect(persons.get_by_test_id("persons").get_by_role("row")).to_have_count(2)
    expect(persons.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    # Broken down (a line per session here), one line's persons: cleo's alone.
    page.get_by_label("Break down by").fill("$session_id")
    region.get_by_label("Of the persons of").select_option(label="s-cleo")
    expect(region.get_by_role("heading")).to_have_text("What sets converters apart · s-cleo")
    expect(page.get_by_test_id("correlation-totals")).to_have_text("0 converted, 1 dropped.")
    expect(failure.nth(1).get_by_role("cell")).to_have_text(
        ["company = Shop", "0 –", "1 100 %", "2.0× less likely to convert", ""]
    )


def test_the_persons_list_shows_more_on_request(page: Page, server: ServerProcess) -> None:
    """Sixty persons: the list shows the newest fifty, then the rest on request, each once."""
    project = _shop_with_journeys(page, server, "Crowd", {f"p{i:02d}": 1 for i in range(60)})
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{server.url}/projects/{project['id']}/persons")
    rows = page.get_by_test_id("persons-list").get_by_role("row")
    expect(rows).to_have_count(51)  # and a head
    expect(page.get_by_text("50 persons so far")).to_be_visible()
    page.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(61)
    expect(page.get_by_text("60 persons", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Show more")).to_have_count(0)
    names = [rows.nth(i).get_by_role("link").inner_text() for i in range(1, 61)]
    assert sorted(names) == [f"p{i:02d}" for i in range(60)]
    # Their sixty events, the same way.
    page.get_by_role("navigation").get_by_role("link", name="Events").click()
    events = page.get_by_test_id("events").get_by_role("row")
    expect(events).to_have_count(51)
    expect(page.get_by_text("50 events so far")).to_be_visible()
    page.get_by_role("button", name="Show more").click()
    expect(events).to_have_count(61)
    expect(page.get_by_text("60 events", exact=True)).to_be_visible()


def test_a_person_is_named_by_their_email_without_the_spaces_sent_with_it(
    page: Page, server: ServerProcess
) -> None:
    """An email sent with spaces around it names the person as it reads, on every page (the
    server's lists trim it too), and is not shown again among their properties."""
    project = _shop_with_journeys(page, server, "Padded", {"dora": 1})
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    padded = {"$set": {"email": "  dora@shop.test ", "company": "Shop"}}
    _capture(server, project["api_token"], "$set", "dora", padded)
    person_api = f"{server.url}/api/projects/{project['id']}/persons/dora"
    _wait_for(
        page,
        lambda: page.request.get(person_api).json()["properties"].get("email") is not None,
        "the person's email was never stored",
    )
    page.goto(f"{server.url}/projects/{project['id']}/persons")
    listed = page.get_by_test_id("persons-list")
    expect(listed.get_by_role("row").nth(1)).to_contain_text("company Shop")
    expect(listed).not_to_contain_text("email")
    listed.get_by_role("link", name="dora@shop.test").click()
    expect(page.get_by_role("heading", name="dora@shop.test")).to_be_visible()
    to_events = page.get_by_role("link", name="All their events")
    assert (to_events.get_attribute("href") or "").endswith("&name=dora%40shop.test")
    to_events.click()
    expect(page.get_by_text("Events of dora@shop.test")).to_be_visible()
    # The events list names people by what the server sends: the same name.
    expect(
        page.get_by_test_id("events").get_by_role("cell", name="dora@shop.test").first
    ).to_have_attribute("title", "dora@shop.test · dora")


def test_an_admin_backs_the_server_up_from_the_projects_page(
    page: Page, server: ServerProcess
) -> None:
    _shop_with_journeys(page, server, "Kept", {"ann": 3, "ben": 1})
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.goto(f"{server.url}/projects")
    card = page.get_by_role("region", name="Backups")
    expect(card.get_by_text("No backups yet")).to_be_visible()
    expect(card.get_by_test_id("disk-free")).to_contain_text("free on the server's disk")
    card.get_by_role("button", name="Back up now").click()
    expect(card.get_by_role("status")).to_contain_text("Backed up 4 events and 0 recorded")
    rows = card.get_by_test_id("backups").get_by_role("row")
    expect(rows).to_have_count(2)  # and a head
    expect(rows.nth(1).get_by_role("cell").nth(1)).to_have_text("4")
    [made] = page.request.get(f"{server.url}/api/backups").json()
    assert (server.data_dir / "backups" / made["name"] / "events.duckdb").is_file()
    # A person deleted afterwards: the backup says it has that deletion to repeat.
    project_id = page.request.get(f"{server.url}/api/projects").json()[0]["id"]
    page.goto(f"{server.url}/projects/{project_id}/persons/ben")
    page.get_by_role("button", name="Delete person…").click()
    page.get_by_role("button", name="Delete ben for good").click()
    expect(page.get_by_text("ben was deleted")).to_be_visible()
    page.goto(f"{server.url}/projects")
    expect(card.get_by_test_id("pending-erasures")).to_have_text("1 deletion to repeat in it")
    shot(page, "projects-backups")


def test_every_page_says_when_the_disk_is_nearly_full(page: Page, tmp_path: Path) -> None:
    """A margin of free space between half and all of what this disk has free: recordings are
    refused (events still come in), and the web app says so on every page."""
    free_mb = shutil.disk_usage(tmp_path).free // (1024 * 1024)
    margin = {"USERLENS_MIN_FREE_DISK_MB": str(free_mb * 2 // 3)}
    server = ServerProcess(data_dir=tmp_path / "data", port=free_port(), settings=margin)
    server.data_dir.mkdir()
    server.start()
    try:
        project = _shop_with_journeys(page, server, "Full", {"ann": 1})
        alert = page.get_by_test_id("server-alert")
        expect(alert).to_contain_text("the disk is nearly full")
        expect(alert).to_contain_text("capture refuses recordings")
        page.goto(f"{server.url}/projects/{project['id']}/events")
        expect(page.get_by_test_id("events").get_by_role("row")).to_have_count(2)
        expect(page.get_by_test_id("server-alert")).to_contain_text("nearly full")
        shot(page, "disk-nearly-full")
    finally:
        server.stop()


def test_the_session_list_shows_more_on_request(page: Page, server: ServerProcess) -> None:
    """101 recorded sessions: the newest hundred, then the last one on request."""
    project = _shop_with_journeys(page, server, "Replays", {"v000": 1})
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    start = int((datetime.now(UTC) - timedelta(hours=3)).timestamp() * 1000)
    node = {"type": 0, "id": 1, "childNodes": [{"type": 3, "id": 2, "textContent": "Hi"}]}
    chunks = [
        {
            "event": "$snapshot",
            "properties": {
                "token": project["api_token"],
                "distinct_id": f"v{i:03d}",
                "$session_id": f"s-{i:03d}",
                "$window_id": "w",
                "$snapshot_data": [
                    {
                        "type": 4,
                        "timestamp": at,
                        "data": {"href": "https://shop.test/", "width": 800, "height": 600},
                    },
                    {
                        "type": 2,
                        "timestamp": at + 1,
                        "data": {"node": node, "initialOffset": {"top": 0, "left": 0}},
                    },
                ],
            },
        }
        for i, at in ((i, start + i * 60_000) for i in range(101))
    ]
    assert httpx.post(f"{server.url}/s/", json=chunks).status_code == 200
    page.goto(f"{server.url}/projects/{project['id']}/sessions")
    rows = page.get_by_test_id("sessions").get_by_role("row")
    expect(rows).to_have_count(101)  # and a head
    expect(page.get_by_text("100 sessions so far")).to_be_visible()
    expect(rows.nth(1)).to_contain_text("v100")  # the newest first
    page.get_by_role("button", name="Show more").click()
    expect(rows).to_have_count(102)
    expect(rows.last).to_contain_text("v000")
    expect(page.get_by_text("101 sessions", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Show more")).to_have_count(0)
    # Another order gives its first hundred, and says so.
    page.get_by_label("Sort by").select_option("duration")
    expect(page.get_by_text("The first 100 in this order")).to_be_visible()
    expect(rows).to_have_count(101)


def test_settings_team_and_a_viewer_who_cannot_change_them(
    page: Page, server: ServerProcess
) -> None:
    project, _ = server.project_with_admin("Team")
    page.goto(f"{server.url}/signin")
    page.get_by_label("Email").fill(f"admin-{project['id']}@team.test")
    page.get_by_label("Password").fill("s3cret-pass")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()
    page.goto(f"{server.url}/projects/{project['id']}/settings")
    page.get_by_label("Name", exact=True).fill("Team shop")
    page.get_by_label("Kept for (days)").fill("14")
    # A rule the browser would read otherwise is refused, saying why, and nothing is saved.
    page.get_by_label("Never record on URLs matching").fill("/billing\n(?i)/admin")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("alert").first).to_contain_text("inline flags such as (?i)")
    shot(page, "13a-settings-url-rule-refused")
    page.get_by_label("Never record on URLs matching").fill("/billing\n^/[Aa]dmin")
    page.get_by_role("button", name="Save settings").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved")
    # Page groups that every paths insight applies first.
    groups = page.get_by_role("form", name="Pages in paths")
    groups.get_by_role("button", name="Add a rule").click()
    groups.get_by_label("Pattern").fill("^/product/\\d+")
    groups.get_by_label("Shown as").fill("/product/:id")
    groups.get_by_role("button", name="Save page groups").click()
    expect(groups.get_by_role("status")).to_contain_text("Paths insights group pages")
    page.get_by_label("Invite by email").fill("vera@team.test")
    page.get_by_label("Role").select_option("viewer")
    page.get_by_role("button", name="Invite").click()
    note = page.get_by_test_id("invited")
    expect(note).to_contain_text("one-time password")
    password = re.search(r"password (\S+) —", note.inner_text())
    assert password is not None
    expect(page.get_by_test_id("members")).to_contain_text("vera@team.test")
    shot(page, "13-settings")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("Email", exact=True).fill("vera@team.test")
    page.get_by_label("Password").fill(password.group(1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=re.compile("Team shop"))).to_be_visible()
    page.goto(f"{server.url}/projects/{project['id']}/settings")
    expect(page.get_by_text("Only admins change these.")).to_be_visible()
    expect(page.get_by_label("Kept for (days)")).to_be_disabled()
    expect(page.get_by_label("Kept for (days)")).to_have_value("14")
    expect(page.get_by_label("Never record on URLs matching")).to_have_value("/billing\n^/[Aa]dmin")
    viewed = page.get_by_role("form", name="Pages in paths").get_by_label("Pattern")
    expect(viewed).to_have_value("^/product/\\d+")
    expect(viewed).to_be_disabled()
    expect(page.get_by_role("button", name="Save settings")).to_have_count(0)
    expect(page.get_by_role("button", name="Invite")).to_have_count(0)
    expect(page.get_by_role("button", name="Save filters")).to_have_count(0)
    expect(page.get_by_role("form", name="Delete this project")).to_have_count(0)
    shot(page, "14-settings-viewer")
    # The paths builder names the project's page groups it applies first.
    page.goto(f"{server.url}/projects/{project['id']}/insights?kind=paths")
    expect(page.get_by_test_id("project-groups")).to_have_text(
        "^/product/\\d+ as /product/:id (Settings)"
    )
    expect(page.get_by_role("button", name="Edit the project's page groups")).to_have_count(0)
    page.goto(f"{server.url}/projects/{project['id']}/dashboards")
    expect(page.get_by_test_id("tile").first.get_by_test_id("chart")).to_be_visible()
    expect(page.get_by_role("form", name="New dashboard")).to_have_count(0)  # viewers read only
    page.goto(f"{server.url}/account")
    page.get_by_label("Label").fill("nightly export")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("new-token").inner_text()
    assert token.startswith("ulx_")
    listed = httpx.get(f"{server.url}/api/projects", headers={"Authorization": f"Bearer {token}"})
    assert [p["role"] for p in listed.json()] == ["viewer"]
    shot(page, "15-account")

    # Another team's project: its pages say it is not there, and its API answers 404.
    other, _ = server.project_with_admin("Other")
    for tab in ("settings", "insights", "sessions", "dashboards"):
        page.goto(f"{server.url}/projects/{other['id']}/{tab}")
        expect(page.get_by_role("alert").first).to_contain_text("No such project")
    shot(page, "15b-other-project")
    page.get_by_role("link", name="Back to your projects").click()
    expect(page.get_by_role("link", name=re.compile("Team shop"))).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Other"))).to_have_count(0)
    elsewhere = httpx.get(
        f"{server.url}/api/projects/{other['id']}/events",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert elsewhere.status_code == 404

    # The team's admin deletes the project: only once its name is typed.
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Email", exact=True).fill(f"admin-{project['id']}@team.test")
    page.get_by_label("Password").fill("s3cret-pass")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name=re.compile("Team shop"))).to_be_visible()
    page.goto(f"{server.url}/projects/{project['id']}/settings")
    doomed = page.get_by_role("form", name="Delete this project")
    doomed.get_by_label("Type Team shop to confirm").fill("Team")
    expect(doomed.get_by_role("button", name="Delete project")).to_be_disabled()
    doomed.get_by_label("Type Team shop to confirm").fill("Team shop")
    shot(page, "15c-delete-project")
    doomed.get_by_role("button", name="Delete project").click()
    expect(page.get_by_role("status")).to_have_text("Team shop was deleted, with all its data.")
    expect(page.get_by_role("link", name=re.compile("Team shop"))).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("Other"))).to_be_visible()
    sent = {"api_key": project["api_token"], "event": "late", "distinct_id": "d"}
    assert httpx.post(f"{server.url}/e/", json=sent).status_code == 401
    gone = httpx.get(f"{server.url}/api/projects", headers={"Authorization": f"Bearer {token}"})
    assert gone.json() == []  # vera's membership went with it


def test_cohorts_made_in_the_page_keep_to_and_split_insights(
    page: Page, server: ServerProcess
) -> None:
    """A cohort by rules and one by a list, their persons, then each as an insight's filter
    and breakdown, by name."""
    project = _shop_with_journeys(
        page, server, "Cohorts", {"ana": 3, "ben": 2, "cleo": 1, "dev": 3}
    )
    page.get_by_role("link", name=re.compile("^Cohorts")).first.click()  # the project
    page.get_by_role("navigation").get_by_role("link", name="Cohorts").click()
    expect(page.get_by_text("No cohorts yet.")).to_be_visible()

    # Buyers: whoever checked out in the last 30 days, or is staff.
    page.get_by_role("button", name="New cohort").click()
    page.get_by_label("Name").fill("Buyers")
    page.get_by_label("Event").fill("checkout")
    members = page.get_by_test_id("cohort-members")
    page.get_by_role("button", name="Create cohort").click()
    expect(page.get_by_role("heading", name="Buyers")).to_be_visible()
    expect(page.get_by_role("heading", name="2 persons")).to_be_visible()
    expect(members.get_by_role("link")).to_have_text(["dev", "ana"])  # newest first
    page.get_by_label("Rules that must hold").select_option("any")
    page.get_by_role("button", name="Add rule").click()
    page.get_by_label("Kind of rule").nth(1).select_option("has_property")
    page.get_by_label("Person property").fill("email")
    page.get_by_label("Operator").select_option("contains")
    page.get_by_label("Value").fill("@shop.test")
    page.get_by_role("button", name="Save cohort").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.get_by_role("heading", name="3 persons")).to_be_visible()
    expect(members.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    shot(page, "22-cohort")

    # Beta: a list of distinct ids, one of them nobody's.
    page.get_by_role("link", name="← All cohorts").click()
    page.get_by_role("button", name="New cohort").click()
    page.get_by_label("Name").fill("Beta")
    page.get_by_label("Who is in it").select_option("list")
    page.get_by_label("Distinct ids, one per line").fill("ben\ncleo\nnobody")
    page.get_by_role("button", name="Create cohort").click()
    expect(page.get_by_role("heading", name="2 persons")).to_be_visible()
    page.get_by_role("link", name="← All cohorts").click()
    listed = page.get_by_test_id("cohorts-list")
    expect(listed.get_by_role("row")).to_have_count(3)
    expect(listed.get_by_role("row", name=re.compile("^Buyers"))).to_contain_text(
        "did checkout at least 1 time in the last 30 days or email contains @shop.test"
    )
    expect(page.get_by_test_id("cohort-count")).to_have_text(["3", "2"])
    shot(page, "23-cohorts")

    # The events list takes a cohort as a filter too: Beta's events, then everyone else's.
    page.get_by_role("navigation").get_by_role("link", name="Events").click()
    stored = page.get_by_test_id("events").get_by_role("row")
    expect(stored).to_have_count(10)  # 3 + 2 + 1 + 3 events, and a head
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Property of", exact=True).select_option("cohort")
    page.get_by_label("Cohort", exact=True).select_option(label="Beta")
    expect(stored).to_have_count(4)  # ben's two and cleo's one
    expect(page.get_by_test_id("events")).not_to_contain_text("ana")
    page.get_by_label("In or not in").select_option("out")
    expect(stored).to_have_count(7)  # ana's three and dev's three
    expect(page.get_by_test_id("events")).not_to_contain_text("ben")
    shot(page, "23b-events-of-a-cohort")

    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_label("Event").fill("landing")
    page.get_by_label("Event").blur()
    row = page.get_by_role("row", name=re.compile(r"^landing \(total\)"))
    expect(row.get_by_role("cell").last).to_have_text("4")
    page.get_by_role("button", name="Add filter").click()
    page.get_by_label("Property of", exact=True).select_option("cohort")
    page.get_by_label("Cohort", exact=True).select_option(label="Beta")
    expect(row.get_by_role("cell").last).to_have_text("2")  # ben and cleo
    page.get_by_label("In or not in").select_option("out")
    expect(row.get_by_role("cell").last).to_have_text("2")  # ana and dev
    page.get_by_label("Cohort", exact=True).select_option(label="Buyers")
    expect(row.get_by_role("cell").last).to_have_text("1")  # ben
    page.get_by_role("button", name="Remove filter 1").click()
    page.get_by_label("Breakdown property of").select_option("cohort")
    picks = page.get_by_role("group", name="Cohorts to break down by")
    picks.get_by_label("Buyers").check()
    picks.get_by_label("Beta").check()
    buyers = page.get_by_role("row", name=re.compile(r"^landing \(total\) · Buyers"))
    beta = page.get_by_role("row", name=re.compile(r"^landing \(total\) · Beta"))
    expect(buyers.get_by_role("cell").last).to_have_text("3")
    expect(beta.get_by_role("cell").last).to_have_text("2")
    beta.get_by_role("button").filter(has_text="2").click()
    persons = page.get_by_test_id("persons")
    expect(persons.get_by_role("row")).to_have_count(3)  # ben, cleo and the head
    expect(persons.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    shot(page, "24-trends-by-cohort")
    page.get_by_role("button", name="Close").click()

    # Saved onto the dashboard, opened again from its tile, changed and saved in place.
    page.get_by_label("Name", exact=True).fill("Landing by cohort")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("added it to Product overview")
    # A second save from the same page adds to the dashboard as it is now, drawn as numbers.
    page.get_by_label("Chart", exact=True).select_option("number")
    page.get_by_label("Name", exact=True).fill("Second landing chart")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Saved “Second landing chart”")
    page.get_by_label("Chart", exact=True).select_option("line")
    boards = page.request.get(f"{server.url}/api/projects/{project['id']}/dashboards").json()
    assert {"Landing by cohort", "Second landing chart"} <= {t["name"] for t in boards[0]["tiles"]}
    page.get_by_role("navigation").get_by_role("link", name="Dashboards").click()
    tile = page.get_by_role("region", name="Landing by cohort")
    expect(tile.get_by_test_id("chart")).to_be_visible()
    numbers = page.get_by_role("region", name="Second landing chart")
    expect(numbers.get_by_test_id("number")).to_have_text(["3", "2"])  # Buyers, Beta
    expect(numbers.get_by_test_id("chart")).to_have_count(0)
    shot(page, "24a-dashboard-number-tile")
    tile.get_by_role("link", name="Landing by cohort").click()
    expect(page.get_by_role("heading", name="Landing by cohort")).to_be_visible()
    expect(page.get_by_label("Event")).to_have_value("landing")
    expect(page.get_by_label("Chart", exact=True)).to_have_value("line")
    expect(picks.get_by_label("Buyers")).to_be_checked()
    expect(beta.get_by_role("cell").last).to_have_text("2")
    picks.get_by_label("Beta").uncheck()
    expect(beta).to_have_count(0)
    expect(buyers.get_by_role("cell").last).to_have_text("3")
    shot(page, "24b-saved-insight-opened")
    page.get_by_role("button", name="Save changes to “Landing by cohort”").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the changes")
    insights = page.request.get(f"{server.url}/api/projects/{project['id']}/insights").json()
    (changed,) = [i for i in insights if i["name"] == "Landing by cohort"]
    assert [c["cohort_id"] for c in changed["spec"]["breakdown_cohorts"]] == [
        c["id"]
        for c in page.request.get(f"{server.url}/api/projects/{project['id']}/cohorts").json()
        if c["name"] == "Buyers"
    ]
    page.get_by_role("link", name="New insight").click()
    expect(page.get_by_role("heading", name="Landing by cohort")).to_have_count(0)
    expect(page.get_by_label("Event")).to_have_value("$pageview")
    # Saved without a dashboard, it is found among the saved insights, and put on one there.
    page.get_by_label("Name", exact=True).fill("Page views alone")
    first_day = (datetime.now(UTC) - timedelta(days=6)).date().isoformat()
    page.get_by_label("Date range").select_option(label="Custom dates…")
    page.get_by_role("group", name="Custom dates").get_by_label("From").fill(first_day)
    page.get_by_label("Dashboard").select_option(label="None")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Saved “Page views alone”.")
    page.get_by_role("tab", name="Saved insights").click()
    saved = page.get_by_test_id("saved-insights")
    expect(saved.get_by_role("row", name=re.compile("^Landing by cohort"))).to_contain_text(
        "Product overview"
    )
    alone = saved.get_by_role("row", name=re.compile("^Page views alone"))
    expect(alone).to_contain_text("none")
    shot(page, "24c-saved-insights")
    # Its custom dates come back with it.
    alone.get_by_role("link", name="Page views alone").click()
    expect(page.get_by_label("Date range")).to_have_value("custom")
    expect(page.get_by_role("group", name="Custom dates").get_by_label("From")).to_have_value(
        first_day
    )
    page.get_by_role("tab", name="Saved insights").click()
    alone.get_by_label("Add Page views alone to a dashboard").select_option(
        label="Product overview"
    )
    expect(alone).to_contain_text("Product overview")
    alone.get_by_role("button", name="Delete Page views alone").click()
    alone.get_by_role("button", name="Delete for good").click()
    expect(saved.get_by_role("row", name=re.compile("^Page views alone"))).to_have_count(0)
    saved.get_by_role("link", name="Landing by cohort").click()
    page.get_by_role("button", name="Rename insight…").click()
    page.get_by_label("New name of the insight").fill("Landings per cohort")
    page.get_by_role("button", name="Save name").click()
    expect(page.get_by_role("heading", name="Landings per cohort")).to_be_visible()
    expect(page.get_by_role("button", name="Save changes to “Landings per cohort”")).to_be_visible()
    page.get_by_role("tab", name="Saved insights").click()
    expect(saved.get_by_role("link", name="Landings per cohort")).to_be_visible()
    page.get_by_role("tab", name="Trends").click()

    page.get_by_role("tab", name="Funnel").click()
    for i, name in enumerate(["landing", "signup"], start=1):
        page.get_by_label(f"Step {i}", exact=True).fill(name)
        page.get_by_label(f"Step {i}", exact=True).blur()
    page.get_by_label("Breakdown property of").select_option("cohort")
    page.get_by_role("group", name="Cohorts to break down by").get_by_label("Beta").check()
    lines = page.get_by_test_id("funnel-lines").get_by_role("row")
    expect(lines).to_have_count(2)
    expect(lines.nth(1).get_by_role("cell").first).to_have_text("Beta")
    expect(lines.nth(1).get_by_role("cell").last).to_have_text("50.0 %")  # ben, not cleo
    lines.nth(1).get_by_role("button", name="1 dropped").click()
    dropped = page.get_by_role("region", name="Dropped before step 2 · Beta")
    expect(dropped).to_be_visible()
    expect(persons.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    # Who dropped, kept as a cohort of their own.
    dropped.get_by_role("button", name="Save as cohort…").click()
    dropped.get_by_label("Cohort name").fill("Beta, dropped at signup")
    dropped.get_by_role("button", name="Save cohort").click()
    expect(dropped.get_by_role("status")).to_contain_text("Saved as the cohort")
    shot(page, "25-funnel-by-cohort")
    dropped.get_by_role("link", name="Beta, dropped at signup").click()
    expect(page.get_by_role("heading", name="1 person")).to_be_visible()
    expect(page.get_by_label("Distinct ids, one per line")).to_have_value("cleo")

    # Retention by cohort: Beta's table beside everyone's.
    page.get_by_role("navigation").get_by_role("link", name="Insights").click()
    page.get_by_role("tab", name="Retention").click()
    page.get_by_label("Starting event").fill("landing")
    page.get_by_label("Breakdown property of").select_option("cohort")
    picks.get_by_label("Beta", exact=True).check()
    mean = page.get_by_test_id("retention-mean").get_by_role("cell")
    expect(mean.nth(1)).to_have_text("4")  # everyone who landed
    page.get_by_label("Table of").select_option(label="Beta")
    expect(mean.nth(1)).to_have_text("2")
    page.get_by_role("button", name=re.compile(r"^Persons of cohort \d+, period 0$")).click()
    expect(page.get_by_role("region", name=re.compile(r"· Beta$"))).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(3)  # ben, cleo and the head
    expect(persons.get_by_role("link", name="cleo@shop.test")).to_be_visible()
    shot(page, "25a-retention-by-cohort")
    page.get_by_role("button", name="Close").click()
    # And stickiness: a line per cohort ticked, named by it.
    page.get_by_role("tab", name="Stickiness").click()
    page.locator("#stickiness-event").fill("landing")
    picks.get_by_label("Beta", exact=True).check()
    numbers = page.get_by_test_id("numbers")
    expect(numbers.get_by_role("columnheader")).to_have_text(["Days active", "landing · Beta"])
    numbers.get_by_role("button", name="Persons: landing · Beta, 1").click()
    expect(page.get_by_role("region", name=re.compile(r"· Beta$"))).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(3)  # ben, cleo and the head
    shot(page, "25b-stickiness-by-cohort")
    page.get_by_role("button", name="Close").click()
    # The lifecycle of a cohort, in place of everyone's.
    page.get_by_role("tab", name="Lifecycle").click()
    page.locator("#lifecycle-event").fill("landing")
    new = numbers.get_by_role("button", name=re.compile(r"^Persons: new, "))
    expect(new).to_have_text("4")
    picks.get_by_label("Beta", exact=True).check()
    page.get_by_label("Lifecycle of").select_option(label="Beta")
    expect(new).to_have_text("2")
    new.click()
    expect(page.get_by_role("region", name=re.compile(r"· Beta$"))).to_be_visible()
    expect(persons.get_by_role("row")).to_have_count(3)  # ben, cleo and the head
    shot(page, "25c-lifecycle-of-a-cohort")
    page.get_by_role("button", name="Close").click()
    page.get_by_label("Lifecycle of").select_option(label="Everyone")
    expect(new).to_have_text("4")

    page.get_by_role("navigation").get_by_role("link", name="Cohorts").click()
    page.get_by_role("link", name="Buyers", exact=True).click()
    page.get_by_role("button", name="Delete cohort…").click()  # a saved insight splits by it
    expect(page.get_by_test_id("cohort-used-by")).to_contain_text("Landings per cohort")
    page.get_by_role("button", name="Keep").click()
    page.get_by_role("link", name="← All cohorts").click()
    page.get_by_role("link", name="Beta", exact=True).click()
    page.get_by_role("button", name="Delete cohort…").click()
    used = page.get_by_test_id("cohort-used-by")
    expect(used).to_contain_text("Second landing chart")  # saved split by both cohorts
    expect(used).not_to_contain_text("Landings per cohort")  # no longer split by Beta
    page.get_by_role("button", name="Delete “Beta” for good").click()
    expect(page.get_by_role("status")).to_have_text("The cohort “Beta” was deleted.")
    expect(page.get_by_test_id("cohorts-list").get_by_role("row")).to_have_count(3)


def test_a_demo_recording_replays_its_pages(page: Page, server: ServerProcess) -> None:
    """The demo's recordings draw its product's pages in the player, as a recorder would."""
    project = _shop_with_journeys(page, server, "Replayed", {"v000": 1})
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    now = datetime.now(UTC)
    events = list(generate_events(persons=30, days=2, seed=4, now=now))
    items = generate_recordings(events, token=project["api_token"], seed=4, now=now, limit=1)
    (session,) = {i["properties"]["$session_id"] for i in items}
    sent = httpx.post(
        f"{server.url}/batch/",
        json={"api_key": project["api_token"], "historical_migration": True, "batch": events},
    )
    assert sent.status_code == 200
    recorded = httpx.post(f"{server.url}/s/", json=items)
    assert recorded.status_code == 200, recorded.text
    page.goto(f"{server.url}/projects/{project['id']}/sessions")
    rows = page.get_by_test_id("sessions").get_by_role("row")
    expect(rows).to_have_count(2)  # the head and the one recorded session
    rows.nth(1).get_by_role("link").first.click()
    expect(page).to_have_url(re.compile(session))
    frame = page.frame_locator("[data-testid=stage] iframe")
    expect(frame.get_by_role("link", name="Pricing")).to_be_visible(timeout=20_000)
    first = next(e for e in events if e["properties"]["$session_id"] == session)
    heading = first["properties"]["title"].split(" · ")[0]
    expect(frame.get_by_role("heading", level=1)).to_have_text(heading)
    listed = page.get_by_test_id("event-list").get_by_role("listitem")
    expect(listed.first).to_contain_text(urlsplit(first["properties"]["$current_url"]).path)
    expect(page.get_by_test_id("event-list")).not_to_contain_text("://")  # pages by their path
    visited = [e["event"] for e in events if e["properties"]["$session_id"] == session]
    assert "$exception" not in visited  # so this recording logged nothing
    expect(page.get_by_test_id("console")).to_contain_text("Nothing was logged")
    shot(page, "15d-demo-replay")


def test_a_list_cohort_emptied_by_deletions_says_so_and_keeps_its_name_editable(
    page: Page, server: ServerProcess
) -> None:
    """Deleting everyone a list cohort names leaves it empty: its page says why it matches
    nobody, and renaming it still saves (a new or edited list still needs an id)."""
    project = _shop_with_journeys(page, server, "Emptied", {"ben": 1, "cleo": 1})
    email = f"admin-{project['id']}@emptied.test"
    token = json.loads(server.cli("token", "create", email, "--json"))["token"]
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{server.url}/api/projects/{project['id']}"
    body = {"name": "Beta", "definition": {"distinct_ids": ["ben"]}}
    made = httpx.post(f"{api}/cohorts", json=body, headers=auth)
    assert made.status_code == 201, made.text
    assert httpx.delete(f"{api}/persons/ben", headers=auth).status_code == 200

    page.goto(f"{server.url}/projects/{project['id']}/cohorts/{made.json()['id']}")
    expect(page.get_by_role("heading", name="Beta")).to_be_visible()
    expect(page.get_by_text("An empty list")).to_be_visible()
    expect(page.get_by_test_id("emptied-list")).to_contain_text("matches nobody")
    expect(page.get_by_role("heading", name="0 persons")).to_be_visible()
    shot(page, "23c-emptied-list-cohort")
    page.get_by_label("Name").fill("Beta (closed)")
    page.get_by_role("button", name="Save cohort").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(page.get_by_role("heading", name="Beta (closed)")).to_be_visible()
    stored = httpx.get(f"{api}/cohorts/{made.json()['id']}", headers=auth).json()
    assert (stored["name"], stored["definition"]["distinct_ids"]) == ("Beta (closed)", [])
    # Given ids again, it is an ordinary list; emptied by hand, it is refused.
    page.get_by_label("Distinct ids, one per line").fill("cleo")
    page.get_by_role("button", name="Save cohort").click()
    expect(page.get_by_role("heading", name="1 person")).to_be_visible()
    expect(page.get_by_test_id("emptied-list")).to_have_count(0)
    page.get_by_label("Distinct ids, one per line").fill("")
    page.get_by_role("button", name="Save cohort").click()
    expect(page.get_by_role("alert")).to_contain_text("List at least one distinct id")
