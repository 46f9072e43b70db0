"""The e-mail lending connector: for a library without an ILL system or a broker
account, orders and the borrowing side's steps go out as e-mails, and the library
answers through a link in them (``/orders/<token>``, no login) that calls the same
``Lending`` service as the inbox.

The mails go through the mailer the ``send_mail`` job uses (SMTP, or the demo's
outbox), so the library gets them exactly as patrons get theirs. The link's token is
kept, digest-keyed, by ``OrderLinks``; it answers only while the request is with this
library.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from broker.domain.lifecycle import BorrowerStep
from broker.domain.request import Request
from broker.domain.states import Service
from broker.services.mail import Mail, Mailer, mailer_for
from broker.services.translations import N_, day_text, translator
from broker.settings import Settings
from broker.store.client import connect
from broker.store.keys import Keys
from broker.store.order_links import OrderLinks

# What each step of the borrowing side means for the lender, and whether the lender
# has something to answer (the mail then carries the answer link). The mail's subject
# is the text up to its first ";".
STEPS: dict[BorrowerStep, tuple[str, bool]] = {
    BorrowerStep.RECEIVED: (N_("the borrowing library has received the item"), False),
    BorrowerStep.CHECKED_OUT: (N_("the item is lent to the patron"), False),
    BorrowerStep.RENEW: (N_("the patron asks to renew the loan; please answer"), True),
    BorrowerStep.RETURN_SHIPPED: (N_("the item is on its way back to you; please say when "
                                     "it has arrived"), True),
    BorrowerStep.COPY_RECEIVED: (N_("the patron has received the copy"), False),
    BorrowerStep.ACCEPT_CONDITION: (N_("the patron accepts your condition; please supply"),
                                    True),
    BorrowerStep.DECLINE_CONDITION: (N_("the patron declines your condition; the order is "
                                        "withdrawn, do not send it"), False),
    BorrowerStep.CANCEL: (N_("the request is cancelled; do not send the item"), False),
    BorrowerStep.LOST: (N_("the borrowing library reports the item lost; the replacement "
                           "cost and the processing fee are recorded for you"), False),
}

_SERVICES = {(Service.COPY, False): N_("a copy"), (Service.LOAN, False): N_("a loan"),
             (Service.COPY, True): N_("a copy, topic request"),
             (Service.LOAN, True): N_("a loan, topic request")}


def _lines(request: Request, lender: str, language: str = "en") -> list[str]:
    """Everything a library needs to find and send the item, one fact a line."""
    _ = translator(language).gettext
    item = request.item
    service = _(_SERVICES[request.service, bool(request.topic)])

    def labelled(pairs: tuple[tuple[str, object], ...]) -> list[str]:
        return [f"{_(label)}: {value}" for label, value in pairs if value]

    lines = [_("Request: {request_id} ({service})").format(request_id=request.id,
                                                           service=service),
             _("Title") + f": {item.title}"]
    lines += labelled(((N_("Author"), item.author), (N_("Year"), item.year),
                       (N_("ISBN"), item.isbn), (N_("ISSN"), item.issn),
                       (N_("Edition"), item.edition)))
    lines.append(_("Material") + f": {item.material.value}")
    if request.citation:
        citation = request.citation
        lines += labelled(((N_("Article or chapter"), citation.part_title),
                           (N_("In"), citation.source_title), (N_("Volume"), citation.volume),
                           (N_("Issue"), citation.issue), (N_("Pages"), citation.pages)))
    if request.copy_format:
        lines.append(_("Copy format") + f": {request.copy_format}")
    lines += [_("Borrowing library") + f": {request.home_library}",
              _("Pickup place") + f": {request.pickup_location}"]
    if request.max_cost is not None:
        lines.append(_("Most the patron will pay") + f": {request.max_cost}")
    if request.note:
        lines.append(_("Note") + f": {request.note}")
    entry = next((e for e in json.loads(request.rota or "{}").get("lenders", [])
                  if e.get("library") == lender), None)
    if entry and entry.get("reason"):
        lines.append(_("Why you are asked") + f": {entry['reason']}")
    return lines


def order_mail(request: Request, lender: str, address: str, link: str,
               language: str = "en") -> Mail:
    """The order for ``lender``, with the link that answers it, in ``language``."""
    _ = translator(language).gettext
    body = (_("Hello,") + "\n\n"
            + _("a member library asks you for this interlibrary loan:") + "\n\n"
            + "\n".join(_lines(request, lender, language)) + "\n\n"
            + _("Answer here (no login needed): {link}").format(link=link) + "\n"
            + _("Will supply, unfilled, a condition, shipped or the copy: each is one "
                "button.") + "\n")
    subject = _("ILL order {request_id}: {title}").format(request_id=request.id,
                                                          title=request.item.title)
    return Mail(address, subject, body)


def step_mail(request: Request, step: BorrowerStep, note: str | None, address: str,
              link: str | None, language: str = "en") -> Mail:
    """The borrowing side's ``step``, told to the lender in ``language``; with the
    answer link if the lender has something to answer."""
    _ = translator(language).gettext
    what = _(STEPS[step][0])
    body = (_("Hello,") + "\n\n"
            + _("interlibrary loan {request_id} ({title}): {what}.").format(
                request_id=request.id, title=request.item.title, what=what) + "\n")
    if note:
        body += _("Note") + f": {note}\n"
    if request.due_date:
        body += _("Due date") + f": {day_text(request.due_date, language)}\n"
    if link:
        body += "\n" + _("Answer here (no login needed): {link}").format(link=link) + "\n"
    return Mail(address, f"ILL {request.id}: {what.split(';')[0]}", body)


class EmailLending:
    """Orders for ``library`` by e-mail to ``address``; answers through the link."""

    def __init__(self, library: str, address: str, settings: Settings,
                 language: str = "en") -> None:
        self.library = library
        self.address = address
        self.settings = settings
        self.language = language

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[tuple[Mailer, OrderLinks]]:
        # A job runs in its own event loop: the connection lives for one mail.
        redis = connect(self.settings.existing_redis_url())
        try:
            yield (mailer_for(self.settings, redis),
                   OrderLinks(redis, Keys(self.settings.namespace)))
        finally:
            await redis.aclose()

    def _link(self, token: str) -> str:
        return f"{self.settings.base_url}/orders/{token}"

    async def order(self, request: Request) -> None:
        async with self._open() as (mailer, links):
            token = await links.issue(request.id, self.library)
            await mailer.send(order_mail(request, self.library, self.address,
                                         self._link(token), self.language))

    async def tell(self, request: Request, step: BorrowerStep, note: str | None) -> None:
        async with self._open() as (mailer, links):
            link = None
            if STEPS[step][1] and request.lender == self.library:
                link = self._link(await links.issue(request.id, self.library))
            await mailer.send(step_mail(request, step, note, self.address, link,
                                        self.language))
