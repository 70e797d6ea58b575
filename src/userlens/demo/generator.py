"""A seeded, pure generator of realistic PostHog-format web events for one SaaS product."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

Event = dict[str, Any]
Span = tuple[float, float]  # seconds to wait before an event: uniform between the two

SITE = "https://www.tidyledger.example"
LIB_VERSION = "1.187.2"
BUILD = f"{SITE}/static/js/app.4f9c2e71.js"
VENDOR = f"{SITE}/static/js/vendor.91ab03de.js"

# (weight, device type, OS, OS versions, browser, browser versions): only pairings that exist.
_CHROME = ("129.0", "130.0", "131.0")
_SAFARI = ("17.6", "18.0", "18.1")
_FIREFOX = ("131.0", "132.0")
_DEVICES: tuple[tuple[int, str, str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    (14, "Desktop", "Mac OS X", ("14.6", "15.1"), "Chrome", _CHROME),
    (8, "Desktop", "Mac OS X", ("14.6", "15.1"), "Safari", _SAFARI),
    (3, "Desktop", "Mac OS X", ("14.6", "15.1"), "Firefox", _FIREFOX),
    (22, "Desktop", "Windows", ("10.0",), "Chrome", _CHROME),
    (8, "Desktop", "Windows", ("10.0",), "Edge", ("130.0", "131.0")),
    (3, "Desktop", "Windows", ("10.0",), "Firefox", _FIREFOX),
    (14, "Mobile", "iOS", ("17.6", "18.1"), "Mobile Safari", _SAFARI),
    (3, "Mobile", "iOS", ("17.6", "18.1"), "Chrome iOS", _CHROME),
    (13, "Mobile", "Android", ("13.0", "14.0"), "Chrome", _CHROME),
    (1, "Mobile", "Android", ("14.0",), "Firefox", _FIREFOX),
    (5, "Tablet", "iOS", ("17.6", "18.1"), "Mobile Safari", _SAFARI),
    (2, "Tablet", "Android", ("13.0", "14.0"), "Chrome", _CHROME),
)
_SCREENS = {
    "Desktop": ((1920, 1080), (1440, 900), (2560, 1440), (1536, 864)),
    "Mobile": ((390, 844), (393, 852), (414, 896), (360, 800)),
    "Tablet": ((820, 1180), (768, 1024), (800, 1280)),
}
_COUNTRIES = ("US", "GB", "DE", "IN", "FR", "CA", "BR", "NL", "AU", "ES", "SE", "JP")
_COUNTRY_WEIGHTS = (34, 9, 8, 8, 5, 5, 5, 4, 3, 3, 2, 3)
_HOUR_WEIGHTS = (2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 10, 10, 9, 8, 7, 6, 6, 5, 4, 3, 2)
_FIRST = ("Ada", "Ben", "Chloe", "Diego", "Emma", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi")
_LAST = ("Smith", "Okafor", "Tanaka", "Müller", "Silva", "Novak", "Patel", "Berg", "Rossi")
_COMPANIES = ("Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Soylent")
_BLOG = ("/blog/close-your-books-faster", "/blog/invoicing-for-freelancers", "/blog/tax-checklist")


@dataclasses.dataclass(frozen=True, slots=True)
class _Source:
    """Where a person first came from; a campaign ("source/medium/name") means UTM params."""

    weight: int
    referrer: str
    campaign: str
    landings: tuple[str, ...]
    conversion: float  # multiplies the base signup rate


_GOOGLE = "https://www.google.com/"
_SOURCES = (
    _Source(22, _GOOGLE, "google/cpc/brand_search", ("/", "/pricing"), 1.3),
    _Source(10, "$direct", "newsletter/email/weekly_digest", _BLOG, 1.5),
    _Source(12, "https://t.co/", "twitter/social/launch_week", ("/", _BLOG[0]), 0.7),
    _Source(24, _GOOGLE, "", ("/", "/pricing", *_BLOG), 1.0),
    _Source(22, "$direct", "", ("/",), 1.1),
    _Source(6, "https://news.ycombinator.com/", "", (_BLOG[0],), 0.6),
    _Source(4, "https://www.linkedin.com/", "", ("/", "/customers"), 0.9),
)

# Clickable elements: key -> (tag, classes, text, "#id" or "/href", parent tag.class).
_TARGETS = {
    "nav_pricing": ("a", "nav-link", "Pricing", "/pricing", "nav.navbar"),
    "nav_features": ("a", "nav-link", "Features", "/features", "nav.navbar"),
    "nav_customers": ("a", "nav-link", "Customers", "/customers", "nav.navbar"),
    "nav_blog": ("a", "nav-link", "Blog", _BLOG[1], "nav.navbar"),
    "cta": ("button", "btn btn-primary", "Start free trial", "#cta-signup", "section.hero"),
    "signup_submit": ("button", "btn btn-primary", "Create account", "#signup", "form.signup"),
    "billing_toggle": ("button", "toggle", "Annual", "#billing-period", "div.pricing-table"),
    "side_invoices": ("a", "sidebar-link", "Invoices", "/app/invoices", "aside.sidebar"),
    "side_reports": ("a", "sidebar-link", "Reports", "/app/reports", "aside.sidebar"),
    "side_customers": ("a", "sidebar-link", "Customers", "/app/customers", "aside.sidebar"),
    "side_settings": ("a", "sidebar-link", "Settings", "/app/settings", "aside.sidebar"),
    "new_invoice": ("button", "btn btn-primary", "New invoice", "#new-invoice", "div.toolbar"),
    "export_csv": ("button", "btn btn-secondary", "Export CSV", "#export-csv", "div.toolbar"),
    "pay_now": ("button", "btn btn-primary", "Pay now", "#pay", "form.checkout"),
}
_MARKETING_CLICKS = ("nav_pricing", "nav_features", "nav_customers", "nav_blog")
_APP_CLICKS = ("side_invoices", "side_reports", "side_customers", "side_settings")

# Error kinds: (type, message, in-app function, line, column); React's frame calls each one.
_ERRORS = (
    ("TypeError", "Cannot read properties of undefined (reading 'map')", "renderChart", 812, 17),
    ("ChunkLoadError", "Loading chunk 734 failed.", "loadRoute", 44, 21),
    ("Error", "Request failed with status code 502", "saveInvoice", 1290, 13),
    ("TypeError", "Failed to fetch", "submitPayment", 377, 5),
)
# Of signed-up people 60% see /checkout, 35% start, 20% pay, 10% buy: as step-by-step chances.
_CHECKOUT_STEPS = (0.60, 0.35 / 0.60, 0.20 / 0.35, 0.10 / 0.20)
_PRICES = {("pro", "monthly"): 29.0, ("pro", "annual"): 290.0, ("team", "monthly"): 99.0}


@dataclasses.dataclass(frozen=True, slots=True)
class _Person:
    anon_id: str
    user_id: str
    traits: dict[str, Any]  # constant for every event of the person
    person_props: dict[str, Any]
    source: _Source


@dataclasses.dataclass(frozen=True, slots=True)
class _Plan:
    visits: int  # anonymous visits; the last one is where a signup happens
    signs_up: bool
    onboarding: int  # onboarding steps completed, 0..3
    checkout: int  # checkout steps reached, 0..4
    engaged: bool  # comes back often and for long


def iso(at: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and a Z, as posthog-js sends it."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def _uuid7(rng: random.Random, at: datetime) -> str:
    """A time-ordered UUID, as posthog-js makes for device and session ids."""
    ms = int(at.timestamp() * 1000) & 0xFFFF_FFFF_FFFF
    rand_a, rand_b = rng.getrandbits(12), rng.getrandbits(62)
    return str(uuid.UUID(int=ms << 80 | 0x7 << 76 | rand_a << 64 | 0x2 << 62 | rand_b))


def _depth(rng: random.Random, chances: tuple[float, ...]) -> int:
    """How many steps in a row succeed, each with its own chance."""
    return next((i for i, chance in enumerate(chances) if rng.random() >= chance), len(chances))


def _new_person(rng: random.Random, first_seen: datetime) -> _Person:
    _weight, device_type, os_name, os_versions, browser, versions = rng.choices(
        _DEVICES, [d[0] for d in _DEVICES]
    )[0]
    width, height = rng.choice(_SCREENS[device_type])
    anon_id = _uuid7(rng, first_seen)
    traits = {
        "$browser": browser,
        "$browser_version": rng.choice(versions),
        "$os": os_name,
        "$os_version": rng.choice(os_versions),
        "$device_type": device_type,
        "$screen_width": width,
        "$screen_height": height,
        "$geoip_country_code": rng.choices(_COUNTRIES, _COUNTRY_WEIGHTS)[0],
        "$device_id": anon_id,
        "$lib": "web",
        "$lib_version": LIB_VERSION,
    }
    first, last, company = rng.choice(_FIRST), rng.choice(_LAST), rng.choice(_COMPANIES)
    person_props = {
        "email": f"{first.lower()}.{rng.randrange(1, 999)}@{company.lower()}.example",
        "name": f"{first} {last}",
        "company": company,
        "plan": "free",
    }
    source = rng.choices(_SOURCES, [s.weight for s in _SOURCES])[0]
    user_id = f"user_{rng.getrandbits(48):012x}"
    return _Person(anon_id, user_id, traits, person_props, source)


def _new_plan(rng: random.Random, source: _Source) -> _Plan:
    signs_up = rng.random() < 0.3 * source.conversion
    return _Plan(
        visits=rng.choices((1, 2, 3), (70, 20, 10) if signs_up else (82, 14, 4))[0],
        signs_up=signs_up,
        onboarding=_depth(rng, (0.85, 0.75, 0.65)) if signs_up else 0,
        checkout=_depth(rng, _CHECKOUT_STEPS) if signs_up else 0,
        engaged=rng.random() < 0.3,
    )


class _Timeline:
    """One person's events, built session by session on a clock that only moves forward."""

    def __init__(self, rng: random.Random, person: _Person, now: datetime, at: datetime) -> None:
        self.rng = rng
        self.person = person
        self.now = now
        self.clock = at
        self.events: list[Event] = []
        self.distinct_id = person.anon_id
        self.session_id = self.window_id = ""
        self.referrer = "$direct"
        self.url = SITE + "/"

    def session(self, at: datetime, referrer: str) -> None:
        self.clock = max(at, self.clock + timedelta(minutes=31))
        self.session_id = _uuid7(self.rng, self.clock)
        self.window_id = _uuid7(self.rng, self.clock)
        self.referrer = referrer

    def emit(self, name: str, extra: Event | None = None, wait: Span = (1, 9)) -> None:
        self.clock += timedelta(seconds=self.rng.uniform(*wait))
        event_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if self.clock >= self.now:
            return  # the clock only moves forward: nothing later happens either
        referring = "$direct" if self.referrer == "$direct" else urlsplit(self.referrer).hostname
        url = urlsplit(self.url)
        props: Event = {
            **self.person.traits,
            "$session_id": self.session_id,
            "$window_id": self.window_id,
            "$current_url": self.url,
            "$host": url.hostname,
            "$pathname": url.path,
            "$referrer": self.referrer,
            "$referring_domain": referring,
            **(extra or {}),
        }
        at, who = iso(self.clock), self.distinct_id
        self.events.append(
            dict(uuid=event_id, event=name, distinct_id=who, timestamp=at, properties=props)
        )

    def pageview(self, path: str, query: str = "", extra: Event | None = None) -> None:
        self.url = SITE + path + (f"?{query}" if query else "")
        title = path.strip("/").split("/")[-1].replace("-", " ").capitalize() or "Home"
        self.emit("$pageview", {"title": f"{title} · TidyLedger", **(extra or {})}, (2, 60))

    def click(self, key: str, wait: Span = (2, 40)) -> None:
        text = _TARGETS[key][2]
        self.emit(
            "$autocapture",
            {"$event_type": "click", "$el_text": text, "$elements_chain": elements_chain(key)},
            wait,
        )

    def rageclick(self, key: str) -> None:
        for _ in range(self.rng.randint(3, 6)):
            self.click(key, (0.1, 0.3))
        self.emit("$rageclick", {"$elements_chain": elements_chain(key)}, (0.05, 0.2))

    def exception(self, kind: int) -> None:
        error_type, message, function, line, column = _ERRORS[kind]
        stack = [
            {"filename": VENDOR, "function": "commitRoot", "lineno": 1, "colno": 80311},
            {"filename": BUILD, "function": function, "lineno": line, "colno": column},
        ]
        for frame in stack:
            frame["in_app"] = frame["filename"] == BUILD
        entry = {
            "type": error_type,
            "value": message,
            "mechanism": {"type": "onerror", "handled": False, "synthetic": False},
            "stacktrace": {"type": "raw", "frames": stack},
        }
        self.emit("$exception", {"$exception_list": [entry], "$exception_level": "error"})

    def identify(self) -> None:
        anon_id, self.distinct_id = self.distinct_id, self.person.user_id
        props = {"$anon_distinct_id": anon_id, "$set": dict(self.person.person_props)}
        self.emit("$identify", props, (0.2, 1.5))

    def leave(self) -> None:
        self.emit("$pageleave", None, (5, 120))


def elements_chain(key: str) -> str:
    """The `$elements_chain` of a click on a known element: target first, up to `body`."""
    tag, classes, text, ref, parent = _TARGETS[key]
    attrs = {"text": text, "nth-child": "1", "nth-of-type": "1", "attr__class": classes}
    if ref.startswith("#"):
        attrs.update(attr__id=ref[1:], attr_id=ref[1:])
    else:
        attrs.update(href=ref, attr__href=ref)
    target = tag + "".join(f".{c}" for c in sorted(classes.split()))
    fields = "".join(f'{k}="{v}"' for k, v in sorted(attrs.items()))
    parent_class = parent.split(".")[1]
    parent_fields = f'attr__class="{parent_class}"nth-child="2"nth-of-type="1"'
    return f'{target}:{fields};{parent}:{parent_fields};div.page:nth-child="1"nth-of-type="1";body'


def _landing(tl: _Timeline, first: bool) -> None:
    rng, source = tl.rng, tl.person.source
    if first:
        keys = ("utm_source", "utm_medium", "utm_campaign")
        utm = dict(zip(keys, source.campaign.split("/"), strict=True)) if source.campaign else {}
        if utm.get("utm_medium") == "cpc":
            utm["gclid"] = f"Cj0KCQ{rng.getrandbits(64):016x}"
        path, query = rng.choice(source.landings), urlencode(utm)
        initial = {f"$initial_{k}": v for k, v in utm.items()}
        initial["$initial_referrer"] = source.referrer
        initial["$initial_current_url"] = SITE + path + (f"?{query}" if query else "")
        tl.pageview(path, query, {**utm, "$set_once": initial})
    else:
        tl.pageview(rng.choice(("/", "/pricing", "/features")))
    for _ in range(rng.choices((0, 1, 2, 3), (30, 35, 22, 13))[0]):
        key = rng.choice(_MARKETING_CLICKS)
        tl.click(key)
        tl.pageview(_TARGETS[key][3])
        if key == "nav_pricing" and rng.random() < 0.05:
            tl.rageclick("billing_toggle")
    if rng.random() < 0.02:
        tl.exception(1)


def _sign_up(tl: _Timeline, onboarding: int) -> None:
    rng = tl.rng
    tl.click("cta")
    tl.pageview("/signup")
    tl.click("signup_submit", (15, 90))
    tl.identify()
    tl.emit("signed_up", {"plan": "free", "signup_method": rng.choice(("email", "google"))})
    names = ("create_company", "invite_team", "connect_bank")
    for step in range(1, onboarding + 1):
        tl.pageview(f"/onboarding/{step}")
        props = {"step": step, "step_name": names[step - 1]}
        tl.emit("onboarding_step_completed", props, (10, 120))


def _checkout(tl: _Timeline, depth: int) -> None:
    rng = tl.rng
    plan, period = rng.choices(list(_PRICES), (5, 3, 2))[0]
    price = _PRICES[(plan, period)]
    tl.pageview("/checkout", f"plan={plan}")
    order = {"plan": plan, "billing_period": period, "amount": price, "currency": "USD"}
    if depth >= 2:
        tl.emit("checkout_started", order, (3, 20))
    if depth >= 3:
        tl.emit("payment_info_entered", {"payment_method": rng.choice(("card", "paypal"))})
    if depth >= 4:
        tl.click("pay_now", (5, 40))
        bought = {**order, "revenue": price, "$set": {"plan": plan}}
        tl.emit("purchase_completed", bought, (1, 6))
    elif depth == 3 and rng.random() < 0.3:
        tl.rageclick("pay_now")
        tl.exception(3)


def _use_app(tl: _Timeline) -> None:
    rng = tl.rng
    tl.pageview("/app")
    for _ in range(rng.randint(1, 5)):
        key = rng.choice(_APP_CLICKS)
        tl.click(key)
        tl.pageview(_TARGETS[key][3])
        if key == "side_invoices" and rng.random() < 0.4:
            tl.click("new_invoice")
            tl.pageview("/app/invoices/new")
            if rng.random() < 0.05:
                tl.exception(2)
        if key == "side_reports" and rng.random() < 0.06:
            tl.rageclick("export_csv")
            tl.exception(0)


def _clock_time(rng: random.Random, midnight: datetime) -> datetime:
    hour = rng.choices(range(24), _HOUR_WEIGHTS)[0]
    return midnight + timedelta(hours=hour, seconds=rng.uniform(0, 3600))


def _first_visit(rng: random.Random, day0: datetime, days: int, now: datetime) -> datetime:
    """Weekdays busier than weekends, traffic growing towards today."""
    weights = [
        (0.6 if (day0 + timedelta(days=k)).weekday() >= 5 else 1.0) * (1 + k / days)
        for k in range(days)
    ]
    day = rng.choices(range(days), weights)[0]
    at = _clock_time(rng, day0 + timedelta(days=day))
    return at if at < now else now - timedelta(seconds=rng.uniform(600, 4 * 3600))


def _return_times(rng: random.Random, at: datetime, now: datetime, engaged: bool) -> list[datetime]:
    """Later visits, each day with a chance that decays with time since signup."""
    start, decay = (0.5, 0.96) if engaged else (0.35, 0.72)
    midnight = at.replace(hour=0, minute=0, second=0, microsecond=0)
    return [
        _clock_time(rng, midnight + timedelta(days=day))
        for day in range(1, (now - midnight).days + 1)
        if rng.random() < start * decay ** (day - 1)
    ]


def _person_events(rng: random.Random, day0: datetime, days: int, now: datetime) -> list[Event]:
    first = _first_visit(rng, day0, days, now)
    person = _new_person(rng, first)
    plan = _new_plan(rng, person.source)
    tl = _Timeline(rng, person, now, first - timedelta(hours=1))
    at = first
    for visit in range(plan.visits):
        tl.session(at, person.source.referrer if visit == 0 else "$direct")
        _landing(tl, first=visit == 0)
        at = tl.clock + timedelta(hours=rng.uniform(2, 96))
        if visit < plan.visits - 1 or not plan.signs_up:
            tl.leave()
    if not plan.signs_up:
        return tl.events
    _sign_up(tl, plan.onboarding)
    returns = _return_times(rng, tl.clock, now, plan.engaged)
    checkout_now = plan.checkout > 0 and (not returns or rng.random() < 0.4)
    if checkout_now:
        _checkout(tl, plan.checkout)
    tl.leave()
    for index, when in enumerate(returns):
        tl.session(when, "$direct")
        _use_app(tl)
        if index == 0 and plan.checkout and not checkout_now:
            _checkout(tl, plan.checkout)
        tl.leave()
    return tl.events


def generate_events(*, persons: int, days: int, seed: int, now: datetime) -> Iterator[Event]:
    """Events of `persons` people over the `days` days up to `now` (aware), person by person,
    each person's in time order. The same arguments always give the same events."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be an aware datetime")
    if persons < 0 or days < 1:
        raise ValueError("persons must be >= 0 and days >= 1")
    now = now.astimezone(UTC)
    rng = random.Random(seed)
    day0 = now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    for _ in range(persons):
        yield from _person_events(rng, day0, days, now)
