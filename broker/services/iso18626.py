"""ISO 18626 with peers, both ways: the messages they POST to /iso18626 (a lender's
answers about our orders, a partner's orders for our libraries and its steps), and
what we tell a partner about its order (``tell_partner``).

Who may send what: the bearer token picks the peer (compared with
``hmac.compare_digest`` against the token of each peer's ``credential_env``), the
message is parsed by that peer's schema version, and its agency ids must be that
peer's: a SupplyingAgencyMessage comes from one of our lenders with connector
iso18626 (its lending ``agency_id``), a Request or RequestingAgencyMessage from a
``[[partners]]`` entry. No token of a peer is HTTP 401 (``Unauthenticated``): ISO
18626 has no error type for authentication, and a stranger learns nothing of the
message it sent. Everything else is answered by the message's confirmation, OK or
ERROR with the standard's errorType, never by a server error.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from redis.asyncio import Redis

from broker.domain.consortium import Consortium, Library
from broker.domain.errors import (
    BrokerError,
    IllegalTransition,
    NotFound,
    Unauthenticated,
    VersionConflict,
)
from broker.domain.lifecycle import LenderAnswer
from broker.domain.request import Request
from broker.domain.states import Event, State, iso18626_status
from broker.services.lending import Lending
from broker.store.keys import Keys, request_id_for
from broker.store.reads import Pending, Reads
from broker.store.requests import Kept, OutboxJob, RequestStore
from connectors.iso18626 import lifecycle as iso_lifecycle
from connectors.iso18626 import messages as iso
from connectors.iso18626.errors import ErrorType, MessageError
from connectors.iso18626.lending import credential
from connectors.iso18626.lifecycle import (
    CANCEL_REFUSED,
    CANCELLED,
    STATUS,
    STEPS,
    Told,
    agency_text,
    answer_from,
    ordered,
    same_agency,
)

log = logging.getLogger(__name__)

# A repeated message is answered alike for a day; retries come within minutes.
ANSWER_TTL = 24 * 3600
# Our request ids are "ILL-XXXX-XXXX"; a partner's are its own, within reason.
MAX_REQUEST_ID = 100


@dataclass(frozen=True, slots=True)
class Peer:
    """Who may POST to /iso18626: a ``partner`` (orders from it, its steps) or one of
    our ``lender`` libraries with connector iso18626 (its answers to our orders)."""

    kind: Literal["partner", "lender"]
    code: str
    agency_id: str
    version: str
    credential_env: str | None


def peers(consortium: Consortium) -> tuple[Peer, ...]:
    found = [Peer("partner", p.code, p.agency_id, p.schema_version, p.credential_env)
             for p in consortium.partners.values()]
    for library in consortium.libraries.values():
        if library.lending.connector == "iso18626":
            settings = library.lending.settings
            found.append(Peer("lender", library.code, str(settings["agency_id"]),
                              str(settings.get("schema_version", iso.V2021_2)),
                              settings.get("credential_env")))
    return tuple(found)


class Refused(Exception):
    """A message we read but do not accept: answered by its ERROR confirmation."""

    def __init__(self, error_type: ErrorType, value: str) -> None:
        super().__init__(value)
        self.error_type = error_type
        self.value = value[:200]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Iso18626Inbound:
    """Takes one message a peer POSTed and returns the confirmation to answer with."""

    lending: Lending
    redis: Redis
    keys: Keys
    consortium: Consortium
    clock: Callable[[], datetime] = _now

    def __post_init__(self) -> None:
        self.peers = peers(self.consortium)
        self.libraries_by_agency = {agency_text(iso_lifecycle.agency(lib.agency_id)): lib
                                    for lib in self.consortium.libraries.values()}

    @property
    def store(self) -> RequestStore:
        return self.lending.requests

    def authorised(self, authorization: str | None) -> list[Peer]:
        """The peers whose token the ``Authorization: Bearer`` header carries, or
        ``Unauthenticated``. Every peer's token is compared, in constant time each."""
        scheme, _, token = (authorization or "").strip().partition(" ")
        given = token.strip().encode()
        found = []
        if scheme.lower() == "bearer" and given:
            for peer in self.peers:
                expected = credential(peer.credential_env)
                if expected is not None and hmac.compare_digest(given, expected.encode()):
                    found.append(peer)
        if not found:
            raise Unauthenticated("an ISO 18626 peer's bearer token is needed")
        return found

    async def receive(self, body: bytes, authorization: str | None) -> tuple[bytes, str]:
        """The confirmation (XML, and the version it is written in) for ``body`` from
        the peer ``authorization`` names. Raises ``Unauthenticated`` only."""
        candidates = self.authorised(authorization)
        received = self.clock()
        versions = {p.version for p in candidates}
        version = versions.pop() if len(versions) == 1 else None
        try:
            message = iso.parse(body, version, peer=candidates[0].code)
        except MessageError as exc:
            return iso.build(iso.error_confirmation(exc, received=received),
                             version or iso.V2021_2), version or iso.V2021_2
        used = message.version or iso.V2021_2
        if not isinstance(message, (iso.Request, iso.SupplyingAgencyMessage,
                                    iso.RequestingAgencyMessage)):
            error = iso.ErrorData(ErrorType.UNRECOGNISED_DATA_ELEMENT,
                                  "a confirmation is an answer, not a message to us")
            header = iso.ConfirmationHeader(received, received, iso.MessageStatus.ERROR)
            return iso.build(iso.RequestConfirmation(header, (error,)), used), used
        wanted = "lender" if isinstance(message, iso.SupplyingAgencyMessage) else "partner"
        peer = next((p for p in candidates if p.kind == wanted), None)
        digest = hashlib.sha256(body).hexdigest()
        wanted_id: str | None = None
        if isinstance(message, iso.SupplyingAgencyMessage):
            wanted_id = message.header.requesting_agency_request_id.strip()
            if not wanted_id or len(wanted_id) > MAX_REQUEST_ID:
                wanted_id = None
        answer_key = self.keys.iso18626_answer(peer.code if peer else "-", digest, wanted_id)
        prefetched: Pending[Request | None] | None = None
        if peer is not None:
            # The repeat check and, for a lender's answer, its request: one round trip.
            reads = Reads(self.redis)
            reads.pipe.get(answer_key)
            kept_answer = reads.add(1, lambda results: results[0])
            if wanted_id is not None:
                prefetched = self.store.read(reads, wanted_id)
            await reads.run()
            kept = kept_answer.value
            if kept is not None:
                return kept.encode() if isinstance(kept, str) else kept, used
        # Only what was done is kept: a refused message may fit later. A lender's
        # answer keeps its confirmation in the step that acts on it.
        confirmation = iso.build(iso.confirmation_for(message, used, received=received,
                                                      timestamp=self.clock(), errors=()),
                                 used)
        keep = Kept(answer_key, confirmation, ANSWER_TTL) if wanted_id is not None else None
        try:
            if peer is None:
                raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                              f"this credential sends no {iso.MESSAGE_ELEMENTS[type(message)]}")
            kept_with_step = False
            if isinstance(message, iso.SupplyingAgencyMessage):
                kept_with_step = await self._answered(peer, message, prefetched, keep)
            elif isinstance(message, iso.Request):
                await self._ordered(peer, message)
            else:
                await self._stepped(peer, message)
        except Refused as exc:
            error = iso.ErrorData(exc.error_type, exc.value)
            return iso.build(iso.confirmation_for(message, used, received=received,
                                                  timestamp=self.clock(), errors=(error,)),
                             used), used
        if not kept_with_step:
            await self.redis.set(answer_key, confirmation, ex=ANSWER_TTL)
        return confirmation, used

    # --- a lender answers our order ------------------------------------------------

    async def _answered(self, peer: Peer, message: iso.SupplyingAgencyMessage,
                        prefetched: Pending[Request | None] | None,
                        keep: Kept | None) -> bool:
        """Act on a lender's answer; True if ``keep`` was written with its step."""
        header = message.header
        if not same_agency(header.supplying_agency_id, peer.agency_id):
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"supplyingAgencyId {agency_text(header.supplying_agency_id)} "
                          "is not yours")
        found = prefetched.value if prefetched is not None else None
        request = found or await self._ours(header.requesting_agency_request_id)
        if request.lender != peer.code or request.from_partner:
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"request {request.id} is not an order of yours")
        home = self.consortium.libraries.get(request.home_library)
        if home is None or not same_agency(header.requesting_agency_id, home.agency_id):
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"requestingAgencyId {agency_text(header.requesting_agency_id)} "
                          f"did not send {request.id}")
        answer = answer_from(message)
        if answer is None:
            return False
        if answer.kind is LenderAnswer.SHIPPED and answer.due_date is None:
            # Loaned without dueDate: the lender's own loan period, from today.
            days = self.consortium.library(peer.code).policy.loan_days
            answer = replace(answer, due_date=date.fromordinal(
                self.clock().date().toordinal() + days))
        unread = [request]

        async def answered() -> Request:
            # The request read for the checks; after a lost race, as it is now.
            current = unread.pop() if unread else await self.store.get(request.id)
            return await self.lending.answer(current, peer.code, answer,
                                             f"iso18626:{peer.code}", keep)

        await self._act(answered, message)
        return keep is not None

    # --- a partner orders from one of our libraries --------------------------------

    async def _ordered(self, peer: Peer, message: iso.Request) -> None:
        header = message.header
        self._from_partner(peer, header)
        library = self._our_library(header.supplying_agency_id)
        theirs = self._their_id(header.requesting_agency_request_id)
        patron = f"partner:{peer.code}"
        key = self.keys.partner_request(peer.code, theirs)
        ours = request_id_for(patron)
        if not await self.redis.set(key, ours, nx=True):
            kept = await self.redis.get(key)
            ours = kept.decode() if isinstance(kept, bytes) else str(kept)
        try:
            request = await self.store.get(ours)
        except NotFound:
            what = ordered(message)
            now = self.clock()
            request = await self.store.create(Request(
                id=ours, service=what.service, state=State.NEW, version=0, patron_id=patron,
                home_library=peer.code, pickup_location=peer.code, item=what.item,
                citation=what.citation, max_cost=what.max_cost, note=what.note,
                created_at=now, updated_at=now, partner=peer.code,
                partner_request_id=theirs), f"iso18626:{peer.code}")
        if request.state is State.NEW:
            await self._act(lambda: self.store.apply(
                request, Event.ORDER_RECEIVED, f"iso18626:{peer.code}",
                changes={"lender": library.code},
                data={"lender": library.code, "partner": peer.code,
                      "partner_request_id": theirs}), message)

    # --- a partner's step about its order ------------------------------------------

    async def _stepped(self, peer: Peer, message: iso.RequestingAgencyMessage) -> None:
        header = message.header
        self._from_partner(peer, header)
        theirs = self._their_id(header.requesting_agency_request_id)
        kept = await self.redis.get(self.keys.partner_request(peer.code, theirs))
        if kept is None:
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE, f"no request {theirs}")
        request = await self._ours(kept.decode() if isinstance(kept, bytes) else str(kept))
        library = self.consortium.libraries.get(request.lender or "")
        if header.supplying_agency_id is not None and library is not None and not same_agency(
                header.supplying_agency_id, library.agency_id):
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"supplyingAgencyId {agency_text(header.supplying_agency_id)} "
                          f"does not hold {theirs}")
        action = message.action
        if action is iso.Action.NOTIFICATION:
            return
        if action is iso.Action.STATUS_REQUEST:
            await self.store.enqueue(request, [OutboxJob("tell_partner", request.id,
                                                         {"answer": STATUS})])
            return
        step = STEPS.get(action)
        if step is None:
            raise Refused(ErrorType.UNSUPPORTED_ACTION_TYPE,
                          f"{action.value} is not supported here")
        actor = f"iso18626:{peer.code}"
        if action is iso.Action.CANCEL:
            # Answered by a CancelResponse either way (clause 8.3): yes if it was
            # cancelled, no once the item is on its way.
            try:
                after = await self.lending.borrower_steps(request.id, step, actor,
                                                          note=message.note)
            except IllegalTransition:
                after, kind = request, CANCEL_REFUSED
            else:
                kind = CANCELLED
            await self.store.enqueue(after, [OutboxJob("tell_partner", request.id,
                                                       {"answer": kind})])
            return
        await self._act(lambda: self.lending.borrower_steps(request.id, step, actor,
                                                            note=message.note), message)

    # --- shared checks ---------------------------------------------------------------

    def _from_partner(self, peer: Peer, header: iso.Header) -> None:
        if not same_agency(header.requesting_agency_id, peer.agency_id):
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"requestingAgencyId {agency_text(header.requesting_agency_id)} "
                          "is not yours")

    def _our_library(self, supplier: iso.AgencyId | None) -> Library:
        library = self.libraries_by_agency.get(agency_text(supplier))
        if library is None:
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"supplyingAgencyId {agency_text(supplier) or '(none)'} is none "
                          "of our libraries")
        return library

    @staticmethod
    def _their_id(value: str) -> str:
        value = value.strip()
        if not value or len(value) > MAX_REQUEST_ID:
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          "requestingAgencyRequestId: 1 to 100 characters")
        return value

    async def _ours(self, request_id: str) -> Request:
        if not request_id or len(request_id) > MAX_REQUEST_ID:
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE, "no such request")
        try:
            return await self.store.get(request_id.strip())
        except NotFound:
            raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                          f"no request {request_id[:MAX_REQUEST_ID]}") from None

    @staticmethod
    async def _act(step: Callable[[], Awaitable[object]], message: iso.Initiating) -> None:
        """Run ``step``; a refusal of the domain (the state does not take it, a value
        it cannot use) is the message's ERROR confirmation. A lost race is run once
        more on the request as it is now."""
        for attempt in (1, 2):
            try:
                await step()
                return
            except VersionConflict:
                if attempt == 2:
                    raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                                  "the request changed meanwhile; send again") from None
            except IllegalTransition as exc:
                raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE,
                              f"{_what(message)} does not fit the request now "
                              f"({exc.detail})") from None
            except BrokerError as exc:
                raise Refused(ErrorType.UNRECOGNISED_DATA_VALUE, exc.detail) from None


def _what(message: iso.Initiating) -> str:
    if isinstance(message, iso.SupplyingAgencyMessage):
        return f"status {message.status_info.status.value}"
    if isinstance(message, iso.RequestingAgencyMessage):
        return f"action {message.action.value}"
    return "the request"


# --- telling a partner of our library's answers ---------------------------------------


async def told(requests: RequestStore, request: Request, kind: str) -> Told:
    """What the SupplyingAgencyMessage for ``kind`` says about ``request`` as it is
    now, with the details the event of that answer recorded."""
    history = await requests.history(request.id)
    data = next((dict(e.data) for e in reversed(history)
                 if e.data.get("answer") == kind), {})
    if kind in (STATUS, CANCEL_REFUSED, CANCELLED):
        status = iso18626_status(request.state, request.service)
        return Told(kind, status, due_date=_day(request.due_date))
    cost = data.get("cost")
    return Told(
        kind, iso_lifecycle.ANSWER_STATUS[kind], due_date=_day(request.due_date)
        if kind in (LenderAnswer.SHIPPED, LenderAnswer.RENEWAL, LenderAnswer.RECALLED)
        else None,
        url=request.delivery_url if kind == LenderAnswer.COPY_DELIVERED else None,
        note=data.get("reason") or (request.reason if kind == LenderAnswer.UNFILLED
                                    else None),
        condition=request.condition if kind == LenderAnswer.CONDITIONAL else None,
        cost=Decimal(cost) if cost not in (None, "None") else None,
        granted=bool(data.get("granted", True)) if kind == LenderAnswer.RENEWAL else None)


async def supplier_of(requests: RequestStore, request: Request) -> str | None:
    """Our library that holds (or held) a partner's order: its lender, or the one
    the order came to (an unfilled order has none any more)."""
    if request.lender:
        return request.lender
    for event in await requests.history(request.id):
        if event.event is Event.ORDER_RECEIVED:
            return str(event.data.get("lender")) or None
    return None


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None

