"""Words the core says to people, kept translatable without the core knowing gettext.

A refusal's message is English for the API (problem+json stays English), but a page
writes it in the reader's language. So a message is a ``Text``: a ``str`` whose value
is the English sentence, which also keeps its message id (the English with
``{placeholders}``) and the values filled in. The web layer looks the id up in the
page's catalog and fills the same values in (``broker.web.languages.say``).

``N_`` makes one and marks the id for ``pybabel extract -k N_``; ``joined`` puts
several together; ``as_data`` and ``from_data`` keep one in stored JSON (a request's
rota) so that a page can still translate it after it was read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Formatter
from typing import Any


class Text(str):
    """English text that remembers its message id and values."""

    msgid: str
    values: Mapping[str, Any]

    def __new__(cls, msgid: str, /, **values: Any) -> Text:
        self = super().__new__(cls, msgid.format(**values) if values else msgid)
        self.msgid = msgid
        self.values = values
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (by rq, by exceptions crossing processes) as what it is made from.
        return (_text, (self.msgid, dict(self.values)))


def _text(msgid: str, values: dict[str, Any]) -> Text:
    return Text(msgid, **values)


def N_(msgid: str, /, **values: Any) -> Text:
    """``msgid`` (English, with ``{placeholders}``) filled with ``values``; marked for
    extraction and translated where a page shows it."""
    return Text(msgid, **values)


def joined(parts: Sequence[str], separator: str = "; ") -> Text:
    """``parts`` one after the other; each is translated on its own (the template of
    placeholders is not a message of the catalogs, so it stays as it is)."""
    template = separator.join(f"{{p{index}}}" for index in range(len(parts)))
    return Text(template, **{f"p{index}": part for index, part in enumerate(parts)})


def as_data(text: str) -> Any:
    """``text`` for JSON: a ``Text`` as its id and values, anything else as a string."""
    if not isinstance(text, Text):
        return str(text)
    return {"id": text.msgid, "values": {name: as_data(value) if isinstance(value, str)
                                         else str(value)
                                         for name, value in text.values.items()}}


def from_data(data: Any) -> str | None:
    """What ``as_data`` made, as the ``Text`` (or string) it was; None for anything
    else, such as a field an older version did not store."""
    if isinstance(data, str):
        return data
    if not isinstance(data, Mapping) or not isinstance(data.get("id"), str):
        return None
    raw = data.get("values")
    values = {str(name): from_data(value) or "" for name, value in raw.items()} \
        if isinstance(raw, Mapping) else {}
    try:
        # Stored text is formatted again: only plain {name} fields, no attribute or
        # index lookups, whatever the stored template says.
        fields = [name for _, name, _, _ in Formatter().parse(data["id"]) if name is not None]
        if not all(name.isidentifier() and name in values for name in fields):
            return None
        return Text(data["id"], **values)
    except (KeyError, IndexError, ValueError):
        return None
