"""Every route of the JSON API, as its OpenAPI document describes it, sent malformed and
hostile input by a caller who is signed in: an answer below 500, and for a refusal a JSON body
saying what is wrong. The routes are read from the document, so a new route is fuzzed too."""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.conftest import Env

# Texts that have broken parsers, SQL and paths elsewhere.
HOSTILE = [
    "",
    " ",
    "0",
    "-1",
    "1e309",
    "NaN",
    "true",
    "null",
    "[]",
    "{}",
    "' OR 1=1 --",
    "'); DROP TABLE events; --",
    "\x00",
    "a\x00b",
    "../../etc/passwd",
    "%00",
    "%zz",
    "😀" * 3,
    "\ud800",
    "x" * 5_000,
    "9" * 40,
    str(2**63),  # one past the largest id SQL stores
    "2026-13-45T99:99:99",
    "(?<=a)b",
    "[",
    '{"key": "plan"}',
    '[{"type": "cohort", "cohort_id": -1}]',
]
texts = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40))
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        texts,
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=12) | texts, inner, max_size=4),
    ),
    max_leaves=12,
)


# Routes by which the caller can lock themselves out (their token revoked, themselves taken
# off the project, the project deleted): fuzzed, they would leave every later request a 401 or
# 404. They have tests of their own.
LOCKING_OUT = {
    ("DELETE", "/api/me/tokens/{token_id}"),
    ("DELETE", "/api/projects/{project_id}/members/{user_id}"),
    ("DELETE", "/api/projects/{project_id}"),
}


def _routes(env: Env) -> list[tuple[str, str, dict[str, Any]]]:
    doc = env.client.get("/openapi.json").json()
    return [
        (method.upper(), path, operation)
        for path, methods in sorted(doc["paths"].items())
        for method, operation in sorted(methods.items())
        if path.startswith("/api/") and (method.upper(), path) not in LOCKING_OUT
    ]


def _body(draw: st.DrawFn, operation: dict[str, Any], example: dict[str, Any]) -> bytes | None:
    if "requestBody" not in operation:
        return None
    kind = draw(st.sampled_from(["json", "object", "bytes", "near"]))
    if kind == "bytes":
        return draw(st.binary(max_size=64) | st.sampled_from([b"", b"{", b"\xff\xfe", b"[" * 500]))
    if kind == "near":
        # A plausible body with one field's value swapped for something hostile.
        body = dict(example)
        if body:
            key = draw(st.sampled_from(sorted(body)))
            body[key] = draw(json_values)
        return json.dumps(body).encode()
    value = draw(json_values if kind == "json" else st.dictionaries(texts, json_values))
    return json.dumps(value).encode()


# A body of the right shape for the routes that take one, for `near` to spoil.
EXAMPLES: dict[str, dict[str, Any]] = {
    "/query": {"kind": "trends", "series": [{"event": "$pageview"}]},
    "/cohorts": {"name": "Beta", "definition": {"distinct_ids": ["ann"]}},
    "/dashboards": {"name": "Overview"},
    "/insights": {"name": "Views", "spec": {"kind": "trends", "series": [{"event": "x"}]}},
    "/settings": {"test_account_filters": [], "respect_dnt": False},
    "/members": {"email": "b@example.com", "role": "member"},
}


def _example(path: str) -> dict[str, Any]:
    for tail, body in EXAMPLES.items():
        if path.endswith(tail):
            return body
    return {}


def _request(
    draw: st.DrawFn, routes: list[tuple[str, str, dict[str, Any]]], project_id: int
) -> Any:
    """A request to one of `routes`: its path, query and body, each perhaps spoilt."""
    method, path, operation = routes[draw(st.integers(0, len(routes) - 1))]
    url = path
    query: list[str] = []
    for param in operation.get("parameters", []):
        name, where = param["name"], param["in"]
        if where == "path":
            value = (
                str(project_id)
                if name == "project_id" and draw(st.booleans())
                else draw(st.sampled_from(["1", "0", "-1", "999999", "abc", "a" * 300]) | texts)
            )
            url = url.replace("{" + name + "}", _escaped(value) or "x")
        elif where == "query" and draw(st.booleans()):
            query.append(f"{name}={_escaped(draw(texts))}")
    return method, url + "?" + "&".join(query), _body(draw, operation, _example(path))


def _escaped(text: str) -> str:
    """`text` for a URL, every byte of its UTF-8 escaped, lone surrogates too (as a client
    that does not check would send them)."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def test_the_document_names_the_routes_that_are_fuzzed(env: Env) -> None:
    routes = _routes(env)
    paths = {path for _, path, _ in routes}
    assert len(routes) >= 30, len(routes)
    assert "/api/projects/{project_id}/query" in paths
    assert "/api/projects/{project_id}/events" in paths
    # The routes left out are still routes of the document (the list has not gone stale).
    doc = env.client.get("/openapi.json").json()
    documented = {(m.upper(), path) for path, methods in doc["paths"].items() for m in methods}
    assert documented >= LOCKING_OUT


@pytest.mark.parametrize("run", range(3))
def test_no_input_makes_the_api_fail(env: Env, run: int) -> None:
    routes = _routes(env)
    headers = {**env.auth, "content-type": "application/json"}

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @seed(run)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        method, url, body = _request(data.draw, routes, env.project.id)
        resp = env.client.request(method, url, content=body, headers=headers)
        assert resp.status_code < 500, (method, url, body, resp.text[:500])
        if resp.status_code >= 400:
            problem = resp.json()
            assert isinstance(problem, dict) and problem.get("detail"), (method, url, problem)

    check()
    # And the caller still reaches the project.
    resp = env.client.get(f"/api/projects/{env.project.id}/events", headers=env.auth)
    assert resp.status_code == 200, resp.text


# Insight specs that validate, with values at their limits (dates far back and far ahead,
# windows of years, the largest bins): the query API must answer or refuse them, never fail.
# Some have one field spoilt.
date_points = st.one_of(
    st.builds(lambda n, unit: f"-{n}{unit}", st.integers(0, 60), st.sampled_from(list("hdwmy"))),
    st.dates(date(2020, 1, 1), date(2027, 12, 31)).map(str),
    st.dates(date(1969, 12, 1), date(3000, 1, 31)).map(str),
    st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01", "2999-12-31", "-0d"]),
    st.sampled_from(["-9999h", "-9999d", "-5200w", "-1200m", "-100y", "-9999y"]),
)
names = st.one_of(st.sampled_from(["$pageview", "signup", None]), st.text(min_size=1, max_size=20))
keys = st.one_of(st.none(), st.sampled_from(["plan", "$browser", "$current_url", "amount"]))
# Patterns at the edges of what the engines' RE2 takes: its repetition limit, its size limit.
EDGE_PATTERNS = [
    "\\d+", "^/p/\\d+", "[", "\\Z", "(?i)a", "é+", "\\xff", "a{1000}", "a{1001}",
    "(a{100}){100}", "((a{50}){50}){50}", "(a+)+", "\\pL", "[^/]+$", "\\C",
]  # fmt: skip
patterns = st.one_of(st.sampled_from(EDGE_PATTERNS), st.text(min_size=1, max_size=10))
cleaning = st.fixed_dictionaries(
    {"regex": patterns, "alias": st.one_of(st.sampled_from([":id", "", "\\1"]), st.text())}
)
filters = st.lists(
    st.fixed_dictionaries(
        {
            "key": st.sampled_from(["plan", "amount", "$set"]),
            "type": st.sampled_from(["event", "person"]),
            "operator": st.sampled_from(["exact", "is_not", "contains", "regex", "gt", "lt"]),
            "value": st.one_of(
                st.integers(min_value=-(2**70), max_value=2**70),
                st.floats(allow_nan=False, allow_infinity=False),
                st.sampled_from(["pro", "^p", "(a|b)*c", ""]),
                patterns,
            ),
        }
    ),
    max_size=2,
)
huge = st.integers(min_value=1, max_value=2**70)


@st.composite
def specs(draw: st.DrawFn) -> dict[str, Any]:
    kinds = ["trends", "funnel", "retention", "paths", "lifecycle", "stickiness"]
    kind = draw(st.sampled_from(kinds))
    date_to = draw(st.one_of(st.none(), st.none(), st.none(), date_points))  # mostly up to now
    date_range = {"date_from": draw(date_points), "date_to": date_to}
    common = {"kind": kind, "filters": draw(filters), "filter_test_accounts": draw(st.booleans())}
    interval = draw(st.sampled_from(["hour", "day", "week", "month"]))
    breakdown = {
        "breakdown": draw(keys),
        "breakdown_type": draw(st.sampled_from(["event", "person"])),
        "breakdown_limit": draw(st.integers(1, 100)),
    }
    spec: dict[str, Any]
    if kind == "trends":
        series = {
            "event": draw(names),
            "math": draw(st.sampled_from(["total", "dau", "unique_persons", "sum", "p99"])),
        }
        if series["math"] in ("sum", "p99"):
            series["math_property"] = draw(keys) or "amount"
        formula = draw(st.sampled_from([None, "A * 100", "A / 0", "A - A", "(A)"]))
        spec = {**common, **breakdown, "series": [series], "interval": interval}
        spec |= {"date_range": date_range, "compare": draw(st.booleans()), "formula": formula}
    elif kind == "funnel":
        steps = [{"event": draw(names)} for _ in range(draw(st.integers(2, 3)))]
        exclusion = {"event": "signup", "from_step": 0, "to_step": 1}
        spec = {**common, **breakdown, "steps": steps, "date_range": date_range}
        spec |= {
            "window": draw(st.integers(1, 60)),
            "window_unit": draw(st.sampled_from(["second", "minute", "hour", "day", "week"])),
            "order": draw(st.sampled_from(["ordered", "strict", "unordered"])),
            "exclusions": draw(st.lists(st.just(exclusion), max_size=1)),
            "histogram_bins": draw(st.integers(1, 100)),
        }
    elif kind == "retention":
        spec = {**common, "start": {"event": draw(names)}, "returning": {"event": draw(names)}}
        spec |= {
            "period": draw(st.sampled_from(["day", "week", "month"])),
            "periods": draw(st.integers(1, 60)),
            "type": draw(st.sampled_from(["recurring", "first_time"])),
            "date_to": date_to,
        }
    elif kind == "paths":
        spec = {**common, "date_range": date_range, "steps": draw(st.integers(2, 20))}
        spec |= {
            "include": draw(st.sampled_from([["pageview"], ["custom"], ["pageview", "custom"]])),
            "max_nodes_per_step": draw(st.integers(1, 100)),
            "min_edge_weight": draw(huge),
            "path_cleaning": draw(st.lists(cleaning, max_size=2)),
            "exclude": draw(st.lists(st.one_of(st.sampled_from(["", "/"]), st.text()), max_size=2)),
        }
    elif kind == "lifecycle":
        spec = {**common, "event": {"event": draw(names)}, "interval": interval}
        spec["date_range"] = date_range
    else:
        spec = {**common, "series": [{"event": draw(names)}], "interval": interval}
        spec["date_range"] = date_range
    if draw(st.integers(0, 3)) == 0:  # one field spoilt
        spec[draw(st.sampled_from(sorted(spec)))] = draw(json_values)
    return spec


def test_no_insight_spec_makes_the_query_api_fail(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/query"
    headers = {**env.auth, "content-type": "application/json"}
    env.client.post(
        "/batch/",
        json={
            "api_key": env.project.api_token,
            "batch": [
                {"event": "$pageview", "distinct_id": f"p{i}", "properties": {"plan": "pro"}}
                for i in range(5)
            ],
        },
    )
    env.flush()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @seed(7)
    @given(spec=specs())
    def check(spec: dict[str, Any]) -> None:
        resp = env.client.post(url, content=json.dumps(spec), headers=headers)
        assert resp.status_code < 500, (spec, resp.text[:500])
        if resp.status_code >= 400:
            assert resp.json().get("detail"), (spec, resp.text[:500])

    check()
