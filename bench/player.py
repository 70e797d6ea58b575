"""How fast the replay player opens a 30-minute recording and seeks to its middle, in Chromium.

Run it with `.venv/bin/python bench/player.py` (or `make bench`). It is a benchmark, not a test:
it prints figures as it goes and, as its last line, one JSON object with all of them.

What it does:

1. Generates, from a seed, one realistic recording of a 30-minute visit (`--minutes`) as our
   recorder would make it: a shop page of ~500 DOM nodes with its style sheet inlined, then
   mouse moves, clicks, scrolls, typing and several DOM mutations a second while the visitor
   is active, quiet spells, a full snapshot every 5 minutes (the recorder's checkout), two page
   loads, console and network plugin events, a few custom events and a viewport change. Around
   the middle a toast with a unique text is in the page: it is what a seek to the middle shows.
2. Starts `userlens serve` in a fresh data dir (project, admin and token made with the CLI) and
   sends the recording through the capture path over loopback the way the snippet does (one
   gzipped `/s/` request per flush: every 2 s when 8 KB wait, else after at most 6 s, at once
   past 900 KB, and when a page goes away), with the visit's `$pageview`, `$pageleave`,
   `$autocapture` and custom events to `/i/v0/e/`. Waits until the snapshots API answers with
   every event.
3. Signs in from Chromium (Debian's, driven by Playwright) and opens the player: from
   navigation to the first frame (the page's title drawn in the replay frame), cold (a fresh
   browser context each time: empty cache) and warm (the same context again); the share link
   `?t=<middle>` (from navigation to the toast drawn); and a seek to the middle with the
   timeline of an open player (from the input event to the toast drawn). Times are taken in the
   page (`performance.now()` at the first animation frame where the element is in the replay
   frame and laid out; the page's strict CSP rules out `wait_for_function`), and checked with
   Playwright's `expect(...).to_be_visible()`. Bytes are the response bodies of the requests
   made (recording data, other API calls, JS/CSS assets and the HTML apart).
4. The baseline, in the same run and browser: bare rrweb, a static page served from this
   process that loads the installed `@rrweb/replay` build and the same events as one plain JSON
   file, makes a `Replayer` with the player's options and calls `pause(t)`, timed the same way.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import orjson
from playwright.sync_api import Browser, BrowserContext, Page, Request, expect, sync_playwright
from playwright.sync_api import Error as PlaywrightError

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

from _procs import free_port  # noqa: E402
from web import CHROMIUM_ARGS, EMAIL, PASSWORD, cli, start_server  # noqa: E402

REPLAY_DIST = REPO / "ui" / "node_modules" / "@rrweb" / "replay" / "dist"
TARGET_MS = 1000
UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SITE = "https://shop.lensware.test"
TITLE_ID = "lw-title"
TITLE_TEXT = "Lensware Outfitters spring catalogue"
MARKER_ID = "lw-midpoint"
MARKER_TEXT = "Order LW-MIDPOINT-0900 confirmed"
STAGE_FRAME = "[data-testid=stage] iframe"
SEEK_BACK_MS = 1000

# rrweb's event types, incremental sources and node types.
FULL_SNAPSHOT, INCREMENTAL, META, CUSTOM, PLUGIN = 2, 3, 4, 5, 6
MUTATION, MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, VIEWPORT_RESIZE, INPUT = 0, 1, 2, 3, 4, 5
CLICK, FOCUS = 2, 5
DOCUMENT, DOCTYPE, ELEMENT, TEXT = 0, 1, 2, 3
SVG_TAGS = frozenset({"svg", "path", "circle", "g"})

# Our recorder's settings (sdk/src/recorder/recorder.ts).
CHECKOUT_EVERY_MS = 5 * 60 * 1000
FLUSH_MS = 2000
MIN_FLUSH_BYTES = 8000
MAX_WAIT_MS = 6000
FLUSH_BYTES = 900_000
EVENTS_FLUSH_MS = 5000

WORDS = (
    "alpine", "merino", "shell", "trail", "summit", "cotton", "linen", "harbor", "coastal",
    "urban", "waxed", "canvas", "fleece", "down", "quilted", "relaxed", "tapered", "classic",
    "organic", "recycled", "travel", "weekend", "rain", "wind", "field", "ridge", "cedar",
    "slate", "ember", "moss", "dune", "indigo", "oat", "charcoal", "sand", "navy", "olive",
)  # fmt: skip
NAV = ("New in", "Women", "Men", "Outdoor", "Travel", "Accessories", "Sale", "Journal")
STATUSES = ("Shipped", "Delivered", "Processing", "Returned")
CSS_DECLARATIONS = (
    "display:flex", "display:grid", "padding:12px 16px", "margin:0 auto", "gap:8px",
    "color:#1d2433", "background:#f6f7f9", "border:1px solid #d7dbe3", "border-radius:6px",
    "font-size:14px", "line-height:1.5", "font-weight:600", "align-items:center",
    "justify-content:space-between", "box-shadow:0 1px 2px rgba(16,24,40,.06)",
    "transition:transform .2s ease",
)  # fmt: skip
LOGO = (
    '<svg viewBox="0 0 24 24" width="28" height="28" aria-hidden="true">'
    '<g fill="none" stroke="currentColor"><circle cx="12" cy="12" r="9"></circle></g>'
    '<path d="M12 3a9 9 0 0 1 0 18M3 12h18"></path></svg>'
)


# --- The recorded pages: a small DOM model that serializes as rrweb does ---------------------

VOID_TAGS = frozenset({"meta", "link", "input", "img", "br", "hr"})
SVG_ATTRS = {"viewbox": "viewBox"}  # the HTML parser lowercases names; SVG's are mixed-case


@dataclass(eq=False)
class Node:
    kind: int
    tag: str = ""
    attrs: dict[str, str] = field(default_factory=dict)
    text: str = ""
    children: list[Node] = field(default_factory=list)
    parent: Node | None = None
    id: int = 0


def serialize(node: Node, deep: bool = True) -> dict[str, Any]:
    """The node as rrweb's snapshot writes it; `deep=False` as a mutation's add (no children)."""
    if node.kind == TEXT:
        out: dict[str, Any] = {"type": TEXT, "textContent": node.text, "id": node.id}
        if node.parent is not None and node.parent.tag == "style":
            out["isStyle"] = True
        return out
    if node.kind == DOCTYPE:
        return {"type": DOCTYPE, "name": "html", "publicId": "", "systemId": "", "id": node.id}
    kids = [serialize(child) for child in node.children] if deep else []
    if node.kind == DOCUMENT:
        return {"type": DOCUMENT, "childNodes": kids, "compatMode": "CSS1Compat", "id": node.id}
    out = {
        "type": ELEMENT,
        "tagName": node.tag,
        "attributes": dict(node.attrs),
        "childNodes": kids,
        "id": node.id,
    }
    if node.tag in SVG_TAGS:
        out["isSVG"] = True
    return out


def preorder(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from preorder(child)


@dataclass
class Handles:
    """The parts of a page that change while the visitor is on it."""

    live: list[Node] = field(default_factory=list)  # text nodes: counters, times, totals
    hover: list[Node] = field(default_factory=list)  # elements whose class changes
    inputs: list[Node] = field(default_factory=list)
    feed: Node | None = None  # a list where rows come and go
    grid: Node | None = None  # product cards load in
    menu: Node | None = None  # a nav item with a dropdown
    toasts: Node | None = None


class _Builder(HTMLParser):
    """Parses a page template into nodes. `bench-*` attributes mark the parts that change while
    the visitor is on the page (kept in `Handles`) and are not part of the recording."""

    def __init__(self, handles: Handles, css: str) -> None:
        super().__init__(convert_charrefs=True)
        self.handles = handles
        self.css = css
        self.top = Node(ELEMENT, "template")
        self.stack = [self.top]
        self.live: list[Node] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(ELEMENT, tag, parent=self.stack[-1])
        self.stack[-1].children.append(node)
        for name, value in attrs:
            if name.startswith("bench-"):
                self._mark(name.removeprefix("bench-"), node)
            else:
                node.attrs[SVG_ATTRS.get(name, name)] = value or ""
        if tag == "input":
            self.handles.inputs.append(node)
        if tag not in VOID_TAGS:
            self.stack.append(node)

    def handle_endtag(self, tag: str) -> None:
        if tag not in VOID_TAGS:
            self.stack.pop()

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.stack[-1].children.append(Node(TEXT, text=data, parent=self.stack[-1]))

    def _mark(self, kind: str, node: Node) -> None:
        h = self.handles
        if kind == "live":
            self.live.append(node)
        elif kind == "hover":
            h.hover.append(node)
        elif kind == "css":
            node.attrs["_cssText"] = self.css  # what `inlineStylesheet` records for a <link>
        else:
            setattr(h, kind, node)  # feed, grid, menu, toasts


def parse(html: str, handles: Handles, css: str = "") -> Node:
    """The one element `html` describes, with its marked parts added to `handles`."""
    builder = _Builder(handles, css)
    builder.feed(html)
    builder.close()
    handles.live += [node.children[0] for node in builder.live]
    [node] = builder.top.children
    node.parent = None
    return node


@dataclass
class Changes:
    """One mutation event's changes, as rrweb's mutation observer batches them."""

    adds: list[dict[str, Any]] = field(default_factory=list)
    removes: list[dict[str, Any]] = field(default_factory=list)
    texts: list[dict[str, Any]] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        return {
            "source": MUTATION,
            "texts": self.texts,
            "attributes": self.attributes,
            "removes": self.removes,
            "adds": self.adds,
        }


class PageModel:
    """One page load: the DOM with rrweb's ids (preorder from 1) and what changes in it."""

    def __init__(self, href: str, html: str, css: str) -> None:
        self.href = href
        self.handles = Handles()
        self.nodes: dict[int, Node] = {}
        self._next_id = 1
        self.root = Node(DOCUMENT)
        for kid in (Node(DOCTYPE), parse(html, self.handles, css)):
            kid.parent = self.root
            self.root.children.append(kid)
        self._register(self.root)
        self.scroll_y = 0
        self.hovered: Node | None = None
        self.dropdown: Node | None = None

    def _register(self, node: Node) -> None:
        for n in preorder(node):
            n.id = self._next_id
            self._next_id += 1
            self.nodes[n.id] = n

    def insert(self, parent: Node, html: str, before: Node | None, ch: Changes) -> Node:
        """Add the element `html` describes; rrweb lists each node of it, parents first."""
        node = parse(html, self.handles)
        node.parent = parent
        at = parent.children.index(before) if before else len(parent.children)
        parent.children.insert(at, node)
        self._register(node)
        for n in preorder(node):
            next_id = before.id if before and n is node else None
            parent_id = n.parent.id if n.parent else 0
            ch.adds.append({"parentId": parent_id, "nextId": next_id, "node": serialize(n, False)})
        return node

    def remove(self, node: Node, ch: Changes) -> None:
        assert node.parent is not None
        ch.removes.append({"parentId": node.parent.id, "id": node.id})
        node.parent.children.remove(node)
        for n in preorder(node):
            self.nodes.pop(n.id, None)
            if n in self.handles.hover:
                self.handles.hover.remove(n)

    @staticmethod
    def set_text(node: Node, value: str, ch: Changes) -> None:
        node.text = value
        ch.texts.append({"id": node.id, "value": value})

    @staticmethod
    def set_attrs(node: Node, attrs: dict[str, str], ch: Changes) -> None:
        node.attrs.update(attrs)
        ch.attributes.append({"id": node.id, "attributes": attrs})

    def targets(self) -> list[int]:
        return [n.id for n in self.nodes.values() if n.kind == ELEMENT and n.tag != "head"]


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize()


def price(rng: random.Random) -> str:
    return f"€{rng.randint(19, 240)}.{rng.choice(('00', '50', '95'))}"


def style_sheet(rng: random.Random) -> str:
    """A site style sheet of ~40 KB, as `inlineStylesheet` puts it into `_cssText`."""
    rules = []
    for i in range(480):
        picked = ";".join(rng.sample(CSS_DECLARATIONS, rng.randint(3, 6)))
        rules.append(f".c-{rng.choice(WORDS)}-{i}{{{picked}}}")
    rules.append(".toast{position:fixed;right:16px;top:16px;padding:12px;background:#fff}")
    return "".join(rules)


def page_html(title: str, body_class: str, header: str, main: str, rng: random.Random) -> str:
    """A whole page: head (with the site's style sheet), header, main, footer, toasts."""
    columns = "".join(
        f"<div class=footer-col><h4>{words(rng, 2)}</h4><ul>"
        + "".join(f'<li><a href="{SITE}/p/{i}">{words(rng, 2)}</a></li>' for i in range(6))
        + "</ul></div>"
        for _ in range(4)
    )
    return (
        f'<html lang="en"><head><meta charset="utf-8"><title>{title} · Lensware</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<link rel="stylesheet" href="{SITE}/assets/site.css" bench-css>'
        "<style>.skip{position:absolute;left:-9999px}.sr{clip:rect(0 0 0 0)}</style></head>"
        f"<body class={body_class}>{header}<main>{main}</main>"
        f"<footer class=site-footer>{columns}<p class=legal>© 2026 Lensware Outfitters.</p>"
        '</footer><div id="toasts" aria-live="polite" bench-toasts></div></body></html>'
    )


def header_html(cart: int) -> str:
    items = "".join(
        f'<li class="nav-item" bench-hover{" bench-menu" if i == 1 else ""}>'
        f'<a href="{SITE}/c/{i}">{name}</a></li>'
        for i, name in enumerate(NAV)
    )
    return (
        f'<header class="site-header"><a class="logo" href="{SITE}/">{LOGO}Lensware</a>'
        f'<nav aria-label="Main"><ul class="nav">{items}</ul></nav>'
        '<form class="search" role="search">'
        '<input type="search" name="q" placeholder="Search the shop"><button>Search</button>'
        f'</form><a class="cart" href="{SITE}/cart">Cart <span bench-live>{cart}</span></a>'
        "</header>"
    )


def card_html(rng: random.Random, n: int) -> str:
    return (
        f'<article class="card c-card-{n % 40}" data-sku="LW-{rng.randint(1000, 9999)}" '
        f'bench-hover><div class="thumb" style="background:#{rng.randrange(0x1000000):06x}">'
        f"</div><h3 class=card-title>{words(rng, 3)}</h3><p class=card-desc>{words(rng, 12)}</p>"
        f"<div class=card-row><span class=price>{price(rng)}</span>"
        '<button type="button" class="add">Add to cart</button></div></article>'
    )


def feed_row_html(rng: random.Random, minute: int) -> str:
    badge = rng.choice(("new", "back in stock", "-20%", "last items"))
    return (
        f"<li class=feed-row><time>{minute % 60:02d}:{rng.randint(0, 59):02d}</time>"
        f'<a href="{SITE}/p/{rng.randint(100, 999)}">{words(rng, 4)}</a>'
        f"<span class=badge>{badge}</span></li>"
    )


def feed_html(rng: random.Random, rows: int) -> str:
    return (
        "<ul class=feed bench-feed>" + "".join(feed_row_html(rng, i) for i in range(rows)) + "</ul>"
    )


def catalogue_page(rng: random.Random, css: str) -> PageModel:
    filters = "".join(
        f"<div class=filter><h3>{name}</h3><ul>"
        + "".join(
            f'<li><label><input type="checkbox" name="{name}">{words(rng, 1)}</label></li>'
            for _ in range(6)
        )
        + "</ul></div>"
        for name in ("Size", "Colour", "Material")
    )
    cards = "".join(card_html(rng, i) for i in range(24))
    main = (
        f'<section class="hero"><h1 id="{TITLE_ID}">{TITLE_TEXT}</h1><p>{words(rng, 18)}</p>'
        f'<a class="button" href="{SITE}/c/new">Shop new arrivals</a></section>'
        f"<div class=layout><aside class=filters>{filters}</aside>"
        f"<section class=grid bench-grid>{cards}</section></div>"
        "<section class=recent><h2>Just in</h2><p bench-live>Updated just now</p>"
        f"{feed_html(rng, 5)}</section>"
    )
    html = page_html("Spring catalogue", "catalogue", header_html(0), main, rng)
    return PageModel(f"{SITE}/c/spring", html, css)


def checkout_page(rng: random.Random, css: str) -> PageModel:
    rows = "".join(
        f"<tr><td>{words(rng, 3)}</td><td>LW-{rng.randint(1000, 9999)}</td>"
        f"<td bench-live>{rng.randint(1, 3)}</td><td>{price(rng)}</td></tr>"
        for _ in range(6)
    )

    def fields(*names: str) -> str:
        return "".join(
            f'<div class=field><label>{n}</label><input type="text" name="{n.lower()}"></div>'
            for n in names
        )

    countries = "".join(f'<option value="c{i}">{words(rng, 1)}</option>' for i in range(20))
    form = (
        '<form class="checkout" method="post">'
        f"<fieldset><legend>Contact</legend>{fields('Email', 'Phone')}</fieldset>"
        f"<fieldset><legend>Shipping</legend>{fields('Name', 'Address', 'City', 'Postcode')}"
        f'<div class=field><label>Country</label><select name="country">{countries}</select>'
        f"</div></fieldset><fieldset><legend>Payment</legend>"
        f"{fields('Card number', 'Expiry', 'CVC')}</fieldset>"
        '<button type="submit" class="primary">Pay now</button></form>'
    )
    main = (
        "<h1>Checkout</h1><table class=cart><thead><tr><th>Item</th><th>SKU</th><th>Qty</th>"
        f"<th>Price</th></tr></thead><tbody>{rows}</tbody></table>"
        f"<div class=layout>{form}<aside class=summary><h2>Total</h2>"
        f"<p bench-live>€412.50</p>{feed_html(rng, 3)}</aside></div>"
    )
    html = page_html("Checkout", "checkout", header_html(3), main, rng)
    return PageModel(f"{SITE}/checkout", html, css)


def orders_page(rng: random.Random, css: str) -> PageModel:
    rows = "".join(
        f"<tr bench-hover><td>LW-{7000 + i}</td>"
        f"<td>2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}</td>"
        f"<td bench-live>{rng.choice(STATUSES)}</td><td>{price(rng)}</td></tr>"
        for i in range(20)
    )
    pages = "".join(f'<a href="{SITE}/orders?p={p}">{p}</a>' for p in range(1, 6))
    main = (
        f"<h1>Your orders</h1><table class=orders><tbody>{rows}</tbody></table>"
        f"<nav class=pages>{pages}</nav>{feed_html(rng, 4)}"
    )
    html = page_html("Orders", "orders", header_html(0), main, rng)
    return PageModel(f"{SITE}/account/orders", html, css)


# --- The visit: what the recorder emits, second by second ------------------------------------


@dataclass
class Plan:
    """When the fixed moments of the visit happen, in ms from its start."""

    duration_ms: int
    middle_ms: int
    navigations: tuple[int, int]
    marker: tuple[int, int]
    resize_ms: int

    @classmethod
    def of(cls, minutes: float) -> Plan:
        duration = int(minutes * 60_000)
        middle = duration // 2 // 100 * 100  # the player's timeline moves in 100 ms steps
        return cls(
            duration_ms=duration,
            middle_ms=middle,
            # The checkout page loads at a quarter: its recorder's checkout (a full snapshot
            # every 5 minutes) then falls 2.5 minutes before the middle, the average distance.
            navigations=(duration // 4, int(duration * 0.70)),
            marker=(middle - duration // 90, middle + duration // 72),
            resize_ms=int(duration * 0.83),
        )


@dataclass
class Visit:
    """The recorded events and the matching analytics events of one visit."""

    events: list[dict[str, Any]]
    analytics: list[dict[str, Any]]
    unloads: list[int]  # timestamps at which a page went away (the recorder flushes)


class Recorder:
    """Emits rrweb events as our recorder would for the visitor's actions on the pages."""

    def __init__(self, rng: random.Random, start_ms: int, session: str, window: str) -> None:
        self.rng = rng
        self.start = start_ms
        self.session = session
        self.window = window
        self.events: list[dict[str, Any]] = []
        self.analytics: list[dict[str, Any]] = []
        self.unloads: list[int] = []
        self.viewport = (1280, 720)
        self.css = style_sheet(rng)
        self.page = catalogue_page(rng, self.css)
        self.last_full = 0
        self.mouse = (640, 360)

    def _push(self, kind: int, at: int, data: dict[str, Any]) -> int:
        ts = self.start + at
        if self.events and ts <= self.events[-1]["timestamp"]:
            ts = self.events[-1]["timestamp"] + 1
        self.events.append({"type": kind, "data": data, "timestamp": ts})
        return ts

    def incremental(self, at: int, data: dict[str, Any]) -> None:
        ts = self._push(INCREMENTAL, at, data)
        if ts - self.last_full > CHECKOUT_EVERY_MS:
            self.snapshot(at)

    def snapshot(self, at: int) -> None:
        """Meta and a FullSnapshot of the page as it is now (page load or checkout)."""
        width, height = self.viewport
        self._push(META, at, {"href": self.page.href, "width": width, "height": height})
        node = serialize(self.page.root)
        offset = {"left": 0, "top": self.page.scroll_y}
        self.last_full = self._push(FULL_SNAPSHOT, at, {"node": node, "initialOffset": offset})

    def custom(self, at: int, tag: str, payload: dict[str, Any]) -> None:
        self._push(CUSTOM, at, {"tag": tag, "payload": payload})

    def plugin(self, at: int, name: str, payload: dict[str, Any]) -> None:
        self._push(PLUGIN, at, {"plugin": name, "payload": payload})

    def event(self, at: int, name: str, props: dict[str, Any] | None = None) -> None:
        """An analytics event as the snippet sends it, at the same moment."""
        ts = datetime.fromtimestamp((self.start + at) / 1000, UTC)
        path = self.page.href.removeprefix(SITE)
        self.analytics.append(
            {
                "uuid": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                "event": name,
                "timestamp": ts.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "properties": {
                    "$session_id": self.session,
                    "$window_id": self.window,
                    "$current_url": self.page.href,
                    "$host": SITE.removeprefix("https://"),
                    "$pathname": path,
                    "$browser": "Chrome",
                    "$os": "Mac OS X",
                    "$device_type": "Desktop",
                    "$lib": "userlens-web",
                    "$viewport_width": self.viewport[0],
                    "$viewport_height": self.viewport[1],
                    **(props or {}),
                },
            }
        )

    def load(self, at: int, page: PageModel) -> None:
        """The visitor follows a link: the old page goes, the new one is recorded afresh."""
        self.some_click(at - 400)
        self.event(at - 200, "$pageleave")
        self.unloads.append(self.start + at - 150)
        self.page = page
        self.snapshot(at)
        self.custom(at + 5, "$pageview", {"href": page.href})
        self.event(at + 10, "$pageview", {"title": page.href.rsplit("/", 1)[-1]})

    # Interactions ---------------------------------------------------------------------------

    def move(self, at: int) -> None:
        x, y = self.mouse
        positions = []
        targets = self.page.targets()
        for i in range(self.rng.randint(2, 5)):
            x = min(max(x + self.rng.randint(-90, 90), 0), self.viewport[0])
            y = min(max(y + self.rng.randint(-60, 60), 0), self.viewport[1])
            positions.append(
                {"x": x, "y": y, "id": self.rng.choice(targets), "timeOffset": -100 * (4 - i)}
            )
        self.mouse = (x, y)
        self.incremental(at, {"source": MOUSE_MOVE, "positions": positions})

    def click(self, at: int, target: int) -> None:
        x, y = self.mouse
        data = {
            "source": MOUSE_INTERACTION,
            "type": CLICK,
            "id": target,
            "x": x,
            "y": y,
            "pointerType": 0,
        }
        self.incremental(at, data)
        self.event(
            at + 2,
            "$autocapture",
            {"$event_type": "click", "$elements_chain": "button.add:nth-child(2)"},
        )

    def scroll(self, at: int) -> None:
        page = self.page
        page.scroll_y = min(max(page.scroll_y + self.rng.choice((-1, 1, 1, 2)) * 160, 0), 2400)
        self.incremental(at, {"source": SCROLL, "id": 1, "x": 0, "y": page.scroll_y})

    def type_in(self, at: int) -> None:
        box = self.rng.choice(self.page.handles.inputs)
        if box.attrs.get("type") == "checkbox":
            self.incremental(at, {"source": INPUT, "text": "on", "isChecked": True, "id": box.id})
            return
        masked = "*" * self.rng.randint(3, 24)  # maskAllInputs
        box.attrs["value"] = masked
        self.incremental(at, {"source": MOUSE_INTERACTION, "type": FOCUS, "id": box.id})
        self.incremental(
            at + 40, {"source": INPUT, "text": masked, "isChecked": False, "id": box.id}
        )

    def network(self, at: int, path: str) -> None:
        request = {
            "name": f"{SITE}/api/{path}",
            "method": self.rng.choice(("GET", "GET", "GET", "POST")),
            "status": 200,
            "initiatorType": "fetch",
            "startTime": at,
            "duration": self.rng.randint(40, 400),
            "responseBodySize": self.rng.randint(200, 9000),
            "timestamp": self.start + at,
        }
        self.plugin(at, "rrweb/network@1", {"requests": [request]})

    def console(self, at: int, level: str, text: str) -> None:
        trace = (
            [f"at checkout ({SITE}/assets/app.js:1:{self.rng.randint(100, 9999)})"]
            if level == "error"
            else []
        )
        self.plugin(at, "rrweb/console@1", {"level": level, "payload": [text], "trace": trace})

    # DOM changes ----------------------------------------------------------------------------

    def mutate(self, at: int) -> None:
        page, h, rng = self.page, self.page.handles, self.rng
        ch = Changes()
        pick = rng.random()
        if pick < 0.4:
            self._hover(ch)
        elif pick < 0.65:
            node = rng.choice(h.live)
            page.set_text(node, self._live_value(node), ch)
        elif pick < 0.8 and h.feed is not None:
            self._feed(ch, h.feed, at)
        elif pick < 0.9 and h.grid is not None:
            self._cards(ch, h.grid)
        elif h.menu is not None:
            self._dropdown(ch, h.menu)
        else:
            self._hover(ch)
        self.incremental(at, ch.data())

    def _live_value(self, node: Node) -> str:
        if node.text.startswith("€"):
            return f"€{self.rng.randint(100, 900)}.{self.rng.choice(('00', '50'))}"
        if node.text.isdigit():
            return str(self.rng.randint(0, 9))
        if node.text.startswith("Updated"):
            return f"Updated {self.rng.randint(1, 59)} min ago"
        return self.rng.choice(STATUSES)

    def _hover(self, ch: Changes) -> None:
        page = self.page

        def classes(node: Node, hover: bool) -> dict[str, str]:
            names = [c for c in node.attrs.get("class", "").split() if c != "is-hover"]
            return {"class": " ".join([*names, "is-hover"] if hover else names)}

        if page.hovered is not None and page.hovered.id in page.nodes:
            page.set_attrs(page.hovered, classes(page.hovered, False), ch)
        page.hovered = self.rng.choice(page.handles.hover)
        page.set_attrs(page.hovered, classes(page.hovered, True), ch)

    def _feed(self, ch: Changes, feed: Node, at: int) -> None:
        first = feed.children[0] if feed.children else None
        self.page.insert(feed, feed_row_html(self.rng, at // 60_000), first, ch)
        if len(feed.children) > 8:
            self.page.remove(feed.children[-1], ch)

    def _cards(self, ch: Changes, grid: Node) -> None:
        for _ in range(self.rng.randint(1, 4)):
            self.page.insert(grid, card_html(self.rng, len(grid.children)), None, ch)
        while len(grid.children) > 36:
            self.page.remove(grid.children[0], ch)

    def _dropdown(self, ch: Changes, menu: Node) -> None:
        page = self.page
        if page.dropdown is not None:
            page.remove(page.dropdown, ch)
            page.dropdown = None
            page.set_attrs(menu, {"aria-expanded": "false"}, ch)
            return
        links = "".join(
            f'<li><a href="{SITE}/c/{i}">{words(self.rng, 2)}</a></li>' for i in range(8)
        )
        page.dropdown = page.insert(menu, f"<ul class=dropdown>{links}</ul>", None, ch)
        page.set_attrs(menu, {"aria-expanded": "true"}, ch)

    def toast(self, at: int, node_id: str, text: str) -> None:
        assert self.page.handles.toasts is not None
        ch = Changes()
        html = f'<div class=toast id="{node_id}" role=status><b>Thank you!</b> <span>{text}</span>'
        self.page.insert(self.page.handles.toasts, html + "</div>", None, ch)
        self.incremental(at, ch.data())

    def untoast(self, at: int, node_id: str) -> None:
        assert self.page.handles.toasts is not None
        for note in list(self.page.handles.toasts.children):
            if note.attrs.get("id") == node_id:
                ch = Changes()
                self.page.remove(note, ch)
                self.incremental(at, ch.data())

    def some_click(self, at: int) -> None:
        self.click(at, self.rng.choice(self.page.handles.hover).id)

    def some_request(self, at: int) -> None:
        self.network(at, self.rng.choice(("cart", "stock", "search", "reviews")))

    def some_log(self, at: int) -> None:
        self.console(at, "log", f"render {words(self.rng, 2)}")

    # Seconds ---------------------------------------------------------------------------------

    def active_second(self, second: int) -> None:
        """A second of a visitor at work: the recorder's sampling limits what it sees."""
        rng, base = self.rng, second * 1000
        actions: list[tuple[int, Callable[[int], None]]] = [
            (base + rng.randint(150, 350), self.move),
            (base + rng.randint(650, 850), self.move),
        ]
        actions += [
            (base + rng.randint(0, 999), self.mutate)
            for _ in range(rng.choice((1, 2, 2, 3, 3, 4, 5)))
        ]
        checkout = "checkout" in self.page.href
        optional: tuple[tuple[float, Callable[[int], None]], ...] = (
            (0.3, self.scroll),
            (0.12, self.some_click),
            (0.5 if checkout else 0.04, self.type_in),
            (0.08, self.some_request),
            (0.02, self.some_log),
        )
        for chance, action in optional:
            if rng.random() < chance:
                actions.append((base + rng.randint(0, 900), action))
        for at, act in sorted(actions, key=lambda a: a[0]):
            act(at)

    def idle_second(self, second: int) -> None:
        """Nobody at the keyboard: only the page's own updates and polling."""
        if second % 15 == 7:
            ch = Changes()
            node = self.rng.choice(self.page.handles.live)
            self.page.set_text(node, self._live_value(node), ch)
            self.incremental(second * 1000 + 120, ch.data())
        if second % 30 == 11:
            self.network(second * 1000 + 400, "notifications")


def activity(rng: random.Random, seconds: int, busy: list[tuple[int, int]]) -> list[bool]:
    """Which seconds the visitor is active: runs of 20-150 s, short and some long pauses."""
    active = [False] * seconds
    second = 0
    while second < seconds:
        run = rng.randint(20, 150)
        for s in range(second, min(second + run, seconds)):
            active[s] = True
        second += run + (rng.randint(60, 240) if rng.random() < 0.25 else rng.randint(6, 40))
    for first, last in busy:
        for s in range(max(first, 0), min(last, seconds)):
            active[s] = True
    return active


def generate(seed: int, minutes: float, start_ms: int, session: str, window: str) -> Visit:
    """A seeded visit of `minutes`: catalogue, then checkout (the middle), then orders."""
    rng = random.Random(seed)
    plan = Plan.of(minutes)
    rec = Recorder(rng, start_ms, session, window)
    rec.snapshot(0)
    rec.custom(5, "$pageview", {"href": rec.page.href})
    rec.event(10, "$pageview", {"title": "spring"})
    seconds = plan.duration_ms // 1000
    nav1, nav2 = (n // 1000 for n in plan.navigations)
    shown, hidden = (m // 1000 for m in plan.marker)
    active = activity(
        rng, seconds, [(nav1 - 5, nav1 + 20), (shown - 5, hidden + 5), (nav2 - 5, nav2 + 20)]
    )
    errors = set(rng.sample(range(seconds), 3))
    pages: dict[int, Callable[[], PageModel]] = {
        nav1: lambda: checkout_page(rng, rec.css),
        nav2: lambda: orders_page(rng, rec.css),
    }
    for second in range(seconds):
        if second in pages:
            rec.load(second * 1000 + 500, pages[second]())
            rec.event(
                second * 1000 + 900, "checkout_started" if second == nav1 else "orders_viewed"
            )
        if second == shown:
            rec.toast(plan.marker[0], MARKER_ID, MARKER_TEXT)
            rec.event(plan.marker[0] + 20, "order_completed", {"order": "LW-MIDPOINT-0900"})
        if second == hidden:
            rec.untoast(plan.marker[1], MARKER_ID)
        if second == plan.resize_ms // 1000:
            rec.viewport = (1366, 768)
            rec.incremental(
                plan.resize_ms, {"source": VIEWPORT_RESIZE, "width": 1366, "height": 768}
            )
        if second in errors:
            rec.console(
                second * 1000 + 50,
                "error",
                f"TypeError: cannot read 'price' of undefined ({words(rng, 2)})",
            )
        (rec.active_second if active[second] else rec.idle_second)(second)
    rec.move(plan.duration_ms)  # the last thing recorded, at exactly the visit's length
    return Visit(rec.events, rec.analytics, rec.unloads)


# --- Through the capture path ---------------------------------------------------------------


def sdk_size(event: dict[str, Any]) -> int:
    """The recorder's size estimate: JSON length for snapshots, mutations and plugins, else 120."""
    data = event["data"]
    if event["type"] in (FULL_SNAPSHOT, PLUGIN) or (
        event["type"] == INCREMENTAL and data.get("source") == MUTATION
    ):
        return len(orjson.dumps(event))
    return 120


def flushes(events: list[dict[str, Any]], unloads: list[int]) -> list[list[dict[str, Any]]]:
    """The recorder's flushes: on its 2 s tick when 8 KB wait or the oldest waited 6 s, at once
    past 900 KB, and when the page goes away."""
    out: list[list[dict[str, Any]]] = []
    buffer: list[dict[str, Any]] = []
    size = 0
    tick = events[0]["timestamp"] + FLUSH_MS
    pending_unloads = sorted(unloads)

    def flush() -> None:
        nonlocal buffer, size
        if buffer:
            out.append(buffer)
        buffer, size = [], 0

    for event in events:
        ts = event["timestamp"]
        while pending_unloads and pending_unloads[0] <= ts:
            pending_unloads.pop(0)
            flush()
        while tick <= ts:
            if buffer and (size >= MIN_FLUSH_BYTES or tick - buffer[0]["timestamp"] >= MAX_WAIT_MS):
                flush()
            tick += FLUSH_MS
        buffer.append(event)
        size += sdk_size(event)
        if size >= FLUSH_BYTES:
            flush()
    flush()
    return out


def event_batches(analytics: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The snippet's event queue: what came in each 5 s, at most 50 events a request."""
    groups: dict[int, list[dict[str, Any]]] = {}
    for event in analytics:
        at = datetime.fromisoformat(event["timestamp"]).timestamp() * 1000
        groups.setdefault(int(at // EVENTS_FLUSH_MS), []).append(event)
    return [g[i : i + 50] for _, g in sorted(groups.items()) for i in range(0, len(g), 50)]


@dataclass
class Sent:
    requests: int = 0
    body_bytes: int = 0


def post(client: httpx.Client, path: str, body: dict[str, Any], sent: Sent) -> None:
    """One request as the snippet sends it: gzipped JSON as text/plain; retried on 503."""
    data = gzip.compress(orjson.dumps(body))
    for _ in range(30):
        answer = client.post(path, content=data, headers={"Content-Type": "text/plain"})
        if answer.status_code != 503:
            break
        time.sleep(float(answer.headers.get("Retry-After", "1")))
    if answer.status_code != 200:
        raise SystemExit(f"capture refused a request: {answer.status_code} {answer.text[:300]}")
    sent.requests += 1
    sent.body_bytes += len(data)


def send_visit(url: str, token: str, visit: Visit, distinct_id: str) -> tuple[Sent, Sent]:
    """The recording to `/s/` and the events to `/i/v0/e/`, in the order they were sent."""
    session = visit.analytics[0]["properties"]["$session_id"]
    window = visit.analytics[0]["properties"]["$window_id"]
    recording, events = Sent(), Sent()
    queue: list[tuple[float, str, dict[str, Any]]] = []
    for batch in flushes(visit.events, visit.unloads):
        item = {
            "properties": {
                "distinct_id": distinct_id,
                "$session_id": session,
                "$window_id": window,
                "$snapshot_data": batch,
            }
        }
        queue.append((batch[-1]["timestamp"], "/s/", {"api_key": token, "batch": [item]}))
    for group in event_batches(visit.analytics):
        for event in group:
            event["properties"]["distinct_id"] = distinct_id
        at = datetime.fromisoformat(group[-1]["timestamp"]).timestamp() * 1000
        # No `sent_at`: the visit is in the past, its times must stay as they were.
        queue.append((at, "/i/v0/e/", {"api_key": token, "batch": group}))
    with httpx.Client(base_url=url, timeout=60, headers={"User-Agent": UA}) as client:
        for _, path, body in sorted(queue, key=lambda q: q[0]):
            post(client, path, body, recording if path == "/s/" else events)
    return recording, events


def wait_for_recording(
    url: str, auth: dict[str, str], project: int, session: str, expected: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Poll until the snapshots API has every event; (its events, the session list's entry)."""
    deadline = time.monotonic() + 300
    with httpx.Client(base_url=url, timeout=120, headers=auth) as client:
        while time.monotonic() < deadline:
            listed = client.get(f"/api/projects/{project}/sessions").json()["results"]
            entry = next((s for s in listed if s["session_id"] == session), None)
            if entry is not None:
                answer = client.get(f"/api/projects/{project}/sessions/{session}/snapshots")
                events: list[dict[str, Any]] = answer.json()["events"]
                if len(events) >= expected:
                    return events, entry
            time.sleep(1)
    raise SystemExit("the recording was not stored within 5 minutes")


def time_snapshots_api(
    url: str, auth: dict[str, str], project: int, session: str, runs: int
) -> tuple[float, int]:
    """The snapshots API on its own (no browser): median ms and the body's bytes."""
    times, size = [], 0
    with httpx.Client(base_url=url, timeout=120, headers=auth) as client:
        for _ in range(runs):
            began = time.perf_counter()
            answer = client.get(f"/api/projects/{project}/sessions/{session}/snapshots")
            answer.raise_for_status()
            times.append((time.perf_counter() - began) * 1000)
            size = len(answer.content)
    return statistics.median(times), size


# --- In Chromium ------------------------------------------------------------------------------

# Runs in each page before its own scripts (injected by DevTools, so the page's CSP does not
# apply). At every animation frame it looks in the replay frame for the elements the bench
# waits for and notes, once each, when each is there and laid out: the frame that draws it.
# It also notes when the timeline's range input fires (the start of a seek).
WATCHER_JS = """
(() => {
  if (window.top !== window) return;
  const ids = __IDS__;
  const lens = { seen: {}, inputAt: null };
  window.__lens = lens;
  addEventListener("input", (e) => {
    const t = e.target;
    if (t instanceof HTMLInputElement && t.type === "range") lens.inputAt = performance.now();
  }, true);
  const look = () => {
    const frame = document.querySelector(__FRAME__);
    const doc = frame && frame.offsetWidth > 0 ? frame.contentDocument : null;
    if (doc) {
      for (const id of ids) {
        if (lens.seen[id] !== undefined) continue;
        const found = doc.getElementById(id);
        if (found && found.getClientRects().length > 0) lens.seen[id] = performance.now();
      }
    }
    requestAnimationFrame(look);
  };
  requestAnimationFrame(look);
})();
""".replace("__IDS__", json.dumps([TITLE_ID, MARKER_ID])).replace(
    "__FRAME__", json.dumps(STAGE_FRAME)
)

WHEN_DRAWN_JS = "(id) => (window.__lens && window.__lens.seen[id]) ?? null"
RESOURCES_JS = """() => performance.getEntriesByType("resource").map(
  (e) => [new URL(e.name).pathname, e.startTime, e.responseEnd])"""

# Bare rrweb: the installed @rrweb/replay build, the events as one JSON file, a Replayer with
# the player's options in a stage of the player's height, scaled to fit the same way.
BASELINE_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>bare rrweb</title>
<link rel="stylesheet" href="/style.css">
<style>body{margin:0}.stage{position:relative;height:520px;overflow:hidden;background:#eef0f4}
.stage .replayer-wrapper{position:absolute;top:0;left:0;transform-origin:0 0}
.stage iframe{border:0;background:#fff}</style>
<script src="/replay.js"></script>
</head><body><div class="stage" data-testid="stage"></div>
<script>
const at = Number(new URLSearchParams(location.search).get("t") || 0);
const stage = document.querySelector("[data-testid=stage]");
fetch("/events.json").then((r) => r.json()).then((events) => {
  const replayer = new rrwebReplay.Replayer(events, {
    root: stage, skipInactive: true, mouseTail: false, showWarning: false,
    UNSAFE_replayCanvas: false,
  });
  const fit = (size) => {
    const wrapper = stage.querySelector(".replayer-wrapper");
    const scale = Math.min(stage.clientWidth / size.width, stage.clientHeight / size.height, 1);
    const x = (stage.clientWidth - size.width * scale) / 2;
    const y = (stage.clientHeight - size.height * scale) / 2;
    wrapper.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
  };
  replayer.on("resize", fit);
  const meta = events.find((e) => e.type === 4);
  fit({ width: meta.data.width, height: meta.data.height });
  replayer.pause(at);
  window.replayer = replayer;
});
</script></body></html>
"""
BASELINE_SEEK_JS = "(t) => { window.__lens.inputAt = performance.now(); window.replayer.pause(t); }"


class _Static(BaseHTTPRequestHandler):
    """Serves the baseline's files from memory, with an ETag (revalidated like our assets)."""

    protocol_version = "HTTP/1.1"
    files: ClassVar[dict[str, tuple[bytes, str, str]]] = {}

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        found = self.files.get(self.path.split("?", 1)[0])
        if found is None:
            self.send_error(404)
            return
        body, kind, etag = found
        fresh = self.headers.get("If-None-Match") == etag
        self.send_response(304 if fresh else 200)
        self.send_header("ETag", etag)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", "0" if fresh else str(len(body)))
        self.end_headers()
        if not fresh:
            self.wfile.write(body)


@contextmanager
def baseline_server(events: list[dict[str, Any]]) -> Iterator[str]:
    """A static server on loopback for the bare rrweb page; yields its URL."""
    files = {
        "/": (BASELINE_HTML.encode(), "text/html; charset=utf-8"),
        "/replay.js": ((REPLAY_DIST / "replay.umd.min.cjs").read_bytes(), "text/javascript"),
        "/style.css": ((REPLAY_DIST / "style.min.css").read_bytes(), "text/css"),
        "/events.json": (orjson.dumps(events), "application/json"),
    }
    _Static.files = {
        path: (body, kind, '"' + hashlib.sha256(body).hexdigest()[:32] + '"')
        for path, (body, kind) in files.items()
    }
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Static)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def kind_of(url: str) -> str:
    """What a request fetched: the recording's data, another API call, a JS/CSS asset, a page."""
    path = urlsplit(url).path
    if path.endswith(("/snapshots", "/events.json")):
        return "recording"
    if path.startswith("/api/"):
        return "api"
    if path.endswith((".js", ".css")):
        return "assets"
    return "page"


class Traffic:
    """The requests a page makes, and their response bodies' bytes by kind."""

    def __init__(self, page: Page) -> None:
        self._requests: list[Request] = []
        page.on("request", lambda request: self._requests.append(request))

    def reset(self) -> None:
        self._requests = []

    def bytes(self) -> dict[str, int]:
        out = dict.fromkeys(("recording", "api", "assets", "page"), 0)
        for request in self._requests:
            try:
                size = request.sizes()["responseBodySize"]
            except PlaywrightError:  # failed or aborted: nothing came
                continue
            out[kind_of(request.url)] += max(size, 0)
        out["total"] = sum(out.values())
        return out


@dataclass
class Timed:
    """One timed open or seek."""

    ms: float  # in the page: from navigation (or the seek's input event) to the frame drawn
    wall_ms: float  # as this process saw it, from the call to the watcher's answer
    bytes: dict[str, int]
    phases: dict[str, float] = field(default_factory=dict)


def wait_drawn(page: Page, element_id: str, text: str) -> float:
    """Wait for the watcher to see `element_id` drawn, then check with Playwright that `text` is
    visible in the replay frame. Asks the page every 25 ms: Playwright's own polling would run
    its text and visibility matching over the recorded page's DOM, in the page being timed."""
    deadline = time.monotonic() + 120
    found = None
    while found is None and time.monotonic() < deadline:
        try:
            found = page.evaluate(WHEN_DRAWN_JS, element_id)
        except PlaywrightError:  # the document is being replaced: ask the next one
            found = None
        if found is None:
            page.wait_for_timeout(25)
    frame = page.frame_locator(STAGE_FRAME)
    expect(frame.get_by_text(text, exact=True)).to_be_visible(timeout=1000)
    if found is None:
        raise SystemExit(f"#{element_id} was not drawn within 2 minutes")
    return float(found)


def phases(page: Page, drawn: float) -> dict[str, float]:
    """Where an open's time went: when the recording was asked for, its download, the rest."""
    entries: list[list[Any]] = page.evaluate(RESOURCES_JS)
    data = [e for e in entries if kind_of(f"http://x{e[0]}") == "recording"]
    if not data:
        return {}
    _, start, end = data[-1]
    return {"requested_at": start, "download": end - start, "after_data": drawn - end}


def reset_watcher(page: Page) -> None:
    page.evaluate("() => { window.__lens.seen = {}; window.__lens.inputAt = null; }")


def open_at(page: Page, traffic: Traffic, url: str, element_id: str, text: str) -> Timed:
    """Navigate to `url` and time it until `element_id` is drawn in the replay frame."""
    traffic.reset()
    began = time.perf_counter()
    page.goto(url, wait_until="commit")
    drawn = wait_drawn(page, element_id, text)
    wall = (time.perf_counter() - began) * 1000
    return Timed(drawn, wall, traffic.bytes(), phases(page, drawn))


def seek_in_page(page: Page, traffic: Traffic, seek: Callable[[int], None], middle: int) -> Timed:
    """In an open player near the start: time a seek to the middle until the toast is drawn.

    It goes back to 1 s, not 0, first: rrweb's `pause(t)` leaves the frame as it was when t is
    at or before the first full snapshot's time (that snapshot is never applied).
    """
    reset_watcher(page)
    seek(SEEK_BACK_MS)
    wait_drawn(page, TITLE_ID, TITLE_TEXT)
    reset_watcher(page)
    traffic.reset()
    began = time.perf_counter()
    seek(middle)
    drawn = wait_drawn(page, MARKER_ID, MARKER_TEXT)
    wall = (time.perf_counter() - began) * 1000
    started = page.evaluate("() => window.__lens.inputAt")
    if started is None:
        raise SystemExit("the seek did not go through the timeline's input event")
    return Timed(drawn - float(started), wall, traffic.bytes())


@dataclass
class Side:
    """The figures of one player, ours or bare rrweb."""

    cold: list[Timed] = field(default_factory=list)
    warm: list[Timed] = field(default_factory=list)
    seek_cold: list[Timed] = field(default_factory=list)
    seek: list[Timed] = field(default_factory=list)
    timeline: list[Timed] = field(default_factory=list)


def new_context(browser: Browser, state: Any = None) -> BrowserContext:
    context = browser.new_context(viewport={"width": 1280, "height": 800}, storage_state=state)
    context.add_init_script(script=WATCHER_JS)
    return context


def sign_in(browser: Browser, url: str) -> Any:
    """Sign in through the app's page; returns the storage state (the session cookie)."""
    context = new_context(browser)
    page = context.new_page()
    page.goto(f"{url}/signin")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Projects").wait_for()
    state = context.storage_state()
    context.close()
    return state


def measure_side(
    name: str,
    make: Callable[[], BrowserContext],
    url: str,
    seeker: Callable[[Page], Callable[[int], None]],
    runs: int,
    middle: int,
) -> Side:
    """Cold opens (a fresh context each), then warm opens, share links and timeline seeks."""
    side = Side()
    at_middle = f"{url}?t={middle}"
    for _ in range(runs):
        for target, into, element_id, text in (
            (url, side.cold, TITLE_ID, TITLE_TEXT),
            (at_middle, side.seek_cold, MARKER_ID, MARKER_TEXT),
        ):
            context = make()
            page = context.new_page()
            into.append(open_at(page, Traffic(page), target, element_id, text))
            context.close()
    context = make()
    page = context.new_page()
    traffic = Traffic(page)
    open_at(page, traffic, url, TITLE_ID, TITLE_TEXT)  # fills the cache
    side.warm = [open_at(page, traffic, url, TITLE_ID, TITLE_TEXT) for _ in range(runs)]
    side.seek = [open_at(page, traffic, at_middle, MARKER_ID, MARKER_TEXT) for _ in range(runs)]
    open_at(page, traffic, url, TITLE_ID, TITLE_TEXT)
    seek = seeker(page)
    side.timeline = [seek_in_page(page, traffic, seek, middle) for _ in range(runs)]
    context.close()
    print_side(name, side)
    return side


def timeline_of(page: Page) -> Callable[[int], None]:
    """Our player: move the timeline's range input, as a visitor dragging it would."""
    position = page.get_by_label("Position")
    return lambda at: position.fill(str(at))


def replayer_of(page: Page) -> Callable[[int], None]:
    """Bare rrweb: `replayer.pause(t)`, the call our player makes on a seek."""
    return lambda at: page.evaluate(BASELINE_SEEK_JS, at)


def median(values: list[float]) -> float:
    return float(statistics.median(values))


def median_bytes(runs: list[Timed]) -> dict[str, int]:
    return {key: round(median([r.bytes[key] for r in runs])) for key in runs[0].bytes}


def median_phases(runs: list[Timed]) -> dict[str, float]:
    keys = runs[0].phases.keys()
    return {key: round(median([r.phases[key] for r in runs if key in r.phases])) for key in keys}


def print_side(name: str, side: Side) -> None:
    rows = (
        ("first frame, cold", side.cold),
        ("first frame, warm", side.warm),
        ("share link ?t=middle, cold", side.seek_cold),
        ("share link ?t=middle, warm", side.seek),
        ("seek with the timeline", side.timeline),
    )
    print(f"{name}:", flush=True)
    for label, runs in rows:
        times = ", ".join(f"{r.ms:.0f}" for r in runs)
        print(
            f"  {label:28} {median([r.ms for r in runs]):7.0f} ms  (runs: {times}; "
            f"seen from here at {median([r.wall_ms for r in runs]):.0f} ms)  "
            f"{median_bytes(runs)['total']:,} bytes",
            flush=True,
        )
    cold = median_phases(side.cold)
    if cold:
        print(
            f"  cold open: recording asked for at {cold['requested_at']} ms, downloaded in "
            f"{cold['download']} ms, frame drawn {cold['after_data']} ms after it arrived",
            flush=True,
        )


# --- Figures ---------------------------------------------------------------------------------

# (our key, the baseline's key, the ratio's key, which runs, what it is)
FIGURES = (
    ("first_frame_ms_cold", "baseline_first_frame_ms", "first_frame_ratio", "cold"),
    ("first_frame_ms_warm", "baseline_first_frame_ms_warm", "first_frame_warm_ratio", "warm"),
    ("seek_middle_ms_cold", "baseline_seek_ms_cold", "seek_cold_ratio", "seek_cold"),
    ("seek_middle_ms", "baseline_seek_ms", "seek_ratio", "seek"),
    ("seek_timeline_ms", "baseline_seek_timeline_ms", "seek_timeline_ratio", "timeline"),
)
LABELS = {
    "cold": "first frame, cold",
    "warm": "first frame, warm",
    "seek_cold": "share link ?t=middle, cold",
    "seek": "share link ?t=middle, warm",
    "timeline": "seek with the timeline",
}
BYTES_KEYS = {
    "cold": "bytes_transferred_first_frame",
    "warm": "bytes_transferred_first_frame_warm",
    "seek_cold": "bytes_transferred_seek_cold",
    "seek": "bytes_transferred_seek",
    "timeline": "bytes_transferred_seek_timeline",
}


def figures(ours: Side, bare: Side) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_kind: dict[str, dict[str, int]] = {}
    baseline_by_kind: dict[str, dict[str, int]] = {}
    for key, base_key, ratio_key, runs in FIGURES:
        mine, theirs = getattr(ours, runs), getattr(bare, runs)
        out[key] = round(median([r.ms for r in mine]))
        out[base_key] = round(median([r.ms for r in theirs]))
        out[ratio_key] = round(median([r.ms for r in mine]) / median([r.ms for r in theirs]), 2)
        by_kind[runs] = median_bytes(mine)
        baseline_by_kind[runs] = median_bytes(theirs)
        out[BYTES_KEYS[runs]] = by_kind[runs]["total"]
        out[f"baseline_{BYTES_KEYS[runs]}"] = baseline_by_kind[runs]["total"]
    out["bytes_by_kind"] = by_kind
    out["baseline_bytes_by_kind"] = baseline_by_kind
    out["phases_cold_ms"] = median_phases(ours.cold)
    out["baseline_phases_cold_ms"] = median_phases(bare.cold)
    out["targets_met"] = {runs: out[key] <= TARGET_MS for key, _, _, runs in FIGURES}
    return out


def print_summary(r: dict[str, Any]) -> None:
    print("summary:")
    print(f"  {'':28} {'userlens':>9} {'bare rrweb':>11} {'ratio':>6}  target <= {TARGET_MS} ms")
    for key, base_key, ratio_key, runs in FIGURES:
        verdict = "met" if r["targets_met"][runs] else "MISSED"
        print(
            f"  {LABELS[runs]:28} {r[key]:6,} ms {r[base_key]:8,} ms {r[ratio_key]:6.2f}  {verdict}"
        )
    kinds = r["bytes_by_kind"]["cold"]
    bare = r["baseline_bytes_by_kind"]["cold"]
    print(
        f"  bytes for a cold first frame: {kinds['total']:,} (recording {kinds['recording']:,}, "
        f"assets {kinds['assets']:,}, other API {kinds['api']:,}, page {kinds['page']:,}); "
        f"bare rrweb {bare['total']:,}"
    )
    print(
        f"  recording: {r['recording_events']:,} events over {r['recording_minutes']} min, "
        f"{r['recording_bytes_raw']:,} bytes of JSON, sent in {r['recording_requests']} requests "
        f"({r['recording_bytes_sent']:,} bytes gzipped), stored in {r['recording_bytes_stored']:,}"
    )
    print(
        f"  snapshots API alone (no browser): {r['snapshots_api_ms']} ms for "
        f"{r['snapshots_api_bytes']:,} bytes"
    )


# --- The run ---------------------------------------------------------------------------------


@dataclass
class Ids:
    session: str
    window: str
    distinct_id: str

    @classmethod
    def of(cls, seed: int) -> Ids:
        rng = random.Random(seed)
        return cls(*(str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(3)))


def capture(
    url: str, token: str, auth: dict[str, str], project: int, visit: Visit, ids: Ids
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send the visit and wait until it is stored; (the API's events, facts about it)."""
    began = time.perf_counter()
    recording, events = send_visit(url, token, visit, ids.distinct_id)
    print(
        f"sent {recording.requests} recording requests ({recording.body_bytes:,} bytes gzipped) "
        f"and {events.requests} event requests in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    stored, entry = wait_for_recording(url, auth, project, ids.session, len(visit.events))
    api_ms, api_bytes = time_snapshots_api(url, auth, project, ids.session, 3)
    print(
        f"stored: {len(stored):,} events in {entry['recording_bytes']:,} bytes; the snapshots API "
        f"answers {api_bytes:,} bytes in {api_ms:.0f} ms (median of 3, no browser)",
        flush=True,
    )
    return stored, {
        "recording_events": len(visit.events),
        "recording_bytes_raw": len(orjson.dumps(visit.events)),
        "recording_requests": recording.requests,
        "recording_bytes_sent": recording.body_bytes,
        "recording_bytes_stored": entry["recording_bytes"],
        "full_snapshots": sum(1 for e in visit.events if e["type"] == FULL_SNAPSHOT),
        "analytics_events": len(visit.analytics),
        "snapshots_api_ms": round(api_ms),
        "snapshots_api_bytes": api_bytes,
    }


def in_browser(
    url: str, player: str, stored: list[dict[str, Any]], runs: int, middle: int
) -> dict[str, Any]:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        state = sign_in(browser, url)
        ours = measure_side(
            "userlens player",
            lambda: new_context(browser, state),
            player,
            timeline_of,
            runs,
            middle,
        )
        with baseline_server(stored) as base:
            bare = measure_side(
                "bare rrweb", lambda: new_context(browser), f"{base}/", replayer_of, runs, middle
            )
        browser.close()
    return figures(ours, bare)


def run_bench(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    print(
        f"load average (1 min): {load_before:.2f}"
        + ("  (busy machine)" if load_before > 0.5 else "")
    )
    ids = Ids.of(args.seed)
    plan = Plan.of(args.minutes)
    # The visit ended two minutes ago.
    start_ms = int(time.time() * 1000) - plan.duration_ms - 120_000
    visit = generate(args.seed, args.minutes, start_ms, ids.session, ids.window)
    print(
        f"generated {args.minutes:g} minutes: {len(visit.events):,} rrweb events, "
        f"{len(orjson.dumps(visit.events)):,} bytes of JSON, {len(visit.analytics)} events",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "USERLENS_DATA_DIR": str(Path(tmp) / "data"),
            "USERLENS_LOG_LEVEL": "warning",
        }
        project = json.loads(cli(env, "project", "create", "Bench", "--json"))
        cli(env, "user", "create", EMAIL, "--admin", stdin=PASSWORD + "\n")
        token = json.loads(cli(env, "token", "create", EMAIL, "--json"))["token"]
        auth = {"Authorization": f"Bearer {token}"}
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(env, port)
        try:
            stored, facts = capture(url, project["api_token"], auth, project["id"], visit, ids)
            player = f"{url}/projects/{project['id']}/sessions/{ids.session}"
            result = in_browser(url, player, stored, args.runs, plan.middle_ms)
        finally:
            server.terminate()
            server.wait(60)
    return {
        **result,
        **facts,
        "recording_minutes": args.minutes,
        "middle_ms": plan.middle_ms,
        "runs": args.runs,
        "load_average_before": round(load_before, 2),
        "load_average_after": round(os.getloadavg()[0], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="Opens and seeks per figure (5).")
    parser.add_argument("--minutes", type=float, default=30, help="The recording's length (30).")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not (REPLAY_DIST / "replay.umd.min.cjs").exists():
        raise SystemExit(
            f"{REPLAY_DIST} is missing: run `make setup` (it installs ui/node_modules)"
        )
    result = run_bench(args)
    print_summary(result)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
