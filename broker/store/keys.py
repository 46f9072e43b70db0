"""Every Redis key the broker uses is built here.

A request's keys share a hash tag so Redis Cluster keeps them in one slot. The
indexes (by state, by lender, by patron) and the outbox must change in the same
atomic step as the request, so they are split into shards that carry the same
tag: a request writes only the index shard of its own slot, and a query reads
all shards. The shard is derived from the request id, so no lookup is needed.
"""

from __future__ import annotations

import hashlib
import zlib
from dataclasses import dataclass

from broker.domain.request import request_ids

SHARDS = 16


def shard_of(key: str) -> int:
    return zlib.crc32(key.encode()) % SHARDS


def request_id_for(patron_id: str) -> str:
    """A new request number in its patron's shard, so that the patron's requests share
    one index key: listing them is one read, not one per shard."""
    shard = shard_of(patron_id)
    while True:
        for request_id in request_ids():
            if shard_of(request_id) == shard:
                return request_id


def account_shard(account_id: str) -> int:
    return int(account_id[1:3]) % SHARDS


@dataclass(frozen=True, slots=True)
class Keys:
    """Key builder for one broker installation; ``namespace`` keeps tests apart."""

    namespace: str = "ill"

    def tag(self, shard: int) -> str:
        return f"{{{self.namespace}:s{shard:02d}}}"

    def request(self, request_id: str) -> str:
        return f"{self.tag(shard_of(request_id))}:request:{request_id}"

    def events(self, request_id: str) -> str:
        return f"{self.tag(shard_of(request_id))}:events:{request_id}"

    def by_state(self, shard: int, state: str) -> str:
        return f"{self.tag(shard)}:idx:state:{state}"

    def by_lender(self, shard: int, library: str) -> str:
        return f"{self.tag(shard)}:idx:lender:{library}"

    def by_patron(self, shard: int, patron_id: str) -> str:
        return f"{self.tag(shard)}:idx:patron:{patron_id}"

    def open_for_patron(self, shard: int, patron_id: str) -> str:
        """The patron's requests not yet ended, each with its duplicate keys: the
        open-request limit counts it."""
        return f"{self.tag(shard)}:open:patron:{patron_id}"

    def asked_by_patron(self, shard: int, patron_id: str) -> str:
        """The duplicate keys of the patron's open requests, each to its request: the
        duplicate check is a lookup, however many requests are open."""
        return f"{self.tag(shard)}:asked:patron:{patron_id}"

    def outbox(self, shard: int) -> str:
        return f"{self.tag(shard)}:outbox"

    def outbox_claimed(self, shard: int) -> str:
        return f"{self.tag(shard)}:outbox:claimed"

    def for_request(self, request_id: str) -> RequestKeys:
        shard = shard_of(request_id)
        return RequestKeys(self, request_id, shard)

    # Accounts. An account id starts with the shard of its e-mail key ("A07-..."), so
    # the account, its e-mail index, its tokens and its outbox jobs share one slot.
    def account(self, account_id: str) -> str:
        return f"{self.tag(account_shard(account_id))}:account:{account_id}"

    def account_events(self, account_id: str) -> str:
        return f"{self.tag(account_shard(account_id))}:account-events:{account_id}"

    def account_email(self, email_key: str) -> str:
        return f"{self.tag(shard_of(email_key))}:email:{email_key}"

    def pending_accounts(self, shard: int) -> str:
        return f"{self.tag(shard)}:accounts:pending"

    def token(self, kind: str, token: str) -> str:
        """A single-use token's key: its shard is the token's first two digits, and
        only a digest of the token is stored, so a copy of the data has no usable link."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        return f"{self.tag(int(token[:2]) % SHARDS)}:token:{kind}:{digest}"

    def circulation_item(self, request_id: str) -> str:
        """The item id the home library's system gave an ILL loan (NCIP AcceptItem)."""
        return f"{self.tag(shard_of(request_id))}:circulation:{request_id}"

    def register_cache(self, library: str, card_number: str) -> str:
        card = hashlib.sha256(card_number.strip().casefold().encode()).hexdigest()
        return f"{self.namespace}:register:{library}:{card}"

    def idempotency(self, account_id: str, key: str) -> str:
        # In the slot of the patron's requests: it is claimed in the step that stores one.
        digest = hashlib.sha256(key.encode()).hexdigest()
        return f"{self.tag(shard_of(account_id))}:idempotency:{account_id}:{digest}"

    def session(self, token: str) -> str:
        return f"{self.namespace}:session:{hashlib.sha256(token.encode()).hexdigest()}"

    def rate_limit(self, kind: str, who: str) -> str:
        return f"{self.namespace}:ratelimit:{kind}:{who}"

    def ledger(self) -> str:
        return f"{{{self.namespace}:ledger}}"

    def ledger_charged(self, request_id: str) -> str:
        # Same hash tag as the ledger, so the once-only check and the sum are one script.
        return f"{{{self.namespace}:ledger}}:charged:{request_id}"

    def mail_outbox(self) -> str:
        """Mails the demo keeps instead of sending them (no SMTP server configured)."""
        return f"{self.namespace}:mail:outbox"

    def consortium(self) -> str:
        return f"{self.namespace}:consortium"

    # The union holdings index. A library's records are written under a new
    # generation and become visible together when ``index_generations`` names it.
    def index_generations(self) -> str:
        return f"{self.namespace}:index:generations"

    def index_generation_counter(self) -> str:
        return f"{self.namespace}:index:generation-counter"

    def index_match(self, match_key: str) -> str:
        return f"{self.namespace}:index:match:{match_key}"

    def index_word(self, word: str) -> str:
        return f"{self.namespace}:index:word:{word}"

    def index_records(self, library: str, generation: int) -> str:
        return f"{self.namespace}:index:records:{library}:{generation}"

    def index_harvest(self, library: str) -> str:
        return f"{self.namespace}:index:harvest:{library}"

    def index_oai_ids(self, library: str) -> str:
        """OAI identifier -> record id, since a deletion names only the identifier."""
        return f"{self.namespace}:index:oai-ids:{library}"

    def partner_request(self, partner: str, partner_request_id: str) -> str:
        """An ILL partner's request id -> our request for it, so a repeated ISO 18626
        Request finds the request the first one made."""
        digest = hashlib.sha256(partner_request_id.encode()).hexdigest()
        return f"{self.namespace}:partner-request:{partner}:{digest}"

    def iso18626_answer(self, peer: str, digest: str, request_id: str | None = None) -> str:
        """The confirmation we gave a peer's ISO 18626 message (by the digest of its
        bytes), so the same message sent again is answered alike and acted on once.
        With the ``request_id`` the message is about, the key is in that request's
        slot, so the transition that acts on the message keeps it in the same step."""
        where = self.namespace if request_id is None else self.tag(shard_of(request_id))
        return f"{where}:iso18626:answer:{peer}:{digest}"

    def queue(self, name: str) -> str:
        """An rq queue name; rq adds its own prefix."""
        return f"{self.namespace}:{name}"


@dataclass(frozen=True, slots=True)
class RequestKeys:
    keys: Keys
    request_id: str
    shard: int

    @property
    def request(self) -> str:
        return self.keys.request(self.request_id)

    @property
    def events(self) -> str:
        return self.keys.events(self.request_id)

    def by_state(self, state: str) -> str:
        return self.keys.by_state(self.shard, state)

    def by_lender(self, library: str) -> str:
        return self.keys.by_lender(self.shard, library)

    def by_patron(self, patron_id: str) -> str:
        return self.keys.by_patron(self.shard, patron_id)

    def open_for_patron(self, patron_id: str) -> str:
        return self.keys.open_for_patron(self.shard, patron_id)

    def asked_by_patron(self, patron_id: str) -> str:
        return self.keys.asked_by_patron(self.shard, patron_id)

    @property
    def outbox(self) -> str:
        return self.keys.outbox(self.shard)
