"""The broker's processes: web, worker, scheduler, and the demo that runs them all."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import replace
from typing import Any

import uvloop
from aiohttp import web
from redis import Redis as SyncRedis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rq import Queue, SimpleWorker
from rq.scheduler import RQScheduler
from tqdm import tqdm

from broker.domain.accounts import Role
from broker.domain.errors import NotFound, Unavailable
from broker.jobs.dispatcher import Dispatcher
from broker.services.accounts import Accounts
from broker.services.consortium_file import load
from broker.services.demo import seed
from broker.services.harvest import Harvester, HarvestReport
from broker.settings import Settings
from broker.store.accounts import AccountStore
from broker.store.client import connect
from broker.store.embedded import EmbeddedValkey
from broker.store.keys import Keys
from broker.store.requests import RequestStore

log = logging.getLogger("illbroker")

QUEUE = "default"
# How often the dispatcher looks at the outboxes when they were empty.
DISPATCH_INTERVAL = 0.2
# How often the scheduler and a worker try Redis again while it does not answer.
REDIS_RETRY_INTERVAL = 1.0


@contextmanager
def redis_for(settings: Settings) -> Iterator[Settings]:
    """Settings with a Redis URL: REDIS_URL, else an embedded Valkey in the data folder.

    The embedded server's URL is left in the data folder so that workers and the
    scheduler started without REDIS_URL find it.
    """
    if settings.redis_url:
        yield settings
        return
    folder = settings.data_dir / "valkey"
    server = EmbeddedValkey(folder)
    server.start()
    settings.embedded_url_file.write_text(server.url)
    print(f"Embedded Valkey at {server.url}, data folder {folder}", flush=True)
    try:
        yield replace(settings, redis_url=server.url)
    finally:
        settings.embedded_url_file.unlink(missing_ok=True)
        server.stop()


@contextmanager
def running_redis(settings: Settings) -> Iterator[Settings]:
    """For one-off commands: the configured or running server, else a fresh embedded one."""
    if settings.redis_url or settings.embedded_url_file.is_file():
        yield replace(settings, redis_url=settings.existing_redis_url())
        return
    with redis_for(settings) as ready:
        yield ready


async def _serve(settings: Settings, stop: asyncio.Event) -> None:
    # Imported here: workers and the scheduler, started often (and by every test that
    # runs jobs), do not load the web app, its templates and its PDF writer.
    from broker.web.app import create_app

    runner = web.AppRunner(create_app(settings), access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, reuse_address=True,
                           reuse_port=True)
        try:
            await site.start()
        except OSError as exc:
            raise Unavailable(f"cannot listen on {settings.host}:{settings.port}: "
                              f"{exc.strerror}") from None
        print(f"ILL broker listening on http://{settings.host}:{settings.port}/", flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def serve(settings: Settings, processes: int = 1) -> None:
    """The web process; with ``processes`` above one, that many share the port (the
    kernel spreads connections over them), one per core being the usual choice."""
    load(settings.consortium_path)  # a bad file is reported before anything starts
    with redis_for(settings) as ready:
        env = _child_env(ready)

        async def main() -> None:
            stop = asyncio.Event()
            _stop_on_signals(stop)
            siblings = [await _child("serve", env, "--host", ready.host, "--port",
                                     str(ready.port)) for _ in range(processes - 1)]
            try:
                await _serve(ready, stop)
            finally:
                await _stop_children(siblings)

        run_loop(main())


async def _harvest(settings: Settings, codes: Sequence[str]) -> list[HarvestReport]:
    consortium = load(settings.consortium_path)
    unknown = [c for c in codes if c not in consortium.libraries]
    if unknown:
        raise NotFound(f"no member library {', '.join(unknown)} in {settings.consortium_path}")
    assert settings.redis_url is not None
    client = connect(settings.redis_url)
    harvester = Harvester(client, Keys(settings.namespace))
    reports = []
    try:
        for code in codes or list(consortium.libraries):
            with tqdm(desc=f"harvest {code}", unit=" rec", leave=False,
                      disable=not sys.stderr.isatty()) as bar:
                report = await harvester.harvest(consortium.libraries[code], bar.update)
            print(report.summary(), flush=True)
            reports.append(report)
    finally:
        await client.aclose()
    return reports


@asynccontextmanager
async def _accounts(settings: Settings) -> AsyncIterator[Accounts]:
    assert settings.redis_url is not None
    client = connect(settings.redis_url)
    keys = Keys(settings.namespace)
    try:
        yield Accounts(AccountStore(client, keys), RequestStore(client, keys), client, keys,
                       load(settings.consortium_path), settings.base_url)
    finally:
        await client.aclose()


def add_account(settings: Settings, role: Role, library: str | None, email: str,
                given_name: str, surname: str, password: str) -> None:
    async def add() -> None:
        async with _accounts(ready) as accounts:
            await accounts.add_staff(email, given_name, surname, role, library, password)

    with running_redis(settings) as ready:
        asyncio.run(add())


async def _seed(settings: Settings) -> None:
    async with _accounts(settings) as accounts:
        logins = await seed(accounts)
    print("Demo logins (e-mail / password):", flush=True)
    for login in logins:
        where = f" at {login.library}" if login.library else ""
        note = f"  ({login.note})" if login.note else ""
        print(f"  {login.role.value}{where}: {login.email} / {login.password}{note}",
              flush=True)


def harvest(settings: Settings, codes: Sequence[str]) -> bool:
    """Harvest the named libraries (all when none); False if any harvest failed."""
    with running_redis(settings) as ready:
        reports = asyncio.run(_harvest(ready, codes))
    return not any(r.failed for r in reports)


def _queue(settings: Settings, connection: SyncRedis) -> Queue:
    return Queue(Keys(settings.namespace).queue(QUEUE), connection=connection)


class _BurstWorker(SimpleWorker):
    """A worker that empties the queue and stops. It takes no commands over pub/sub
    (stop a job, shut down), so it does not wait a second at the end for that listener
    thread to notice it should stop."""

    def subscribe(self) -> None:
        pass

    def unsubscribe(self) -> None:
        pass


def worker(settings: Settings, burst: bool = False) -> None:
    """An rq worker that runs the jobs itself (rq's SimpleWorker), not each in a child
    forked for it: the fork took longer than most jobs (bench/load.py: two forking
    workers finished a job every ~80 ms, each job 13-35 ms). A job that crashes the
    process is taken on as one whose worker was killed. rq waits for Redis while it
    waits for jobs, but quits when Redis
    goes away while a job runs (it cannot follow the job); the worker then starts
    again once Redis answers. The job it was following is picked up as rq's abandoned
    jobs are (retried), and its request by the sweeper (``resume_stalled``)."""
    connection = SyncRedis.from_url(settings.existing_redis_url())
    queue = _queue(settings, connection)
    kind = _BurstWorker if burst else SimpleWorker
    while True:
        try:
            kind([queue], connection=connection).work(burst=burst, with_scheduler=False)
            return
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("Redis went away under the worker (%s); starting again", exc)
            time.sleep(REDIS_RETRY_INTERVAL)


def scheduler(settings: Settings) -> None:
    """rq's scheduler for timed jobs (deadlines) plus the outbox dispatcher."""
    connection = SyncRedis.from_url(settings.existing_redis_url())
    queue = _queue(settings, connection)
    rq_scheduler = RQScheduler([queue], connection=connection)
    dispatcher = Dispatcher(connection, Keys(settings.namespace), queue)
    recovered = dispatcher.recover()
    if recovered:
        log.info("put %d unfinished outbox claims back", recovered)
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    lost_redis = False
    while not stopping:
        try:
            if lost_redis:
                # A claim this process held when the connection broke goes back into
                # the outbox; a claim of another scheduler that goes back is enqueued
                # again under its job id, which rq runs once.
                dispatcher.recover()
                lost_redis = False
                log.info("Redis answers again")
            # Several schedulers may run; only the one holding rq's lock moves timed jobs.
            if rq_scheduler.acquire_locks():
                rq_scheduler.enqueue_scheduled_jobs()
            dispatcher.periodic(time.time())
            busy = dispatcher.dispatch_once()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            # Redis restarting (or loading its append-only file): wait for it, as rq's
            # workers do, instead of stopping with a traceback.
            if not lost_redis:
                log.warning("Redis does not answer (%s); trying again every %g s", exc,
                            REDIS_RETRY_INTERVAL)
            lost_redis = True
            time.sleep(REDIS_RETRY_INTERVAL)
            continue
        if not busy:
            time.sleep(DISPATCH_INTERVAL)
    with suppress(RedisConnectionError, RedisTimeoutError):
        rq_scheduler.release_locks()


def _child_env(settings: Settings) -> dict[str, str]:
    assert settings.redis_url is not None
    return dict(os.environ, REDIS_URL=settings.redis_url,
                ILLBROKER_CONSORTIUM=str(settings.consortium_path),
                ILLBROKER_DATA=str(settings.data_dir), ILLBROKER_NAMESPACE=settings.namespace)


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a long-lived process's event loop on uvloop, which spends about a fifth less
    on each socket round trip than asyncio's own loop; the web process makes several
    to Redis for every request it answers."""
    uvloop.run(main)


async def _child(role: str, env: dict[str, str], *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(sys.executable, "-m", "broker.cli", role,
                                                *args, env=env)


async def _stop_children(children: list[asyncio.subprocess.Process]) -> None:
    for child in children:
        if child.returncode is None:
            with suppress(ProcessLookupError):
                child.terminate()
    for child in children:
        try:
            await asyncio.wait_for(child.wait(), 10)
        except TimeoutError:
            with suppress(ProcessLookupError):
                child.kill()
            await child.wait()


def demo(settings: Settings) -> None:
    """Everything on one machine: embedded Valkey, web, a worker and the scheduler."""
    load(settings.consortium_path)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"Data folder: {settings.data_dir}", flush=True)
    with redis_for(replace(settings, redis_url=None, show_outbox=True)) as ready:
        env = _child_env(ready)

        async def main() -> None:
            stop = asyncio.Event()
            _stop_on_signals(stop)
            await _harvest(ready, ())
            await _seed(ready)
            children = [await _child("worker", env), await _child("scheduler", env)]
            watchers = [asyncio.create_task(c.wait()) for c in children]
            web_task = asyncio.create_task(_serve(ready, stop))
            try:
                done, _ = await asyncio.wait([web_task, *watchers],
                                             return_when=asyncio.FIRST_COMPLETED)
                if web_task in done:
                    web_task.result()
                else:
                    print("A demo process stopped; stopping the demo.", file=sys.stderr)
                    stop.set()
                    await web_task
            finally:
                stop.set()
                await _stop_children(children)
                print("Demo stopped.", flush=True)

        run_loop(main())
