"""NCIP 2.02 (ANSI/NISO Z39.83-1-2012): the home library's register by LookupUser.

``messages`` builds and reads the messages (pure), ``errors`` maps NCIP Problems to
exceptions, ``client`` holds ``NcipRegister``, the ``RegisterConnector`` over HTTP.
"""

from __future__ import annotations
