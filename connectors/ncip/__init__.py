"""NCIP 2.02 (ANSI/NISO Z39.83-1-2012): a home library's system, over NCIP.

``messages`` builds and reads the messages (pure), ``errors`` maps NCIP Problems to
exceptions, ``transport`` holds ``NcipPeer``, the one HTTP exchange every client
goes through; ``client`` holds ``NcipRegister``, the ``RegisterConnector`` by
LookupUser, and ``circulation`` holds ``NcipCirculation``, which puts an
interlibrary loan into the patron's own account (Accept Item, Check Out Item, Renew
Item, Check In Item).
"""

from __future__ import annotations
