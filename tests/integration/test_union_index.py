from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import date

import pytest
from redis.asyncio import Redis

from broker.domain.holdings import BibRecord, Holding, ItemStatus
from broker.services.harvest import each
from broker.store.holdings import Indexable, UnionIndex
from broker.store.keys import Keys


def item(library: str, rid: str, isbn: str, title: str = "Alamut",
         status: ItemStatus = ItemStatus.AVAILABLE) -> Indexable:
    record = BibRecord(record_id=rid, title=title, isbns=(isbn,),
                       holdings=(Holding(library, status, branch=f"{library}-1",
                                         due_date=date(2026, 12, 1)
                                         if status is ItemStatus.ON_LOAN else None),))
    return Indexable(record, (f"isbn:{isbn}",), tuple(title.casefold().split()))


@pytest.fixture
def index(redis: Redis, namespace: str) -> UnionIndex:
    return UnionIndex(redis, Keys(namespace))


async def test_lookup_finds_every_library_holding_a_title(index: UnionIndex) -> None:
    await index.replace("A", each([item("A", "a1", "9789612410001")]))
    await index.replace("B", each([item("B", "b7", "9789612410001", status=ItemStatus.ON_LOAN),
                                  item("B", "b8", "9780000000002", title="Other")]))
    found = await index.lookup(["isbn:9789612410001", "isbn:9999999999999"])
    assert list(found) == ["isbn:9789612410001"]
    by_library = {e.library: e.record for e in found["isbn:9789612410001"]}
    assert set(by_library) == {"A", "B"}
    assert by_library["B"].holdings[0].status is ItemStatus.ON_LOAN
    assert by_library["B"].holdings[0].due_date == date(2026, 12, 1)
    assert await index.record_count("B") == 2


async def test_words_find_match_keys(index: UnionIndex) -> None:
    await index.replace("A", each([item("A", "a1", "9789612410001", title="Alamut roman"),
                              item("A", "a2", "9780000000002", title="Roman o Ljubljani")]))
    assert await index.match_keys_for_words(["roman"]) == ["isbn:9780000000002",
                                                           "isbn:9789612410001"]
    assert await index.match_keys_for_words(["roman", "alamut"]) == ["isbn:9789612410001"]
    assert await index.match_keys_for_words(["nothing"]) == []


async def test_a_replacement_drops_what_the_new_export_lacks(index: UnionIndex) -> None:
    await index.replace("A", each([item("A", "a1", "9789612410001"),
                              item("A", "a2", "9780000000002")]))
    await index.replace("A", each([item("A", "a2", "9780000000002")]))
    assert await index.lookup(["isbn:9789612410001"]) == {}
    assert len((await index.lookup(["isbn:9780000000002"]))["isbn:9780000000002"]) == 1


async def test_a_half_written_replacement_is_never_visible(index: UnionIndex) -> None:
    await index.replace("A", each([item("A", f"old{i}", f"97800000{i:05d}") for i in range(50)]))

    def failing() -> Iterator[Indexable]:
        for i in range(1200):
            if i == 1100:
                raise ValueError("the export broke off")
            yield item("A", f"new{i}", f"97811111{i:05d}")

    with pytest.raises(ValueError):
        await index.replace("A", each(failing()))
    # The old records are all still there; none of the new ones leaked through.
    assert len(await index.lookup([f"isbn:97800000{i:05d}" for i in range(50)])) == 50
    assert await index.lookup([f"isbn:97811111{i:05d}" for i in range(1100)]) == {}
    assert await index.record_count("A") == 50


async def test_readers_during_a_replacement_see_old_or_new_never_a_mix(
        index: UnionIndex) -> None:
    keys = [f"isbn:97822222{i:05d}" for i in range(1200)]
    await index.replace("A", each([item("A", f"r{i}", k[5:]) for i, k in enumerate(keys)]))
    seen: set[int] = set()

    async def reader() -> None:
        for _ in range(10):
            found = await index.lookup(keys)
            seen.add(len(found))
            await asyncio.sleep(0)

    async def writer() -> None:
        await index.replace("A", each([item("A", f"r{i}", k[5:], title="New")
                                       for i, k in enumerate(keys)]))

    await asyncio.gather(reader(), writer(), reader())
    assert seen == {1200}


async def test_incremental_upsert_and_delete(index: UnionIndex) -> None:
    await index.upsert("C", item("C", "c1", "9789612410001"))
    await index.upsert("C", item("C", "c1", "9780000000002"))
    assert await index.lookup(["isbn:9789612410001"]) == {}
    assert "isbn:9780000000002" in await index.lookup(["isbn:9780000000002"])
    assert await index.delete("C", "c1") is True
    assert await index.delete("C", "c1") is False
    assert await index.lookup(["isbn:9780000000002"]) == {}
