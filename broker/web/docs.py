"""The API's description, schemas/openapi.yaml: served as it is, and as a page.

The page (``/api/docs``) is the same document read by people: operations grouped by
tag (or, for an untagged one, by the first part of its path), each with its
parameters, body, responses and the roles the document names (``x-roles``); schemas
are linked by name. It is rendered on the server, so it needs no JavaScript.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from broker.web.pages import render

OPENAPI = Path(__file__).resolve().parents[2] / "schemas" / "openapi.yaml"
METHODS = ("get", "post", "put", "patch", "delete")
# Schemas nest; past this depth the page names the type and stops.
MAX_DEPTH = 6


def anchor(*parts: str) -> str:
    """An id for the page made of ``parts`` (letters, digits and dashes only)."""
    return re.sub(r"[^A-Za-z0-9]+", "-", "-".join(parts)).strip("-").lower()


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type_text(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type", "object" if "properties" in schema else "any")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    if "format" in schema:
        text += f" ({schema['format']})"
    return text


def schema_view(schema: Mapping[str, Any] | None, depth: int = 0) -> dict[str, Any]:
    """A schema in the shape the page's ``schema`` macro shows: a link to a named
    schema, or its type with enum, limits, properties, items and alternatives."""
    if not schema:
        return {"type": "any"}
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return {"ref": name, "anchor": anchor("schema", name)}
    limits = [f"{key} {schema[key]}" for key in
              ("minLength", "maxLength", "minimum", "maximum", "default", "const")
              if key in schema]
    view: dict[str, Any] = {"type": _type_text(schema), "description": schema.get("description"),
                            "enum": schema.get("enum"), "limits": limits}
    if depth >= MAX_DEPTH:
        return view
    required = set(schema.get("required", ()))
    view["properties"] = [
        {"name": name, "required": name in required, "schema": schema_view(sub, depth + 1)}
        for name, sub in schema.get("properties", {}).items()]
    if "items" in schema:
        view["item_schema"] = schema_view(schema["items"], depth + 1)
    if isinstance(schema.get("additionalProperties"), dict):
        view["value_schema"] = schema_view(schema["additionalProperties"], depth + 1)
    view["one_of"] = [schema_view(s, depth + 1) for s in schema.get("oneOf", ())]
    return view


def _content(content: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [{"media": media, "schema": schema_view(body.get("schema"))}
            for media, body in (content or {}).items()]


def _group(path: str, operation: Mapping[str, Any]) -> str:
    tags = operation.get("tags")
    if tags:
        return str(tags[0])
    parts = [p for p in path.split("/") if p and p != "api"]
    return parts[0].split(".")[0] if parts else "api"


def docs_view(spec: Mapping[str, Any]) -> dict[str, Any]:
    """What the page shows of the OpenAPI document ``spec``."""
    responses = spec.get("components", {}).get("responses", {})
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            answers = []
            for status, answer in operation.get("responses", {}).items():
                ref = _ref_name(answer["$ref"]) if "$ref" in answer else None
                answer = responses.get(ref, {}) if ref else answer
                answers.append({"status": str(status), "description": answer.get("description"),
                                "content": _content(answer.get("content"))})
            body = operation.get("requestBody")
            groups.setdefault(_group(path, operation), []).append({
                "method": method.upper(), "path": path,
                "anchor": anchor(method, path),
                "summary": operation.get("summary"),
                "description": operation.get("description"),
                "roles": operation.get("x-roles"),
                "security": [name for entry in operation.get("security", []) for name in entry],
                "parameters": [{"name": p["name"], "in": p["in"],
                                "required": p.get("required", False),
                                "description": p.get("description"),
                                "schema": schema_view(p.get("schema"))}
                               for p in [*shared, *operation.get("parameters", [])]],
                "body": {"required": body.get("required", False),
                         "content": _content(body.get("content"))} if body else None,
                "responses": answers,
            })
    schemas = spec.get("components", {}).get("schemas", {})
    # The document's tags in its order, with their descriptions; then any others.
    described = {t["name"]: t.get("description") for t in spec.get("tags", [])}
    names = [n for n in described if n in groups] + sorted(set(groups) - set(described))
    return {
        "info": spec.get("info", {}),
        "groups": [{"name": name, "anchor": anchor("group", name), "operations": groups[name],
                    "description": described.get(name)} for name in names],
        "schemas": [{"name": name, "anchor": anchor("schema", name),
                     "schema": schema_view(schema)} for name, schema in schemas.items()],
    }


def setup(app: web.Application) -> None:
    document = OPENAPI.read_bytes()
    view = docs_view(yaml.safe_load(document))

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=document, content_type="application/yaml")

    async def api_docs(request: web.Request) -> web.Response:
        return render(request, "api_docs.html", view)

    app.router.add_get("/api/openapi.yaml", openapi)
    app.router.add_get("/api/docs", api_docs)
