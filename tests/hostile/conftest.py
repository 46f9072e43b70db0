"""Fixtures of the hostile-input tests: the integration tests' app (``served``, and
``client`` with harvested catalogs, patrons and desk staff), on the three-library
consortium with one ISO 18626 partner, so that /iso18626 is reached with a real token.

The integration fixtures are loaded from their file rather than copied: pytest puts
no conftest of a sibling folder on the path, and one app fixture is easier to keep
right than two.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from builders import three_library_consortium

_INTEGRATION = Path(__file__).resolve().parent.parent / "integration" / "conftest.py"
_spec = importlib.util.spec_from_file_location("integration_fixtures", _INTEGRATION)
assert _spec is not None and _spec.loader is not None
_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_fixtures)
served = _fixtures.served
client = _fixtures.client

PARTNER_TOKEN = "hostile-partner-token-3f8"
PARTNER = """
[[partners]]
code = "P"
name = "Partner system"
agency_id = "ISIL:XX-P"
url = "http://127.0.0.1:9/iso18626"
schema_version = "2021-2"
credential_env = "ILL_HOSTILE_PARTNER_P"
"""


@pytest.fixture
def consortium_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The three-library consortium and a partner system whose token is
    ``PARTNER_TOKEN`` (its own endpoint is never called: no worker runs)."""
    monkeypatch.setenv("ILL_HOSTILE_PARTNER_P", PARTNER_TOKEN)
    path = three_library_consortium(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + PARTNER, encoding="utf-8")
    return path
