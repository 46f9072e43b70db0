"""What the core says is English text that keeps its message id and values, so a page
writes it in its own language while the API keeps the English; the core itself knows
nothing of gettext."""

from __future__ import annotations

import ast
import json
import pickle
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from broker.domain.errors import HeldLocally, ValidationFailed
from broker.domain.figures import age_text
from broker.domain.intake import check_request_input
from broker.domain.messages import N_, Text, as_data, from_data, joined
from broker.domain.states import STATE_NAMES, State
from broker.services.consortium_file import load
from broker.web import languages
from broker.web.languages import materials, said, say

PROJECT = Path(__file__).resolve().parents[2]
CORE = PROJECT / "broker" / "domain"
DEMO = PROJECT / "demo" / "consortium.toml"


@pytest.fixture
def slovenian() -> Iterator[None]:
    token = languages.use("sl")
    yield
    languages.reset(token)


def test_a_message_is_its_english_and_keeps_its_id_and_values() -> None:
    text = N_("at most {limit} characters", limit=300)
    assert text == "at most 300 characters" and isinstance(text, str)
    assert (text.msgid, dict(text.values)) == ("at most {limit} characters", {"limit": 300})
    assert json.dumps({"title": text}) == '{"title": "at most 300 characters"}'
    again = pickle.loads(pickle.dumps(text))
    assert isinstance(again, Text) and again.msgid == text.msgid and again == text
    assert HeldLocally.title == "Your own library has this title: reserve it there"


def test_a_page_says_it_in_its_language_values_too(slovenian: None) -> None:
    stuck = N_("{state} for {age}", state=STATE_NAMES[State.VALIDATING],
               age=age_text(timedelta(hours=3)))
    assert stuck == "validating for 3 h"
    assert say(stuck) == "preverjanje že 3 h"
    assert say(HeldLocally.title) == "Vaša knjižnica ima to gradivo: rezervirajte ga tam"
    # Data is never looked up in the catalogs, even when it reads like a message.
    assert say("required") == "required" and say(7) == 7


def test_a_refusals_fields_are_said_in_the_pages_language(slovenian: None) -> None:
    home = load(DEMO).libraries["SI-LJMK"]
    with pytest.raises(ValidationFailed) as refused:
        check_request_input({"service": "lend", "item": {"isbn": "12345"}}, home)
    problems = refused.value.problems
    assert problems["item.isbn"] == "'12345' is not a valid ISBN"
    assert said(problems) == {"service": "izposoja ali kopija",
                              "item.isbn": "'12345' ni veljaven ISBN"}


def test_a_stored_reason_comes_back_translatable(slovenian: None) -> None:
    reason = joined([N_("same region"), N_("costs {amount} {currency}",
                                              amount=Decimal("7.00"), currency="EUR")])
    assert reason == "same region; costs 7.00 EUR"
    stored = json.loads(json.dumps(as_data(reason)))
    assert say(from_data(stored)) == "ista regija; stane 7.00 EUR"
    assert from_data("plain English") == "plain English"
    # A stored template is formatted again only with plain fields of its own values.
    assert from_data({"id": "{p0.__class__}", "values": {"p0": "x"}}) is None
    assert from_data({"id": "{missing}", "values": {}}) is None
    assert from_data({"no": "id"}) is None


def test_what_a_library_lends_is_said_in_words(slovenian: None) -> None:
    assert materials(["journal", "book"]) == "knjige, revije in časopisi"
    assert materials([]) == ""


@pytest.mark.parametrize("module", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_the_core_knows_no_gettext(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert not imported & {"babel", "jinja2", "gettext", "aiohttp_jinja2"}
