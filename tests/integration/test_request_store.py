from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import replace

import pytest
from redis.asyncio import Redis

from broker.domain.errors import IllegalTransition, NotFound, VersionConflict
from broker.domain.intake import duplicate_probes
from broker.domain.request import ItemDescription
from broker.domain.states import Event, State
from broker.store.keys import Keys, shard_of
from broker.store.reads import read_one
from broker.store.requests import Kept, OutboxJob, RequestStore

from builders import a_request


async def test_create_then_read_back(store: RequestStore) -> None:
    created = await store.create(a_request(), actor="patron:p1")
    assert created.version == 1 and created.state is State.NEW
    assert await store.get(created.id) == created
    [first] = await store.history(created.id)
    assert (first.seq, first.event, first.target) == (1, Event.CREATED, State.NEW)
    assert await store.ids_in_state(State.NEW) == [created.id]
    assert await store.ids_for_patron("p1") == [created.id]


async def test_a_request_id_cannot_be_created_twice(store: RequestStore) -> None:
    request = await store.create(a_request(), actor="patron:p1")
    with pytest.raises(VersionConflict):
        await store.create(request, actor="patron:p1")


async def test_open_requests_are_counted_and_found_by_title_until_they_end(
        store: RequestStore) -> None:
    request = a_request()
    probes = duplicate_probes(request.service, request.item, request.citation)

    async def open_for(patron: str) -> tuple[int, str | None]:
        return await read_one(store.redis,
                              lambda reads: store.read_open(reads, patron, probes))

    assert await open_for("p1") == (0, None)
    r = await store.create(request, actor="patron:p1")
    await store.create(replace(a_request(), item=ItemDescription(title="Other")), "patron:p1")
    assert await open_for("p1") == (2, r.id)
    assert await open_for("p2") == (0, None)
    r = await store.apply(r, Event.CANCELLED, "patron:p1")
    assert await open_for("p1") == (1, None)


async def test_keys_of_one_request_share_a_hash_tag(namespace: str) -> None:
    keys = Keys(namespace).for_request("ILL-ABCD-EFGH")

    def tag(key: str) -> str:
        return key[key.index("{") + 1:key.index("}")]

    all_keys = [keys.request, keys.events, keys.outbox, keys.by_state("new"),
                keys.by_lender("X"), keys.by_patron("p")]
    assert len({tag(k) for k in all_keys}) == 1
    assert tag(keys.request).endswith(f"s{shard_of('ILL-ABCD-EFGH'):02d}")


async def test_transitions_move_state_indexes_and_lender_inbox(store: RequestStore) -> None:
    r = await store.create(a_request(), actor="patron:p1")
    r = await store.apply(r, Event.SUBMITTED, "patron:p1")
    r = await store.apply(r, Event.BORROWER_CONFIRMED, "register:SI-LJMK")
    r = await store.apply(r, Event.SENT_TO_LENDER, "broker", changes={"lender": "LV-RCB"},
                          data={"rota_position": 1})
    assert (r.state, r.version, r.lender) == (State.SENT, 4, "LV-RCB")
    assert await store.get(r.id) == r
    assert await store.ids_in_state(State.NEW) == []
    assert await store.ids_in_state(State.SENT) == [r.id]
    assert await store.ids_for_lender("LV-RCB") == [r.id]
    # The lender says no: the request goes back to routing and leaves that inbox.
    r = await store.apply(r, Event.LENDER_UNFILLED, "lender:LV-RCB", changes={"lender": None})
    assert r.lender is None and await store.ids_for_lender("LV-RCB") == []
    r = await store.apply(r, Event.SENT_TO_LENDER, "broker", changes={"lender": "SE-UPS"})
    assert await store.ids_for_lender("SE-UPS") == [r.id]
    r = await store.apply(r, Event.CANCELLED, "patron:p1")
    assert await store.ids_for_lender("SE-UPS") == []
    assert await store.ids_in_state(State.CANCELLED) == [r.id]
    history = await store.history(r.id)
    assert [e.seq for e in history] == list(range(1, 8))
    assert history[3].data == {"rota_position": 1}


async def test_an_illegal_event_writes_nothing(store: RequestStore) -> None:
    r = await store.create(a_request(), actor="patron:p1")
    with pytest.raises(IllegalTransition):
        await store.apply(r, Event.SHIPPED, "lender:X")
    assert (await store.get(r.id)).version == 1
    assert len(await store.history(r.id)) == 1


async def test_a_stale_version_is_refused(store: RequestStore) -> None:
    r = await store.create(a_request(), actor="patron:p1")
    await store.apply(r, Event.SUBMITTED, "patron:p1")
    with pytest.raises(VersionConflict) as caught:
        await store.apply(r, Event.SUBMITTED, "patron:p1")
    assert caught.value.current == 2


async def test_unknown_request(store: RequestStore) -> None:
    with pytest.raises(NotFound):
        await store.get("ILL-NONE-NONE")


async def test_outbox_jobs_are_written_with_the_transition(store: RequestStore,
                                                           redis: Redis) -> None:
    r = await store.create(a_request(), actor="patron:p1",
                           jobs=[OutboxJob("check_borrower", "x")])
    await store.apply(r, Event.SUBMITTED, "patron:p1", jobs=[OutboxJob("route", r.id, {"n": 1})])
    raw = await redis.lrange(store.keys.for_request(r.id).outbox, 0, -1)
    jobs = [json.loads(j) for j in raw]
    assert [j["name"] for j in jobs] == ["check_borrower", "route"]
    assert jobs[1]["id"] == f"{r.id}_2_0" and jobs[1]["args"] == {"n": 1}


async def test_a_kept_value_is_written_with_its_transition_or_not_at_all(
        store: RequestStore, redis: Redis) -> None:
    r = await store.create(a_request(), actor="patron:p1")
    key = store.keys.iso18626_answer("B", "d1gest", r.id)
    assert key.startswith(store.keys.tag(shard_of(r.id)))
    submitted = await store.apply(r, Event.SUBMITTED, "patron:p1",
                                  keep=Kept(key, "<confirmation/>", 60))
    assert await redis.get(key) == b"<confirmation/>"
    assert 0 < await redis.ttl(key) <= 60
    later = store.keys.iso18626_answer("B", "l4ter", r.id)
    with pytest.raises(VersionConflict):
        await store.apply(r, Event.SUBMITTED, "patron:p1", keep=Kept(later, "x", 60))
    with pytest.raises(IllegalTransition):
        await store.apply(submitted, Event.SUBMITTED, "patron:p1", keep=Kept(later, "x", 60))
    assert await redis.exists(later) == 0


async def test_fifty_concurrent_transitions_one_winner_per_version(
        redis_url: str, namespace: str, redis: Redis) -> None:
    """50 clients race to move one request; each version is won exactly once."""
    keys = Keys(namespace)
    clients = [Redis.from_url(redis_url) for _ in range(10)]
    stores = [RequestStore(c, keys) for c in clients]
    try:
        r = await stores[0].create(a_request(), actor="patron:p1")
        r = await stores[0].apply(r, Event.SUBMITTED, "patron:p1")
        r = await stores[0].apply(r, Event.BORROWER_CONFIRMED, "register")
        r = await stores[0].apply(r, Event.SENT_TO_LENDER, "broker", changes={"lender": "L0"})
        start = r

        async def contender(i: int) -> tuple[int, int] | None:
            # Everyone read the same version; each tries to hand it to another lender.
            store = stores[i % len(stores)]
            try:
                won = await store.apply(start, Event.LENDER_UNFILLED, f"lender:{i}",
                                        changes={"lender": None}, data={"contender": i})
            except VersionConflict:
                return None
            return (i, won.version)

        results = await asyncio.gather(*(contender(i) for i in range(50)))
        winners = [w for w in results if w is not None]
        assert len(winners) == 1 and winners[0][1] == start.version + 1

        # Then a chain: 50 contenders, each retrying on conflict, all alternate the
        # request between routing and sent; every version must be won exactly once.
        async def persistent(i: int) -> list[int]:
            store = stores[i % len(stores)]
            won = []
            for _ in range(200):
                current = await store.get(start.id)
                event = (Event.SENT_TO_LENDER if current.state is State.ROUTING
                         else Event.LENDER_UNFILLED)
                lender = f"L{i}" if event is Event.SENT_TO_LENDER else None
                try:
                    after = await store.apply(current, event, f"c{i}", changes={"lender": lender},
                                              data={"contender": i})
                except VersionConflict:
                    continue
                won.append(after.version)
                if len(won) == 2:
                    break
            return won

        chains = await asyncio.gather(*(persistent(i) for i in range(50)))
        versions = sorted(v for chain in chains for v in chain)
        assert len(versions) == len(set(versions)) == 100
        final = await stores[0].get(start.id)
        assert versions == list(range(start.version + 2, final.version + 1))
        history = await stores[0].history(start.id)
        assert [e.seq for e in history] == list(range(1, final.version + 1))
        # Each event records the state the previous one left.
        for before, after in itertools.pairwise(history):
            assert after.source is before.target
    finally:
        for c in clients:
            await c.aclose()


async def test_a_request_lives_in_its_patrons_shard(store: RequestStore) -> None:
    from dataclasses import replace

    from broker.store.keys import shard_of

    request = a_request(patron="p9")
    assert shard_of(request.id) == shard_of("p9")
    stray = next(r for r in (replace(request, id=f"ILL-TEST-{n:04d}") for n in range(100))
                 if shard_of(r.id) != shard_of("p9"))
    with pytest.raises(ValueError):
        await store.create(stray, actor="t")
