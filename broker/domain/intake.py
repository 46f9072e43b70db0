"""What a patron asks for, checked field by field, and the home-library rule: a title
the home library holds is reserved there, not borrowed from another library."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import astuple, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum import isbn as stdisbn
from stdnum import issn as stdissn
from stdnum.exceptions import ValidationError

from broker.domain.consortium import Consortium, Library, LocalHoldings
from broker.domain.errors import ValidationFailed
from broker.domain.holdings import Holding, ItemStatus, MaterialType
from broker.domain.messages import N_
from broker.domain.request import Citation, ItemDescription
from broker.domain.states import Service

MAX_TEXT = 300
MAX_NOTE = 1000
COPY_FORMATS = ("pdf", "paper")
_PAGES = re.compile(r"^\s*(\d{1,5})\s*(?:[-–]\s*(\d{1,5}))?\s*$")
FIELDS = frozenset({"service", "item", "citation", "pickup_location", "max_cost", "note",
                    "copy_format", "topic"})
ITEM_FIELDS = frozenset({"title", "author", "year", "isbn", "issn", "edition", "material"})
CITATION_FIELDS = frozenset({"source_title", "part_title", "volume", "issue", "pages"})


@dataclass(frozen=True, slots=True)
class RequestInput:
    service: Service
    item: ItemDescription
    pickup_location: str
    citation: Citation | None = None
    max_cost: Decimal | None = None
    note: str | None = None
    copy_format: str | None = None
    # "Books about X": the title is the topic and the note says more; no catalog says
    # who holds such a thing, so it goes to the libraries that take topic requests.
    topic: bool = False

    @property
    def pages(self) -> int | None:
        """How many pages a copy has, from the citation's page range."""
        if self.citation is None or not self.citation.pages:
            return None
        match = _PAGES.match(self.citation.pages)
        if not match:
            return None
        first, last = int(match[1]), int(match[2] or match[1])
        return last - first + 1


def _text(raw: Mapping[str, Any], name: str, where: str, problems: dict[str, str],
          *, required: bool = False, limit: int = MAX_TEXT) -> str | None:
    value = raw.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems[where] = N_("required")
        return None
    if not isinstance(value, str):
        problems[where] = N_("must be text")
        return None
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) > limit:
        problems[where] = N_("at most {limit} characters", limit=limit)
    elif any(unicodedata.category(ch) == "Cc" for ch in value):
        problems[where] = N_("control characters are not allowed")
    return value


def _item(raw: Any, problems: dict[str, str]) -> ItemDescription:
    if not isinstance(raw, Mapping):
        problems["item"] = N_("required: the title, or an ISBN or ISSN")
        return ItemDescription(title="")
    for name in sorted(set(raw) - ITEM_FIELDS):
        problems[f"item.{name}"] = N_("unknown field")
    title = _text(raw, "title", "item.title", problems)
    author = _text(raw, "author", "item.author", problems)
    edition = _text(raw, "edition", "item.edition", problems, limit=50)
    isbn = _text(raw, "isbn", "item.isbn", problems, limit=30)
    issn = _text(raw, "issn", "item.issn", problems, limit=20)
    if isbn:
        try:
            isbn = stdisbn.to_isbn13(stdisbn.validate(isbn))
        except ValidationError:
            problems["item.isbn"] = N_("{isbn} is not a valid ISBN", isbn=repr(isbn))
    if issn:
        try:
            issn = stdissn.format(stdissn.validate(issn))
        except ValidationError:
            problems["item.issn"] = N_("{issn} is not a valid ISSN", issn=repr(issn))
    year = raw.get("year")
    if year is not None and (not isinstance(year, int) or isinstance(year, bool)
                             or not 1000 <= year <= 2100):
        problems["item.year"] = N_("a year such as 1998, or leave it out")
        year = None
    material = raw.get("material", MaterialType.BOOK.value)
    if material not in {m.value for m in MaterialType}:
        problems["item.material"] = N_("one of {choices}",
                                        choices=", ".join(m.value for m in MaterialType))
        material = MaterialType.BOOK.value
    if not (title or isbn or issn) and "item" not in problems:
        problems["item.title"] = N_("give the title, or an ISBN or ISSN")
    return ItemDescription(title=title or "", author=author, year=year, isbn=isbn, issn=issn,
                           edition=edition, material=MaterialType(material))


def _citation(raw: Any, problems: dict[str, str]) -> Citation | None:
    if not isinstance(raw, Mapping):
        problems["citation"] = N_("a copy needs the citation: source_title, part_title, "
                                  "volume, issue, pages")
        return None
    for name in sorted(set(raw) - CITATION_FIELDS):
        problems[f"citation.{name}"] = N_("unknown field")
    source = _text(raw, "source_title", "citation.source_title", problems, required=True)
    part = _text(raw, "part_title", "citation.part_title", problems, required=True)
    volume = _text(raw, "volume", "citation.volume", problems, limit=30)
    issue = _text(raw, "issue", "citation.issue", problems, limit=30)
    pages = _text(raw, "pages", "citation.pages", problems, required=True, limit=30)
    if pages and not _PAGES.match(pages):
        problems["citation.pages"] = N_("a page or a range such as 12-30")
    return Citation(source or "", part or "", volume, issue, pages)


def check_request_input(raw: Mapping[str, Any], home: Library) -> RequestInput:
    """A ``RequestInput`` from raw input, or ``ValidationFailed`` naming every bad field."""
    problems: dict[str, str] = {}
    for name in sorted(set(raw) - FIELDS):
        problems[name] = N_("unknown field")
    service_value = raw.get("service")
    if service_value not in {s.value for s in Service}:
        problems["service"] = N_("loan or copy")
        service = Service.LOAN
    else:
        service = Service(service_value)
    item = _item(raw.get("item"), problems)
    citation = _citation(raw.get("citation"), problems) if service is Service.COPY else None
    if service is Service.LOAN and raw.get("citation") is not None:
        problems["citation"] = N_("only a copy has a citation")
    copy_format = raw.get("copy_format", "pdf" if service is Service.COPY else None)
    if service is Service.COPY and copy_format not in COPY_FORMATS:
        problems["copy_format"] = N_("pdf or paper")
    elif service is Service.LOAN and copy_format is not None:
        problems["copy_format"] = N_("only a copy has a format")
    pickup = raw.get("pickup_location", home.code)
    if not isinstance(pickup, str) or not home.has_branch(pickup):
        problems["pickup_location"] = N_(
            "your home library or one of its branches: {choices}",
            choices=", ".join([home.code, *(b.code for b in home.branches)]))
    max_cost = None
    if raw.get("max_cost") is not None:
        try:
            max_cost = Decimal(str(raw["max_cost"]))
            if not max_cost.is_finite() or max_cost < 0 or max_cost > 10_000:
                raise InvalidOperation
        except (InvalidOperation, ValueError):
            problems["max_cost"] = N_("an amount such as 10.00, or leave it out")
            max_cost = None
    note = _text(raw, "note", "note", problems, limit=MAX_NOTE)
    topic = raw.get("topic", False)
    if not isinstance(topic, bool):
        problems["topic"] = N_("true for a topic request (books about a subject), else leave "
                                "it out")
        topic = False
    if topic:
        _check_topic(service, item, note, problems)
    if problems:
        raise ValidationFailed(problems)
    return RequestInput(service=service, item=item, pickup_location=str(pickup),
                        citation=citation, max_cost=max_cost, note=note,
                        copy_format=copy_format if service is Service.COPY else None,
                        topic=topic)


def _check_topic(service: Service, item: ItemDescription, note: str | None,
                 problems: dict[str, str]) -> None:
    if service is not Service.LOAN:
        problems.setdefault("service", N_("a topic request asks for books to borrow: loan"))
    if not item.title:
        problems.setdefault("item.title", N_("the topic, such as \"beekeeping in Slovenia\""))
    if item.isbn or item.issn:
        problems.setdefault("item.isbn" if item.isbn else "item.issn",
                            N_("a topic request is not for one title; leave the number out"))
    if not note:
        problems.setdefault("note", N_("say what you need on the topic: level, language, "
                                       "how many books"))


# Keys that cannot occur in titles typed into a form or read from MARC.
_UNIT = "\x1f"


def _keys(service: Service, item: ItemDescription, citation: Citation | None, *,
          probe: bool) -> set[str]:
    part = _UNIT.join(v or "" for v in astuple(citation)) if citation else ""
    title = _UNIT.join(("title", service.value, item.title.casefold(), part))
    keys = set()
    if item.isbn:
        keys.add(_UNIT.join(("isbn", item.isbn)))
    if item.issn:
        keys.add(_UNIT.join(("issn", item.issn, part)))
    # The same ISBN is the same title whatever it is called; without one, titles are
    # compared as typed, against every open request.
    if not (probe and item.isbn):
        keys.add(title)
    return keys


def duplicate_keys(service: Service, item: ItemDescription,
                   citation: Citation | None) -> tuple[str, ...]:
    """The keys an open request is known by for the duplicate check."""
    return tuple(sorted(_keys(service, item, citation, probe=False)))


def duplicate_probes(service: Service, item: ItemDescription,
                     citation: Citation | None) -> tuple[str, ...]:
    """The keys under which an open request for the same title (the same part of it,
    for a copy) would be known."""
    return tuple(sorted(_keys(service, item, citation, probe=True)))


def local_copies(consortium: Consortium, home: str,
                 holdings: Mapping[str, tuple[Holding, ...]]) -> tuple[Holding, ...]:
    """The home library's copies that send the patron to reserve locally, by the
    consortium's rule: any copy at all, or only one the library could lend."""
    mine = holdings.get(home, ())
    if consortium.local_holdings is LocalHoldings.ANY:
        return tuple(h for h in mine if h.status is not ItemStatus.LOST)
    return tuple(h for h in mine if h.status.lendable)
