"""The broker as deployed, under a realistic mix of calls, and nothing lost: throughput,
p50 and p99 per kind of call and the errors, each rate against aiohttp hello-world
requests per second measured in the same run; afterwards every request the client was
told about is checked in Redis.

The broker runs as in production: ``illbroker serve --processes N``, ``--workers`` rq
workers and the scheduler (outbox dispatcher and timers), on an embedded Valkey (or
REDIS_URL). The consortium: home library H with ``--patrons`` patrons, logged in; four
lenders with an inbox, L1 and L2 in H's region (free), L3 and L4 abroad, each holding
three titles of four; a staff member of each lender logged in.

The mix (``--mix``, weights): patrons poll one of their requests (GET
/api/requests/{id}), search the union index (GET /api/search, by ISBN or two title
words), submit a request (POST /api/requests with an Idempotency-Key; some are sent
twice at once, a double click, and some again after the answer, a retry: each must
give the one request); lenders' staff answer an order waiting in their inbox (will
supply, then shipped; or unfilled, and the rota moves on), reading the inbox (GET
/api/inbox?state=sent, its own kind) when they know of nothing waiting.

First the mix's saturation rate: a closed loop at --concurrency for
--saturation-seconds, counted until the workers have also done what those calls asked
(the web answers faster than the workers forward, and the broker is saturated when
either is). Then the mix open-loop at --share of it (Poisson arrivals, so a slow
broker shows as latency, not as less load) for --seconds. Latency counts from an
arrival's due time. Then the workers drain (at most --drain seconds) and each request
in Redis is checked: every acknowledged one there once, none the client was not told
about (but those in flight at the cut-off, listed), each in a legal state with a
gap-free event stream that the state machine could have written. Exits 1 if anything
was lost, duplicated or unsound.

    python bench/load.py [--seconds 300] [--saturation-seconds 15] [--share 0.5]
        [--mix poll=40,search=30,submit=15,answer=15] [--workers 2] [--processes N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

PROJECT = Path(__file__).resolve().parents[1]
# The project before tests/: tests/connectors must not shadow the connectors package.
sys.path[:0] = [str(PROJECT)]
from harness import (  # noqa: E402
    WORDS,
    Member,
    consortium,
    hello_load,
    isbn,
    load,
    log_in,
    parser,
    pct,
    run_on_redis,
    seed_patrons,
    servers,
)

NAMESPACE = "benchload"
TITLES = 4000
# Where each patron's titles start in the shuffled list: far apart, and prime.
PATRON_STRIDE = 7919
LENDERS = {"L1": "R1", "L2": "R1", "L3": "R2", "L4": "R2"}
STAFF_PASSWORD = "bench-staff-2026-load"
KINDS = ("poll", "search", "submit", "answer", "inbox")
# Refusals the broker owes a caller in a mix like this one (counted apart, not errors):
# an answer to an order that moved on meanwhile, a title some patron asked already.
EXPECTED = {"submit": {"duplicate-request", "too-many-open-requests"},
            "answer": {"illegal-transition", "version-conflict", "forbidden"}}
TIMEOUT = aiohttp.ClientTimeout(total=30)
# A lender's staff read their inbox again at most this often.
INBOX_INTERVAL = 1.0
# Submissions that failed on the line are sent again (same key) this many times.
RESENDS = 2


@dataclass
class Tally:
    """What the calls of one kind got."""

    latencies: list[float] = field(default_factory=list)  # seconds, of the answered ones
    refused: Counter[str] = field(default_factory=Counter)  # expected refusals by type
    errors: Counter[str] = field(default_factory=Counter)  # by status and type, or exception


@dataclass
class Submission:
    key: str
    patron: int
    title: int
    ids: set[str] = field(default_factory=set)  # every id the broker answered with
    answered: bool = False  # a 201 or 200 came back
    refused: bool = False


@dataclass
class Lender:
    code: str
    cookie: str
    # (request id, answer) the staff know of, the longest waiting first.
    work: deque[tuple[str, str]] = field(default_factory=deque)
    seen: set[str] = field(default_factory=set)
    reading: bool = False
    read_at: float = 0.0


def problem_type(body: Any) -> str:
    kind = body.get("type", "") if isinstance(body, dict) else ""
    return str(kind).rsplit("/", 1)[-1] or "?"


class Mix:
    """The client side of the mix: the patrons', the lenders' staff's and the
    submissions' state, and what each call got (in ``tallies``, swapped per phase)."""

    def __init__(self, args: argparse.Namespace, base: str, cookies: list[str],
                 lenders: list[Lender]) -> None:
        self.args = args
        self.base = base
        self.cookies = cookies
        self.lenders = lenders
        self.weights = args.mix
        self.random = random.Random(8)
        self.order = list(range(TITLES))
        self.random.shuffle(self.order)
        self.asked: Counter[int] = Counter()  # requests submitted per patron
        self.submissions: list[Submission] = []
        self.acknowledged: list[tuple[str, int]] = []  # (request id, patron) to poll
        self.tallies: dict[str, Tally] = {k: Tally() for k in KINDS}
        self.events: Counter[str] = Counter()  # what else happened, for the report
        self.next_lender = 0

    def kind(self) -> str:
        return self.random.choices(list(self.weights), list(self.weights.values()))[0]

    async def call(self, session: aiohttp.ClientSession, due: float) -> bool:
        """One call of a kind drawn by the weights; ``due`` is when it should have
        started (latency counts from there). False for an error."""
        kind = self.kind()
        if kind == "answer":
            return await self.answer(session, due)
        if kind == "poll" and self.acknowledged:
            return await self.poll(session, due)
        if kind == "submit" or kind == "poll":  # nothing to poll yet: ask for something
            return await self.submit(session, due)
        return await self.search(session, due)

    def record(self, kind: str, due: float, status: int, body: Any) -> bool:
        tally = self.tallies[kind]
        if 200 <= status < 300:
            tally.latencies.append(time.perf_counter() - due)
            return True
        cause = problem_type(body)
        if cause in EXPECTED.get(kind, ()):
            tally.refused[cause] += 1
            return True
        tally.errors[f"{status} {cause}"] += 1
        return False

    def failed(self, kind: str, exc: BaseException) -> bool:
        self.tallies[kind].errors[type(exc).__name__] += 1
        return False

    async def fetch(self, session: aiohttp.ClientSession, method: str, path: str,
                    cookie: str, **kwargs: Any) -> tuple[int, Any]:
        async with session.request(method, self.base + path, headers={
                "Cookie": cookie, **kwargs.pop("headers", {})}, **kwargs) as response:
            raw = await response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:  # not JSON: its status says what it was
            return response.status, None

    async def poll(self, session: aiohttp.ClientSession, due: float) -> bool:
        request_id, patron = self.random.choice(self.acknowledged)
        try:
            status, body = await self.fetch(session, "GET", f"/api/requests/{request_id}",
                                            self.cookies[patron])
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self.failed("poll", exc)
        return self.record("poll", due, status, body)

    async def search(self, session: aiohttp.ClientSession, due: float) -> bool:
        n = self.random.randrange(TITLES)
        query = {"isbn": isbn(n)} if self.random.random() < 0.5 else {
            "q": f"{WORDS[n % len(WORDS)]} {WORDS[n // len(WORDS) % len(WORDS)]}"}
        try:
            status, body = await self.fetch(session, "GET", "/api/search",
                                            self.cookies[n % len(self.cookies)],
                                            params={**query, "limit": "10"})
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self.failed("search", exc)
        return self.record("search", due, status, body)

    async def submit(self, session: aiohttp.ClientSession, due: float) -> bool:
        patron = len(self.submissions) % len(self.cookies)
        # A patron's titles start at a place of their own and never come round again
        # (within TITLES requests): the duplicate check refuses none of them.
        title = self.order[(patron * PATRON_STRIDE + self.asked[patron]) % TITLES]
        self.asked[patron] += 1
        sub = Submission(uuid.uuid4().hex, patron, title)
        self.submissions.append(sub)
        draw = self.random.random()
        if draw < self.args.double_clicks:
            self.events["double clicks"] += 1
            first, second = await asyncio.gather(self.send(session, sub),
                                                 self.send(session, sub))
            outcome = first if first[0] else second
        else:
            outcome = await self.send(session, sub)
        status, body = outcome
        ok = self.record("submit", due, status, body) if status else self.failed(
            "submit", body)
        if status in (200, 201) and draw > 1 - self.args.retries:
            # The answer "got lost": the client sends the same submission again.
            self.events["retries after an answer"] += 1
            again, _ = await self.send(session, sub)
            self.events[f"retry answered {again}"] += 1
        return ok

    async def send(self, session: aiohttp.ClientSession, sub: Submission
                   ) -> tuple[int, Any]:
        """POST the submission (again on a broken line, with the same key); the status
        and body, or 0 and the last exception."""
        for attempt in range(RESENDS + 1):
            try:
                status, body = await self.fetch(
                    session, "POST", "/api/requests", self.cookies[sub.patron],
                    json={"service": "loan", "item": {"isbn": isbn(sub.title)}},
                    headers={"Idempotency-Key": sub.key})
            except (aiohttp.ClientError, TimeoutError) as exc:
                if attempt == RESENDS:
                    return 0, exc
                self.events["submissions sent again after a broken line"] += 1
                continue
            if status in (200, 201):
                sub.answered = True
                if body["id"] not in sub.ids:
                    sub.ids.add(body["id"])
                    self.acknowledged.append((body["id"], sub.patron))
                self.events[f"submit answered {status}"] += 1
            elif 400 <= status < 500:
                sub.refused = True
            return status, body
        raise AssertionError("unreachable")

    async def answer(self, session: aiohttp.ClientSession, due: float) -> bool:
        """A lender's staff answer the order they know of that waits longest; when
        none knows of any, one whose inbox was not just read reads it."""
        count = len(self.lenders)
        for step in range(count):
            lender = self.lenders[(self.next_lender + step) % count]
            if lender.work:
                self.next_lender = (self.next_lender + step + 1) % count
                return await self.answer_one(session, due, lender)
        now = time.perf_counter()
        for step in range(count):
            lender = self.lenders[(self.next_lender + step) % count]
            if not lender.reading and now - lender.read_at >= INBOX_INTERVAL:
                self.next_lender = (self.next_lender + step + 1) % count
                return await self.read_inbox(session, due, lender)
        # Nothing waits that a lender knows of: this arrival is a patron's instead.
        self.events["answers with nothing waiting (a poll instead)"] += 1
        if self.acknowledged:
            return await self.poll(session, due)
        return await self.search(session, due)

    async def read_inbox(self, session: aiohttp.ClientSession, due: float,
                         lender: Lender) -> bool:
        lender.reading = True
        try:
            status, body = await self.fetch(session, "GET", "/api/inbox", lender.cookie,
                                            params={"state": "sent"})
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self.failed("inbox", exc)
        finally:
            lender.reading = False
            lender.read_at = time.perf_counter()
        if status == 200:
            for order in body["orders"]:
                if order["id"] not in lender.seen:
                    lender.seen.add(order["id"])
                    unfilled = self.random.random() < self.args.unfilled
                    lender.work.append((order["id"], "unfilled" if unfilled else "will_supply"))
        return self.record("inbox", due, status, body)

    async def answer_one(self, session: aiohttp.ClientSession, due: float,
                         lender: Lender) -> bool:
        request_id, answer = lender.work.popleft()
        payload: dict[str, str] = {"answer": answer}
        if answer == "shipped":
            payload["due_date"] = "2027-03-01"
        elif answer == "unfilled":
            payload["reason"] = "not on the shelf"
        try:
            status, body = await self.fetch(session, "POST",
                                            f"/api/inbox/{request_id}/answer", lender.cookie,
                                            json=payload)
        except (aiohttp.ClientError, TimeoutError) as exc:
            return self.failed("answer", exc)
        if status == 200:
            self.events[f"answered {answer}"] += 1
            if answer == "will_supply":
                lender.work.append((request_id, "shipped"))
        return self.record("answer", due, status, body)


@dataclass(frozen=True, slots=True)
class OpenLoop:
    offered: int  # arrivals
    answered: int  # calls finished within the run and the grace period
    seconds: float
    cut_off: int  # calls still running at the end of the grace period (cancelled)


async def open_loop(mix: Mix, rate: float, seconds: float, grace: float) -> OpenLoop:
    """Arrivals at ``rate`` a second (Poisson) for ``seconds``, each a call of the mix
    started at its due time whatever the calls before it are doing; then at most
    ``grace`` seconds for those still running."""
    arrivals = random.Random(18626)
    connector = aiohttp.TCPConnector(limit=mix.args.connections)
    running: set[asyncio.Task[bool]] = set()
    offered = answered = 0

    def done(task: asyncio.Task[bool]) -> None:
        nonlocal answered
        running.discard(task)
        if task.cancelled():
            return
        answered += 1
        if exc := task.exception():  # a fault of the bench itself: shown, not hidden
            mix.events[f"bench faults {type(exc).__name__}: {exc}"] += 1

    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        start = time.perf_counter()
        due = start
        while True:
            due += arrivals.expovariate(rate)
            if due >= start + seconds:
                break
            # Behind time (a busy client), it still lets the calls run in between.
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(mix.call(session, due))
            running.add(task)
            task.add_done_callback(done)
            offered += 1
        elapsed = time.perf_counter() - start
        if running:
            await asyncio.wait(set(running), timeout=grace)
        cut_off = len(running)
        for task in list(running):
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    return OpenLoop(offered, answered, elapsed, cut_off)


@asynccontextmanager
async def background(env: Mapping[str, str], workers: int, folder: Path
                     ) -> AsyncIterator[dict[str, subprocess.Popen[bytes]]]:
    """``workers`` rq workers and the scheduler, their output in ``folder``/logs."""
    logs = folder / "logs"
    logs.mkdir()
    started = {}
    for n, role in enumerate(["scheduler"] + ["worker"] * workers):
        with (logs / f"{role}{n}.log").open("wb") as out:
            started[f"{role}{n}"] = subprocess.Popen(
                [sys.executable, "-m", "broker.cli", role], env=env, stdout=out, stderr=out)
    try:
        yield started
    finally:
        for process in started.values():
            process.terminate()
        for process in started.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def staff_cookies(env: Mapping[str, str], base: str) -> list[Lender]:
    """A staff member of each lender (``illbroker add-account``), logged in."""
    lenders = []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        for code in LENDERS:
            email = f"staff-{code.lower()}@bench.example.org"
            subprocess.run([sys.executable, "-m", "broker.cli", "add-account", "--role", "staff",
                            "--library", code, "--email", email, "--name", f"Staff {code}"],
                           input=STAFF_PASSWORD + "\n", text=True, env=env, check=True,
                           stdout=subprocess.DEVNULL)
            async with session.post(f"{base}/api/session", json={
                    "email": email, "password": STAFF_PASSWORD}) as response:
                if response.status != 200:
                    raise SystemExit(f"staff of {code} cannot log in: {response.status}")
                lenders.append(Lender(code, "ill_session=" + response.cookies["ill_session"].value))
    return lenders


async def backlog(redis_url: str) -> dict[str, int]:
    """Work not done yet: outbox entries, rq jobs queued or running, and requests in a
    state that a job moves on (new, validating, routing); and the jobs done so far."""
    from redis import Redis
    from rq import Queue, Worker
    from rq.registry import StartedJobRegistry

    from broker.domain.states import State
    from broker.store.keys import SHARDS, Keys

    keys = Keys(NAMESPACE)
    moving = (State.NEW, State.VALIDATING, State.ROUTING)

    def read() -> dict[str, int]:
        connection = Redis.from_url(redis_url)
        try:
            pipe = connection.pipeline(transaction=False)
            for shard in range(SHARDS):
                pipe.llen(keys.outbox(shard))
                pipe.llen(keys.outbox_claimed(shard))
                for state in moving:
                    pipe.zcard(keys.by_state(shard, state))
            counts = pipe.execute()
            queue = Queue(keys.queue("default"), connection=connection)
            left = {"outbox": sum(c for n, c in enumerate(counts) if n % 5 < 2),
                    "queued": queue.count, "running": StartedJobRegistry(queue=queue).count}
            left |= {state.value: sum(counts[2 + i::5]) for i, state in enumerate(moving)}
            left["jobs done"] = sum(w.successful_job_count + w.failed_job_count
                                    for w in Worker.all(queue=queue))
            return left
        finally:
            connection.close()

    return await asyncio.to_thread(read)


async def drain(redis_url: str, seconds: float) -> tuple[float, dict[str, int]]:
    """Wait (at most ``seconds``) until no work is left; how long it took and what is
    left."""
    start = time.perf_counter()
    while True:
        left = await backlog(redis_url)
        if not any(n for k, n in left.items() if k != "jobs done") \
                or time.perf_counter() - start >= seconds:
            return time.perf_counter() - start, left
        await asyncio.sleep(0.5)


def shown(left: Mapping[str, int]) -> str:
    """What work is left, the counts above zero."""
    waiting = ", ".join(f"{k} {n}" for k, n in left.items() if n and k != "jobs done")
    return f"; left: {waiting}" if waiting else ""


async def sample(redis_url: str, every: float) -> None:
    """The work waiting for the workers, every ``every`` seconds."""
    start = last = time.perf_counter()
    done = (await backlog(redis_url))["jobs done"]
    while True:
        await asyncio.sleep(every)
        left = await backlog(redis_url)
        now = time.perf_counter()
        print(f"  {now - start:5.0f} s: jobs done {(left['jobs done'] - done) / (now - last):.1f}"
              f"/s{shown(left)}", flush=True)
        done, last = left["jobs done"], now


@dataclass
class Check:
    stored: int = 0
    states: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unsound: list[str] = field(default_factory=list)  # illegal state or history, gaps
    unknown: list[str] = field(default_factory=list)  # stored, never told the client
    in_flight: list[str] = field(default_factory=list)  # stored, answer not back at cut-off
    stuck: list[str] = field(default_factory=list)  # still new/validating/routing

    @property
    def failed(self) -> bool:
        return bool(self.lost or self.duplicated or self.unsound or self.unknown)


def unsound(request: Any, history: list[tuple[str, Any]]) -> str | None:
    """Why the request's event stream is not one the state machine wrote, or None:
    entries 0-1..0-version numbered 1..version, CREATED first, each a row of the
    table starting where the one before left the request, ending in its state."""
    from broker.domain.errors import IllegalTransition
    from broker.domain.states import Event, State, transition

    seqs = [event.seq for _, event in history]
    if seqs != list(range(1, request.version + 1)):
        return f"events {seqs} at version {request.version}"
    if [entry for entry, _ in history] != [f"0-{n}" for n in seqs]:
        return f"stream ids {[entry for entry, _ in history]}"
    if history[0][1].event is not Event.CREATED:
        return f"opens with {history[0][1].event}"
    state = State.NEW
    for _, event in history[1:]:
        if event.source is not state:
            return f"{event.event} from {event.source}, but it was {state}"
        try:
            if transition(event.source, event.event, request.service) is not event.target:
                return f"{event.event} from {event.source} to {event.target}"
        except IllegalTransition:
            return f"{event.event} from {event.source} is not in the table"
        state = event.target
    return None if state is request.state else f"history ends {state}, hash says {request.state}"


async def check(redis_url: str, mix: Mix, patron_ids: list[str]) -> Check:
    """Every request in Redis against what the client was told."""
    from broker.domain.states import State
    from broker.store.client import connect
    from broker.store.codec import event_from_fields, request_from_fields, text, texts
    from broker.store.keys import Keys

    keys = Keys(NAMESPACE)
    result = Check()
    client = connect(redis_url)
    stored: dict[str, Any] = {}
    try:
        names = [text(k) async for k in client.scan_iter(
            match=f"{{{NAMESPACE}:s*}}:request:*", count=1000)]
        for start in range(0, len(names), 500):
            ids = [name.rsplit(":", 1)[1] for name in names[start:start + 500]]
            pipe = client.pipeline(transaction=False)
            for request_id in ids:
                pipe.hgetall(keys.request(request_id))
                pipe.xrange(keys.events(request_id))
            answers = await pipe.execute()
            for request_id, fields, entries in zip(ids, answers[::2], answers[1::2],
                                                   strict=True):
                try:
                    request = request_from_fields(texts(fields))
                    history = [(text(entry), event_from_fields(texts(values)))
                               for entry, values in entries]
                except (KeyError, ValueError) as exc:  # a state or event not in the table
                    result.unsound.append(f"{request_id}: {exc!r}")
                    continue
                if why := unsound(request, history):
                    result.unsound.append(f"{request_id}: {why}")
                stored[request_id] = request
                result.states[request.state.value] += 1
                if request.state in (State.NEW, State.VALIDATING, State.ROUTING):
                    result.stuck.append(request_id)
    finally:
        await client.aclose()
    result.stored = len(stored)
    patron_of = {account: n for n, account in enumerate(patron_ids)}
    by_item: dict[tuple[int, str], list[str]] = {}
    for request in stored.values():
        by_item.setdefault((patron_of.get(request.patron_id, -1), request.item.isbn or ""),
                           []).append(request.id)
    told = set()
    for sub in mix.submissions:
        told |= sub.ids
        result.lost += [i for i in sub.ids if i not in stored]
        if len(sub.ids) > 1:
            result.duplicated.append(f"key {sub.key}: {sorted(sub.ids)}")
        same = by_item.pop((sub.patron, isbn(sub.title)), [])
        if len(same) > 1:
            result.duplicated.append(f"patron {sub.patron}, title {sub.title}: {sorted(same)}")
        elif same and not sub.ids:
            (result.in_flight if not sub.answered and not sub.refused
             else result.unknown).append(same[0])
    result.unknown += [i for ids in by_item.values() for i in ids if i not in told]
    return result


def parse_mix(text: str) -> dict[str, float]:
    weights = {}
    for item in text.split(","):
        name, _, value = item.partition("=")
        if name.strip() not in KINDS[:4]:
            raise argparse.ArgumentTypeError(f"{name!r}: one of {', '.join(KINDS[:4])}")
        try:
            weights[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: KIND=WEIGHT") from None
    if sum(weights.values()) <= 0 or min(weights.values()) < 0:
        raise argparse.ArgumentTypeError("weights are at least 0, and not all 0")
    return weights


def table(tallies: Mapping[str, Tally], seconds: float, hello: float) -> None:
    print(f"  {'kind':<8} {'calls':>7} {'calls/s':>8} {'/hello':>7} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'refused':>8} {'errors':>7}")
    for kind, tally in tallies.items():
        done = len(tally.latencies) + sum(tally.refused.values()) + sum(tally.errors.values())
        if not done:
            continue
        rate = done / seconds
        p50, p99 = ((pct(tally.latencies, 50), pct(tally.latencies, 99))
                    if len(tally.latencies) > 1 else (float("nan"), float("nan")))
        print(f"  {kind:<8} {done:>7} {rate:>8.1f} {rate / hello:>7.4f} {p50:>8.1f} "
              f"{p99:>8.1f} {sum(tally.refused.values()):>8} {sum(tally.errors.values()):>7}")
    for kind, tally in tallies.items():
        for cause, count in (tally.refused + tally.errors).most_common():
            label = "refused" if cause in tally.refused else "error"
            print(f"    {kind} {label}: {cause} x{count}")


def listed(label: str, items: Iterable[str], most: int = 10) -> None:
    items = list(items)
    print(f"{label}: {len(items)}" + (f" ({', '.join(items[:most])}"
                                        f"{', ...' if len(items) > most else ''})"
                                        if items else ""))


async def run(args: argparse.Namespace, folder: Path, redis_url: str) -> None:
    titles = {code: [n for n in range(TITLES) if n % len(LENDERS) != i]
              for i, code in enumerate(LENDERS)}
    path = consortium(folder, "Load bench", [
        Member("H", "R1"), *(Member(code, region, titles[code])
                             for code, region in LENDERS.items())], args.patrons)
    env = {**os.environ, "REDIS_URL": redis_url, "ILLBROKER_NAMESPACE": NAMESPACE,
           "ILLBROKER_CONSORTIUM": str(path), "ILLBROKER_DATA": str(folder)}
    subprocess.run([sys.executable, "-m", "broker.cli", "harvest"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    patron_ids = await seed_patrons(redis_url, NAMESPACE, args.patrons)
    async with servers(env, args.processes) as running, \
            background(env, args.workers, folder) as processes:
        lenders = await staff_cookies(env, running.broker)
        mix = Mix(args, running.broker, await log_in(running.broker, args.patrons), lenders)
        hello = await hello_load(running.hello, args.hello_seconds, args.concurrency)
        print(f"aiohttp hello world: {hello.rate:.0f} req/s  p50 {pct(hello.latencies, 50):.2f}"
              f" ms  p99 {pct(hello.latencies, 99):.2f} ms ({args.concurrency} concurrent)",
              flush=True)

        async def closed(session: aiohttp.ClientSession, n: int) -> bool:
            return await mix.call(session, time.perf_counter())

        saturation = await load(args.saturation_seconds, args.concurrency, closed)
        print(f"saturation, closed loop at {args.concurrency}: {saturation.rate:.0f} calls/s "
              f"(/hello {saturation.rate / hello.rate:.4f})  p50 "
              f"{pct(saturation.latencies, 50):.1f} ms  p99 "
              f"{pct(saturation.latencies, 99):.1f} ms  errors {saturation.errors}",
              flush=True)
        table(mix.tallies, args.saturation_seconds, hello.rate)
        settled, left = await drain(redis_url, args.drain)
        print(f"workers settled in {settled:.1f} s{shown(left)}", flush=True)
        whole = saturation.rate * args.saturation_seconds / (args.saturation_seconds + settled)
        print(f"saturation of the whole broker (calls until the workers settled): "
              f"{whole:.0f} calls/s (/hello {whole / hello.rate:.4f})", flush=True)
        mix.tallies = {k: Tally() for k in KINDS}
        rate = whole * args.share
        print(f"open loop at {args.share:.0%} of saturation: {rate:.1f} calls/s offered for "
              f"{args.seconds:g} s; work waiting for the workers:", flush=True)
        sampling = asyncio.create_task(sample(redis_url, max(5.0, args.seconds / 10)))
        try:
            ran = await open_loop(mix, rate, args.seconds, grace=TIMEOUT.total or 30)
        finally:
            sampling.cancel()
        print(f"offered {ran.offered / ran.seconds:.1f} calls/s, achieved "
              f"{ran.answered / ran.seconds:.1f} calls/s (/hello "
              f"{ran.answered / ran.seconds / hello.rate:.4f}); cut off at the end: "
              f"{ran.cut_off}")
        table(mix.tallies, ran.seconds, hello.rate)
        for name, count in sorted(mix.events.items()):
            print(f"  {name}: {count}")
        done_before = (await backlog(redis_url))["jobs done"]
        drained, left = await drain(redis_url, args.drain)
        jobs = (left["jobs done"] - done_before) / max(drained, 0.1)
        print(f"drained in {drained:.1f} s ({jobs:.1f} jobs/s){shown(left)}", flush=True)
        dead = [name for name, p in processes.items() if p.poll() is not None]
        if dead:
            print(f"stopped during the run: {dead} (logs in {folder / 'logs'})")
    result = await check(redis_url, mix, patron_ids)
    acknowledged = sum(1 for s in mix.submissions if s.ids)
    print(f"check: {len(mix.submissions)} submissions, {acknowledged} acknowledged; "
          f"{result.stored} requests stored: " +
          ", ".join(f"{s} {n}" for s, n in result.states.most_common()))
    listed("in flight at the cut-off (stored, answer not back)", result.in_flight)
    listed("stored but never told to the client", result.unknown)
    listed("unsound (state or event stream)", result.unsound)
    listed("still new, validating or routing after the drain", result.stuck)
    listed("duplicated", result.duplicated)
    print(f"lost {len(result.lost)}, duplicated {len(result.duplicated)}")
    if result.failed:
        raise SystemExit(1)


def main() -> None:
    arguments = parser(__doc__, seconds=300)
    arguments.add_argument("--saturation-seconds", type=float, default=15)
    arguments.add_argument("--hello-seconds", type=float, default=5)
    arguments.add_argument("--share", type=float, default=0.5,
                           help="open-loop rate as a share of the saturation rate (0.5)")
    arguments.add_argument("--mix", type=parse_mix,
                           default=parse_mix("poll=40,search=30,submit=15,answer=15"),
                           help="weights of poll, search, submit, answer")
    arguments.add_argument("--unfilled", type=float, default=0.2,
                           help="share of orders a lender answers unfilled (0.2)")
    arguments.add_argument("--double-clicks", type=float, default=0.02,
                           help="share of submissions sent twice at once (0.02)")
    arguments.add_argument("--retries", type=float, default=0.05,
                           help="share of submissions sent again after the answer (0.05)")
    arguments.add_argument("--patrons", type=int, default=300)
    arguments.add_argument("--workers", type=int, default=2)
    arguments.add_argument("--connections", type=int, default=256,
                           help="most connections open at once in the open loop (256)")
    arguments.add_argument("--drain", type=float, default=600,
                           help="most seconds to wait for the workers afterwards (600)")
    args = arguments.parse_args()
    if args.seconds <= 0 or args.saturation_seconds <= 0 or not 0 < args.share <= 1 \
            or args.patrons < 1 or args.workers < 1:
        arguments.error("--seconds, --saturation-seconds, --patrons and --workers above 0; "
                        "--share in (0, 1]")
    run_on_redis(run, args)


if __name__ == "__main__":
    main()
