from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import date

import pytest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from broker.domain.holdings import BibRecord, Holding, ItemStatus, MaterialType
from broker.services.harvest import each
from broker.store.codec import record_json
from broker.store.holdings import BATCH, Indexable, UnionIndex, record_document
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


@pytest.mark.parametrize("record", [
    BibRecord(record_id="r1", title="Alamut"),
    BibRecord(record_id="ocm 7", title='Čefurji raus! "Roman" \\ \u2028 \x1f \U0001f4da',
              material=MaterialType.SCORE, author="Janša, Goran", year=2008,
              edition="2. izd.", isbns=("9789612415099", "9780306406157"),
              issns=("1392-012X",), other_ids=("(OCoLC)7",),
              holdings=(Holding("A", ItemStatus.ON_LOAN, "A-1", "821.163.6", "0001",
                                date(2031, 1, 15)),
                        Holding("A", ItemStatus.LOST))),
])
def test_the_stored_document_is_record_json_byte_for_byte(record: BibRecord) -> None:
    assert record_document(record) == record_json(record).encode()


async def test_a_cancelled_replacement_drops_what_it_wrote(index: UnionIndex, redis: Redis,
                                                           namespace: str) -> None:
    await index.replace("A", each([item("A", f"old{i}", f"97800000{i:05d}") for i in range(50)]))
    written = asyncio.Event()

    async def slow_export() -> AsyncIterator[Indexable]:
        for i in range(5 * BATCH):
            if i == 3 * BATCH + 1:
                written.set()  # three batches handed to Redis, one of them maybe still in flight
                await asyncio.sleep(3600)
            yield item("A", f"new{i}", f"97811111{i:05d}")

    replacing = asyncio.create_task(index.replace("A", slow_export()))
    await written.wait()
    replacing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await replacing
    assert await index.record_count("A") == 50
    new_keys = [Keys(namespace).index_match(f"isbn:97811111{i:05d}") for i in range(3 * BATCH)]
    assert await redis.exists(*new_keys) == 0
    assert len([k async for k in redis.scan_iter(match=f"{namespace}:index:records:A:*")]) == 1


async def test_a_write_that_redis_refuses_fails_and_leaves_the_index_as_it_was(
        index: UnionIndex, redis: Redis, namespace: str) -> None:
    await index.replace("A", each([item("A", "a1", "9789612410001")]))
    # A key of the wrong type under one match key: Redis refuses that one command.
    await redis.set(Keys(namespace).index_match("isbn:9780000000002"), "not a hash")
    with pytest.raises(ResponseError, match="WRONGTYPE"):
        await index.replace("A", each([item("A", "a2", "9789612410099"),
                                       item("A", "a3", "9780000000002"),
                                       item("A", "a4", "9789612410098")]))
    assert await index.record_count("A") == 1
    assert list(await index.lookup(["isbn:9789612410001", "isbn:9789612410099",
                                    "isbn:9789612410098"])) == ["isbn:9789612410001"]
    # Every reply was read: the connection serves the next command as usual.
    assert await redis.get(Keys(namespace).index_match("isbn:9780000000002")) == b"not a hash"
