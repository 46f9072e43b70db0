"""A real Zebra SRU server (Index Data's idzebra, Debian idzebra-2.0) over MARCXML files,
for the tests and the benchmarks (importable as ``zebra_server``).

The DOM filter reads MARCXML; files under ``tests/connectors/fixtures/zebra/``
configure it (``dom-conf.xml``, ``marc-index.xsl`` on top of the MARC21slim2INDEX.xsl
idzebra ships, ``cql2pqf.txt`` for YAZ's CQL-to-RPN mapping); ``zebra.cfg`` and
``yazserver.xml`` are written here because they name the folder and the port.
``zebrasrv`` answers SRU 1.1, 1.2 and 2.0 over HTTP and forks a process per
connection, so one server answers many clients at once. Each database is one
MARCXML file, indexed with ``zebraidx -d``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "connectors" / "fixtures"
ZEBRA_CONFIG = FIXTURES / "zebra"

# Where Debian (and a from-source install) put the stylesheet and the tab files.
SHIPPED_INDEX_XSL = (
    Path("/usr/share/doc/idzebra-2.0/examples/marcxml/MARC21slim2INDEX.xsl.gz"),
    Path("/usr/share/doc/idzebra-2.0/examples/marcxml/MARC21slim2INDEX.xsl"),
    Path("/usr/share/idzebra-2.0-examples/marcxml/MARC21slim2INDEX.xsl"),
    Path("/usr/local/share/idzebra-2.0-examples/marcxml/MARC21slim2INDEX.xsl"),
)
TAB_DIRS = (Path("/usr/share/idzebra-2.0/tab"), Path("/usr/local/share/idzebra-2.0/tab"))
START_TIMEOUT = 15.0


class ZebraUnavailable(Exception):
    """Zebra is not installed (completely) on this machine; the message says what to do."""


class ZebraFailed(Exception):
    """Zebra is installed but indexing or serving failed; the message has its output."""


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
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise ZebraFailed(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


class ZebraServer:
    """Zebra serving ``databases`` (name -> MARCXML file) from ``workdir``."""

    def __init__(self, workdir: Path, databases: Mapping[str, Path]) -> None:
        self.workdir = workdir
        self.databases = dict(databases)
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        zebraidx, zebrasrv = _program("zebraidx"), _program("zebrasrv")
        if not zebraidx or not zebrasrv:
            raise ZebraUnavailable("zebraidx/zebrasrv not found: install Debian idzebra-2.0")
        tab = next((d for d in TAB_DIRS if (d / "bib1.att").is_file()), None)
        index_xsl = _shipped_index_xsl()
        if tab is None or index_xsl is None:
            raise ZebraUnavailable(
                "idzebra's tab files or MARC21slim2INDEX.xsl not found: install "
                "idzebra-2.0-common and idzebra-2.0-examples (with /usr/share/doc kept)")
        self._zebraidx, self._zebrasrv, self._tab, self._index_xsl = (
            zebraidx, zebrasrv, tab, index_xsl)

    def url(self, database: str) -> str:
        assert self.port is not None, "start the server first"
        return f"http://127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        self._configure()
        _run([self._zebraidx, "-c", "zebra.cfg", "init"], self.workdir)
        for name, path in self.databases.items():
            _run([self._zebraidx, "-c", "zebra.cfg", "-d", name, "update", str(path)],
                 self.workdir)
        log = self.workdir / "zebrasrv.log"
        probe_db = next(iter(self.databases))
        # The free port can be taken between our probe and zebrasrv's bind: try again.
        for _attempt in range(3):
            self.port = free_port()
            self._write_yazserver()
            self._process = subprocess.Popen(
                [self._zebrasrv, "-f", "yazserver.xml", "-l", str(log)], cwd=self.workdir,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            if self._wait_until_serving(self.url(probe_db)):
                return
            self.stop()
        tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
        raise ZebraFailed(f"zebrasrv did not start serving SRU:\n{tail}")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
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

    def _configure(self) -> None:
        for path in ZEBRA_CONFIG.iterdir():
            shutil.copy(path, self.workdir / path.name)
        (self.workdir / "MARC21slim2INDEX.xsl").write_bytes(self._index_xsl)
        for sub in ("register", "lock"):
            (self.workdir / sub).mkdir(exist_ok=True)
        # No shadow register: updates are visible without a "zebraidx commit".
        (self.workdir / "zebra.cfg").write_text(
            f"profilePath: .:{self._tab}\n"
            "recordtype: dom.dom-conf.xml\n"
            "attset: bib1.att\n"
            "attset: explain.att\n"
            "storeData: 1\n"
            "storeKeys: 1\n"
            "register: register:500M\n"
            "lockdir: lock\n"
            "keytmpdir: lock\n"
        )

    def _write_yazserver(self) -> None:
        (self.workdir / "yazserver.xml").write_text(
            "<yazgfs>\n"
            f'  <listen id="sru">tcp:127.0.0.1:{self.port}</listen>\n'
            '  <server id="zebra" listenref="sru">\n'
            "    <directory>.</directory>\n"
            "    <config>zebra.cfg</config>\n"
            "    <cql2rpn>cql2pqf.txt</cql2rpn>\n"
            "  </server>\n"
            "</yazgfs>\n"
        )

    def _wait_until_serving(self, base_url: str) -> bool:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        probe = f"{base_url}?version=1.2&operation=explain"
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
        return False
