"""Every demo catalog is valid MARCXML: it validates against the Library of
Congress's MARC21slim.xsd from ../shared/conformance."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree

TESTS = Path(__file__).resolve().parents[1]
DEMO = TESTS.parent / "demo"


def _root_conftest() -> ModuleType:
    """tests/conftest.py as a module of its own name.

    tests/ is not a package, so pytest imports every folder's conftest.py as the
    top-level module ``conftest``, and ``from conftest import ...`` gets whichever one
    was loaded last (tests/integration's, when that folder is named first on the
    command line). Loading the file by its path always gets the root one.
    """
    name = "tests_root_conftest"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, TESTS / "conftest.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _catalogs() -> list[tuple[str, Path]]:
    with (DEMO / "consortium.toml").open("rb") as stream:
        libraries = tomllib.load(stream)["libraries"]
    return [(lib["code"], DEMO / lib["catalog"]["path"]) for lib in libraries
            if lib.get("catalog", {}).get("path")]


@pytest.mark.shared
@pytest.mark.parametrize(("code", "path"), _catalogs(), ids=[c for c, _ in _catalogs()])
def test_demo_catalog_validates_against_marc21_slim(code: str, path: Path) -> None:
    # Skips with the reason when ../shared is absent, and fails under CI=true.
    assert_valid = _root_conftest().assert_valid
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    assert_valid("MARC21slim.xsd", etree.parse(str(path), parser).getroot())
