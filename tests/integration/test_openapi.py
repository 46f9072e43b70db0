"""schemas/openapi.yaml is a valid OpenAPI document and describes every API route."""

from __future__ import annotations

from pathlib import Path

import yaml
from aiohttp import web
from openapi_spec_validator import validate

from broker.settings import Settings
from broker.web.app import create_app
from broker.web.docs import OPENAPI

from builders import write_consortium

METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def test_the_document_is_valid_openapi() -> None:
    validate(yaml.safe_load(OPENAPI.read_text(encoding="utf-8")))


def test_every_api_route_is_described_and_every_description_is_a_route(
        tmp_path: Path) -> None:
    app = create_app(Settings(consortium_path=write_consortium(tmp_path), data_dir=tmp_path,
                              redis_url="redis://127.0.0.1:1"))
    routes = {(route.method, route.resource.canonical)
              for route in app.router.routes()
              if isinstance(route.resource, web.AbstractResource)
              and route.method in METHODS and route.resource.canonical.startswith(
                  ("/api", "/healthz", "/metrics", "/iso18626"))}
    spec = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    described = {(method.upper(), path) for path, item in spec["paths"].items()
                 for method in item if method.upper() in METHODS}
    assert routes == described
