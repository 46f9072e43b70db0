"""Every job the outbox can name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.jobs.accounts import purge_unconfirmed
from broker.jobs.mail import send_mail
from broker.jobs.requests import process_request

JOBS: dict[str, Callable[..., Any]] = {
    "send_mail": send_mail,
    "purge_unconfirmed": purge_unconfirmed,
    "process_request": process_request,
}

# Housekeeping the scheduler queues by itself: job name -> every so many seconds.
PERIODIC: dict[str, int] = {
    "purge_unconfirmed": 300,
}
