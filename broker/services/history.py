"""The lenders' history for the rota, from the coordinator's figures, kept fresh in
the background: a rota may weigh history a few minutes old, and no patron's request
waits for it to be counted."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.exceptions import RedisError

from broker.domain.consortium import Consortium
from broker.domain.figures import lender_stats, library_figures
from broker.domain.rota import LenderStats
from broker.services.figures import Dashboard

log = logging.getLogger(__name__)

# History changes by the day; counting it more often than this buys nothing.
REFRESH_SECONDS = 600.0
# After a failed count (Redis away), try again sooner.
RETRY_SECONDS = 30.0


@dataclass
class LenderHistory:
    dashboard: Dashboard
    consortium: Consortium
    every: float = REFRESH_SECONDS
    # Empty until the first count: every lender's history is then neutral.
    stats: Mapping[str, LenderStats] = field(default_factory=dict)

    def __call__(self) -> Mapping[str, LenderStats]:
        return self.stats

    async def refresh(self) -> None:
        snapshot = await self.dashboard.snapshot()
        self.stats = lender_stats(library_figures(list(self.consortium.libraries),
                                                  snapshot.requests, snapshot.debts))

    async def keep_fresh(self, stop: asyncio.Event) -> None:
        """Count now, then every ``every`` seconds, until ``stop`` is set."""
        # Not only cancelled from outside: redis-py can swallow a cancellation that
        # lands in the middle of its reply, and the count would then sleep on.
        while not stop.is_set():
            try:
                await self.refresh()
                wait = self.every
            except (RedisError, OSError) as exc:
                log.warning("lender history not counted: %s", exc)
                wait = min(self.every, RETRY_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
