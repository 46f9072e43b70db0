"""NCIP Problem elements as exceptions, mapped by an explicit table.

Implements the Problem element of NCIP 2.02 (ANSI/NISO Z39.83-1-2012, Part 1
"Problem"; schema element ``Problem``: ``ProblemType``, ``ProblemDetail``,
``ProblemElement``, ``ProblemValue``). ``ProblemType`` is a Scheme/Value pair; the
values are those of the NCIP schemes

- messagingerrortype.scm: Invalid Message Syntax Error, Protocol Error, Unknown
  Element, Unknown Scheme, Unknown Service, Unknown Value From Known Scheme;
- generalprocessingerror.scm: Agency Authentication Failed, Invalid Amount, Invalid
  Date, Needed Data Missing, System Authentication Failed, Temporary Processing
  Failure, Unauthorized Combination Of Element Values For Agency/System,
  Unauthorized Service For Agency/System, Unknown Agency, Unknown System,
  Unsupported Service;
- lookupuserprocessingerror.scm: Element Rule Violated, Non-Unique User, Unknown
  User, User Access Denied, User Authentication Failed;
- acceptitemprocessingerror.scm: Cannot Accept Item, Cannot Guarantee Restrictions
  On Use, Element Rule Violated, Unknown Item, Unknown Request, Unknown User, User
  Ineligible To Check Out This Item;
- checkoutitemprocessingerror.scm: Item Does Not Circulate, Maximum Check Outs
  Exceeded, Resource Cannot Be Provided, Unknown Item, Unknown Request, Unknown User,
  Unsupported Shipping Address Type, User Authentication Failed, User Blocked, User
  Ineligible To Check Out This Item;
- checkinitemprocessingerror.scm: Item Not Checked Out, Unknown Item;
- renewitemprocessingerror.scm: Item Not Checked Out, Item Not Renewable, Maximum
  Renewals Exceeded, Renewal Not Allowed - Item Has Outstanding Requests, Unknown
  Item, Unknown User, User Authentication Failed, User Blocked, User Ineligible To
  Renew This Item.

``PROBLEMS`` maps the value (case and spacing ignored) to a class. The scheme is not
part of the key: responders write the v1_0 or the v2_0 scheme URI, or none at all,
for the same value, and the services share values ("Unknown Item" means the same in
each). A value not in the table raises the base ``NcipProblem`` with the type as
written. "Unknown User" is ``UnknownUser`` like any other; only the reading of a
LookupUserResponse takes it as the register's answer "no such patron" (see
``is_unknown_user``).

What is worth trying again is told by class, not by the caller's guess: a
"Temporary Processing Failure" and a response that is not NCIP are both a
``RegisterUnavailable`` (for the borrower check) and a ``CirculationUnavailable``
(for the circulation messages), whichever service was asked.

Messages of these exceptions never carry ``ProblemValue``: it is often the card
number asked for, and nothing personal goes into logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from connectors.errors import BadResponse, ConnectorError, RegisterUnavailable


@dataclass(frozen=True, slots=True)
class Problem:
    """One NCIP ``Problem`` element as the responder wrote it."""

    type: str
    scheme: str | None = None
    detail: str | None = None
    element: str | None = None
    value: str | None = None


class CirculationUnavailable(ConnectorError):
    """The home library's NCIP responder did not take a circulation message (Accept
    Item, Check Out Item, Check In Item, Renew Item): no answer in time, a refused
    connection, an HTTP error, or an answer that is not NCIP. Try again later: the
    library system has not said no."""


class NcipBadResponse(BadResponse, RegisterUnavailable, CirculationUnavailable):
    """The responder answered, but not with the NCIP 2.02 response we asked for (not
    XML, too large, entity declarations, another namespace or message).

    It is a ``BadResponse`` (what happened), and a ``RegisterUnavailable`` and a
    ``CirculationUnavailable`` (what the borrower check and the circulation make of
    it: the library system cannot say now, try again later).
    """


class NcipProblem(ConnectorError):
    """The responder answered with an NCIP Problem."""

    def __init__(self, problem: Problem, *, peer: str | None = None) -> None:
        text = problem.type
        if problem.detail:
            text = f"{text}: {problem.detail}"
        if problem.element:
            text = f"{text} (element {problem.element})"
        super().__init__(f"NCIP problem {text}", peer=peer)
        self.problem = problem


class MessagingError(NcipProblem):
    """The responder could not read our message (messagingerrortype.scm)."""


class InvalidMessageSyntax(MessagingError):
    """Invalid Message Syntax Error: our message did not parse or validate there."""


class ProtocolError(MessagingError):
    """Protocol Error: the responder does not speak the NCIP version we sent."""


class UnknownElement(MessagingError):
    """Unknown Element: an element the responder does not know."""


class UnknownScheme(MessagingError):
    """Unknown Scheme: a Scheme URI the responder does not know."""


class UnknownValueFromKnownScheme(MessagingError):
    """Unknown Value From Known Scheme: e.g. a UserElementType it does not offer."""


class ServiceRefused(NcipProblem):
    """The responder will not run the service for us (not offered, not authorised)."""


class UnknownService(ServiceRefused):
    """Unknown Service / Unsupported Service: the responder does not offer it."""


class Unauthorized(ServiceRefused):
    """Unauthorized Service or Combination Of Element Values, For Agency or System."""


class AuthenticationFailed(ServiceRefused):
    """Agency Authentication Failed / System Authentication Failed."""


class UnknownAgency(ServiceRefused):
    """Unknown Agency / Unknown System: the To- or FromAgencyId is not known there."""


class ElementRuleViolated(NcipProblem):
    """Element Rule Violated, Needed Data Missing, Invalid Date, Invalid Amount: the
    message was read but a value in it was refused."""


class TemporaryProcessingFailure(NcipProblem, RegisterUnavailable, CirculationUnavailable):
    """Temporary Processing Failure: the library system is up but cannot answer now;
    the borrower check and the circulation treat it as unavailable and try again."""


class UserProblem(NcipProblem):
    """A processing error about the user."""


class UnknownUser(UserProblem):
    """Unknown User: no patron with that identifier. For LookupUser this is the
    register's answer (``parse_lookup_user_response`` returns ``None``); for the
    circulation services it is a refusal."""


class NonUniqueUser(UserProblem):
    """Non-Unique User: the identifier matches more than one patron."""


class UserAccessDenied(UserProblem):
    """User Access Denied: the register will not disclose this patron to us."""


class UserAuthenticationFailed(UserProblem):
    """User Authentication Failed (AuthenticationInput lookups)."""


class UserBlocked(UserProblem):
    """User Blocked: the patron's blocks bar the check-out or renewal."""


class UserIneligible(UserProblem):
    """User Ineligible To Check Out (or To Renew) This Item: the item's use
    restrictions and the patron's privileges do not go together."""


class ItemProblem(NcipProblem):
    """A circulation processing error about the item or the request."""


class UnknownItem(ItemProblem):
    """Unknown Item: the library system has no item with that ItemId (never
    accepted, or already removed)."""


class UnknownRequest(ItemProblem):
    """Unknown Request: the RequestId is not known there."""


class CannotAcceptItem(ItemProblem):
    """Cannot Accept Item / Cannot Guarantee Restrictions On Use: Accept Item
    refused."""


class ItemDoesNotCirculate(ItemProblem):
    """Item Does Not Circulate / Resource Cannot Be Provided / Unsupported Shipping
    Address Type: Check Out Item refused for the item's sake."""


class MaximumCheckOutsExceeded(UserProblem):
    """Maximum Check Outs Exceeded: the patron has as many loans as allowed."""


class ItemNotCheckedOut(ItemProblem):
    """Item Not Checked Out: Check In Item or Renew Item of an item not on loan
    (also the answer to a check-in tried again after its first answer was lost)."""


class RenewalRefused(ItemProblem):
    """Item Not Renewable, Maximum Renewals Exceeded, Renewal Not Allowed - Item Has
    Outstanding Requests."""


UNKNOWN_USER = "unknown user"

# ProblemType value (normalised by ``problem_key``) -> class.
PROBLEMS: dict[str, type[NcipProblem]] = {
    # lookupuserprocessingerror.scm (and the item services' own "Unknown User")
    UNKNOWN_USER: UnknownUser,
    "non-unique user": NonUniqueUser,
    "user access denied": UserAccessDenied,
    "user authentication failed": UserAuthenticationFailed,
    "element rule violated": ElementRuleViolated,
    # generalprocessingerror.scm
    "agency authentication failed": AuthenticationFailed,
    "system authentication failed": AuthenticationFailed,
    "invalid amount": ElementRuleViolated,
    "invalid date": ElementRuleViolated,
    "needed data missing": ElementRuleViolated,
    "temporary processing failure": TemporaryProcessingFailure,
    "unauthorized combination of element values for agency": Unauthorized,
    "unauthorized combination of element values for system": Unauthorized,
    "unauthorized service for agency": Unauthorized,
    "unauthorized service for system": Unauthorized,
    "unknown agency": UnknownAgency,
    "unknown system": UnknownAgency,
    "unsupported service": UnknownService,
    # messagingerrortype.scm
    "invalid message syntax error": InvalidMessageSyntax,
    "protocol error": ProtocolError,
    "unknown element": UnknownElement,
    "unknown scheme": UnknownScheme,
    "unknown service": UnknownService,
    "unknown value from known scheme": UnknownValueFromKnownScheme,
    # acceptitemprocessingerror.scm, checkoutitemprocessingerror.scm,
    # checkinitemprocessingerror.scm, renewitemprocessingerror.scm
    "cannot accept item": CannotAcceptItem,
    "cannot guarantee restrictions on use": CannotAcceptItem,
    "unknown item": UnknownItem,
    "unknown request": UnknownRequest,
    "item does not circulate": ItemDoesNotCirculate,
    "resource cannot be provided": ItemDoesNotCirculate,
    "unsupported shipping address type": ItemDoesNotCirculate,
    "maximum check outs exceeded": MaximumCheckOutsExceeded,
    "user blocked": UserBlocked,
    "user ineligible to check out this item": UserIneligible,
    "user ineligible to renew this item": UserIneligible,
    "item not checked out": ItemNotCheckedOut,
    "item not renewable": RenewalRefused,
    "maximum renewals exceeded": RenewalRefused,
    "renewal not allowed - item has outstanding requests": RenewalRefused,
}


def problem_key(problem_type: str) -> str:
    """The table key of a ProblemType value: case and spacing do not matter."""
    return " ".join(problem_type.split()).casefold()


def is_unknown_user(problem: Problem) -> bool:
    """Whether ``problem`` is "Unknown User", the register's "no such patron"."""
    return problem_key(problem.type) == UNKNOWN_USER


def error_for(problem: Problem, *, peer: str | None = None) -> NcipProblem:
    """The exception for ``problem`` by ``PROBLEMS``; the base ``NcipProblem`` for a
    value the table does not know."""
    return PROBLEMS.get(problem_key(problem.type), NcipProblem)(problem, peer=peer)
