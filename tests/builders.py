"""Test data builders shared by the test folders (importable as ``builders``)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from broker.domain.accounts import Account, AccountStatus, Address, Role
from broker.domain.request import ItemDescription, Request
from broker.domain.states import Service, State
from broker.services.passwords import hash_password
from broker.store.accounts import AccountStore
from broker.store.keys import request_id_for


def a_request(patron: str = "p1", service: Service = Service.LOAN) -> Request:
    now = datetime.now(UTC)
    return Request(id=request_id_for(patron), service=service, state=State.NEW, version=0,
                   patron_id=patron, home_library="SI-LJMK", pickup_location="SI-LJMK-BEZ",
                   item=ItemDescription(title="Alamut", author="Bartol, Vladimir", year=1938),
                   created_at=now, updated_at=now)


VALID_CONSORTIUM = """
[consortium]
name = "Test"
local_holdings = "any"

[[regions]]
code = "R1"
name = "Region one"
country = "SI"
free_transfers = true

[[regions]]
code = "R2"
name = "Region two"
country = "LV"

[fees]
ill_item = "7.00"
[fees.copy.per_page]
pdf = "0.15"
[fees.late_per_day]
book = "0.20"

[[libraries]]
code = "A"
name = "Library A"
country = "SI"
region = "R1"
timezone = "Europe/Ljubljana"
branches = [{ code = "A-1", name = "Branch" }]
[libraries.policy]
password_min_length = 8
accepts_patron_requests = true
lends = ["book"]
[libraries.catalog]
connector = "marcfile"
path = "a.xml"
[libraries.catalog.holdings]
tag = "852"
status = "y"
status_map = { a = "available", r = "reading_room" }
[libraries.register]
connector = "file"
path = "a.csv"
[libraries.lending]
connector = "inbox"

[[libraries]]
code = "B"
name = "Library B"
country = "LV"
region = "R2"
timezone = "Europe/Riga"
[libraries.policy]
password_min_length = 6
accepts_patron_requests = false
lends = ["book", "journal"]
[libraries.catalog]
connector = "sru"
url = "http://127.0.0.1:9999/b"
[libraries.register]
connector = "ncip"
url = "http://127.0.0.1:9998/ncip"
[libraries.lending]
connector = "iso18626"
url = "http://127.0.0.1:9997/iso18626"
agency_id = "B"
"""


def write_consortium(tmp_path: Path, text: str = VALID_CONSORTIUM) -> Path:
    """A consortium file with the local files it names, in ``tmp_path``."""
    (tmp_path / "a.xml").write_text("<collection/>")
    (tmp_path / "a.csv").write_text("card_number\n")
    path = tmp_path / "consortium.toml"
    path.write_text(text, encoding="utf-8")
    return path


def marc_record(control: str, title: str, *, isbn: str | None = None, author: str | None = None,
                year: int | None = None, holdings: tuple[tuple[str, str], ...] = (),
                leader_type: str = "am") -> str:
    """One MARCXML record; ``holdings`` are (branch, status code) pairs in 852 $b/$y."""
    fields = [f'<controlfield tag="001">{control}</controlfield>']
    if isbn:
        fields.append(f'<datafield tag="020" ind1=" " ind2=" "><subfield code="a">{isbn}'
                      "</subfield></datafield>")
    if author:
        fields.append(f'<datafield tag="100" ind1="1" ind2=" "><subfield code="a">{author}'
                      "</subfield></datafield>")
    fields.append(f'<datafield tag="245" ind1="1" ind2="0"><subfield code="a">{title}'
                  "</subfield></datafield>")
    if year:
        fields.append(f'<datafield tag="264" ind1=" " ind2="1"><subfield code="c">{year}'
                      "</subfield></datafield>")
    for branch, status in holdings:
        fields.append(f'<datafield tag="852" ind1=" " ind2=" "><subfield code="b">{branch}'
                      f'</subfield><subfield code="h">821.163.6</subfield>'
                      f'<subfield code="y">{status}</subfield></datafield>')
    leader = f"00000n{leader_type} a2200000 i 4500"
    return f"<record><leader>{leader}</leader>{''.join(fields)}</record>"


def marc_collection(*records: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            '<collection xmlns="http://www.loc.gov/MARC21/slim">'
            + "".join(records) + "</collection>").encode()


# Library B's catalog as a MARC file too, for tests that need two harvested members.
TWO_FILE_CONSORTIUM = VALID_CONSORTIUM.replace(
    '[libraries.catalog]\nconnector = "sru"\nurl = "http://127.0.0.1:9999/b"',
    '[libraries.catalog]\nconnector = "marcfile"\npath = "b.xml"\n'
    '[libraries.catalog.holdings]\ntag = "852"\nstatus = "y"\n'
    'status_map = { a = "available", o = "on_loan", r = "reading_room" }')


# A consortium for request tests: home library A, lenders B and C.
REQUEST_CATEGORIES = '\n[[categories]]\ncode = "adult"\nname = "Adult"\n'
LIBRARY_C = """
[[libraries]]
code = "C"
name = "Library C"
country = "SI"
region = "R1"
timezone = "Europe/Ljubljana"
[libraries.policy]
password_min_length = 8
accepts_patron_requests = true
lends = ["book"]
[libraries.catalog]
connector = "marcfile"
path = "c.xml"
[libraries.catalog.holdings]
tag = "852"
status = "y"
status_map = { a = "available", o = "on_loan", r = "reading_room" }
[libraries.register]
connector = "file"
path = "a.csv"
[libraries.lending]
connector = "inbox"
"""
REQUEST_REGISTER = ("card_number,surname,given_name,birth_date,email,category,fee_paid,"
            "statement_signed,blocked,expires,fines_due\n"
            "111,Čuk,Ana,1990-04-01,,adult,true,true,false,2030-01-01,0.00\n"
            "222,Novak,Mojca,1980-02-02,,adult,false,true,false,2030-01-01,0.00\n")
BOTH = "9789612415099"       # at B (on loan) and at C (available)
HOME = "9788611164014"       # at A itself
FAR = "9780306406157"        # at B only
READING = "9781861972712"    # reading room only, at B and C
PASSWORD = "lipa-lipa-7"


def three_library_consortium(tmp_path: Path) -> Path:
    """A (home, region R1), B (R2) and C (R1, free transfers with A) with MARC catalogs:
    BOTH at B (on loan) and C, HOME at A, FAR at B, READING in reading rooms only."""
    text = (TWO_FILE_CONSORTIUM.replace("[[regions]]", REQUEST_CATEGORIES + "[[regions]]", 1)
            .replace("accepts_patron_requests = false", "accepts_patron_requests = true")
            + LIBRARY_C)
    path = write_consortium(tmp_path, text)
    (tmp_path / "a.csv").write_text(REQUEST_REGISTER, encoding="utf-8")
    (tmp_path / "a.xml").write_bytes(marc_collection(
        marc_record("a1", "Alamut", isbn=HOME, holdings=(("A", "a"),))))
    (tmp_path / "b.xml").write_bytes(marc_collection(
        marc_record("b1", "Čefurji raus!", isbn=BOTH, holdings=(("B", "o"),)),
        marc_record("b2", "Far away", isbn=FAR, holdings=(("B", "a"),)),
        marc_record("b3", "Lighthouse", isbn=READING, holdings=(("B", "r"),))))
    (tmp_path / "c.xml").write_bytes(marc_collection(
        marc_record("c1", "Čefurji raus!", isbn=BOTH, holdings=(("C", "a"),)),
        marc_record("c3", "Lighthouse", isbn=READING, holdings=(("C", "r"),))))
    return path


async def add_patron(store: AccountStore, email: str, card: str, given: str,
                     surname: str, born: date) -> None:
    now = datetime.now(UTC)
    account = Account(id=store.new_id(email), email=email, role=Role.PATRON,
                      status=AccountStatus.ACTIVE, created_at=now, library="A",
                      given_name=given, surname=surname, birth_date=born, category="adult",
                      address=Address("x", "1", "y", "SI"), card_number=card,
                      consent_at=now, activated_at=now)
    assert await store.create(account, await hash_password(PASSWORD), expires=None,
                              token=None, token_ttl=0) is None
