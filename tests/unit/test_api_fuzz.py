"""Every route of the JSON API, as its OpenAPI document describes it, sent malformed and
hostile input by a caller who is signed in: an answer below 500, and for a refusal a JSON body
saying what is wrong. The routes are read from the document, so a new route is fuzzed too."""

from __future__ import annotations

import json
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
# off the project): fuzzed, they would leave every later request a 401 or 404. They have tests
# of their own.
LOCKING_OUT = {
    ("DELETE", "/api/me/tokens/{token_id}"),
    ("DELETE", "/api/projects/{project_id}/members/{user_id}"),
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
    assert not LOCKING_OUT & {(method, path) for method, path, _ in routes}


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
