"""A real Zebra SRU server over the fixture records, started once per session.

The server is Index Data's Zebra (Debian idzebra-2.0) with its DOM filter reading
MARCXML: files under ``tests/connectors/fixtures/zebra/`` configure it
(``dom-conf.xml``, ``marc-index.xsl`` on top of the MARC21slim2INDEX.xsl that
idzebra ships, ``cql2pqf.txt`` for YAZ's CQL-to-RPN mapping); ``zebra.cfg`` and
``yazserver.xml`` are written here because they name the temporary directory and
the port. ``zebrasrv`` answers Z39.50 and SRU (1.1, 1.2 and 2.0) over HTTP on the
same port.

Without Zebra the tests skip, saying what to install; under CI they fail instead.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from lxml import etree

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
ZEBRA_CONFIG = FIXTURES / "zebra"
RECORDS = FIXTURES / "marc" / "catalog.xml"

# Where Debian (and a from-source install) put the stylesheet and the tab files.
SHIPPED_INDEX_XSL = (
    Path("/usr/share/doc/idzebra-2.0/examples/marcxml/MARC21slim2INDEX.xsl.gz"),
    Path("/usr/share/doc/idzebra-2.0/examples/marcxml/MARC21slim2INDEX.xsl"),
    Path("/usr/share/idzebra-2.0-examples/marcxml/MARC21slim2INDEX.xsl"),
    Path("/usr/local/share/idzebra-2.0-examples/marcxml/MARC21slim2INDEX.xsl"),
)
TAB_DIRS = (Path("/usr/share/idzebra-2.0/tab"), Path("/usr/local/share/idzebra-2.0/tab"))
START_TIMEOUT = 15.0


def unavailable(reason: str) -> None:
    """Skip, or fail under CI, where the SRU tests must run against the real server."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _program(name: str) -> str | None:
    return shutil.which(name) or shutil.which(f"{name}-2.0")


def _shipped_index_xsl() -> bytes | None:
    for path in SHIPPED_INDEX_XSL:
        if path.is_file():
            data = path.read_bytes()
            return gzip.decompress(data) if path.suffix == ".gz" else data
    return None


def _run(args: list[str], cwd: Path) -> None:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def _configure(workdir: Path, tab: Path, index_xsl: bytes) -> None:
    for path in ZEBRA_CONFIG.iterdir():
        shutil.copy(path, workdir / path.name)
    (workdir / "MARC21slim2INDEX.xsl").write_bytes(index_xsl)
    for sub in ("register", "lock"):
        (workdir / sub).mkdir()
    # No shadow register: updates are visible without a "zebraidx commit".
    (workdir / "zebra.cfg").write_text(
        f"profilePath: .:{tab}\n"
        "recordtype: dom.dom-conf.xml\n"
        "attset: bib1.att\n"
        "attset: explain.att\n"
        "storeData: 1\n"
        "storeKeys: 1\n"
        "register: register:100M\n"
        "lockdir: lock\n"
        "keytmpdir: lock\n"
    )


def _write_yazserver(workdir: Path, port: int) -> None:
    (workdir / "yazserver.xml").write_text(
        "<yazgfs>\n"
        f'  <listen id="sru">tcp:127.0.0.1:{port}</listen>\n'
        '  <server id="zebra" listenref="sru">\n'
        "    <directory>.</directory>\n"
        "    <config>zebra.cfg</config>\n"
        "    <cql2rpn>cql2pqf.txt</cql2rpn>\n"
        "  </server>\n"
        "</yazgfs>\n"
    )


def _wait_until_serving(process: subprocess.Popen[bytes], base_url: str) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    probe = f"{base_url}?version=1.2&operation=explain"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.1)
    return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    # zebrasrv forks a child per connection; they share the group started here.
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture(scope="session")
def zebra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The SRU base URL of a Zebra indexing tests/connectors/fixtures/marc/catalog.xml.

    Test modules get what they need from fixtures: without packages in tests/,
    ``import conftest`` may find another folder's conftest.
    """
    zebraidx, zebrasrv = _program("zebraidx"), _program("zebrasrv")
    if not zebraidx or not zebrasrv:
        unavailable("zebraidx/zebrasrv not found: install Debian idzebra-2.0")
    tab = next((d for d in TAB_DIRS if (d / "bib1.att").is_file()), None)
    index_xsl = _shipped_index_xsl()
    if tab is None or index_xsl is None:
        unavailable(
            "idzebra's tab files or MARC21slim2INDEX.xsl not found: install "
            "idzebra-2.0-common and idzebra-2.0-examples (with /usr/share/doc kept)"
        )
    assert zebraidx and zebrasrv and tab and index_xsl  # for the type checker

    workdir = tmp_path_factory.mktemp("zebra")
    _configure(workdir, tab, index_xsl)
    _run([zebraidx, "-c", "zebra.cfg", "init"], workdir)
    _run([zebraidx, "-c", "zebra.cfg", "update", str(RECORDS)], workdir)

    log = workdir / "zebrasrv.log"
    # The free port can be taken between our probe and zebrasrv's bind: try again.
    for _attempt in range(3):
        port = free_port()
        _write_yazserver(workdir, port)
        process = subprocess.Popen(
            [zebrasrv, "-f", "yazserver.xml", "-l", str(log)],
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base_url = f"http://127.0.0.1:{port}/Default"
        if _wait_until_serving(process, base_url):
            break
        _stop(process)
    else:
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        pytest.fail(f"zebrasrv did not start serving SRU:\n{tail}")
    try:
        yield base_url
    finally:
        _stop(process)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def dead_url() -> str:
    """An SRU URL on a local port where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/Default"


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """The URL of a server that accepts connections, reads, and never answers."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # Read whatever comes until the client gives up and closes.
        while await reader.read(1 << 16):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/Default"
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture(scope="session")
def assert_valid(pytestconfig: pytest.Config) -> Callable[[str, bytes | etree._Element], None]:
    """tests/conftest.py's ``assert_valid`` (skips without ../shared, fails under CI).

    With pytest's default import mode ``import conftest`` here finds this file, not
    the root one, so the root conftest is taken from the plugin manager, which
    registers every conftest under its path.
    """
    root = Path(__file__).resolve().parents[2] / "conftest.py"
    module = pytestconfig.pluginmanager.get_plugin(str(root))
    assert module is not None, f"{root} is not loaded"
    check: Callable[[str, bytes | etree._Element], None] = module.assert_valid
    return check
