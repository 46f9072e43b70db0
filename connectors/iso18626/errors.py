"""ISO 18626 error types as exceptions, mapped by an explicit table.

ISO 18626 has one way to say "I cannot take this message": the confirmation message
(``requestConfirmation``, ``supplyingAgencyMessageConfirmation``,
``requestingAgencyMessageConfirmation``) with ``messageStatus`` ERROR and an
``errorData`` element whose ``errorType`` is one of the closed code list
``type_errorType`` (the same five values in schema v1.2 of ISO 18626:2017 and schema
2021-2 of ISO 18626:2021):

- ``UnsupportedActionType``: a RequestingAgencyMessage ``action`` the receiver does
  not support (here: not a value of the version's ``type_action``);
- ``UnsupportedReasonForMessageType``: likewise for a SupplyingAgencyMessage
  ``reasonForMessage``;
- ``UnrecognisedDataElement``: an element the receiver does not know where it stands;
- ``UnrecognisedDataValue``: a value it cannot read (an unknown code, a date that is
  no xs:dateTime, a version it does not speak);
- ``BadlyFormedMessage``: anything else that is no ISO 18626 message (no XML, a
  DOCTYPE, too large, another namespace, a required element missing).

Two directions, two kinds of exception:

- a message *we* cannot accept raises a ``MessageError``; each of its five direct
  subclasses is the class of one ``ErrorType`` (``ERRORS``, and ``error_type`` on
  the class the other way round), so the web layer answers any of them with the
  confirmation that carries ``error.error_type`` and ``error.error_value``;
- a partner that refuses *our* message answers an ERROR confirmation, which the
  client raises as ``PartnerRefused`` with the partner's ``errorData``.

A partner that answers nothing usable raises ``connectors.errors.PartnerUnavailable``
(``Iso18626BadResponse`` when it answered, but not a confirmation), which is worth
trying again later; one that answers an HTTP error that will not go away by itself
(401, 403, 404) raises ``PartnerHttpError``, which is not.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from connectors.errors import BadResponse, ConnectorError, PartnerUnavailable

if TYPE_CHECKING:
    from connectors.iso18626.messages import Confirmation, ErrorData


class ErrorType(StrEnum):
    """``type_errorType``: the closed code list of ``errorData/errorType``."""

    UNSUPPORTED_ACTION_TYPE = "UnsupportedActionType"
    UNSUPPORTED_REASON_FOR_MESSAGE_TYPE = "UnsupportedReasonForMessageType"
    UNRECOGNISED_DATA_ELEMENT = "UnrecognisedDataElement"
    UNRECOGNISED_DATA_VALUE = "UnrecognisedDataValue"
    BADLY_FORMED_MESSAGE = "BadlyFormedMessage"


# errorValue is free text at the partner's end too: a bound keeps a hostile value
# (a megabyte of note) out of our confirmation and our logs.
MAX_ERROR_VALUE = 200


class Iso18626Error(ConnectorError):
    """Anything that went wrong in an ISO 18626 exchange."""


class MessageError(Iso18626Error):
    """A message that is not an ISO 18626 message we can accept.

    ``error_type`` is the ``errorType`` to answer with; ``element`` the path of the
    element (or attribute) at fault, as far as it was known; ``value`` the value at
    fault; ``kind`` the message element (``request``, ``supplyingAgencyMessage``...)
    when the parse got that far, which tells the web layer which confirmation to send.
    """

    error_type: ClassVar[ErrorType]

    def __init__(
        self,
        message: str,
        *,
        element: str | None = None,
        value: str | None = None,
        kind: str | None = None,
        peer: str | None = None,
    ) -> None:
        super().__init__(message, peer=peer)
        self.element = element
        self.value = value
        self.kind = kind

    @property
    def error_value(self) -> str:
        """The text for ``errorData/errorValue``: what was wrong and where."""
        return self.message[:MAX_ERROR_VALUE]


class BadlyFormedMessage(MessageError):
    """BadlyFormedMessage: not an ISO 18626 message at all, or one that breaks the
    schema's structure (a required element missing, one too many)."""

    error_type = ErrorType.BADLY_FORMED_MESSAGE


class NotWellFormed(BadlyFormedMessage):
    """The body is not well-formed XML."""


class MessageTooLarge(BadlyFormedMessage):
    """The body is over the size limit; it was not parsed."""


class DoctypeRefused(BadlyFormedMessage):
    """The body has a DOCTYPE. ISO 18626 messages have none; this is where external
    entities (XXE) and entity bombs live, so it is refused before anything is read."""


class WrongNamespace(BadlyFormedMessage):
    """The root element is not in http://illtransactions.org/2013/iso18626."""


class MissingElement(BadlyFormedMessage):
    """An element (or the ``version`` attribute) the version's schema requires is
    absent, or the choice of ``address`` holds neither or both addresses."""


class TooManyElements(BadlyFormedMessage):
    """An element stands more often than the version's schema allows."""


class UnrecognisedDataElement(MessageError):
    """UnrecognisedDataElement: an element the version's schema does not have there
    (among them the 2021-2 elements in a v1.2 message, and vice versa)."""

    error_type = ErrorType.UNRECOGNISED_DATA_ELEMENT


class UnknownRoot(UnrecognisedDataElement):
    """The root is not ``ISO18626Message``, or it does not hold one of the six
    messages."""


class UnrecognisedDataValue(MessageError):
    """UnrecognisedDataValue: a value that is not one of its code list's, or not of
    its type (xs:dateTime, xs:decimal, xs:integer, xs:boolean)."""

    error_type = ErrorType.UNRECOGNISED_DATA_VALUE


class BadTimestamp(UnrecognisedDataValue):
    """A date-time element whose text is not an xs:dateTime."""


class UnsupportedVersion(UnrecognisedDataValue):
    """The root's ``version`` names a schema version this broker does not speak."""


class UnsupportedActionType(MessageError):
    """UnsupportedActionType: an ``action`` not in the version's ``type_action``
    (e.g. ``Lost`` or ``HoldReturn`` in a v1.2 message)."""

    error_type = ErrorType.UNSUPPORTED_ACTION_TYPE


class UnsupportedReasonForMessageType(MessageError):
    """UnsupportedReasonForMessageType: a ``reasonForMessage`` not in
    ``type_reasonForMessage``."""

    error_type = ErrorType.UNSUPPORTED_REASON_FOR_MESSAGE_TYPE


# errorType -> the class raised for it; ``error_type`` on each class is the inverse.
ERRORS: dict[ErrorType, type[MessageError]] = {
    ErrorType.UNSUPPORTED_ACTION_TYPE: UnsupportedActionType,
    ErrorType.UNSUPPORTED_REASON_FOR_MESSAGE_TYPE: UnsupportedReasonForMessageType,
    ErrorType.UNRECOGNISED_DATA_ELEMENT: UnrecognisedDataElement,
    ErrorType.UNRECOGNISED_DATA_VALUE: UnrecognisedDataValue,
    ErrorType.BADLY_FORMED_MESSAGE: BadlyFormedMessage,
}


class PartnerRefused(Iso18626Error):
    """The partner answered our message with a confirmation whose ``messageStatus``
    is ERROR.

    ``error_type`` and ``error_value`` are those of its first ``errorData`` (None
    when it sent none: the schema makes ``errorData`` optional even with ERROR);
    ``errors`` holds all of them (2021-2 allows several), ``confirmation`` the
    parsed confirmation with its raw XML.
    """

    def __init__(self, confirmation: Confirmation, *, peer: str | None = None) -> None:
        errors: tuple[ErrorData, ...] = confirmation.error_data
        first = errors[0] if errors else None
        text = "the partner refused the message"
        if first is not None:
            text = f"{text}: {first.error_type}"
            if first.error_value:
                text = f"{text} ({first.error_value[:MAX_ERROR_VALUE]})"
        super().__init__(text, peer=peer)
        self.confirmation = confirmation
        self.errors = errors
        self.error_type: ErrorType | None = first.error_type if first else None
        self.error_value: str | None = first.error_value if first else None


class Iso18626BadResponse(Iso18626Error, BadResponse, PartnerUnavailable):
    """The partner answered, but not with the ISO 18626 confirmation of the message
    we sent (not XML, too large, a DOCTYPE, another message). It is a
    ``PartnerUnavailable``: the partner cannot be understood now, try again later."""


class PartnerHttpError(Iso18626Error):
    """The partner answered an HTTP error that more attempts will not mend (401 or
    403: our credential; 404: the URL; a redirect, which is not followed with the
    credential) and no confirmation with it. ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int, peer: str | None = None) -> None:
        super().__init__(message, peer=peer)
        self.status = status
