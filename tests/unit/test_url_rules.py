"""Recording URL rules are checked on the server with Python's `re` and run in the page with
JavaScript's `RegExp`. A rule we take must compile in JavaScript and match the same URLs there;
the reference is V8 itself (Node.js, the engine of the Chromium the snippet is tested in)."""

from __future__ import annotations

import json
import re
import subprocess
import warnings
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import Env
from userlens.model.url_rules import not_in_browsers

TOKENS = [
    "a", "b", "/", ".", "*", "+", "?", "*?", "{2}", "{1,}", "{,2}", "{", "}", "(", ")", "(?:",
    "(?=", "(?!", "(?<=", "(?<!", "(?>", "(?P<n>", "(?P=n)", "(?i)", "(?i:", "(?#c)", "\\1",
    "\\Z", "\\A", "\\a", "\\b", "\\B", "\\d", "\\w", "\\s", "\\x41", "\\u0062", "\\0", "\\\\",
    "\\/", "\\(", "\\[", "\\]", "\\+", "\\-", "[", "]", "[]", "[^", "^", "$", "|", "-",
]  # fmt: skip
# What URLs the rules are tried on: made of what the tokens match, so that they do match.
SAMPLE_CHARS = "ab/A1 _-.+[]()\\{},?"

JS = """
const lines = require("readline").createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const { pattern, texts } = JSON.parse(line);
  let re;
  try { re = new RegExp(pattern); } catch (e) { return console.log(JSON.stringify(null)); }
  console.log(JSON.stringify(texts.map((t) => re.test(t))));
});
"""


class Browser:
    """V8's RegExp, as the snippet runs a rule: `new RegExp(rule).test(url)`."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen(
            ["node", "-e", JS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def matches(self, pattern: str, texts: list[str]) -> list[bool] | None:
        """Which texts the rule matches, or None when it does not compile."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps({"pattern": pattern, "texts": texts}) + "\n")
        self._proc.stdin.flush()
        answer: list[bool] | None = json.loads(self._proc.stdout.readline())
        return answer

    def close(self) -> None:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=10)
        self._proc.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    js = Browser()
    yield js
    js.close()


def _python(pattern: str) -> re.Pattern[str] | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(pattern)
    except re.error:
        return None


@settings(max_examples=1000, deadline=None)
@given(
    pattern=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=8).map("".join),
    # URLs are never empty (and on "" Python's `\B` matches nowhere, JavaScript's does).
    texts=st.lists(st.text(SAMPLE_CHARS, min_size=1, max_size=8), min_size=1, max_size=12),
)
def test_a_rule_we_take_means_the_same_in_the_browser(
    browser: Browser, pattern: str, texts: list[str]
) -> None:
    compiled = _python(pattern)
    if compiled is None or not_in_browsers(pattern) is not None:
        return  # refused: by Python's `re`, or by our check
    texts = [*texts, "/a/b", "ab", "A", "a+b", "(a)"]
    in_python = [compiled.search(t) is not None for t in texts]
    assert browser.matches(pattern, texts) == in_python


@pytest.mark.parametrize(
    ("pattern", "reason", "text"),
    [
        ("(?i)/admin", "inline flags", "/ADMIN"),
        ("(?i:/admin)", "inline flags", "/ADMIN"),
        ("\\A/admin", "'\\A'", "/admin"),
        ("/admin\\Z", "'\\Z'", "/admin"),
        ("/a\\a", "'\\a'", "/a\a"),
        ("(?P<part>admin)", "named groups", "/admin"),
        ("(?P<p>a)(?P=p)", "named groups", "aa"),
        ("/admin.++", "possessive", "/admin/x"),
        ("[]a]", "']' first", "]"),
        ("/a{,2}$", "'{,n}'", "/aa"),
        ("/admin(?#comment)", "comments", "/admin"),
        ("(?>/admin)", "atomic", "/admin"),
    ],
)
def test_rules_browsers_read_otherwise_are_refused_saying_why(
    browser: Browser, pattern: str, reason: str, text: str
) -> None:
    compiled = _python(pattern)
    assert compiled is not None and compiled.search(text) is not None
    refused = not_in_browsers(pattern)
    assert refused is not None and reason in refused
    # And the browser does read it otherwise: it fails to compile, or misses the text.
    assert browser.matches(pattern, [text]) in (None, [False])


@pytest.mark.parametrize(
    "pattern",
    ["^/admin(/|$)", "/checkout\\?step=\\d+", "[?&]utm_source=", "\\.(png|jpe?g)$", "(?<=/)x",
     "[\\]a]", "a{0,2}", "\\bfoo\\b", "\\u00e9", "x{2,}?", "[^/]+/settings"],
)  # fmt: skip
def test_common_rules_are_taken_and_agree(browser: Browser, pattern: str) -> None:
    assert not_in_browsers(pattern) is None
    texts = ["/admin", "/admin/x", "/administrator", "/checkout?step=2", "/?utm_source=x",
             "/a.png", "/x", "]", "aa", "foo bar", "é", "xxx", "/team/settings"]  # fmt: skip
    compiled = _python(pattern)
    assert compiled is not None
    assert browser.matches(pattern, texts) == [compiled.search(t) is not None for t in texts]


def test_settings_refuse_a_rule_browsers_read_otherwise(env: Env) -> None:
    url = f"/api/projects/{env.project.id}/settings"
    refused = env.client.patch(
        url, json={"recording": {"url_deny": ["/public", "(?i)/admin"]}}, headers=env.auth
    )
    assert refused.status_code == 400, refused.text
    assert "url_deny" in refused.json()["detail"] and "(?i)" in refused.json()["detail"]
    kept = env.client.get(url, headers=env.auth).json()["recording"]["url_deny"]
    assert kept == []  # nothing of a refused change is kept
    taken = env.client.patch(
        url, json={"recording": {"url_deny": ["^/[Aa][Dd][Mm][Ii][Nn]"]}}, headers=env.auth
    )
    assert taken.status_code == 200, taken.text
