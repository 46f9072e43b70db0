"""Every job the outbox can name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.jobs.mail import send_mail

JOBS: dict[str, Callable[..., Any]] = {
    "send_mail": send_mail,
}
