"""Formulas are read by Python's parser and evaluated by hand: arithmetic only."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from userlens.errors import InvalidInput
from userlens.model.insight import TrendsQuery, TrendsSeries
from userlens.query import formula


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("A / B * 100", 25.0),
        ("(A + B) / 2", 10.0),
        ("-A + 1.5", -2.5),
        ("A / (B - 16)", 0.0),  # a division by zero gives 0
        ("2 * (A - B) / (A + B)", -1.2),
    ],
)
def test_arithmetic(text: str, want: float) -> None:
    assert formula.evaluate(formula.parse(text), {"A": 4.0, "B": 16.0}) == pytest.approx(want)


@pytest.mark.parametrize("text", ["A ** 2", "A // B", "A % B", "(A", "A B", "A if B else 1"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="formula"):
        formula.parse(text)


@pytest.mark.parametrize("text", ["A + C", "__import__('os')", "A; B", "abs(A)", "A + b", ""])
def test_specs_refuse_unknown_letters_and_other_characters(text: str) -> None:
    with pytest.raises(ValidationError, match="formula"):
        TrendsQuery(series=[TrendsSeries(), TrendsSeries()], formula=text)
