"""Taking a patron's request: checked, deflected to the home library when it holds
the title, priced, given its lending string, and stored with the job that moves it
on, in one step."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from redis.asyncio import Redis

from broker.domain.accounts import Account
from broker.domain.consortium import Consortium
from broker.domain.errors import (
    DuplicateRequest,
    HeldLocally,
    NoLender,
    NotAcceptingRequests,
    NotFound,
    OverCostLimit,
    ReadingRoomOnly,
    TooManyOpenRequests,
)
from broker.domain.fees import Estimate, estimate
from broker.domain.intake import (
    RequestInput,
    check_request_input,
    duplicate_probes,
    local_copies,
)
from broker.domain.messages import N_, as_data
from broker.domain.request import Request
from broker.domain.rota import (
    Candidate,
    LenderStats,
    Rota,
    RotaCode,
    build_rota,
    topic_rota,
)
from broker.domain.search import SearchQuery, TitleHit
from broker.domain.states import Service, State
from broker.domain.workdays import is_public_holiday
from broker.services.borrower import BorrowerChecks, refuse
from broker.services.search import LiveCatalog, index_keys, search
from broker.services.translations import mail_language, money_text, translator
from broker.store.codec import text
from broker.store.holdings import UnionIndex
from broker.store.keys import Keys, request_id_for
from broker.store.reads import Reads
from broker.store.requests import IdempotencyKeyUsed, OutboxJob, RequestStore

IDEMPOTENCY_SECONDS = 24 * 3600


def _now() -> datetime:
    return datetime.now(UTC)


def estimate_json(found: Estimate) -> str:
    return json.dumps({"currency": found.currency, "total": str(found.total),
                       "free_transfer": found.free_transfer, "pages": found.pages,
                       "pages_assumed": found.pages_assumed,
                       "lines": [{"code": line.code.value, "description": line.description,
                                  "amount": str(line.amount)} for line in found.lines]},
                      ensure_ascii=False)


def rota_json(rota: Rota) -> str:
    def entry(e: Any) -> dict[str, Any]:
        # "says" keeps the reason's message id and values, so a page can write it in
        # its reader's language; "reason" is the English.
        return {"library": e.library, "code": e.code.value, "reason": e.reason,
                "says": as_data(e.reason),
                "estimate": str(e.estimate_total) if e.estimate_total is not None else None,
                "available_now": e.available_now}

    return json.dumps({"order": [str(c) for c in rota.order],
                       "lenders": [entry(e) for e in rota.entries],
                       "skipped": [entry(e) for e in rota.skipped]}, ensure_ascii=False)


def _query(checked: RequestInput) -> SearchQuery:
    item = checked.item
    if item.isbn or item.issn:
        return SearchQuery(isbn=item.isbn, issn=item.issn)
    return SearchQuery(title=item.title, author=item.author)


@dataclass(frozen=True, slots=True)
class Preview:
    """A request as it would be sent now: the input as checked, the title the
    catalogs found for it, its lending string, and the first lender's fee."""

    checked: RequestInput
    # None for a topic request: it is not for a title the catalogs know.
    hit: TitleHit | None
    rota: Rota
    estimate: Estimate

    @property
    def lender(self) -> str:
        """The first library of the rota, the one whose fee ``estimate`` is."""
        return self.rota.entries[0].library


@dataclass
class Intake:
    requests: RequestStore
    index: UnionIndex
    borrowers: BorrowerChecks
    redis: Redis
    keys: Keys
    consortium: Consortium
    live: Mapping[str, LiveCatalog]
    clock: Callable[[], datetime] = _now
    # The lenders' history the rota weighs (``LenderHistory``); none: all neutral.
    history: Callable[[], Mapping[str, LenderStats]] = dict

    async def submit(self, account: Account, raw: Mapping[str, Any],
                     idempotency_key: str | None = None) -> tuple[Request, bool]:
        """The stored request and whether it is new (False: a retried submit)."""
        checked = self._checked(account, raw)
        request_id = request_id_for(account.id)
        if idempotency_key:
            # The key is claimed in the step that stores the request, not before: a
            # process killed in between (a slow register) leaves no claim that would
            # hold the patron's retries off for a day.
            key = self.keys.idempotency(account.id, idempotency_key)
            earlier = await self._earlier(key)
            if earlier is not None:
                return earlier, False
            try:
                return await self._accept(account, checked, request_id, key), True
            except (IdempotencyKeyUsed, DuplicateRequest):
                # A submit with the same key (a double click) stored its request while
                # this one was being checked: that request is the answer.
                earlier = await self._earlier(key)
                if earlier is None:
                    raise
                return earlier, False
        return await self._accept(account, checked, request_id), True

    async def preview(self, account: Account, raw: Mapping[str, Any]) -> Preview:
        """Every check and refusal ``submit`` makes, and the fee it would show, without
        storing anything: what the patron sees before they send."""
        return await self._plan(account, self._checked(account, raw))

    def _checked(self, account: Account, raw: Mapping[str, Any]) -> RequestInput:
        home = self.consortium.libraries[account.library or ""]
        if not home.policy.accepts_patron_requests:
            raise NotAcceptingRequests(N_("{library} does not take interlibrary loan "
                                          "requests from patrons; ask at the desk",
                                          library=home.name))
        return check_request_input(raw, home)

    async def _earlier(self, key: str) -> Request | None:
        """The request an earlier submit with the same key stored; None when none did."""
        request_id = await self.redis.get(key)
        if request_id is None:
            return None
        try:
            return await self.requests.get(text(request_id))
        except NotFound:
            return None  # stored and deleted since (the account went)

    async def _plan(self, account: Account, checked: RequestInput) -> Preview:
        home = self.consortium.libraries[account.library or ""]
        query = _query(checked)
        reads = Reads(self.redis)
        open_ones = self.requests.read_open(
            reads, account.id, duplicate_probes(checked.service, checked.item, checked.citation))
        cached = self.borrowers.read_cached(reads, account)
        indexed = None if checked.topic else self.index.read_lookup(reads, index_keys(query))
        await reads.run()
        self._check_open_requests(*open_ones.value, home.policy.max_open_requests)
        # An unreachable register does not refuse: the request waits, and the check is
        # retried before anything leaves. Any other answer is known now.
        refuse(await self.borrowers.check(account, cached), checked.service)
        if checked.topic:
            return self._priced(home.code, checked, None, self._topic_rota(home.code, checked))
        found = await search(query, self.consortium, self.index, self.live, 5, indexed)
        hit = found.titles[0] if found.titles else None
        if hit is None:
            raise NoLender(N_("no member library's catalog has this title; check the title "
                              "or ask your library for help"))
        if mine := local_copies(self.consortium, home.code, hit.holdings):
            where = sorted({h.branch or home.code for h in mine})
            calls = sorted({h.call_number for h in mine if h.call_number})
            raise HeldLocally(f"{home.name} has this title ({', '.join(where)}"
                              f"{'; ' + ', '.join(calls) if calls else ''}): reserve it there",
                              where=where, call_numbers=calls)
        return self._priced(home.code, checked, hit, self._rota(home.code, checked, hit))

    def _priced(self, home: str, checked: RequestInput, hit: TitleHit | None,
                rota: Rota) -> Preview:
        if not rota.entries:
            self._refuse(rota, topic=checked.topic)
        return Preview(checked, hit, rota, self._price(home, checked)(rota.entries[0].library))

    def _price(self, home: str, checked: RequestInput) -> Callable[[str], Estimate]:
        def price(lender: str) -> Estimate:
            return estimate(self.consortium, borrower=home, lender=lender,
                            service=checked.service, pages=checked.pages,
                            copy_format=checked.copy_format)

        return price

    async def _accept(self, account: Account, checked: RequestInput,
                      request_id: str, idempotency_key: str | None = None) -> Request:
        home = self.consortium.libraries[account.library or ""]
        plan = await self._plan(account, checked)
        now = self.clock()
        item = checked.item if checked.item.title or plan.hit is None else \
            replace(checked.item, title=plan.hit.record.title)
        request = Request(
            id=request_id, service=checked.service, state=State.NEW, version=0,
            patron_id=account.id, home_library=home.code,
            pickup_location=checked.pickup_location, item=item, created_at=now,
            updated_at=now, citation=checked.citation, max_cost=checked.max_cost,
            note=checked.note, rota=rota_json(plan.rota), estimate=estimate_json(plan.estimate),
            copy_format=checked.copy_format, topic=checked.topic)
        language = mail_language(account, home)
        receipt = OutboxJob("send_mail", account.id, {
            "to": account.email,
            "subject": translator(language).gettext(
                "Your interlibrary loan request {request_id}").format(request_id=request_id),
            "body": receipt_text(request, home.name, plan.estimate, language)})
        return await self.requests.create(
            request, actor=f"patron:{account.id}",
            jobs=[OutboxJob("process_request", request_id), receipt],
            idempotency=(idempotency_key, IDEMPOTENCY_SECONDS) if idempotency_key else None)

    @staticmethod
    def _check_open_requests(count: int, duplicate: str | None, limit: int) -> None:
        if count >= limit:
            raise TooManyOpenRequests(N_("you have {count} open requests, your "
                                         "library's limit; wait until one ends",
                                         count=count))
        if duplicate is not None:
            raise DuplicateRequest(N_("request {request} for this title is still open",
                                      request=duplicate), request=duplicate)

    def _rota(self, home: str, checked: RequestInput, hit: TitleHit) -> Rota:
        price = self._price(home, checked)
        candidates = [Candidate(library, holdings)
                      for library, holdings in hit.holdings.items()]
        return self._open_first(
            (c.library for c in candidates),
            lambda closed: build_rota(self.consortium, borrower=home,
                                      material=hit.record.material, service=checked.service,
                                      candidates=candidates, max_cost=checked.max_cost,
                                      stats=self.history(), closed=closed,
                                      estimate=price))

    def _topic_rota(self, home: str, checked: RequestInput) -> Rota:
        price = self._price(home, checked)
        return self._open_first(
            self.consortium.libraries,
            lambda closed: topic_rota(self.consortium, borrower=home,
                                      max_cost=checked.max_cost, closed=closed,
                                      estimate=price))

    def _open_first(self, libraries: Iterable[str],
                    build: Callable[[frozenset[str]], Rota]) -> Rota:
        """The rota without the ``libraries`` on a public holiday today, while others
        are open; when every one is closed the order still goes out (the answer time
        counts only working hours anyway)."""
        closed = frozenset(code for code in libraries if self._closed_today(code))
        rota = build(closed)
        return build(frozenset()) if closed and not rota.entries else rota

    def _closed_today(self, code: str) -> bool:
        library = self.consortium.libraries.get(code)
        if library is None:
            return False
        today = self.clock().astimezone(ZoneInfo(library.timezone)).date()
        return is_public_holiday(today, library.country)

    @staticmethod
    def _refuse(rota: Rota, *, topic: bool) -> None:
        codes = {e.code for e in rota.skipped if e.code is not RotaCode.HOME_LIBRARY}
        if RotaCode.OVER_COST_LIMIT in codes:
            cheapest = min(e.estimate_total for e in rota.skipped
                           if e.code is RotaCode.OVER_COST_LIMIT
                           and e.estimate_total is not None)
            raise OverCostLimit(f"the cheapest lender would cost {cheapest}, above the most "
                                "you will pay; raise your limit or reserve it elsewhere",
                                cheapest=str(cheapest))
        if codes == {RotaCode.READING_ROOM_ONLY}:
            raise ReadingRoomOnly(N_("every other library keeps this title for its reading "
                                     "room only; you can read it there"),
                                  libraries=[e.library for e in rota.skipped
                                             if e.code is RotaCode.READING_ROOM_ONLY])
        if topic:
            raise NoLender(N_("no other member library takes topic requests; ask your own "
                              "library's staff to help you find books on the subject"))
        raise NoLender(N_("no other member library can lend this title now"))


def receipt_text(request: Request, home_name: str, fee: Estimate,
                 language: str = "en") -> str:
    """The receipt mail's text, in ``language``."""
    _ = translator(language).gettext
    what = request.item.title + (f" — {request.citation.part_title}"
                                 if request.citation else "")
    total = money_text(fee.total, fee.currency, language) if fee.total else _("free")
    service = _("Copy: {what}") if request.service is Service.COPY else _("Loan: {what}")
    return (_("Thank you: we have your request {request_id}.").format(request_id=request.id)
            + "\n\n" + service.format(what=what) + "\n"
            + _("Pickup: {place} ({library})").format(place=request.pickup_location,
                                                      library=home_name) + "\n"
            + _("Estimated fee: {total}").format(total=total) + "\n"
            + _("State: looking for a lender") + "\n")
