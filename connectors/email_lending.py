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

from redis.asyncio import Redis

from broker.domain.lifecycle import BorrowerStep
from broker.domain.request import Request
from broker.domain.states import Service
from broker.services.mail import Mail, Mailer, mailer_for
from broker.settings import Settings
from broker.store.keys import Keys
from broker.store.order_links import OrderLinks

# What each step of the borrowing side means for the lender, and whether the lender
# has something to answer (the mail then carries the answer link).
STEPS: dict[BorrowerStep, tuple[str, bool]] = {
    BorrowerStep.RECEIVED: ("the borrowing library has received the item", False),
    BorrowerStep.CHECKED_OUT: ("the item is lent to the patron", False),
    BorrowerStep.RENEW: ("the patron asks to renew the loan; please answer", True),
    BorrowerStep.RETURN_SHIPPED: ("the item is on its way back to you; please say when it "
                                  "has arrived", True),
    BorrowerStep.COPY_RECEIVED: ("the patron has received the copy", False),
    BorrowerStep.ACCEPT_CONDITION: ("the patron accepts your condition; please supply",
                                    True),
    BorrowerStep.DECLINE_CONDITION: ("the patron declines your condition; the order is "
                                     "withdrawn, do not send it", False),
    BorrowerStep.CANCEL: ("the request is cancelled; do not send the item", False),
    BorrowerStep.LOST: ("the borrowing library reports the item lost; the replacement "
                        "cost and the processing fee are recorded for you", False),
}


def _lines(request: Request, lender: str) -> list[str]:
    """Everything a library needs to find and send the item, one fact a line."""
    item = request.item
    service = "a copy" if request.service is Service.COPY else "a loan"
    lines = [f"Request: {request.id} ({service}{', topic request' if request.topic else ''})",
             f"Title: {item.title}"]
    lines += [f"{label}: {value}" for label, value in (
        ("Author", item.author), ("Year", item.year), ("ISBN", item.isbn),
        ("ISSN", item.issn), ("Edition", item.edition)) if value]
    lines.append(f"Material: {item.material.value}")
    if request.citation:
        citation = request.citation
        lines += [f"{label}: {value}" for label, value in (
            ("Article or chapter", citation.part_title), ("In", citation.source_title),
            ("Volume", citation.volume), ("Issue", citation.issue),
            ("Pages", citation.pages)) if value]
    if request.copy_format:
        lines.append(f"Copy format: {request.copy_format}")
    lines += [f"Borrowing library: {request.home_library}",
              f"Pickup place: {request.pickup_location}"]
    if request.max_cost is not None:
        lines.append(f"Most the patron will pay: {request.max_cost}")
    if request.note:
        lines.append(f"Note: {request.note}")
    entry = next((e for e in json.loads(request.rota or "{}").get("lenders", [])
                  if e.get("library") == lender), None)
    if entry and entry.get("reason"):
        lines.append(f"Why you are asked: {entry['reason']}")
    return lines


def order_mail(request: Request, lender: str, address: str, link: str) -> Mail:
    """The order for ``lender``, with the link that answers it."""
    body = ("Hello,\n\na member library asks you for this interlibrary loan:\n\n"
            + "\n".join(_lines(request, lender))
            + f"\n\nAnswer here (no login needed): {link}\n"
              "Will supply, unfilled, a condition, shipped or the copy: each is one button.\n")
    return Mail(address, f"ILL order {request.id}: {request.item.title}", body)


def step_mail(request: Request, step: BorrowerStep, note: str | None, address: str,
              link: str | None) -> Mail:
    """The borrowing side's ``step``, told to the lender; with the answer link if the
    lender has something to answer."""
    what, _answers = STEPS[step]
    body = f"Hello,\n\ninterlibrary loan {request.id} ({request.item.title}): {what}.\n"
    if note:
        body += f"Note: {note}\n"
    if request.due_date:
        body += f"Due date: {request.due_date}\n"
    if link:
        body += f"\nAnswer here (no login needed): {link}\n"
    return Mail(address, f"ILL {request.id}: {what.split(';')[0]}", body)


class EmailLending:
    """Orders for ``library`` by e-mail to ``address``; answers through the link."""

    def __init__(self, library: str, address: str, settings: Settings) -> None:
        self.library = library
        self.address = address
        self.settings = settings

    @asynccontextmanager
    async def _open(self) -> AsyncIterator[tuple[Mailer, OrderLinks]]:
        # A job runs in its own event loop: the connection lives for one mail.
        redis = Redis.from_url(self.settings.existing_redis_url(), decode_responses=True)
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
                                         self._link(token)))

    async def tell(self, request: Request, step: BorrowerStep, note: str | None) -> None:
        async with self._open() as (mailer, links):
            link = None
            if STEPS[step][1] and request.lender == self.library:
                link = self._link(await links.issue(request.id, self.library))
            await mailer.send(step_mail(request, step, note, self.address, link))
