"""The API's description, schemas/openapi.yaml, served as it is."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openapi.yaml"


def setup(app: web.Application) -> None:
    document = OPENAPI.read_bytes()

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/yaml")

    app.router.add_get("/api/openapi.yaml", openapi)
