"""Errors as application/problem+json (RFC 9457), one stable ``type`` per error."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from broker.domain.errors import BrokerError, Unavailable
from broker.web.metrics import Handler

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://illbroker.example/problems/"
CONTENT_TYPE = "application/problem+json"
# Seconds a client is asked to wait when the store is away (a restart takes a few).
STORE_RETRY_AFTER = 5


def problem(status: int, problem_type: str, title: str, detail: str,
            extensions: Mapping[str, Any] | None = None) -> web.Response:
    body = {"type": problem_type if problem_type == "about:blank"
            else PROBLEM_BASE + problem_type,
            "title": title, "status": status, "detail": detail, **(extensions or {})}
    return web.Response(status=status, content_type=CONTENT_TYPE,
                        text=json.dumps(body, ensure_ascii=False, default=str))


def from_error(error: BrokerError) -> web.Response:
    return problem(error.status, error.problem_type, error.title, error.detail,
                   error.extensions)


_HTTP_TYPES = {404: "not-found", 405: "method-not-allowed", 413: "too-large",
               415: "unsupported-media-type", 401: "unauthenticated", 403: "forbidden"}


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except BrokerError as exc:
        return from_error(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return problem(exc.status, _HTTP_TYPES.get(exc.status, "http-error"), exc.reason,
                       exc.text or exc.reason)
    except (RedisConnectionError, RedisTimeoutError):
        # Redis restarting or unreachable (also still loading its append-only file):
        # nothing was acknowledged, and the same call a little later will do.
        log.warning("the store does not answer on %s %s", request.method, request.path)
        response = from_error(Unavailable("the broker's store does not answer just now; "
                                          "try again in a few seconds"))
        response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
        return response
    except Exception:
        # A bug, not bad input: log it for us, never show a traceback to the caller.
        log.exception("unhandled error on %s %s", request.method, request.path)
        return problem(500, "internal", "Internal error",
                       "the broker failed to answer; the error is logged")
