"""A loan's steps at a home library whose system speaks NCIP: the broker's circulation
service against the NCIP responder (every message validated against the schema)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from broker.domain.lifecycle import BorrowerStep
from broker.services.circulation import Circulation
from broker.services.consortium_file import load
from broker.store.accounts import AccountStore
from broker.store.keys import Keys
from broker.store.requests import RequestStore
from connectors.errors import ConnectorError

from builders import VALID_CONSORTIUM, a_request, add_patron, write_consortium
from ncip_responder import NcipResponder, check_exchanges


@pytest.fixture
def circulation(tmp_path: Path, ncip_responder: NcipResponder, redis: Redis,
                namespace: str, http: aiohttp.ClientSession) -> Circulation:
    text = VALID_CONSORTIUM.replace(
        '[libraries.register]\nconnector = "file"\npath = "a.csv"',
        f'[libraries.register]\nconnector = "ncip"\nurl = "{ncip_responder.url}"\n'
        'agency_id = "SI-LJMK"', 1)
    consortium = load(write_consortium(tmp_path, text))
    keys = Keys(namespace)
    return Circulation(redis, keys, consortium, RequestStore(redis, keys),
                       AccountStore(redis, keys), http)


async def test_the_loan_is_accepted_checked_out_and_checked_in(
        circulation: Circulation, ncip_responder: NcipResponder) -> None:
    await add_patron(circulation.accounts, "ziga@example.si", "1001", "Žiga", "Čuk",
                     date(1990, 3, 14))
    account = await circulation.accounts.find("ziga@example.si")
    assert account is not None
    request = replace(a_request(account.id), home_library="A", due_date="2030-01-15")
    await circulation.requests.create(request, actor="test")

    assert await circulation.record(request.id, BorrowerStep.RECEIVED)
    [loan] = ncip_responder.loans.values()
    assert (loan.request_id, loan.card_number, loan.title) == (request.id, "1001", "Alamut")
    assert await circulation.record(request.id, BorrowerStep.CHECKED_OUT)
    assert loan.borrower == "1001"
    assert await circulation.record(request.id, BorrowerStep.RETURN_SHIPPED)
    assert loan.checked_in
    # Tried again after a lost answer: already done, not an error.
    assert await circulation.record(request.id, BorrowerStep.RETURN_SHIPPED)
    check_exchanges(ncip_responder)


async def test_a_library_without_ncip_has_nothing_to_tell(
        tmp_path: Path, redis: Redis, namespace: str, http: aiohttp.ClientSession) -> None:
    keys = Keys(namespace)
    plain = Circulation(redis, keys, load(write_consortium(tmp_path, VALID_CONSORTIUM)),
                        RequestStore(redis, keys), AccountStore(redis, keys), http)
    await add_patron(plain.accounts, "ana@example.org", "111", "Ana", "Čuk", date(1990, 4, 1))
    account = await plain.accounts.find("ana@example.org")
    assert account is not None
    request = replace(a_request(account.id), home_library="A")
    await plain.requests.create(request, actor="test")
    assert await plain.record(request.id, BorrowerStep.RECEIVED) is False


async def test_an_unreachable_system_is_retried(circulation: Circulation,
                                                dead_url: str) -> None:
    await add_patron(circulation.accounts, "ziga@example.si", "1001", "Žiga", "Čuk",
                     date(1990, 3, 14))
    account = await circulation.accounts.find("ziga@example.si")
    assert account is not None
    request = replace(a_request(account.id), home_library="A")
    await circulation.requests.create(request, actor="test")
    config = circulation.consortium.libraries["A"].register.settings
    down = replace(circulation, consortium=replace(circulation.consortium, libraries={
        "A": replace(circulation.consortium.libraries["A"], register=replace(
            circulation.consortium.libraries["A"].register,
            settings={**config, "url": dead_url}))}))
    with pytest.raises(ConnectorError):
        await down.record(request.id, BorrowerStep.RECEIVED)
