"""The official schemas in ../shared/conformance, for tests that validate what the
broker writes (importable as ``conformance``)."""

from __future__ import annotations

import os
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
