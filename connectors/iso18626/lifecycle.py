"""The lending lifecycle in ISO 18626 terms, both ways. Pure.

Outbound: our order to a lender as a ``request``, the borrowing side's steps as
``requestingAgencyMessage`` actions, and our library's answers to a partner's order
as ``supplyingAgencyMessage`` statuses. Inbound: a lender's
``supplyingAgencyMessage`` as a ``broker.domain.lifecycle.Answer``, a partner's
action as a ``BorrowerStep``, a partner's ``request`` as the fields of our request.

Agency ids are written "TYPE:VALUE" in the consortium file ("ISIL:SI-1234"); a bare
value is an ISIL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from broker.domain.holdings import MaterialType
from broker.domain.lifecycle import Answer, BorrowerStep, LenderAnswer
from broker.domain.request import Citation, ItemDescription
from broker.domain.request import Request as Order
from broker.domain.states import IsoStatus, Service
from connectors.iso18626 import messages as iso

ISIL = "ISIL"
# Text values the domain bounds (LenderAnswer reasons and conditions).
MAX_TEXT = 500
_URL = re.compile(r"https?://[^\s<>\"']+")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")


def agency(text: str) -> iso.AgencyId:
    """``"ISIL:SI-1234"`` (or a bare ``"SI-1234"``) as an ISO 18626 agencyId."""
    kind, sep, value = text.strip().partition(":")
    if not sep:
        kind, value = ISIL, kind
    return iso.AgencyId(iso.SchemeValue(kind.strip().upper()), value.strip())


def agency_text(value: iso.AgencyId | None) -> str:
    """An agencyId as "TYPE:VALUE", the form ``agency`` reads ("" for none)."""
    if value is None:
        return ""
    return f"{value.agency_id_type.value.strip().upper()}:{value.agency_id_value.strip()}"


def same_agency(value: iso.AgencyId | None, configured: str) -> bool:
    """Whether a message's agencyId names the agency the consortium file configures
    (types compared without case, values exactly)."""
    return value is not None and agency_text(value) == agency_text(agency(configured))


# --- outbound: our order, and the borrowing side's steps --------------------------


@dataclass(frozen=True, slots=True)
class Pickup:
    """Where a loan is sent: the home library's name and country, no more."""

    name: str
    country: str


def order_message(order: Order, *, requester: str, supplier: str, pickup: Pickup,
                  currency: str, now: datetime) -> iso.Request:
    """Our request ``order`` as the ISO 18626 Request to the lender whose agency id is
    ``supplier`` (ISO 18626 clause 8.2: header, bibliographicInfo, serviceInfo,
    requestedDeliveryInfo, billingInfo). Nothing about the patron is sent."""
    item, citation = order.item, order.citation
    ids = []
    if item.isbn:
        ids.append(iso.BibliographicItemId(item.isbn, iso.SchemeValue("ISBN")))
    if item.issn:
        ids.append(iso.BibliographicItemId(item.issn, iso.SchemeValue("ISSN")))
    bib = iso.BibliographicInfo(
        title=citation.source_title if citation else item.title,
        author=item.author, edition=item.edition,
        title_of_component=citation.part_title if citation else None,
        volumes=(citation.volume,) if citation and citation.volume else (),
        issue=citation.issue if citation else None,
        pages_requested=citation.pages if citation else None,
        bibliographic_item_ids=tuple(ids))
    service = iso.ServiceInfo(
        service_type=iso.ServiceType.COPY if order.service is Service.COPY
        else iso.ServiceType.LOAN,
        request_type=iso.RequestType.NEW,
        item_format=iso.SchemeValue(order.copy_format.upper())
        if order.copy_format else None,
        note=order.note)
    billing = (iso.BillingInfo(maximum_costs=iso.Costs(iso.SchemeValue(currency),
                                                       order.max_cost))
               if order.max_cost is not None else None)
    return iso.Request(
        header=iso.Header(requesting_agency_id=agency(requester), timestamp=now,
                          requesting_agency_request_id=order.id,
                          supplying_agency_id=agency(supplier)),
        bibliographic_info=bib,
        publication_info=iso.PublicationInfo(publication_date=str(item.year))
        if item.year else None,
        service_info=service,
        requested_delivery_info=(iso.RequestedDeliveryInfo(address=iso.Address(
            physical_address=iso.PhysicalAddress(
                line1=pickup.name, country=iso.SchemeValue(pickup.country)))),),
        billing_info=billing)


# The action for each step; None: nothing to tell (the loan inside the home library).
_ACTIONS: dict[BorrowerStep, iso.Action | None] = {
    BorrowerStep.RECEIVED: iso.Action.RECEIVED,
    BorrowerStep.RENEW: iso.Action.RENEW,
    BorrowerStep.RETURN_SHIPPED: iso.Action.SHIPPED_RETURN,
    BorrowerStep.CANCEL: iso.Action.CANCEL,
    BorrowerStep.DECLINE_CONDITION: iso.Action.CANCEL,
    BorrowerStep.ACCEPT_CONDITION: iso.Action.NOTIFICATION,
    BorrowerStep.LOST: iso.Action.LOST,
    BorrowerStep.CHECKED_OUT: None,
    BorrowerStep.COPY_RECEIVED: None,
}
# What a Notification says for the steps that have no action of their own.
_NOTES = {BorrowerStep.ACCEPT_CONDITION: "The requester accepts the conditions.",
          BorrowerStep.LOST: "The item is lost at the requester."}


def step_message(order: Order, step: BorrowerStep, note: str | None, *, requester: str,
                 supplier: str, version: str, now: datetime
                 ) -> iso.RequestingAgencyMessage | None:
    """The RequestingAgencyMessage telling the lender ``step`` (clause 8.4), or None
    when the standard has nothing for it (a loan checked out at the home library, an
    electronic copy received). ``Lost`` is 2021-2's; in 1.2 it is a Notification."""
    action = _ACTIONS[step]
    if action is None:
        return None
    if action is iso.Action.LOST and version == iso.V1_2:
        action = iso.Action.NOTIFICATION
    text = note
    if action is iso.Action.NOTIFICATION:
        text = " ".join(t for t in (_NOTES.get(step), note) if t)
    return iso.RequestingAgencyMessage(
        header=iso.Header(requesting_agency_id=agency(requester), timestamp=now,
                          requesting_agency_request_id=order.id,
                          supplying_agency_id=agency(supplier)),
        action=action, note=text or None)


# --- outbound: our library's answers to a partner's order -------------------------

# Answer kinds (LenderAnswer values) and the job's own kinds -> the Status sent.
ANSWER_STATUS: dict[str, IsoStatus] = {
    LenderAnswer.WILL_SUPPLY: IsoStatus.WILL_SUPPLY,
    LenderAnswer.UNFILLED: IsoStatus.UNFILLED,
    LenderAnswer.CONDITIONAL: IsoStatus.EXPECT_TO_SUPPLY,
    LenderAnswer.SHIPPED: IsoStatus.LOANED,
    LenderAnswer.COPY_DELIVERED: IsoStatus.COPY_COMPLETED,
    LenderAnswer.RENEWAL: IsoStatus.LOANED,
    LenderAnswer.OVERDUE: IsoStatus.OVERDUE,
    LenderAnswer.RECALLED: IsoStatus.RECALLED,
    LenderAnswer.RECEIVED_BACK: IsoStatus.LOAN_COMPLETED,
    LenderAnswer.LOST: IsoStatus.COMPLETED_WITHOUT_RETURN,
}
# Beyond the answers: a StatusRequest answered, a Cancel done or refused.
STATUS = "status"
CANCELLED = "cancelled"
CANCEL_REFUSED = "cancel_refused"


@dataclass(frozen=True, slots=True)
class Told:
    """What a SupplyingAgencyMessage about an order says besides its status."""

    kind: str
    status: IsoStatus
    due_date: date | None = None
    url: str | None = None
    note: str | None = None
    condition: str | None = None
    cost: Decimal | None = None
    granted: bool | None = None


def answer_message(told: Told, *, partner_request_id: str, requester: str, supplier: str,
                   supplier_request_id: str, currency: str, version: str, now: datetime
                   ) -> iso.SupplyingAgencyMessage:
    """The SupplyingAgencyMessage (clause 8.3) telling the partner ``told``: the
    answer to its Request (RequestResponse), to a Renew (RenewResponse), a Cancel
    (CancelResponse), a StatusRequest (StatusRequestResponse), or a StatusChange.

    A condition goes in the note; 2021-2 carries it as a retryInfo loanCondition
    with the offered costs, 1.2 as messageInfo offeredCosts (0 when the condition
    names no cost), which is how the receiving side tells a conditional answer."""
    reason = {LenderAnswer.WILL_SUPPLY: iso.ReasonForMessage.REQUEST_RESPONSE,
              LenderAnswer.UNFILLED: iso.ReasonForMessage.REQUEST_RESPONSE,
              LenderAnswer.CONDITIONAL: iso.ReasonForMessage.REQUEST_RESPONSE,
              LenderAnswer.RENEWAL: iso.ReasonForMessage.RENEW_RESPONSE,
              STATUS: iso.ReasonForMessage.STATUS_REQUEST_RESPONSE,
              CANCELLED: iso.ReasonForMessage.CANCEL_RESPONSE,
              CANCEL_REFUSED: iso.ReasonForMessage.CANCEL_RESPONSE,
              }.get(told.kind, iso.ReasonForMessage.STATUS_CHANGE)
    v21 = version == iso.V2021_2
    note = told.note
    offered = None
    retry = None
    if told.kind == LenderAnswer.CONDITIONAL:
        note = told.condition
        costs = iso.Costs(iso.SchemeValue(currency), told.cost or Decimal("0"))
        if v21:
            retry = iso.RetryInfo(
                loan_conditions=(iso.SchemeValue((told.condition or "condition")[:200]),),
                offered_costs=(costs,) if told.cost is not None else ())
        else:
            offered = costs
    answer_yes_no = told.granted
    if told.kind == CANCELLED:
        answer_yes_no = True
    elif told.kind == CANCEL_REFUSED:
        answer_yes_no = False
    unfilled = (iso.SchemeValue((told.note or "NotAvailable")[:200])
                if told.kind == LenderAnswer.UNFILLED else None)
    delivery = None
    if told.kind in (LenderAnswer.SHIPPED, LenderAnswer.COPY_DELIVERED):
        delivery = iso.DeliveryInfo(date_sent=now, url=told.url if v21 else None,
                                    delivery_method=iso.SchemeValue("URL")
                                    if told.url and not v21 else None)
        if told.url and not v21:
            note = told.url  # 1.2 has no URL element: the note carries it
    due = (datetime.combine(told.due_date, datetime.min.time(), now.tzinfo)
           if told.due_date else None)
    return iso.SupplyingAgencyMessage(
        header=iso.Header(requesting_agency_id=agency(requester), timestamp=now,
                          requesting_agency_request_id=partner_request_id,
                          supplying_agency_id=agency(supplier),
                          supplying_agency_request_id=supplier_request_id),
        message_info=iso.MessageInfo(reason_for_message=reason, answer_yes_no=answer_yes_no,
                                     note=note[:MAX_TEXT] if note else None,
                                     reason_unfilled=unfilled, offered_costs=offered),
        status_info=iso.StatusInfo(status=told.status, last_change=now, due_date=due),
        retry_info=retry, delivery_info=delivery)


# --- inbound: a lender's answer, a partner's step, a partner's order --------------

# Statuses that say nothing to act on here: acknowledged, confirmed OK.
_ACKNOWLEDGED = frozenset({IsoStatus.REQUEST_RECEIVED, IsoStatus.CANCELLED,
                           iso.Status2021.HOLD_RETURN, iso.Status2021.RELEASE_HOLD_RETURN})


def _text(*parts: str | None) -> str | None:
    joined = "; ".join(p.strip() for p in parts if p and p.strip())
    return joined[:MAX_TEXT] or None


def _due(message: iso.SupplyingAgencyMessage) -> date | None:
    due = message.status_info.due_date
    return due.date() if due else None


def copy_url(message: iso.SupplyingAgencyMessage) -> str | None:
    """Where the copy is: 2021-2's deliveryInfo/URL; in 1.2 (which has no URL
    element) a sentVia value or the first http(s) link in the note."""
    delivery = message.delivery_info
    if delivery is not None and delivery.url:
        return delivery.url.strip()
    candidates = [delivery.delivery_method.value if delivery and delivery.delivery_method
                  else None, message.message_info.note]
    for text in candidates:
        found = _URL.search(text or "")
        if found:
            return found.group(0)
    return None


def answer_from(message: iso.SupplyingAgencyMessage) -> Answer | None:
    """The lender's answer a SupplyingAgencyMessage gives (clause 8.3), or None when
    it only acknowledges (a Notification, a StatusRequestResponse, a CancelResponse,
    RequestReceived, HoldReturn).

    ExpectToSupply and WillSupply are conditional when the message carries loan
    conditions (retryInfo or deliveryInfo) or offered costs; RetryPossible is unfilled
    here (the rota moves on rather than re-asking with changed terms), its
    reasonRetry the reason. A RenewResponse is granted by answerYesNo (absent: by
    a due date being given)."""
    info, status = message.message_info, message.status_info.status
    reason = info.reason_for_message
    if reason in (iso.ReasonForMessage.NOTIFICATION,
                  iso.ReasonForMessage.STATUS_REQUEST_RESPONSE,
                  iso.ReasonForMessage.CANCEL_RESPONSE) or status in _ACKNOWLEDGED:
        return None
    note = info.note
    if reason is iso.ReasonForMessage.RENEW_RESPONSE:
        granted = info.answer_yes_no if info.answer_yes_no is not None else (
            message.status_info.due_date is not None)
        return Answer(LenderAnswer.RENEWAL, reason=_text(note), due_date=_due(message),
                      granted=granted)
    if status in (IsoStatus.EXPECT_TO_SUPPLY, IsoStatus.WILL_SUPPLY):
        conditions = [c.value for c in (
            (message.retry_info.loan_conditions if message.retry_info else ())
            + (message.delivery_info.loan_conditions if message.delivery_info else ()))]
        costs = message.offered_costs
        if conditions or costs:
            condition = _text(note, *conditions) or "the lender's conditions"
            return Answer(LenderAnswer.CONDITIONAL, condition=condition,
                          cost=costs[0].monetary_value if costs else None)
        return Answer(LenderAnswer.WILL_SUPPLY, reason=_text(note))
    if status is IsoStatus.LOANED:
        return Answer(LenderAnswer.SHIPPED, due_date=_due(message), reason=_text(note))
    if status is IsoStatus.COPY_COMPLETED:
        return Answer(LenderAnswer.COPY_DELIVERED, url=copy_url(message))
    if status is IsoStatus.UNFILLED:
        why = info.reason_unfilled.value if info.reason_unfilled else None
        return Answer(LenderAnswer.UNFILLED, reason=_text(why, note) or "unfilled")
    if status is IsoStatus.RETRY_POSSIBLE:
        why = info.reason_retry.value if info.reason_retry else None
        return Answer(LenderAnswer.UNFILLED, reason=_text("retry possible", why, note))
    if status is IsoStatus.OVERDUE:
        return Answer(LenderAnswer.OVERDUE, reason=_text(note))
    if status is IsoStatus.RECALLED:
        return Answer(LenderAnswer.RECALLED, reason=_text(note), due_date=_due(message))
    if status is IsoStatus.LOAN_COMPLETED:
        return Answer(LenderAnswer.RECEIVED_BACK, reason=_text(note))
    if status is IsoStatus.COMPLETED_WITHOUT_RETURN:
        costs = message.offered_costs
        return Answer(LenderAnswer.LOST, reason=_text(note),
                      cost=costs[0].monetary_value if costs else None)
    return None


# A partner's action -> our step; StatusRequest and Notification are handled apart,
# HoldReturn and ShippedForward are not supported (no state of ours fits them).
STEPS: dict[iso.Action, BorrowerStep] = {
    iso.Action.RECEIVED: BorrowerStep.RECEIVED,
    iso.Action.RENEW: BorrowerStep.RENEW,
    iso.Action.SHIPPED_RETURN: BorrowerStep.RETURN_SHIPPED,
    iso.Action.CANCEL: BorrowerStep.CANCEL,
    iso.Action.LOST: BorrowerStep.LOST,
}


@dataclass(frozen=True, slots=True)
class Ordered:
    """What a partner's Request asks, in the terms of our request."""

    service: Service
    item: ItemDescription
    citation: Citation | None
    max_cost: Decimal | None
    note: str | None


def _cut(text: str | None, most: int = MAX_TEXT) -> str | None:
    return text.strip()[:most] or None if text else None


def ordered(message: iso.Request) -> Ordered:
    """Our request's service, item and citation from a partner's Request (clause
    8.2). CopyOrLoan is taken as a loan; a copy's journal or book is the title, its
    article or chapter the titleOfComponent."""
    bib = message.bibliographic_info
    service_type = message.service_info.service_type if message.service_info else None
    service = Service.COPY if service_type is iso.ServiceType.COPY else Service.LOAN
    codes = {i.bibliographic_item_identifier_code.value.upper():
             i.bibliographic_item_identifier.strip()[:40] for i in bib.bibliographic_item_ids}
    published = message.publication_info.publication_date if message.publication_info else None
    year = _YEAR.search(published or "")
    title = _cut(bib.title) or _cut(bib.title_of_component) or "(no title given)"
    item = ItemDescription(title=title, author=_cut(bib.author), edition=_cut(bib.edition),
                           year=int(year.group(1)) if year else None,
                           isbn=codes.get("ISBN"), issn=codes.get("ISSN"),
                           material=MaterialType.JOURNAL if service is Service.COPY
                           and codes.get("ISSN") else MaterialType.BOOK)
    citation = None
    if service is Service.COPY:
        citation = Citation(source_title=title,
                            part_title=_cut(bib.title_of_component) or title,
                            volume=_cut(bib.volumes[0], 40) if bib.volumes else None,
                            issue=_cut(bib.issue, 40), pages=_cut(bib.pages_requested, 40))
    costs = message.billing_info.maximum_costs if message.billing_info else None
    return Ordered(service, item, citation,
                   costs.monetary_value if costs is not None else None,
                   _cut(message.service_info.note) if message.service_info else None)
