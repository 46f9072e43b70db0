"""Fixtures for the NCIP tests: the responder of ``ncip_responder`` and an HTTP session.

Test modules get what they need from fixtures (or import ``ncip_responder`` itself):
without packages in tests/, ``import conftest`` may find another folder's conftest.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from lxml import etree

from conformance import conformance_schema
from local_server import nothing_listens_at
from ncip_responder import SCHEMA, NcipResponder, serve

SECRET = "XXE-CANARY-7f3a9c the contents of a file the broker must never read"


@pytest.fixture
def ncip_schema() -> etree.XMLSchema:
    """ncip_v2_02.xsd from ../shared (skips without it, fails under CI)."""
    return conformance_schema(SCHEMA)


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    """A local file that an external entity in a response would point at."""
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture
async def ncip_responder(
    ncip_schema: etree.XMLSchema, secret_file: Path
) -> AsyncIterator[NcipResponder]:
    """A running NCIP responder for agency SI-LJMK with the patrons of ``PATRONS``."""
    async with serve(NcipResponder(schema=ncip_schema, secret_path=secret_file)) as responder:
        yield responder


@pytest.fixture
def dead_url() -> str:
    """An NCIP URL on a local port where nothing listens."""
    return nothing_listens_at("/ncip")
