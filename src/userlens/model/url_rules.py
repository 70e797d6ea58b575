"""Recording URL rules: regular expressions that the server checks and the browser runs.

The server checks a rule with Python's `re`; the snippet runs it in the page with
`new RegExp(rule)`, and matches a rule that does not compile there as plain text. Where the
two engines read a rule differently, a rule could pass here and then match something else in
the browser, or nothing: a deny rule meant to keep a page out of recordings would keep it in.
So rules keep to what both read alike.
"""

from __future__ import annotations

import re

# The parts to judge: escapes, character classes (a `]` first in one is read differently),
# group openings, possessive quantifiers and `{,n}`.
_SCAN = re.compile(
    r"\\.|\[\^?\]|\[(?:\\.|[^\]])*\]"
    r"|\(\?(?:P?<[=!]?|P=|[=!>(#:]|[-aiLmsux]*[:)])"
    r"|[*+?}]\+|\{,",
    re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
# Escaped letters and digits that both engines read alike (`x` and `u` with their hex digits,
# which Python insists on); any other character escaped is itself in both.
_SAME_ESCAPES = frozenset("dDwWsSbBnrtfv0123456789xu")
_SAME_GROUPS = frozenset({"(?:", "(?=", "(?!", "(?<=", "(?<!"})
_GROUPS = {
    "(?>": "atomic groups",
    "(?(": "conditional groups",
    "(?#": "comments",
    "(?P=": "named backreferences",
    "(?P<": "named groups (use (?:…))",
}


def not_in_browsers(pattern: str) -> str | None:
    """What in a rule that Python compiles browsers read otherwise, or None when nothing."""
    for match in _SCAN.finditer(pattern):
        part = match.group()
        if part.startswith("\\"):
            refused = _escape(part[1])
        elif part in ("[]", "[^]"):
            return "a ']' first in a character class (write '\\]')"
        elif part.startswith("["):
            refused = next(
                (r for e in _ESCAPE.findall(part) if (r := _escape(e)) is not None), None
            )
        elif part.startswith("(?"):
            if part in _SAME_GROUPS:
                continue
            refused = _GROUPS.get(part, "inline flags such as (?i)")
        elif part == "{,":
            refused = "'{,n}' (write '{0,n}')"
        else:
            refused = "possessive quantifiers"
        if refused is not None:
            return refused
    return None


def _escape(char: str) -> str | None:
    if char.isascii() and char.isalnum() and char not in _SAME_ESCAPES:
        return f"'\\{char}'"
    return None
