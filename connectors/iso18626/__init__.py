"""ISO 18626 (interlibrary loan transactions), schema versions 1.2 and 2021-2: the
lending connector to other ILL systems and to libraries that speak it.

``messages`` builds and reads the six messages (pure), ``errors`` maps the
standard's error types to exceptions, ``client`` holds ``Iso18626Client``, which
sends a message to a partner over HTTP and reads its confirmation.
"""

from __future__ import annotations
