"""Fixtures every test folder may use: ../shared's conformance schemas and a real Redis."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
CONFORMANCE = SHARED / "conformance"
DEMO = PROJECT / "demo"


def conformance_schema_path(name: str) -> Path:
    """The path of an official schema in ../shared/conformance.

    Skips the test with the reason when ../shared is not beside the project, and
    fails instead under CI, where it must be.
    """
    path = CONFORMANCE / name
    if not path.is_file():
        reason = f"{path} is absent: the conformance schemas live in ../shared beside the project"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@cache
def _load_schema(path: Path) -> etree.XMLSchema:
    # The schemas are trusted files of ours, but they are still parsed without
    # the network so that validation works offline.
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(path), parser))


def conformance_schema(name: str) -> etree.XMLSchema:
    return _load_schema(conformance_schema_path(name))


def assert_valid(schema_name: str, xml: bytes | etree._Element) -> None:
    """Fail with the schema's own messages unless ``xml`` validates."""
    schema = conformance_schema(schema_name)
    doc = etree.fromstring(xml) if isinstance(xml, bytes) else xml
    if not schema.validate(doc):
        errors = "\n".join(str(e) for e in schema.error_log)
        pytest.fail(f"not valid against {schema_name}:\n{errors}")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL if set, otherwise an embedded Valkey for the session."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from broker.store.embedded import EmbeddedValkey

    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def namespace() -> str:
    """A key prefix of the test's own, so tests share a server but not a keyspace."""
    return f"t{uuid.uuid4().hex[:12]}"
