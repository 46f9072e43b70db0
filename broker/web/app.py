"""The aiohttp application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import jinja2
from aiohttp import web
from prometheus_client import CollectorRegistry

from broker.services.accounts import Accounts
from broker.services.borrower import BorrowerChecks
from broker.services.catalogs import live_catalogs
from broker.services.consortium_file import load
from broker.services.figures import Dashboard
from broker.services.history import LenderHistory
from broker.services.intake import Intake
from broker.services.lending import Lending
from broker.services.registers import registers
from broker.settings import Settings
from broker.store.accounts import AccountStore, SessionStore
from broker.store.client import connect
from broker.store.holdings import UnionIndex
from broker.store.keys import Keys
from broker.store.requests import RequestStore
from broker.web import (
    accounts,
    appkeys,
    coordinator,
    dashboard,
    docs,
    health,
    iso18626,
    languages,
    libraries,
    metrics,
    openurl,
    pages,
    problems,
    pull_slips,
    request_pages,
    requests,
    search,
)

TEMPLATES = Path(__file__).parent / "templates"
# Bodies larger than this are refused before they are read (413, problem+json).
MAX_BODY = 2 * 1024 * 1024


async def _redis(app: web.Application) -> AsyncIterator[None]:
    settings = app[appkeys.SETTINGS]
    if settings.redis_url is None:
        raise RuntimeError("create_app needs settings.redis_url; the CLI provides it")
    client = connect(settings.redis_url, socket_connect_timeout=5, health_check_interval=30)
    app[appkeys.REDIS] = client
    app[appkeys.STORE] = RequestStore(client, app[appkeys.KEYS])
    app[appkeys.INDEX] = UnionIndex(client, app[appkeys.KEYS])
    app[appkeys.SESSIONS] = SessionStore(client, app[appkeys.KEYS])
    app[appkeys.DASHBOARD] = Dashboard(client, app[appkeys.KEYS])
    app[appkeys.ACCOUNTS] = Accounts(AccountStore(client, app[appkeys.KEYS]),
                                     app[appkeys.STORE], client, app[appkeys.KEYS],
                                     app[appkeys.CONSORTIUM], settings.base_url)
    yield
    await client.aclose()


async def _peers(app: web.Application) -> AsyncIterator[None]:
    # One session (one connection pool) for every catalog and register the app asks.
    async with aiohttp.ClientSession() as session:
        consortium = app[appkeys.CONSORTIUM]
        app[appkeys.LIVE_CATALOGS] = live_catalogs(consortium, session)
        app[appkeys.BORROWERS] = BorrowerChecks(app[appkeys.REDIS], app[appkeys.KEYS],
                                                consortium, registers(consortium, session))
        history = app[appkeys.HISTORY] = LenderHistory(app[appkeys.DASHBOARD], consortium)
        app[appkeys.INTAKE] = Intake(app[appkeys.STORE], app[appkeys.INDEX],
                                     app[appkeys.BORROWERS], app[appkeys.REDIS],
                                     app[appkeys.KEYS], consortium,
                                     app[appkeys.LIVE_CATALOGS], history=history)
        app[appkeys.LENDING] = Lending(app[appkeys.STORE], app[appkeys.ACCOUNTS].store,
                                       consortium)
        stop = asyncio.Event()
        counting = asyncio.create_task(history.keep_fresh(stop))
        yield
        stop.set()
        counting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await counting


def create_app(settings: Settings) -> web.Application:
    """The broker's web app; raises ``ConsortiumInvalid`` for a bad consortium file."""
    registry = CollectorRegistry()
    http_metrics = metrics.HttpMetrics(registry)
    app = web.Application(client_max_size=MAX_BODY,
                          middlewares=[metrics.middleware(http_metrics), problems.problems])
    app[appkeys.SETTINGS] = settings
    app[appkeys.CONSORTIUM] = load(settings.consortium_path)
    app[appkeys.KEYS] = Keys(settings.namespace)
    app[appkeys.REGISTRY] = registry
    app[appkeys.HTTP_METRICS] = http_metrics
    app.cleanup_ctx.append(_redis)
    app.cleanup_ctx.append(_peers)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(TEMPLATES),
                         autoescape=jinja2.select_autoescape(["html"]))
    languages.install(aiohttp_jinja2.get_env(app))
    health.setup(app)
    libraries.setup(app)
    search.setup(app)
    accounts.setup(app)
    requests.setup(app)
    openurl.setup(app)
    coordinator.setup(app)
    dashboard.setup(app)
    pull_slips.setup(app)
    docs.setup(app)
    pages.setup(app)
    request_pages.setup(app)
    iso18626.setup(app)
    return app
