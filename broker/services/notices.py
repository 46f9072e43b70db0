"""The mails that tell a patron a step of their request needs them or has happened."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from broker.domain.accounts import Account
from broker.domain.request import Request
from broker.store.requests import OutboxJob


class Notice(StrEnum):
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKUP_NEAR = "pickup_near"
    PICKUP_EXPIRED = "pickup_expired"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"
    RENEWAL_ANSWERED = "renewal_answered"
    RENEWAL_REFUSED = "renewal_refused"
    RECALLED = "recalled"
    COPY_DELIVERED = "copy_delivered"
    CONDITIONAL = "conditional"
    UNFILLED = "unfilled"


_SUBJECTS: Mapping[Notice, str] = {
    Notice.READY_FOR_PICKUP: "{title} is ready for you to collect",
    Notice.PICKUP_NEAR: "Collect {title} by {pickup_by}",
    Notice.PICKUP_EXPIRED: "{title} was not collected and goes back",
    Notice.DUE_SOON: "{title} is due on {due_date}",
    Notice.OVERDUE: "{title} is overdue",
    Notice.RENEWAL_ANSWERED: "{title} is renewed until {due_date}",
    Notice.RENEWAL_REFUSED: "{title} could not be renewed",
    Notice.RECALLED: "{title} is recalled by the lending library",
    Notice.COPY_DELIVERED: "Your copy of {title} is here",
    Notice.CONDITIONAL: "The lending library has a condition for {title}",
    Notice.UNFILLED: "No library could supply {title}",
}

_BODIES: Mapping[Notice, str] = {
    Notice.READY_FOR_PICKUP: "it waits for you at {pickup} until {pickup_by}. Bring your "
                             "library card.",
    Notice.PICKUP_NEAR: "it still waits for you at {pickup}; after {pickup_by} it goes back "
                        "to the library that lent it.",
    Notice.PICKUP_EXPIRED: "it was not collected by {pickup_by}, so it goes back to the "
                           "library that lent it. You may ask for it again.",
    Notice.DUE_SOON: "please bring it back to {pickup} by {due_date}, or renew it from "
                     "your requests page while it is not overdue.",
    Notice.OVERDUE: "it was due on {due_date}. Please bring it back to {pickup} as soon as "
                    "you can; late fees are charged per day.",
    Notice.RENEWAL_ANSWERED: "the lending library renewed it; the new due date is "
                             "{due_date}.",
    Notice.RENEWAL_REFUSED: "the lending library could not renew it{reason}; it is due on "
                            "{due_date}.",
    Notice.RECALLED: "the library that lent it needs it back{reason}. Please return it to "
                     "{pickup} by {due_date}.",
    Notice.COPY_DELIVERED: "you can fetch it here: {url}",
    Notice.CONDITIONAL: "before it supplies, it asks: {condition}. Accept or decline on your "
                        "requests page.",
    Notice.UNFILLED: "we asked every member library that holds it, and none could supply it "
                     "this time. Your library can advise you on other ways to get it.",
}


def notice(kind: Notice, account: Account, request: Request, place: str,
           reason: str | None = None) -> OutboxJob:
    """The mail of ``kind`` to the patron of ``request``, as an outbox job."""
    values = {"title": request.item.title, "pickup": place,
              "pickup_by": request.pickup_by or "", "due_date": request.due_date or "",
              "url": request.delivery_url or "", "condition": request.condition or "",
              "reason": f" ({reason})" if reason else ""}
    body = (f"Hello {account.given_name},\n\nyour interlibrary loan request {request.id}: "
            + _BODIES[kind].format(**values) + "\n")
    return OutboxJob("send_mail", account.id, {
        "to": account.email, "subject": _SUBJECTS[kind].format(**values), "body": body})
