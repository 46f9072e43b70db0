"""The mails that tell a patron a step of their request needs them or has happened."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from broker.domain.accounts import Account
from broker.domain.consortium import Consortium
from broker.domain.errors import NotFound
from broker.domain.request import Request
from broker.services.translations import N_, day_text, mail_language, translator
from broker.store.accounts import AccountStore
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
    Notice.READY_FOR_PICKUP: N_("{title} is ready for you to collect"),
    Notice.PICKUP_NEAR: N_("Collect {title} by {pickup_by}"),
    Notice.PICKUP_EXPIRED: N_("{title} was not collected and goes back"),
    Notice.DUE_SOON: N_("{title} is due on {due_date}"),
    Notice.OVERDUE: N_("{title} is overdue"),
    Notice.RENEWAL_ANSWERED: N_("{title} is renewed until {due_date}"),
    Notice.RENEWAL_REFUSED: N_("{title} could not be renewed"),
    Notice.RECALLED: N_("{title} is recalled by the lending library"),
    Notice.COPY_DELIVERED: N_("Your copy of {title} is here"),
    Notice.CONDITIONAL: N_("The lending library has a condition for {title}"),
    Notice.UNFILLED: N_("No library could supply {title}"),
}

# Each body follows "your interlibrary loan request <id>:"; "it" is the item.
_BODIES: Mapping[Notice, str] = {
    Notice.READY_FOR_PICKUP: N_("it waits for you at {pickup} until {pickup_by}. Bring your "
                                "library card."),
    Notice.PICKUP_NEAR: N_("it still waits for you at {pickup}; after {pickup_by} it goes "
                           "back to the library that lent it."),
    Notice.PICKUP_EXPIRED: N_("it was not collected by {pickup_by}, so it goes back to the "
                              "library that lent it. You may ask for it again."),
    Notice.DUE_SOON: N_("please bring it back to {pickup} by {due_date}, or renew it from "
                        "your requests page while it is not overdue."),
    Notice.OVERDUE: N_("it was due on {due_date}. Please bring it back to {pickup} as soon "
                       "as you can; late fees are charged per day."),
    Notice.RENEWAL_ANSWERED: N_("the lending library renewed it; the new due date is "
                                "{due_date}."),
    Notice.RENEWAL_REFUSED: N_("the lending library could not renew it{reason}; it is due "
                               "on {due_date}."),
    Notice.RECALLED: N_("the library that lent it needs it back{reason}. Please return it "
                        "to {pickup} by {due_date}."),
    Notice.COPY_DELIVERED: N_("you can fetch it here: {url}"),
    Notice.CONDITIONAL: N_("before it supplies, it asks: {condition}. Accept or decline on "
                           "your requests page."),
    Notice.UNFILLED: N_("we asked every member library that holds it, and none could "
                        "supply it this time. Your library can advise you on other ways to "
                        "get it."),
}


def notice(kind: Notice, account: Account, request: Request, place: str,
           reason: str | None = None, *, language: str = "en") -> OutboxJob:
    """The mail of ``kind`` to the patron of ``request``, as an outbox job, in
    ``language`` (see ``translations.mail_language``)."""
    _ = translator(language).gettext
    values = {"title": request.item.title, "pickup": place,
              "pickup_by": day_text(request.pickup_by, language),
              "due_date": day_text(request.due_date, language),
              "url": request.delivery_url or "", "condition": request.condition or "",
              "reason": f" ({reason})" if reason else ""}
    body = (_("Hello {name},").format(name=account.given_name) + "\n\n"
            + _("your interlibrary loan request {request_id}:").format(request_id=request.id)
            + " " + _(_BODIES[kind]).format(**values) + "\n")
    return OutboxJob("send_mail", account.id, {
        "to": account.email, "subject": _(_SUBJECTS[kind]).format(**values), "body": body})


async def patron_notice(accounts: AccountStore, consortium: Consortium, request: Request,
                        kind: Notice, reason: str | None = None) -> list[OutboxJob]:
    """The mail of ``kind`` to the patron of ``request`` in their language; none for an
    order from an ILL partner (the partner is told by message) or a deleted account."""
    if request.from_partner:
        return []
    try:
        account = await accounts.get(request.patron_id)
    except NotFound:
        return []
    home = consortium.libraries.get(account.library or "")
    return [notice(kind, account, request, consortium.place_name(request.pickup_location),
                   reason, language=mail_language(account, home))]
