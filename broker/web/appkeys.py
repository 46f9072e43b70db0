"""Everything the app keeps, as typed keys (one place to see the app's state)."""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from broker.domain.consortium import Consortium
from broker.services.accounts import Accounts
from broker.services.borrower import BorrowerChecks
from broker.services.figures import Dashboard
from broker.services.history import LenderHistory
from broker.services.intake import Intake
from broker.services.lending import Lending
from broker.services.search import LiveCatalog
from broker.settings import Settings
from broker.store.accounts import SessionStore
from broker.store.holdings import UnionIndex
from broker.store.keys import Keys
from broker.store.requests import RequestStore
from broker.web.metrics import HttpMetrics

SETTINGS = web.AppKey("settings", Settings)
CONSORTIUM = web.AppKey("consortium", Consortium)
KEYS = web.AppKey("keys", Keys)
REDIS = web.AppKey("redis", Redis)
# The requests as last read, shared by the dashboard and the lenders' history.
DASHBOARD = web.AppKey("dashboard", Dashboard)
HISTORY = web.AppKey("history", LenderHistory)
STORE = web.AppKey("store", RequestStore)
INDEX = web.AppKey("index", UnionIndex)
ACCOUNTS = web.AppKey("accounts", Accounts)
SESSIONS = web.AppKey("sessions", SessionStore)
BORROWERS = web.AppKey("borrowers", BorrowerChecks)
INTAKE = web.AppKey("intake", Intake)
LENDING = web.AppKey("lending", Lending)
LIVE_CATALOGS = web.AppKey("live_catalogs", Mapping[str, LiveCatalog])
REGISTRY = web.AppKey("registry", CollectorRegistry)
HTTP_METRICS = web.AppKey("http_metrics", HttpMetrics)
