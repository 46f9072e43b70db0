"""The embedded Valkey keeps every acknowledged request across a restart or a crash."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from redis.asyncio import Redis

from broker.domain.states import Event, State
from broker.store.embedded import EmbeddedValkey
from broker.store.keys import Keys
from broker.store.requests import RequestStore

from builders import a_request


@pytest.mark.parametrize("how", ["stop", "kill -9"])
async def test_acknowledged_requests_survive_a_restart(tmp_path: Path, how: str) -> None:
    server = EmbeddedValkey(tmp_path / "data")
    server.start()
    client = Redis.from_url(server.url)
    store = RequestStore(client, Keys("ill"))
    acknowledged = {}
    for i in range(200):
        r = await store.create(a_request(patron=f"p{i % 7}"), actor="test")
        if i % 2:
            r = await store.apply(r, Event.SUBMITTED, "test")
        acknowledged[r.id] = r
    await client.aclose()
    if how == "stop":
        server.stop()
    else:
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        time.sleep(0.2)
        server.stop()

    again = EmbeddedValkey(tmp_path / "data")
    again.start()
    client = Redis.from_url(again.url)
    store = RequestStore(client, Keys("ill"))
    try:
        for rid, r in acknowledged.items():
            assert await store.get(rid) == r
            assert [e.seq for e in await store.history(rid)] == list(range(1, r.version + 1))
        assert len(await store.ids_in_state(State.VALIDATING)) == 100
    finally:
        await client.aclose()
        again.stop()
