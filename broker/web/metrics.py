"""Prometheus metrics for the web process, in a registry of the app's own."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("illbroker_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("illbroker_http_request_seconds", "Time to answer",
                                 ["route"], registry=registry)

    def observe(self, request: web.Request, status: int, seconds: float) -> None:
        # The route's pattern, not the path, so ids do not explode the label set.
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        self.requests.labels(request.method, route, str(status)).inc()
        self.latency.labels(route).observe(seconds)


def middleware(metrics: HttpMetrics) -> Middleware:
    @web.middleware
    async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        finally:
            metrics.observe(request, status, time.perf_counter() - started)

    return measure
