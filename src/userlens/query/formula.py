"""Formulas over trends series (`A / B * 100`), evaluated per bucket without `eval`: Python's
own parser reads the expression, and only numbers, series letters, + - * / and unary minus are
allowed through."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from userlens.errors import InvalidInput

_BINARY = (ast.Add, ast.Sub, ast.Mult, ast.Div)


def parse(formula: str) -> ast.expr:
    try:
        tree = ast.parse(formula, mode="eval").body
    except SyntaxError:
        raise InvalidInput(f"formula: cannot read {formula!r}") from None
    for node in ast.walk(tree):
        allowed = isinstance(node, ast.BinOp | ast.UnaryOp | ast.Name | ast.Constant)
        allowed = allowed or isinstance(node, (*_BINARY, ast.USub, ast.UAdd, ast.Load))
        if not allowed or (isinstance(node, ast.Constant) and type(node.value) not in (int, float)):
            raise InvalidInput(f"formula: {formula!r} may use series letters, numbers, + - * /")
    return tree


def evaluate(tree: ast.expr, values: Mapping[str, float]) -> float:
    """The formula's value; a division by zero gives 0."""
    if isinstance(tree, ast.Constant):
        assert isinstance(tree.value, int | float)
        return float(tree.value)
    if isinstance(tree, ast.Name):
        return values[tree.id]
    if isinstance(tree, ast.UnaryOp):
        inner = evaluate(tree.operand, values)
        return -inner if isinstance(tree.op, ast.USub) else inner
    assert isinstance(tree, ast.BinOp)
    left, right = evaluate(tree.left, values), evaluate(tree.right, values)
    if isinstance(tree.op, ast.Add):
        return left + right
    if isinstance(tree.op, ast.Sub):
        return left - right
    if isinstance(tree.op, ast.Mult):
        return left * right
    return left / right if right else 0.0
