"""One exception hierarchy for domain refusals, each with its problem+json type.

The web layer turns a ``BrokerError`` into ``application/problem+json`` with the
``type`` and ``status`` declared here; nothing else catches broadly. The titles are
marked ``N_``: the API says them in English, a page in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from broker.domain.messages import N_


class BrokerError(Exception):
    """A refusal the caller can act on. ``problem_type`` is stable API."""

    problem_type: ClassVar[str] = "about:blank"
    title: ClassVar[str] = N_("Request refused")
    status: ClassVar[int] = 400

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions: Mapping[str, Any] = extensions


class ValidationFailed(BrokerError):
    problem_type = "validation"
    title = N_("The input is not valid")
    status = 422

    def __init__(self, problems: Mapping[str, str], detail: str | None = None) -> None:
        super().__init__(detail or "; ".join(f"{k}: {v}" for k, v in problems.items()),
                         errors=dict(problems))
        self.problems = problems


class MalformedInput(BrokerError):
    problem_type = "malformed"
    title = N_("The request body cannot be read")
    status = 400


class NotFound(BrokerError):
    problem_type = "not-found"
    title = N_("No such resource")
    status = 404


class Conflict(BrokerError):
    problem_type = "conflict"
    title = N_("The resource changed meanwhile")
    status = 409


class IllegalTransition(BrokerError):
    problem_type = "illegal-transition"
    title = N_("Not possible in the request's current state")
    status = 409

    def __init__(self, state: object, event: object, service: object) -> None:
        super().__init__(f"a {service} request in state {state} cannot take event {event}",
                         state=str(state), event=str(event))


class VersionConflict(Conflict):
    problem_type = "version-conflict"

    def __init__(self, request_id: str, expected: int, current: int) -> None:
        super().__init__(f"request {request_id} is at version {current}, not {expected}",
                         expected=expected, current=current)
        self.current = current


class ConsortiumInvalid(BrokerError):
    """The consortium file has problems; ``problems`` are ``(place, message)`` pairs."""

    problem_type = "consortium-invalid"
    title = N_("The consortium file is not valid")
    status = 422

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        lines = [f"{place}: {message}" if place else message for place, message in problems]
        super().__init__(f"{source}: " + "; ".join(lines), problems=lines)
        self.source = source
        self.problems = problems

    def report(self) -> str:
        """One line a problem, each with its place, for a terminal."""
        return "\n".join(f"{self.source}: {p}: {m}" if p else f"{self.source}: {m}"
                         for p, m in self.problems)


class Unavailable(BrokerError):
    problem_type = "unavailable"
    title = N_("A service the broker needs does not answer")
    status = 503


class Unauthenticated(BrokerError):
    problem_type = "unauthenticated"
    title = N_("Log in first")
    status = 401


class Forbidden(BrokerError):
    problem_type = "forbidden"
    title = N_("Not yours to see or do")
    status = 403


class RateLimited(BrokerError):
    problem_type = "rate-limited"
    title = N_("Too many attempts")
    status = 429


class InvalidToken(BrokerError):
    problem_type = "invalid-token"
    title = N_("The link is not valid")
    status = 400


class EmailTaken(BrokerError):
    problem_type = "email-taken"
    title = N_("An account with this e-mail address exists")
    status = 409


class MembershipRestricted(BrokerError):
    problem_type = "membership-restricted"
    title = N_("Your membership does not allow interlibrary loan yet")
    status = 403


class BorrowerMismatch(BrokerError):
    problem_type = "borrower-mismatch"
    title = N_("Your account does not match your library's register")
    status = 409


class HeldLocally(BrokerError):
    problem_type = "held-locally"
    title = N_("Your own library has this title: reserve it there")
    status = 409


class NoLender(BrokerError):
    problem_type = "no-lender"
    title = N_("No member library can lend this title")
    status = 409


class ReadingRoomOnly(BrokerError):
    problem_type = "reading-room-only"
    title = N_("Every copy is for the reading room only")
    status = 409


class OverCostLimit(BrokerError):
    problem_type = "over-cost-limit"
    title = N_("The cost is above the most you will pay")
    status = 409


class NotAcceptingRequests(BrokerError):
    problem_type = "not-accepting-requests"
    title = N_("Your library does not take interlibrary loan requests from patrons")
    status = 403


class DuplicateRequest(BrokerError):
    problem_type = "duplicate-request"
    title = N_("You have an open request for this title already")
    status = 409


class TooManyOpenRequests(BrokerError):
    problem_type = "too-many-open-requests"
    title = N_("You are at your library's limit of open requests")
    status = 409
