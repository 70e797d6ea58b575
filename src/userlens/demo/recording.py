"""Session recordings for the demo: for some recent sessions of the generated events, the rrweb
events a recorder would have sent. Each page view draws a plain page of the demo's product
(its navigation, a heading, some text and the elements clicked there); the pointer moves to
each autocaptured click and clicks it at its moment, the page scrolls now and then, and on
the sign-up page the form is typed into, its values masked as the recorder masks inputs."""

from __future__ import annotations

import dataclasses
import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from userlens.demo.generator import Event

# rrweb's event and node types, and its incremental sources (its own numbering).
META, FULL_SNAPSHOT, INCREMENTAL, PLUGIN = 4, 2, 3, 6
CONSOLE = "rrweb/console@1"
DOCUMENT, DOCTYPE, ELEMENT, TEXT = 0, 1, 2, 3
MOUSE_MOVE, MOUSE_INTERACTION, SCROLL, INPUT = 1, 2, 3, 5
CLICK = 2
CHUNK = 200  # rrweb events per `$snapshot` item

CSS = (
    "body{margin:0;font-family:system-ui,sans-serif;color:#1b1f29;background:#f6f7f9}"
    "header{display:flex;flex-wrap:wrap;gap:8px 24px;align-items:center;padding:16px 32px;"
    "background:#fff;"
    "border-bottom:1px solid #e3e6eb}header b{margin-right:auto;color:#4f46e5}"
    "header a{color:#475569;text-decoration:none}main{max-width:880px;margin:40px auto;"
    "padding:0 24px}h1{font-size:36px;margin:0 0 16px}p{line-height:1.6;color:#475569}"
    ".actions{display:flex;flex-wrap:wrap;gap:12px;margin:24px 0}button,.actions a{"
    "padding:10px 18px;border-radius:8px;border:1px solid #4f46e5;background:#4f46e5;"
    "color:#fff;font-size:15px;text-decoration:none}form{display:grid;gap:12px;"
    "max-width:360px}input{padding:10px;border:1px solid #cbd2dc;border-radius:6px}"
    "footer{margin:80px 0 0;padding:32px;color:#94a3b8;text-align:center}"
)
NAV = ("Pricing", "Features", "Customers", "Blog")
TEXT_LINES = (
    "Send invoices, chase payments and close your books without spreadsheets.",
    "TidyLedger keeps every customer, invoice and report in one place.",
    "Teams of two to two hundred use it to get paid faster.",
    "Connect your bank, import last year's invoices and you are ready.",
)


@dataclasses.dataclass
class _Page:
    """One serialised page: its node tree, and the node of each clickable text."""

    root: dict[str, Any]
    targets: dict[str, int]
    inputs: list[int]
    scroller: int


class _Builder:
    def __init__(self) -> None:
        self.next_id = 0

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def text(self, content: str, *, style: bool = False) -> dict[str, Any]:
        node: dict[str, Any] = {"type": TEXT, "textContent": content, "id": self.new_id()}
        if style:
            node["isStyle"] = True
        return node

    def el(self, tag: str, attrs: dict[str, str] | None = None, *kids: Any) -> dict[str, Any]:
        node_id = self.new_id()
        return {
            "type": ELEMENT,
            "tagName": tag,
            "attributes": attrs or {},
            "childNodes": list(kids),
            "id": node_id,
        }


def _page(title: str, clicked: list[str], signup: bool, rng: random.Random) -> _Page:
    b = _Builder()
    doc_id = b.new_id()
    doctype = {"type": DOCTYPE, "name": "html", "publicId": "", "systemId": "", "id": b.new_id()}
    targets: dict[str, int] = {}

    def link(text: str) -> dict[str, Any]:
        node = b.el("a", {"href": "#"}, b.text(text))
        targets.setdefault(text, node["id"])
        return node

    head = b.el(
        "head", {}, b.el("style", {}, b.text(CSS, style=True)), b.el("title", {}, b.text(title))
    )
    header = b.el("header", {}, b.el("b", {}, b.text("TidyLedger")), *(link(n) for n in NAV))
    body_text = [b.el("p", {}, b.text(line)) for line in rng.sample(TEXT_LINES, 2)]
    buttons = [b.el("button", {"type": "button"}, b.text(t)) for t in dict.fromkeys(clicked)]
    for button in buttons:
        targets.setdefault(button["childNodes"][0]["textContent"], button["id"])
    inputs: list[dict[str, Any]] = []
    if signup:
        inputs = [
            b.el("input", {"type": kind, "placeholder": hint, "value": ""})
            for kind, hint in (
                ("text", "Your name"),
                ("email", "Work email"),
                ("password", "Password"),
            )
        ]
    form = [b.el("form", {}, *inputs)] if inputs else []
    main = b.el(
        "main",
        {},
        b.el("h1", {}, b.text(title.split(" · ")[0])),
        *body_text,
        *form,
        b.el("div", {"class": "actions"}, *buttons),
    )
    footer = b.el("footer", {}, b.text("© TidyLedger"))
    body = b.el("body", {}, header, main, footer)
    html = b.el("html", {"lang": "en"}, head, body)
    root = {"type": DOCUMENT, "childNodes": [doctype, html], "id": doc_id}
    return _Page(root, targets, [i["id"] for i in inputs], body["id"])


def _ms(at: str) -> int:
    return int(datetime.fromisoformat(at).timestamp() * 1000)


def _views(events: Sequence[Event]) -> Iterator[tuple[Event, list[Event]]]:
    """Each page view with the session's events up to the next one."""
    current: Event | None = None
    after: list[Event] = []
    for e in events:
        if e["event"] == "$pageview":
            if current is not None:
                yield current, after
            current, after = e, []
        elif current is not None:
            after.append(e)
    if current is not None:
        yield current, after


def record_session(events: Sequence[Event], rng: random.Random) -> list[dict[str, Any]]:
    """The rrweb events of one session's events (in time order)."""
    out: list[dict[str, Any]] = []
    for view, rest in _views(events):
        props = view["properties"]
        width, height = int(props.get("$screen_width", 1440)), int(props.get("$screen_height", 900))
        clicks = [e for e in rest if e["event"] == "$autocapture"]
        signup = str(props.get("$pathname", "")).startswith("/signup")
        page = _page(
            str(props.get("title", "TidyLedger")),
            [c["properties"]["$el_text"] for c in clicks],
            signup,
            rng,
        )
        at = _ms(view["timestamp"])
        out.append(
            {
                "type": META,
                "timestamp": at,
                "data": {"href": props["$current_url"], "width": width, "height": height},
            }
        )
        out.append(
            {
                "type": FULL_SNAPSHOT,
                "timestamp": at + 1,
                "data": {"node": page.root, "initialOffset": {"top": 0, "left": 0}},
            }
        )
        x, y = width // 2, height // 3
        if page.inputs:
            typed = at + 1500
            for node in page.inputs:
                for n in range(1, rng.randint(6, 14)):
                    typed += rng.randint(90, 260)
                    data = {"source": INPUT, "id": node, "text": "*" * n, "isChecked": False}
                    out.append({"type": INCREMENTAL, "timestamp": typed, "data": data})
        for e in rest:
            when = _ms(e["timestamp"])
            if e["event"] == "$autocapture":
                target = page.targets.get(e["properties"]["$el_text"], page.scroller)
                tx, ty = (
                    rng.randint(80, max(81, width - 80)),
                    rng.randint(120, max(121, height - 80)),
                )
                moves = [
                    {
                        "x": x + (tx - x) * k // 6,
                        "y": y + (ty - y) * k // 6,
                        "id": target,
                        "timeOffset": (k - 6) * 50,
                    }
                    for k in range(1, 7)
                ]
                out.append(
                    {
                        "type": INCREMENTAL,
                        "timestamp": when - 10,
                        "data": {"source": MOUSE_MOVE, "positions": moves},
                    }
                )
                data = {"source": MOUSE_INTERACTION, "type": CLICK, "id": target, "x": tx, "y": ty}
                out.append({"type": INCREMENTAL, "timestamp": when, "data": data})
                x, y = tx, ty
            elif e["event"] == "$exception":
                out.append({"type": PLUGIN, "timestamp": when, "data": _console_error(e)})
            elif e["event"] == "$pageleave" or rng.random() < 0.3:
                down = rng.randint(200, 900)
                data = {"source": SCROLL, "id": page.scroller, "x": 0, "y": down}
                out.append({"type": INCREMENTAL, "timestamp": when - 400, "data": data})
    out.sort(key=lambda r: r["timestamp"])
    return out


def _console_error(event: Event) -> dict[str, Any]:
    """The console plugin's record of an uncaught error, as the page's console showed it."""
    (error,) = event["properties"]["$exception_list"]
    frames = error["stacktrace"]["frames"]
    return {
        "plugin": CONSOLE,
        "payload": {
            "level": "error",
            "payload": [f"Uncaught {error['type']}: {error['value']}"],
            "trace": [
                f"{f['function']} ({f['filename']}:{f['lineno']}:{f['colno']})" for f in frames
            ],
        },
    }


def generate_recordings(
    events: Sequence[Event], *, token: str, seed: int, now: datetime, days: int = 7, limit: int = 60
) -> list[Event]:
    """`$snapshot` items (as posthog-js sends to `/s/`) for up to `limit` of the sessions that
    started in the last `days` days before `now`, chosen by `seed`."""
    sessions: dict[str, list[Event]] = {}
    for e in events:
        sessions.setdefault(e["properties"]["$session_id"], []).append(e)
    since = now - timedelta(days=days)
    recent = sorted(
        s for s, evs in sessions.items() if datetime.fromisoformat(evs[0]["timestamp"]) >= since
    )
    rng = random.Random(seed)
    chosen = sorted(rng.sample(recent, min(limit, len(recent))))
    items: list[Event] = []
    for session in chosen:
        evs = sorted(sessions[session], key=lambda e: e["timestamp"])
        recorded = record_session(evs, rng)
        if not recorded:
            continue
        first = evs[0]
        for start in range(0, len(recorded), CHUNK):
            props = {
                "token": token,
                "distinct_id": first["distinct_id"],
                "$session_id": session,
                "$window_id": first["properties"]["$window_id"],
                "$snapshot_data": recorded[start : start + CHUNK],
            }
            item_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            items.append({"uuid": item_id, "event": "$snapshot", "properties": props})
    return items
