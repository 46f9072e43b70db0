"""Harvest bench: how much reading a MARCXML export costs beyond parsing it.

Generates a MARCXML file of 100,000 records (a temporary directory), then in the same
run times

1. a bare ``lxml.etree.iterparse`` of the file (records found and freed, nothing read
   from them), and
2. a harvest of the file as ``illbroker harvest`` runs it (``Harvester.harvest`` of a
   library with a MARC file catalog): extraction, ISBN/ISSN normalisation, holdings,
   match keys and writing all of it to the union index in Redis (REDIS_URL, else an
   embedded Valkey with the broker's persistence settings), replacing what the
   previous round indexed.

and prints records/s of both and, last, their ratio (target >= 0.25: reading,
normalising and indexing costs at most 4x parsing).

Run: ``.venv/bin/python bench/harvest.py [--records N]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from xml.sax.saxutils import escape

from lxml import etree
from redis.asyncio import Redis
from stdnum import isbn

from broker.domain.consortium import ConnectorConfig, HoldingsMapping, Library, Policy
from broker.domain.holdings import ItemStatus, MaterialType
from broker.services.harvest import Harvester
from broker.store.embedded import EmbeddedValkey
from broker.store.keys import Keys
from connectors.marc.records import RECORD_TAGS

TARGET_RATIO = 0.25

# The demo's Koha-style libraries: 952 with $7 not-for-loan, $q due date, $1 lost.
MAPPING = HoldingsMapping(
    tag="952",
    branch="b",
    call_number="o",
    barcode="p",
    status="7",
    due_date="q",
    lost="1",
    status_map=MappingProxyType(
        {"0": ItemStatus.AVAILABLE, "1": ItemStatus.NOT_LOANABLE, "2": ItemStatus.READING_ROOM}
    ),
)

# fmt: off
_WORDS = [
    "sea", "light", "baltic", "history", "river", "town", "map", "songs", "winter",
    "zgodovina", "mesto", "reka", "pesmi", "zima", "otroci", "vrt", "vojna", "mir",
    "jūra", "gaisma", "vēsture", "pilsēta", "upe", "dziesmas", "ziema", "bērni", "dārzs",
    "havet", "ljus", "historia", "staden", "vinter", "barn", "trädgård", "licht", "zee",
]
# fmt: on


def library(path: Path) -> Library:
    """A member library whose catalog is the MARC file export at ``path``."""
    none = ConnectorConfig("none")
    return Library(
        code="DEMO", name="Bench library", country="LV", region="LV", timezone="Europe/Riga",
        policy=Policy(password_min_length=10, accepts_patron_requests=True,
                      lends=frozenset(MaterialType), loan_days=28, answer_hours=48,
                      pickup_days=7, max_open_requests=5, fines_limit=Decimal("10.00")),
        catalog=ConnectorConfig("marcfile", MappingProxyType({"path": str(path)}), MAPPING),
        register=none, lending=none)


def harvest(path: Path, redis_url: str) -> int:
    """Harvest the file into the union index as ``illbroker harvest`` does (a full
    replacement: new generation, write, switch, drop the old one); returns the count."""

    async def run() -> int:
        client = Redis.from_url(redis_url, decode_responses=True)
        try:
            report = await Harvester(client, Keys("benchharvest")).harvest(library(path))
        finally:
            await client.aclose()
        if report.failed or report.skipped or report.errors:
            raise SystemExit(f"the harvest went wrong: {report.summary()}")
        return report.indexed

    return asyncio.run(run())


def _isbn(rng: random.Random) -> str:
    core = f"978{rng.randrange(10**9):09d}"
    return core + next(d for d in "0123456789" if isbn.is_valid(core + d))


def _record(n: int, rng: random.Random) -> str:
    words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 7)))
    year = rng.randint(1950, 2024)
    fields = [
        f'<controlfield tag="001">B{n:08d}</controlfield>',
        '<controlfield tag="005">20240101120000.0</controlfield>',
        f'<controlfield tag="008">240101s{year}    xx            000 0 eng d</controlfield>',
    ]
    if n % 5:
        number = _isbn(rng)
        # Every third record writes its ISBN as ISBN-10 with a qualifier, as
        # older catalogues do.
        if n % 3 == 0:
            number = f"{isbn.to_isbn10(number)} (pbk.)"
        fields.append(
            f'<datafield tag="020" ind1=" " ind2=" "><subfield code="a">{number}'
            "</subfield></datafield>"
        )
    fields += [
        f'<datafield tag="035" ind1=" " ind2=" "><subfield code="a">(DEMO){n}</subfield>'
        "</datafield>",
        '<datafield tag="040" ind1=" " ind2=" "><subfield code="a">DEMO</subfield>'
        '<subfield code="b">eng</subfield></datafield>',
        '<datafield tag="100" ind1="1" ind2=" "><subfield code="a">'
        f"{escape(rng.choice(_WORDS).title())}, {escape(rng.choice(_WORDS).title())}."
        "</subfield></datafield>",
        '<datafield tag="245" ind1="1" ind2="0"><subfield code="a">'
        f'{escape(words.capitalize())} :</subfield><subfield code="b">a study /</subfield>'
        '<subfield code="c">by someone.</subfield></datafield>',
        '<datafield tag="264" ind1=" " ind2="1"><subfield code="a">Riga :</subfield>'
        f'<subfield code="b">Demo,</subfield><subfield code="c">{year}.</subfield></datafield>',
        '<datafield tag="300" ind1=" " ind2=" "><subfield code="a">200 p. ;</subfield>'
        '<subfield code="c">24 cm</subfield></datafield>',
        '<datafield tag="650" ind1=" " ind2="0"><subfield code="a">'
        f"{escape(rng.choice(_WORDS))}</subfield></datafield>",
    ]
    for copy in range(rng.randint(1, 3)):
        due = '<subfield code="q">2031-01-15</subfield>' if rng.random() < 0.2 else ""
        fields.append(
            '<datafield tag="952" ind1=" " ind2=" "><subfield code="b">DEMO-CEN</subfield>'
            f'<subfield code="o">{year} {copy}</subfield><subfield code="p">{n}{copy}</subfield>'
            f'<subfield code="7">0</subfield>{due}</datafield>'
        )
    return "<record><leader>00000nam a2200000 a 4500</leader>" + "".join(fields) + "</record>\n"


def generate(path: Path, count: int, seed: int = 18626) -> None:
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        out.write('<collection xmlns="http://www.loc.gov/MARC21/slim">\n')
        for n in range(count):
            out.write(_record(n, rng))
        out.write("</collection>\n")


def bare_iterparse(path: Path) -> int:
    """The floor: find every record and free it, reading nothing from it."""
    count = 0
    for _event, element in etree.iterparse(
        str(path), events=("end",), tag=RECORD_TAGS, resolve_entities=False, no_network=True
    ):
        count += 1
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None:
            while element.getprevious() is not None:
                del parent[0]
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="harvest-bench-") as tmp, \
            EmbeddedValkey(Path(tmp) / "valkey") as valkey:
        redis_url = os.environ.get("REDIS_URL") or valkey.url
        path = Path(tmp) / "catalog.xml"
        started = time.perf_counter()
        generate(path, args.records)
        size_mb = path.stat().st_size / 1e6
        took = time.perf_counter() - started
        print(f"generated {args.records} records, {size_mb:.1f} MB, in {took:.1f} s")

        # Interleaved and best of --rounds: other work on the machine slows a
        # round of either kind, and the ratio should not depend on which it hit.
        bare_s = ours_s = float("inf")
        parsed = indexed = 0
        for _round in range(args.rounds):
            started = time.perf_counter()
            parsed = bare_iterparse(path)
            bare_s = min(bare_s, time.perf_counter() - started)

            started = time.perf_counter()
            indexed = harvest(path, redis_url)
            ours_s = min(ours_s, time.perf_counter() - started)

    if parsed != args.records or indexed != args.records:
        print(f"record count mismatch: {parsed} parsed, {indexed} indexed", file=sys.stderr)
        return 1
    bare_rate, ours_rate = parsed / bare_s, indexed / ours_s
    ratio = ours_rate / bare_rate
    print(f"bare iterparse:               {bare_rate:10.0f} records/s ({bare_s:.2f} s)")
    print(f"harvest into the union index: {ours_rate:10.0f} records/s ({ours_s:.2f} s)")
    print(f"ratio {ratio:.2f} (target >= {TARGET_RATIO})")
    return 0 if ratio >= TARGET_RATIO else 2


if __name__ == "__main__":
    sys.exit(main())
