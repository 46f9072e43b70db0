from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from broker.domain.errors import ValidationFailed
from broker.domain.lifecycle import (
    BORROWER_EVENTS,
    LENDER_EVENTS,
    Answer,
    BorrowerStep,
    LenderAnswer,
    answer_from_input,
)


def test_every_answer_and_step_is_an_event() -> None:
    assert set(LENDER_EVENTS) == set(LenderAnswer)
    assert set(BORROWER_EVENTS) == set(BorrowerStep)


@pytest.mark.parametrize(("raw", "expected"), [
    ({"answer": "will_supply"}, Answer(LenderAnswer.WILL_SUPPLY)),
    ({"answer": "unfilled", "reason": " not on shelf "},
     Answer(LenderAnswer.UNFILLED, reason="not on shelf")),
    ({"answer": "shipped", "due_date": "2026-12-24"},
     Answer(LenderAnswer.SHIPPED, due_date=date(2026, 12, 24))),
    ({"answer": "conditional", "condition": "reading room use only", "cost": "3,50"},
     Answer(LenderAnswer.CONDITIONAL, condition="reading room use only",
            cost=Decimal("3.50"))),
    ({"answer": "renewal", "granted": "no"}, Answer(LenderAnswer.RENEWAL, granted=False)),
    ({"answer": "copy_delivered", "url": "https://files.example.org/c/1.pdf"},
     Answer(LenderAnswer.COPY_DELIVERED, url="https://files.example.org/c/1.pdf")),
])
def test_answers_from_input(raw: dict[str, Any], expected: Answer) -> None:
    assert answer_from_input(raw) == expected


@pytest.mark.parametrize(("raw", "field"), [
    ({"answer": "maybe"}, "answer"),
    ({}, "answer"),
    ({"answer": "shipped"}, "due_date"),
    ({"answer": "shipped", "due_date": "24.12.2026"}, "due_date"),
    ({"answer": "renewal", "granted": True}, "due_date"),
    ({"answer": "copy_delivered", "url": "javascript:alert(1)"}, "url"),
    ({"answer": "conditional"}, "condition"),
    ({"answer": "lost", "cost": "-5"}, "cost"),
    ({"answer": "lost", "cost": "lots"}, "cost"),
    ({"answer": "unfilled", "reason": "x" * 501}, "reason"),
    ({"answer": "unfilled", "reason": 5}, "reason"),
    ({"answer": "renewal", "granted": 3}, "granted"),
])
def test_bad_answers_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        answer_from_input(raw)
    assert field in refused.value.problems
