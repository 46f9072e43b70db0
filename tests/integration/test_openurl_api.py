"""GET /api/requests/new?{openurl}: a database's link opens the patron's request form
pre-filled, against a real Redis and harvested MARC files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from broker.domain.accounts import Role
from broker.services.consortium_file import load
from broker.services.harvest import Harvester
from broker.settings import Settings
from broker.web import appkeys, openurl
from broker.web.app import create_app

from builders import FAR, PASSWORD, add_patron, three_library_consortium

NEW = "/api/requests/new"
PUBMED = (
    "url_ver=Z39.88-2004&url_ctx_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Actx"
    "&rfr_id=info%3Asid%2Fncbi.nlm.nih.gov%3Apubmed"
    "&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Ajournal&rft.genre=article"
    "&rft.atitle=Molecular+structure+of+nucleic+acids&rft.jtitle=Nature&rft.date=1953"
    "&rft.volume=171&rft.issue=4356&rft.spage=737&rft.epage=8&rft.issn=0028-0836"
    "&rft.aulast=Watson&rft.aufirst=J+D&rft_id=info%3Adoi%2F10.1038%2F171737a0")
FAR_BOOK = ("ctx_ver=Z39.88-2004&rft_val_fmt=info%3Aofi%2Ffmt%3Akev%3Amtx%3Abook"
            f"&rft.genre=book&rft.btitle=Far+away&rft.isbn={FAR}&rft.date=1999")


def has_route(app: web.Application) -> bool:
    return any(route.resource is not None and route.resource.canonical == NEW
               and route.method == "GET" for route in app.router.routes())


@pytest.fixture
async def client(tmp_path: Path, redis_url: str, namespace: str,
                 redis: Any) -> AsyncIterator[TestClient]:
    consortium_file = three_library_consortium(tmp_path)
    app = create_app(Settings(consortium_path=consortium_file, data_dir=tmp_path,
                              redis_url=redis_url, namespace=namespace))
    if not has_route(app):
        openurl.setup(app)  # until broker/web/app.py registers it
    client = TestClient(TestServer(app))
    await client.start_server()
    harvester = Harvester(app[appkeys.REDIS], app[appkeys.KEYS])
    for library in load(consortium_file).libraries.values():
        assert (await harvester.harvest(library)).failed is None
    await add_patron(app[appkeys.ACCOUNTS].store, "ana@example.org", "111", "Ana", "Čuk",
                     date(1990, 4, 1))
    await app[appkeys.ACCOUNTS].add_staff("desk@b.example.org", "Desk", "B", Role.STAFF,
                                          "B", "stamp-lipa-41")
    yield client
    await client.close()


async def login(client: TestClient, email: str = "ana@example.org",
                password: str = PASSWORD) -> None:
    response = await client.post("/api/session", json={"email": email, "password": password})
    assert response.status == 200, await response.text()


async def prefill(client: TestClient, query: str) -> dict[str, Any]:
    response = await client.get(f"{NEW}?{query}")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_an_article_link_fills_a_complete_copy_request(client: TestClient) -> None:
    await login(client)
    body = await prefill(client, PUBMED)
    assert body["request"] == {
        "service": "copy", "pickup_location": "A",
        "item": {"title": "Nature", "author": "Watson, J D", "year": 1953,
                 "issn": "0028-0836", "material": "journal"},
        "citation": {"source_title": "Nature", "part_title": "Molecular structure of "
                     "nucleic acids", "volume": "171", "issue": "4356", "pages": "737-738"},
        "note": "doi:10.1038/171737a0"}
    assert body["notes"] == [] and body["problems"] == {}


async def test_a_book_link_prefills_a_loan_the_broker_then_accepts(
        client: TestClient) -> None:
    await login(client)
    body = await prefill(client, FAR_BOOK)
    assert body["request"]["service"] == "loan" and body["problems"] == {}
    response = await client.post("/api/requests", json=body["request"])
    assert response.status == 201, await response.text()
    receipt = await response.json()
    assert receipt["item"]["isbn"] == FAR and receipt["pickup_location"] == "A"


@pytest.mark.parametrize(("query", "problems", "note"), [
    ("rft_val_fmt=info:ofi/fmt:kev:mtx:journal&rft.genre=issue&rft.jtitle=Nature"
     "&rft.volume=500&rft.issue=7460",
     {"citation.part_title": "required", "citation.pages": "required"}, "not an article"),
    ("hello&&=&%ZZ", {"item.title": "give the title, or an ISBN or ISSN"},
     "names no title, ISBN or ISSN"),
    ("rft.genre=book&rft.btitle=T&rft.isbn=12345", {}, "not a valid ISBN"),
], ids=["issue-link", "junk", "bad-isbn"])
async def test_an_incomplete_link_still_opens_the_form(
        client: TestClient, query: str, problems: dict[str, str], note: str) -> None:
    await login(client)
    body = await prefill(client, query)
    assert body["problems"] == problems
    assert any(note in n for n in body["notes"]), body["notes"]


async def test_latin1_escapes_and_duplicated_keys(client: TestClient) -> None:
    await login(client)
    body = await prefill(client, "genre=book&title=M%FCllers+Buch&title=Other&aulast=M%FCller")
    assert body["request"]["item"]["title"] == "Müllers Buch"
    assert body["request"]["item"]["author"] == "Müller"
    assert "title: given 2 times; the first, 'Müllers Buch', is used" in body["notes"]


async def test_only_a_logged_in_patron_gets_a_form(client: TestClient) -> None:
    response = await client.get(f"{NEW}?{PUBMED}")
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    await login(client, "desk@b.example.org", "stamp-lipa-41")
    response = await client.get(f"{NEW}?{PUBMED}")
    assert response.status == 403
    assert (await response.json())["type"].endswith("/forbidden")


async def test_a_query_over_the_limit_is_refused_as_a_problem(client: TestClient) -> None:
    await login(client)
    query = "rft.btitle=T&rft.atitle=" + "x" * (openurl.MAX_QUERY - 20)
    response = await client.get(f"{NEW}?{query}")
    assert response.status == 414
    assert response.content_type == "application/problem+json"
    assert (await response.json())["type"].endswith("/query-too-long")


async def test_a_50_kb_query_is_refused_not_a_server_error(client: TestClient) -> None:
    # Past aiohttp's request-line limit the HTTP parser answers before the app does.
    await login(client)
    response = await client.get(f"{NEW}?rft.atitle=" + "x" * 50_000)
    assert response.status in (400, 414)
