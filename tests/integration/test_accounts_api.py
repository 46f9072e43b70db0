"""Patron accounts over the API, against a real Redis: registration, activation,
login, reset, desk registration, moving home library, export and deletion."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

from broker.domain.accounts import Role
from broker.settings import Settings
from broker.store.keys import SHARDS
from broker.web import appkeys
from broker.web.app import create_app

from builders import write_consortium

ANA = {
    "email": "Ana.Cuk@Example.org", "given_name": "Ana", "surname": "Čuk",
    "birth_date": "1990-04-01", "category": "adult", "home_library": "A",
    "address": {"street": "Trubarjeva 1", "postcode": "1000", "city": "Ljubljana",
                "country": "SI"},
    "consent": True, "password": "lipa-lipa-7", "card_number": "0123456",
}
CATEGORIES = '\n[[categories]]\ncode = "adult"\nname = "Adult"\n'


@pytest.fixture
async def client(tmp_path: Path, redis_url: str, namespace: str,
                 redis: Redis) -> AsyncIterator[TestClient]:
    text = write_consortium(tmp_path).read_text().replace("[[regions]]", CATEGORIES +
                                                          "[[regions]]", 1)
    path = write_consortium(tmp_path, text)
    settings = Settings(consortium_path=path, data_dir=tmp_path, redis_url=redis_url,
                        namespace=namespace)
    client = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    yield client
    await client.close()


async def mails(client: TestClient) -> list[dict[str, Any]]:
    """The mail jobs the broker has queued, as a worker would send them."""
    app = client.server.app
    redis, keys = app[appkeys.REDIS], app[appkeys.KEYS]
    found = []
    for shard in range(SHARDS):
        for raw in await redis.lrange(keys.outbox(shard), 0, -1):
            entry = json.loads(raw)
            if entry["name"] == "send_mail":
                found.append(entry["args"])
    return found


def link_token(mail: dict[str, Any], path: str) -> str:
    line = next(word for word in mail["body"].split() if f"/{path}?token=" in word)
    return line.split("token=", 1)[1]


async def registered_and_active(client: TestClient, data: dict[str, Any] = ANA) -> str:
    response = await client.post("/api/patrons", json=data)
    assert response.status == 201, await response.text()
    [mail] = [m for m in await mails(client) if m["to"].casefold() == data["email"].casefold()]
    response = await client.post("/api/activation",
                                 json={"token": link_token(mail, "activate")})
    assert response.status == 200, await response.text()
    return str((await response.json())["id"])


async def login(client: TestClient, email: str, password: str) -> Any:
    return await client.post("/api/session", json={"email": email, "password": password})


async def test_register_activate_login_and_see_own_data(client: TestClient) -> None:
    response = await client.post("/api/patrons", json=ANA)
    assert response.status == 201
    body = await response.json()
    assert body["status"] == "pending" and body["surname"] == "Čuk"
    [mail] = await mails(client)
    assert mail["to"] == "Ana.Cuk@example.org" and "/activate?token=" in mail["body"]
    # Not active yet: no login.
    assert (await login(client, "ana.cuk@example.org", ANA["password"])).status == 401
    response = await client.post("/api/activation", json={"token": link_token(mail,
                                                                             "activate")})
    assert (await response.json())["status"] == "active"
    response = await login(client, "ANA.CUK@example.org", ANA["password"])
    assert response.status == 200
    cookie = response.cookies["ill_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    me = await (await client.get("/api/me")).json()
    assert me["email"] == "Ana.Cuk@example.org" and me["library"] == "A"
    assert "password" not in json.dumps(me)
    assert (await client.delete("/api/session")).status == 204
    assert (await client.get("/api/me")).status == 401


async def test_an_activation_link_works_once(client: TestClient) -> None:
    await client.post("/api/patrons", json=ANA)
    token = link_token((await mails(client))[0], "activate")
    assert (await client.post("/api/activation", json={"token": token})).status == 200
    response = await client.post("/api/activation", json={"token": token})
    assert response.status == 400
    assert (await response.json())["type"].endswith("/invalid-token")
    for bad in ("", "x", "99" + "a" * 40, "0" * 500):
        response = await client.post("/api/activation", json={"token": bad})
        assert response.status in (400, 422)


async def test_one_account_per_email_whatever_the_case(client: TestClient) -> None:
    assert (await client.post("/api/patrons", json=ANA)).status == 201
    again = dict(ANA, email="ANA.CUK@EXAMPLE.ORG", home_library="B", password="drugo-geslo-9")
    response = await client.post("/api/patrons", json=again)
    assert response.status == 409
    body = await response.json()
    assert body["type"].endswith("/email-taken") and "email" in body["errors"]


async def test_unconfirmed_registrations_expire_and_the_email_is_free_again(
        client: TestClient) -> None:
    accounts = client.server.app[appkeys.ACCOUNTS]
    assert (await client.post("/api/patrons", json=ANA)).status == 201
    old_token = link_token((await mails(client))[0], "activate")
    accounts.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    assert await accounts.store.purge_expired(accounts.clock()) == 1
    response = await client.post("/api/activation", json={"token": old_token})
    assert response.status == 400
    accounts.clock = lambda: datetime.now(UTC)
    assert (await client.post("/api/patrons", json=ANA)).status == 201


async def test_registering_again_after_expiry_works_before_the_purge_ran(
        client: TestClient) -> None:
    accounts = client.server.app[appkeys.ACCOUNTS]
    assert (await client.post("/api/patrons", json=ANA)).status == 201
    accounts.clock = lambda: datetime.now(UTC) + timedelta(hours=25)
    assert (await client.post("/api/patrons", json=ANA)).status == 201


@pytest.mark.parametrize(("change", "field"), [
    ({"email": "not-an-address"}, "email"),
    ({"email": None}, "email"),
    ({"given_name": ""}, "given_name"),
    ({"surname": "x" * 101}, "surname"),
    ({"surname": "Čuk\x00"}, "surname"),
    ({"birth_date": 19900401}, "birth_date"),
    ({"birth_date": "2999-01-01"}, "birth_date"),
    ({"birth_date": "01.04.1990"}, "birth_date"),
    ({"category": "vip"}, "category"),
    ({"home_library": "NOPE"}, "home_library"),
    ({"address": "Trubarjeva 1"}, "address"),
    ({"address": {"street": "Trubarjeva 1", "postcode": "1000", "city": "Ljubljana"}},
     "address.country"),
    ({"consent": "yes"}, "consent"),
    ({"password": "kratko"}, "password"),
    ({"password": "my-ana.cuk-99"}, "password"),
    ({"password": 12345678}, "password"),
    ({"card_number": ""}, "card_number"),
    ({"favourite_colour": "red"}, "favourite_colour"),
])
async def test_bad_registrations_name_the_field_and_create_nothing(
        client: TestClient, change: dict[str, Any], field: str) -> None:
    response = await client.post("/api/patrons", json={**ANA, **change})
    assert response.status == 422
    body = await response.json()
    assert body["type"].endswith("/validation") and field in body["errors"]
    assert await mails(client) == []
    assert await client.server.app[appkeys.ACCOUNTS].store.find(ANA["email"]) is None


async def test_the_password_policy_is_the_home_librarys(client: TestClient) -> None:
    # Library A asks for 8 characters, library B for 6.
    short = {**ANA, "password": "ab1cd2"}
    assert (await client.post("/api/patrons", json=short)).status == 422
    assert (await client.post("/api/patrons", json={**short, "home_library": "B"})).status \
        == 201


@pytest.mark.parametrize("name", ["Ēriks Bērziņš", "Åsa Öberg", "Jürgen Müller",
                                  "Đurđa Čebašek"])
async def test_unicode_names(client: TestClient, name: str) -> None:
    given, surname = name.split()
    data = {**ANA, "email": f"{surname.casefold()}@example.net", "given_name": given,
            "surname": surname}
    await registered_and_active(client, data)
    await login(client, data["email"], data["password"])
    me = await (await client.get("/api/me")).json()
    assert (me["given_name"], me["surname"]) == (given, surname)


@pytest.mark.parametrize(("body", "content_type", "status"), [
    (b"email=a&password=b", "application/x-www-form-urlencoded", 415),
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
    (b"\xff\xfe", "application/json", 400),
])
async def test_bodies_that_are_not_a_json_object(client: TestClient, body: bytes,
                                                 content_type: str, status: int) -> None:
    response = await client.post("/api/patrons", data=body,
                                 headers={"Content-Type": content_type})
    assert response.status == status
    assert response.content_type == "application/problem+json"


async def test_logins_are_rate_limited(client: TestClient) -> None:
    await registered_and_active(client)
    for _ in range(5):
        assert (await login(client, ANA["email"], "wrong-password")).status == 401
    response = await login(client, ANA["email"], ANA["password"])
    assert response.status == 429
    assert (await response.json())["type"].endswith("/rate-limited")


async def test_password_reset_by_mailed_link(client: TestClient) -> None:
    await registered_and_active(client)
    for email in (ANA["email"], "nobody@example.org"):
        response = await client.post("/api/password-reset", json={"email": email})
        assert response.status == 202
    [mail] = [m for m in await mails(client) if "/reset?token=" in m["body"]]
    token = link_token(mail, "reset")
    response = await client.post("/api/password-reset/confirm",
                                 json={"token": token, "password": "x"})
    assert response.status == 422
    response = await client.post("/api/password-reset/confirm",
                                 json={"token": token, "password": "nova-lipa-8"})
    assert response.status == 200
    assert (await client.post("/api/password-reset/confirm",
                              json={"token": token, "password": "nova-lipa-9"})).status == 400
    assert (await login(client, ANA["email"], "nova-lipa-8")).status == 200


async def test_staff_register_at_the_desk_and_the_patron_chooses_the_password(
        client: TestClient) -> None:
    accounts = client.server.app[appkeys.ACCOUNTS]
    await accounts.add_staff("desk@a.example.org", "Desk", "A", Role.STAFF, "A",
                             "stamp-lipa-41")
    patron = {k: v for k, v in ANA.items() if k not in ("password",)}
    assert (await client.post("/api/staff/patrons", json=patron)).status == 401
    await login(client, "desk@a.example.org", "stamp-lipa-41")
    other_library = {**patron, "home_library": "B"}
    assert (await client.post("/api/staff/patrons", json=other_library)).status == 403
    response = await client.post("/api/staff/patrons", json=patron)
    assert response.status == 201
    await client.delete("/api/session")
    [mail] = await mails(client)
    token = link_token(mail, "activate")
    response = await client.post("/api/activation", json={"token": token})
    assert response.status == 422  # a password is needed now
    response = await client.post("/api/activation", json={"token": token,
                                                          "password": "moje-geslo-1"})
    assert response.status == 200
    assert (await login(client, ANA["email"], "moje-geslo-1")).status == 200


async def test_a_patron_who_moves_keeps_the_login(client: TestClient) -> None:
    accounts = client.server.app[appkeys.ACCOUNTS]
    patron_id = await registered_and_active(client)
    await accounts.add_staff("desk@b.example.org", "Desk", "B", Role.STAFF, "B",
                             "stamp-lipa-42")
    await login(client, "desk@b.example.org", "stamp-lipa-42")
    response = await client.post(f"/api/staff/patrons/{patron_id}/home-library",
                                 json={"card_number": "B-777"})
    assert response.status == 200
    assert (await response.json())["library"] == "B"
    await client.delete("/api/session")
    await login(client, ANA["email"], ANA["password"])
    export = await (await client.get("/api/me/export")).json()
    assert export["account"]["library"] == "B"
    [event] = export["account_events"]
    assert event["event"] == "home_library_changed"


async def test_patrons_cannot_use_staff_endpoints(client: TestClient) -> None:
    patron_id = await registered_and_active(client)
    await login(client, ANA["email"], ANA["password"])
    assert (await client.post("/api/staff/patrons", json={})).status == 403
    response = await client.post(f"/api/staff/patrons/{patron_id}/home-library",
                                 json={"card_number": "1"})
    assert response.status == 403


async def test_delete_the_account(client: TestClient) -> None:
    await registered_and_active(client)
    await login(client, ANA["email"], ANA["password"])
    assert (await client.delete("/api/me")).status == 204
    assert (await login(client, ANA["email"], ANA["password"])).status == 401
    # The address is free for a new registration.
    assert (await client.post("/api/patrons", json=ANA)).status == 201


REGISTER = ("card_number,surname,given_name,birth_date,email,category,fee_paid,"
            "statement_signed,blocked,expires,fines_due\n"
            "0123456,Čuk,Ana,1990-04-01,ana@example.org,adult,true,true,false,2030-01-01,0.00\n"
            "0999999,Novak,Mojca,1980-02-02,m@example.org,adult,false,true,false,2030-01-01,"
            "0.00\n")


async def test_eligibility_from_the_home_register(client: TestClient, tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(REGISTER, encoding="utf-8")
    await registered_and_active(client)
    await login(client, ANA["email"], ANA["password"])
    body = await (await client.get("/api/me/eligibility")).json()
    assert body["register"] == "match" and body["restrictions"] == []
    assert body["may_request"] == {"loan": True, "copy": True}


async def test_a_restricted_patron_is_told_what_to_do(client: TestClient,
                                                      tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(REGISTER, encoding="utf-8")
    mojca = {**ANA, "email": "mojca@example.org", "given_name": "Mojca", "surname": "Novak",
             "birth_date": "1980-02-02", "card_number": "0999999"}
    await registered_and_active(client, mojca)
    await login(client, mojca["email"], mojca["password"])
    body = await (await client.get("/api/me/eligibility")).json()
    assert body["restrictions"] == [{"code": "fee_unpaid",
                                     "advice": "pay the membership fee at your library or "
                                               "online"}]
    assert body["may_request"] == {"loan": False, "copy": False}


async def test_eligibility_is_for_patrons_only(client: TestClient) -> None:
    assert (await client.get("/api/me/eligibility")).status == 401
