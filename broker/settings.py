"""Process settings, from the environment and the command line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from broker.domain.errors import Unavailable

PROJECT = Path(__file__).resolve().parents[1]
DEMO_CONSORTIUM = PROJECT / "demo" / "consortium.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    consortium_path: Path
    data_dir: Path
    redis_url: str | None = None
    namespace: str = "ill"
    host: str = "127.0.0.1"
    port: int = 8080
    smtp_url: str | None = None
    mail_from: str = "ILL broker <ill@localhost>"
    public_url: str | None = None
    # Behind TLS in production; the demo on plain http needs cookies without it.
    secure_cookies: bool = False
    # The mail outbox page shows everybody's links: for the demo only, never production.
    show_outbox: bool = False

    @property
    def base_url(self) -> str:
        """Where links in e-mails point."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        values: dict[str, object] = {
            "consortium_path": Path(os.environ.get("ILLBROKER_CONSORTIUM", DEMO_CONSORTIUM)),
            "data_dir": Path(os.environ.get("ILLBROKER_DATA", "data")).resolve(),
            "redis_url": os.environ.get("REDIS_URL") or None,
            "namespace": os.environ.get("ILLBROKER_NAMESPACE", "ill"),
            "smtp_url": os.environ.get("ILLBROKER_SMTP_URL") or None,
            "mail_from": os.environ.get("ILLBROKER_MAIL_FROM", "ILL broker <ill@localhost>"),
            "public_url": os.environ.get("ILLBROKER_PUBLIC_URL") or None,
            "secure_cookies": os.environ.get("ILLBROKER_SECURE_COOKIES", "") == "1",
            "show_outbox": os.environ.get("ILLBROKER_SHOW_OUTBOX", "") == "1",
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]

    @property
    def embedded_url_file(self) -> Path:
        """Where a running embedded Valkey leaves its URL for workers to find."""
        return self.data_dir / "valkey.url"

    def existing_redis_url(self) -> str:
        """For workers and jobs: REDIS_URL, else the embedded server a web process started."""
        if self.redis_url:
            return self.redis_url
        try:
            return self.embedded_url_file.read_text().strip()
        except FileNotFoundError:
            raise Unavailable(f"no REDIS_URL and no embedded Valkey running for data folder "
                              f"{self.data_dir}; start 'illbroker serve' first") from None
