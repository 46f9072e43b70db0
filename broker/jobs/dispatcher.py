"""Moves outbox entries into rq.

A transition writes the work it needs into its shard's outbox in the same atomic
step as the state. The dispatcher claims an entry (LMOVE to a claimed list),
enqueues it under the entry's id, and only then removes the claim; after a crash,
claims left behind go back to the outbox, so work is delayed, never lost. The rq
job id is the entry id, so an entry enqueued twice still runs as one job id.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis
from rq import Queue, Retry

from broker.jobs.registry import JOBS, PERIODIC
from broker.store.keys import SHARDS, Keys

log = logging.getLogger(__name__)

RETRY = Retry(max=5, interval=[5, 30, 120, 600, 1800])


@dataclass
class Dispatcher:
    redis: Redis
    keys: Keys
    queue: Queue

    def recover(self) -> int:
        """Put claims a dead dispatcher left behind back into the outbox."""
        moved = 0
        for shard in range(SHARDS):
            while self.redis.lmove(self.keys.outbox_claimed(shard), self.keys.outbox(shard),
                                   "RIGHT", "LEFT"):
                moved += 1
        return moved

    def dispatch_once(self) -> int:
        """Enqueue everything waiting in the outboxes now; returns how many."""
        done = 0
        for shard in range(SHARDS):
            outbox, claimed = self.keys.outbox(shard), self.keys.outbox_claimed(shard)
            while (raw := self.redis.lmove(outbox, claimed, "LEFT", "RIGHT")) is not None:
                raw = raw.decode() if isinstance(raw, bytes) else raw
                self._enqueue(raw)
                self.redis.lrem(claimed, 1, raw)
                done += 1
        return done

    def periodic(self, now: float) -> int:
        """Queue each housekeeping job once per its period, whichever scheduler is first."""
        queued = 0
        for name, every in PERIODIC.items():
            period = int(now // every)
            claim = self.keys.queue(f"periodic:{name}:{period}")
            if self.redis.set(claim, "1", nx=True, ex=every * 2):
                self.queue.enqueue(JOBS[name], name, job_id=f"{name}-{period}", retry=RETRY)
                queued += 1
        return queued

    def _enqueue(self, raw: str) -> None:
        entry = json.loads(raw)
        function = JOBS.get(entry["name"])
        if function is None:
            # Kept for a person to look at rather than dropped: the entry was accepted work.
            log.error("outbox entry %s names no job %r", entry["id"], entry["name"])
            self.redis.rpush(self.keys.queue("outbox:unknown"), raw)
            return
        # The description is what rq logs: the job's name, never its personal arguments.
        options = {"job_id": entry["id"], "retry": RETRY,
                   "description": f"{entry['name']} {entry['request_id']}"}
        if "at" in entry:
            # Timers wait in rq's scheduled registry, which survives restarts with Redis.
            self.queue.enqueue_at(datetime.fromtimestamp(entry["at"], UTC), function,
                                  entry["request_id"], **entry["args"], **options)
        else:
            self.queue.enqueue(function, entry["request_id"], **entry["args"], **options)
