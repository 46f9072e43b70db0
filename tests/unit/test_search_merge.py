from __future__ import annotations

from broker.domain.holdings import BibRecord, Holding, ItemStatus
from broker.domain.search import Found, merge


def rec(library: str, rid: str, isbns: tuple[str, ...], status: ItemStatus,
        title: str = "T", author: str | None = None) -> BibRecord:
    return BibRecord(record_id=rid, title=title, isbns=isbns, author=author,
                     holdings=(Holding(library, status),))


def keys(record: BibRecord) -> tuple[str, ...]:
    return tuple(f"isbn:{i}" for i in record.isbns)


def test_records_sharing_any_key_are_one_title() -> None:
    hits = merge([
        Found("A", rec("A", "1", ("111",), ItemStatus.AVAILABLE), live=False),
        Found("B", rec("B", "2", ("111", "222"), ItemStatus.ON_LOAN), live=False),
        Found("C", rec("C", "3", ("222",), ItemStatus.AVAILABLE), live=False),
        Found("D", rec("D", "4", ("333",), ItemStatus.AVAILABLE), live=False),
    ], keys)
    assert [sorted(h.holdings) for h in hits] == [["A", "B", "C"], ["D"]]
    assert set(hits[0].match_keys) == {"isbn:111", "isbn:222"}


def test_a_live_answer_replaces_the_index_for_that_library() -> None:
    hits = merge([
        Found("A", rec("A", "1", ("111",), ItemStatus.AVAILABLE), live=False),
        Found("A", rec("A", "1", ("111",), ItemStatus.ON_LOAN), live=True),
        Found("B", rec("B", "2", ("111",), ItemStatus.AVAILABLE), live=False),
    ], keys)
    [hit] = hits
    assert [h.status for h in hit.holdings["A"]] == [ItemStatus.ON_LOAN]
    assert hit.live == frozenset({"A"})


def test_the_fullest_record_represents_the_title() -> None:
    [hit] = merge([
        Found("A", rec("A", "1", ("111",), ItemStatus.AVAILABLE), live=False),
        Found("B", rec("B", "2", ("111",), ItemStatus.AVAILABLE, author="X"), live=False),
    ], keys)
    assert hit.record.author == "X"


def test_records_without_keys_stay_apart() -> None:
    hits = merge([Found("A", rec("A", "1", (), ItemStatus.AVAILABLE), live=False),
                  Found("B", rec("B", "1", (), ItemStatus.AVAILABLE), live=False)], keys)
    assert len(hits) == 2
