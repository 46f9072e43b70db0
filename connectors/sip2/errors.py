"""What goes wrong with a SIP2 server, as ``RegisterUnavailable`` subclasses.

SIP2 has no error codes of its own beyond "send that again" (96/97, handled by the
client), so every failure here means the same to the borrower check: the register
could not say, try again later. The subclasses tell the operator why.
"""

from __future__ import annotations

from connectors.errors import RegisterUnavailable


class Sip2Error(RegisterUnavailable):
    """The SIP2 server answered, but not with what SIP2 2.00 says it must."""


class MalformedMessage(Sip2Error):
    """Not a SIP2 message: wrong framing, a short fixed part, a field without an id,
    an answer to a request we did not send, or a value the field cannot hold."""


class ChecksumMismatch(Sip2Error):
    """The message's checksum (AZ) does not match its bytes, even after asking the
    server once to send it again (Request ACS Resend, 97)."""


class LoginRefused(Sip2Error):
    """Login Response (94) said no: the broker's SIP2 account or password is wrong."""
