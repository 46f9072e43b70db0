"""The broker's Redis client (hiredis packing) against a real server: every kind of
argument the stores send arrives as redis-py would have sent it."""

from __future__ import annotations

from redis.asyncio import Redis

from broker.store.client import connect


async def test_arguments_of_every_kind_arrive_unchanged(redis_url: str, namespace: str) -> None:
    client = connect(redis_url)
    key = f"{namespace}:packed"
    try:
        await client.hset(key, mapping={"text": "Ljubljana — Rīga Ö", "int": 7, "float": 2.5,
                                        "bytes": b"\x00\xffraw"})
        plain = Redis.from_url(redis_url)
        try:
            assert await plain.hgetall(key) == {
                b"text": "Ljubljana — Rīga Ö".encode(), b"int": b"7", b"float": b"2.5",
                b"bytes": b"\x00\xffraw"}
        finally:
            await plain.aclose()
        assert await client.hget(key, "text") == "Ljubljana — Rīga Ö"
    finally:
        await client.delete(key)
        await client.aclose()


async def test_scripts_pipelines_and_transactions(redis_url: str, namespace: str) -> None:
    client = connect(redis_url)
    key = f"{namespace}:counter"
    try:
        # SCRIPT LOAD is a two-word command name: it must go out as two arguments.
        script = client.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await script(keys=[key], args=[3]) == 3
        async with client.pipeline(transaction=False) as pipe:
            pipe.incrby(key, 2).get(key)
            assert await pipe.execute() == [5, "5"]
        async with client.pipeline(transaction=True) as pipe:
            pipe.incrby(key, 1).get(key)
            assert await pipe.execute() == [6, "6"]
    finally:
        await client.delete(key)
        await client.aclose()
