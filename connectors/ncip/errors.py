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
  User, User Access Denied, User Authentication Failed.

``PROBLEMS`` maps the value (case and spacing ignored) to a class. The scheme is not
part of the key: responders write the v1_0 or the v2_0 scheme URI, or none at all,
for the same value. "Unknown User" maps to ``None``: it is the register's answer
"no such patron", not a failure. A value not in the table raises the base
``NcipProblem`` with the type as written.

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


class NcipBadResponse(BadResponse, RegisterUnavailable):
    """The register answered, but not with an NCIP 2.02 LookupUserResponse we can
    read (not XML, too large, entity declarations, another namespace or message).

    It is both a ``BadResponse`` (what happened) and a ``RegisterUnavailable`` (what
    the borrower check makes of it: the register cannot say, try again later).
    """


class NcipProblem(ConnectorError):
    """The register answered with an NCIP Problem other than "Unknown User"."""

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
    """The responder will not run LookupUser for us (not offered, not authorised)."""


class UnknownService(ServiceRefused):
    """Unknown Service / Unsupported Service: no LookupUser at this responder."""


class Unauthorized(ServiceRefused):
    """Unauthorized Service or Combination Of Element Values, For Agency or System."""


class AuthenticationFailed(ServiceRefused):
    """Agency Authentication Failed / System Authentication Failed."""


class UnknownAgency(ServiceRefused):
    """Unknown Agency / Unknown System: the To- or FromAgencyId is not known there."""


class ElementRuleViolated(NcipProblem):
    """Element Rule Violated, Needed Data Missing, Invalid Date, Invalid Amount: the
    message was read but a value in it was refused."""


class TemporaryProcessingFailure(NcipProblem, RegisterUnavailable):
    """Temporary Processing Failure: the register is up but cannot answer now; the
    borrower check treats it as unavailable and tries again."""


class UserProblem(NcipProblem):
    """A LookupUser processing error about the user other than "Unknown User"."""


class NonUniqueUser(UserProblem):
    """Non-Unique User: the identifier matches more than one patron."""


class UserAccessDenied(UserProblem):
    """User Access Denied: the register will not disclose this patron to us."""


class UserAuthenticationFailed(UserProblem):
    """User Authentication Failed (AuthenticationInput lookups)."""


UNKNOWN_USER = "unknown user"

# ProblemType value (normalised by ``problem_key``) -> class; None = no such patron.
PROBLEMS: dict[str, type[NcipProblem] | None] = {
    # lookupuserprocessingerror.scm
    UNKNOWN_USER: None,
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
}


def problem_key(problem_type: str) -> str:
    """The table key of a ProblemType value: case and spacing do not matter."""
    return " ".join(problem_type.split()).casefold()


def is_unknown_user(problem: Problem) -> bool:
    return problem_key(problem.type) == UNKNOWN_USER


def error_for(problem: Problem, *, peer: str | None = None) -> NcipProblem:
    """The exception for a Problem that is not "Unknown User"."""
    cls = PROBLEMS.get(problem_key(problem.type), NcipProblem)
    if cls is None:
        raise ValueError("Unknown User is an answer, not an error")
    return cls(problem, peer=peer)
