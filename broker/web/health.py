"""/healthz for load balancers and /metrics for Prometheus."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from broker.web import appkeys

# A health check that hangs is worse than one that says no.
REDIS_TIMEOUT = 2.0


async def healthz(request: web.Request) -> web.Response:
    app = request.app
    consortium = app[appkeys.CONSORTIUM]
    try:
        redis_ok = bool(await asyncio.wait_for(app[appkeys.REDIS].ping(), REDIS_TIMEOUT))
    except (RedisError, OSError, TimeoutError):
        redis_ok = False
    body = {"status": "ok" if redis_ok else "unavailable",
            "redis": "ok" if redis_ok else "unreachable",
            "consortium": {"name": consortium.name, "libraries": len(consortium.libraries),
                           "regions": len(consortium.regions)}}
    return web.json_response(body, status=200 if redis_ok else 503)


async def metrics(request: web.Request) -> web.Response:
    payload = generate_latest(request.app[appkeys.REGISTRY])
    return web.Response(body=payload, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
