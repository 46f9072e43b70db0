"""Every job the outbox can name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.jobs.accounts import purge_unconfirmed
from broker.jobs.deadlines import answer_overdue
from broker.jobs.fees import record_fee
from broker.jobs.lending import circulate, lifecycle_timer, send_order, tell_lender, tell_partner
from broker.jobs.mail import send_mail
from broker.jobs.requests import process_request, resume_stalled

JOBS: dict[str, Callable[..., Any]] = {
    "send_mail": send_mail,
    "purge_unconfirmed": purge_unconfirmed,
    "process_request": process_request,
    "answer_overdue": answer_overdue,
    "resume_stalled": resume_stalled,
    "record_fee": record_fee,
    "send_order": send_order,
    "tell_lender": tell_lender,
    "tell_partner": tell_partner,
    "lifecycle_timer": lifecycle_timer,
    "circulate": circulate,
}

# Housekeeping the scheduler queues by itself: job name -> every so many seconds.
PERIODIC: dict[str, int] = {
    "purge_unconfirmed": 300,
    "resume_stalled": 60,
}
