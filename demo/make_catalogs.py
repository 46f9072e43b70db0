"""Generate the demo consortium's MARCXML catalogs and patron registers.

Everything written here is invented: titles, authors, publishers, ISBNs, ISSNs and
patrons come from the tables and the seeded random generator below; no record is
copied from a real catalog. The output is deterministic, so the files are committed
and ``--check`` proves they are what this script makes.

Each library's part (code, languages, branches, the 852/952 holdings layout, where
its files go) is read from demo/consortium.toml, so the holdings fields follow that
library's mapping exactly.

    python demo/make_catalogs.py            # (re)write demo/catalogs and demo/registers
    python demo/make_catalogs.py --check    # exit 1 unless the committed files match
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
import tomllib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from lxml import etree
from stdnum import ean, isbn, ismn, issn

DEMO = Path(__file__).resolve().parent
CONSORTIUM = DEMO / "consortium.toml"
SEED = 18626
# The demo's "today": loans fall due after it, memberships that expired before it lapse.
TODAY = date(2026, 11, 23)
MARC_NS = "http://www.loc.gov/MARC21/slim"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{MARC_NS} http://www.loc.gov/standards/marcxml/schema/MARC21slim.xsd"
REGISTER_HEADER = (
    "card_number", "surname", "given_name", "birth_date", "email", "category",
    "fee_paid", "statement_signed", "blocked", "expires", "fines_due",
)  # fmt: skip

# ---------------------------------------------------------------- languages

# The languages of the seed libraries, keyed by ISO 639-1 as consortium.toml writes them.
MARC_LANG = {"sl": "slv", "lv": "lav", "sv": "swe", "nl": "dut", "en": "eng"}

# "translated from the X by": X in each item language, in the case its phrase needs.
FROM_LANG = {
    "sl": {"lv": "latvijščine", "sv": "švedščine", "nl": "nizozemščine", "en": "angleščine"},
    "lv": {"sl": "slovēņu", "sv": "zviedru", "nl": "nīderlandiešu", "en": "angļu"},
    "sv": {"sl": "slovenska", "lv": "lettiska", "nl": "nederländska", "en": "engelska"},
    "nl": {"sl": "Sloveens", "lv": "Lets", "sv": "Zweeds", "en": "Engels"},
    "en": {"sl": "Slovenian", "lv": "Latvian", "sv": "Swedish", "nl": "Dutch"},
}

EDITION = {"sl": "{n}. izd.", "lv": "{n}. izdevums", "sv": "{n}. uppl.", "nl": "{n}e druk",
           "en": "{ordinal} edition"}
ORDINAL = {2: "Second", 3: "Third", 4: "Fourth"}

# 300 and other cataloguer-supplied text, in the catalog's own language.
EXTENT = {
    "sl": {"pages": "{n} str.", "ill": "ilustr.", "dvd": "1 DVD ({n} min)", "dvd_b": "barve, zvok",
           "cd": "1 CD ({n} min)", "score": "1 partitura ({n} str.)", "map": "1 zemljevid",
           "map_b": "barve", "atlas": "1 atlas ({n} str.)", "serial": "zv."},
    "lv": {"pages": "{n} lpp.", "ill": "ilustrācijas", "dvd": "1 DVD ({n} min)",
           "dvd_b": "krāsains, skaņa", "cd": "1 CD ({n} min)", "score": "1 partitūra ({n} lpp.)",
           "map": "1 karte", "map_b": "krāsaina", "atlas": "1 atlants ({n} lpp.)",
           "serial": "sēj."},
    "sv": {"pages": "{n} sidor", "ill": "illustrationer", "dvd": "1 DVD-skiva ({n} min)",
           "dvd_b": "färg, ljud", "cd": "1 CD-skiva ({n} min)", "score": "1 partitur ({n} sidor)",
           "map": "1 karta", "map_b": "färg", "atlas": "1 atlas ({n} sidor)", "serial": "volymer"},
    "nl": {"pages": "{n} pagina's", "ill": "illustraties", "dvd": "1 dvd ({n} min.)",
           "dvd_b": "kleur, geluid", "cd": "1 cd ({n} min.)",
           "score": "1 partituur ({n} pagina's)", "map": "1 kaart", "map_b": "kleur",
           "atlas": "1 atlas ({n} pagina's)", "serial": "delen"},
    "en": {"pages": "{n} pages", "ill": "illustrations", "dvd": "1 videodisc ({n} min)",
           "dvd_b": "sound, colour", "cd": "1 audio disc ({n} min)",
           "score": "1 score ({n} pages)", "map": "1 map", "map_b": "colour",
           "atlas": "1 atlas ({n} pages)", "serial": "volumes"},
}  # fmt: skip

SCALE = {"sl": "Merilo", "lv": "Mērogs", "sv": "Skala", "nl": "Schaal", "en": "Scale"}

FREQUENCY = {
    "m": {"sl": "Mesečno", "lv": "Reizi mēnesī", "sv": "Månadsvis", "nl": "Maandelijks",
          "en": "Monthly"},
    "b": {"sl": "Dvomesečno", "lv": "Reizi divos mēnešos", "sv": "Varannan månad",
          "nl": "Tweemaandelijks", "en": "Bimonthly"},
    "q": {"sl": "Četrtletno", "lv": "Reizi ceturksnī", "sv": "Kvartalsvis",
          "nl": "Driemaandelijks", "en": "Quarterly"},
}  # fmt: skip

# Shelving locations (852 $c) in the catalog's language.
LOCATION = {
    "sl": {"adult": "Odrasli", "child": "Mladinski oddelek", "reading_room": "Čitalnica",
           "serial": "Periodika", "av": "AV gradivo"},
    "lv": {"adult": "Abonements", "child": "Bērnu literatūra", "reading_room": "Lasītava",
           "serial": "Periodika", "av": "AV materiāli"},
    "sv": {"adult": "Vuxen", "child": "Barn", "reading_room": "Läsesal",
           "serial": "Tidskrifter", "av": "Film och musik"},
    "nl": {"adult": "Volwassenen", "child": "Jeugd", "reading_room": "Studiezaal",
           "serial": "Tijdschriften", "av": "Media"},
    "en": {"adult": "Adult lending", "child": "Children", "reading_room": "Reading room",
           "serial": "Periodicals", "av": "Media"},
}  # fmt: skip
# Koha's location and item type authorised values for the same shelves.
KOHA_LOCATION = {"adult": "GEN", "child": "CHILD", "reading_room": "REF", "serial": "PER",
                 "av": "AV"}
KOHA_ITYPE = {"book": "BK", "journal": "CR", "film": "DVD", "music": "CD", "score": "SCORE",
              "map": "MAP"}

# 655 genre/form terms in the catalog's language.
GENRE = {
    "novel": {"sl": "Romani", "lv": "Romāni", "sv": "Romaner", "nl": "Romans", "en": "Novels"},
    "stories": {"sl": "Kratka proza", "lv": "Stāsti", "sv": "Noveller", "nl": "Verhalen",
                "en": "Short stories"},
    "picture": {"sl": "Slikanice", "lv": "Bilžu grāmatas", "sv": "Bilderböcker",
                "nl": "Prentenboeken", "en": "Picture books"},
    "juvenile": {"sl": "Mladinska književnost", "lv": "Bērnu literatūra",
                 "sv": "Barnlitteratur", "nl": "Jeugdliteratuur", "en": "Children's stories"},
}  # fmt: skip

# 650 topical terms for fiction and journals, in the catalog's language.
THEME = {
    "sea": ("Morje", "Jūra", "Havet", "Zee", "Sea"),
    "family": ("Družina", "Ģimene", "Familjen", "Gezin", "Families"),
    "crime": ("Umori", "Slepkavības", "Mord", "Moord", "Murder"),
    "history": ("Zgodovina", "Vēsture", "Historia", "Geschiedenis", "History"),
    "nature": ("Narava", "Daba", "Natur", "Natuur", "Nature"),
    "childhood": ("Otroštvo", "Bērnība", "Barndom", "Kindertijd", "Childhood"),
    "love": ("Ljubezen", "Mīlestība", "Kärlek", "Liefde", "Love"),
    "fantasy": ("Fantastika", "Fantāzija", "Fantasy", "Fantasy", "Fantasy"),
    "rivers": ("Reke", "Upes", "Floder", "Rivieren", "Rivers"),
    "islands": ("Otoki", "Salas", "Öar", "Eilanden", "Islands"),
    "migration": ("Izseljevanje", "Emigrācija", "Emigration", "Emigratie", "Emigration"),
    "animals": ("Živali", "Dzīvnieki", "Djur", "Dieren", "Animals"),
    "friendship": ("Prijateljstvo", "Draudzība", "Vänskap", "Vriendschap", "Friendship"),
    "gardens": ("Vrtnarjenje", "Dārzkopība", "Trädgårdsodling", "Tuinieren", "Gardening"),
    "mountains": ("Gore", "Kalni", "Berg", "Bergen", "Mountains"),
    "birds": ("Ptice", "Putni", "Fåglar", "Vogels", "Birds"),
    "libraries": ("Knjižnice", "Bibliotēkas", "Bibliotek", "Bibliotheken", "Libraries"),
    "geography": ("Geografija", "Ģeogrāfija", "Geografi", "Aardrijkskunde", "Geography"),
    "ecology": ("Ekologija", "Ekoloģija", "Ekologi", "Ecologie", "Ecology"),
    "botany": ("Botanika", "Botānika", "Botanik", "Plantkunde", "Botany"),
    "music": ("Glasba", "Mūzika", "Musik", "Muziek", "Music"),
    "choirs": ("Zbori", "Kori", "Körer", "Koren", "Choirs"),
    "piano": ("Klavir", "Klavieres", "Piano", "Piano", "Piano"),
    "maps": ("Zemljevidi", "Kartes", "Kartor", "Kaarten", "Maps"),
    "cycling": ("Kolesarjenje", "Riteņbraukšana", "Cykling", "Fietsen", "Cycling"),
    "film": ("Film", "Kino", "Film", "Film", "Motion pictures"),
    "folk": ("Ljudske pesmi", "Tautasdziesmas", "Folkvisor", "Volksliederen", "Folk songs"),
    "local": ("Krajevna zgodovina", "Novadpētniecība", "Lokalhistoria", "Lokale geschiedenis",
              "Local history"),
}  # fmt: skip
THEME_LANGS = ("sl", "lv", "sv", "nl", "en")

# UDC classes of each language's literature, for SI and LV call numbers.
UDC_LITERATURE = {"sl": "821.163.6", "lv": "821.174", "sv": "821.113.5", "nl": "821.112.5",
                  "en": "821.111"}
# Leading articles and the non-filing count 245's second indicator gives them.
ARTICLES = {"en": ("The ", "A ", "An "), "nl": ("De ", "Het ", "Een "),
            "sv": ("En ", "Ett ", "Den ", "Det ")}


def theme(key: str, lang: str) -> str:
    terms = THEME[key]
    return terms[THEME_LANGS.index(lang)] if lang in THEME_LANGS else terms[-1]


def nonfiling(title: str, lang: str) -> str:
    """245 second indicator: how many leading characters an article takes."""
    for article in ARTICLES.get(lang, ()):
        if title.startswith(article):
            return str(len(article))
    return "0"


# ---------------------------------------------------------------- people


@dataclass(frozen=True, slots=True)
class Person:
    surname: str
    forename: str
    female: bool
    born: int | None = None
    died: int | None = None
    # A Dutch tussenvoegsel ("de", "van den") is filed after the forename.
    particle: str = ""

    @property
    def heading(self) -> str:
        """The name as a MARC heading: "Jong, Pieter de"."""
        name = f"{self.surname}, {self.forename}"
        return f"{name} {self.particle}" if self.particle else name

    @property
    def display(self) -> str:
        """The name as a title page prints it: "Pieter de Jong"."""
        middle = f"{self.particle} " if self.particle else ""
        return f"{self.forename} {middle}{self.surname}"

    @property
    def dates(self) -> str | None:
        if self.born is None:
            return None
        return f"{self.born}-{self.died}" if self.died else f"{self.born}-"


GIVEN_NAMES: dict[str, tuple[tuple[str, bool], ...]] = {
    "sl": tuple((n, False) for n in ("Janez", "Marko", "Luka", "Matej", "Jure", "Andrej",
                                       "Tomaž", "Gašper", "Žiga", "Nejc", "Rok", "Primož"))
    + tuple((n, True) for n in ("Ana", "Maja", "Nina", "Eva", "Mojca", "Špela", "Urška",
                                "Tjaša", "Nataša", "Petra", "Katja", "Živa")),
    "lv": tuple((n, False) for n in ("Jānis", "Andris", "Mārtiņš", "Kārlis", "Edgars",
                                       "Aivars", "Uldis", "Raimonds", "Gints", "Ģirts",
                                       "Reinis", "Oskars"))
    + tuple((n, True) for n in ("Anna", "Līga", "Ilze", "Inese", "Kristīne", "Baiba", "Dace",
                                "Zane", "Laura", "Elīna", "Māra", "Ieva", "Sanita", "Agnese")),
    "sv": tuple((n, False) for n in ("Erik", "Lars", "Anders", "Johan", "Björn", "Mikael",
                                       "Olof", "Gustav", "Sören", "Håkan", "Mats"))
    + tuple((n, True) for n in ("Anna", "Eva", "Karin", "Ingrid", "Maria", "Sofia", "Elin",
                                "Åsa", "Märta", "Linnéa", "Tove", "Agneta", "Ylva")),
    "nl": tuple((n, False) for n in ("Daan", "Sem", "Lucas", "Bram", "Pieter", "Joris",
                                       "Thijs", "Maarten", "Gert-Jan", "Wouter", "Sander"))
    + tuple((n, True) for n in ("Sanne", "Emma", "Lotte", "Femke", "Anouk", "Eline", "Maaike",
                                "Ineke", "Marloes", "Noor", "Fleur", "Renée")),
    "en": tuple((n, False) for n in ("James", "Oliver", "Thomas", "Daniel", "Samuel", "Owen",
                                       "Patrick", "Hugh", "Gareth"))
    + tuple((n, True) for n in ("Emily", "Charlotte", "Grace", "Hannah", "Rachel", "Fiona",
                                "Imogen", "Alice", "Bethan")),
}  # fmt: skip

# Surnames as (masculine, feminine): only Latvian inflects them by gender.
SURNAMES: dict[str, tuple[tuple[str, str], ...]] = {
    "sl": tuple((s, s) for s in ("Novak", "Horvat", "Kovačič", "Krajnc", "Zupančič",
                                  "Potočnik", "Kovač", "Mlakar", "Vidmar", "Golob", "Turk",
                                  "Božič", "Kralj", "Žagar", "Rozman", "Petek", "Koren",
                                  "Jerman", "Kastelic", "Oblak", "Zajc", "Žnidaršič", "Pirc",
                                  "Jereb", "Čuk", "Šuštar", "Mrak", "Bizjak")),
    "lv": (("Bērziņš", "Bērziņa"), ("Kalniņš", "Kalniņa"), ("Ozoliņš", "Ozoliņa"),
           ("Jansons", "Jansone"), ("Ozols", "Ozola"), ("Liepiņš", "Liepiņa"),
           ("Krūmiņš", "Krūmiņa"), ("Balodis", "Balode"), ("Zariņš", "Zariņa"),
           ("Pētersons", "Pētersone"), ("Kļaviņš", "Kļaviņa"), ("Eglītis", "Eglīte"),
           ("Siliņš", "Siliņa"), ("Priedītis", "Priedīte"), ("Ābols", "Ābola"),
           ("Gailis", "Gaile"), ("Ģērmanis", "Ģērmane"), ("Lācis", "Lāce"), ("Ķuzis", "Ķuze"),
           ("Šmits", "Šmite"), ("Strautiņš", "Strautiņa"), ("Dzenis", "Dzene"),
           ("Ņikitins", "Ņikitina")),
    "sv": tuple((s, s) for s in ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson",
                                  "Larsson", "Olsson", "Persson", "Svensson", "Gustafsson",
                                  "Bergström", "Åberg", "Sjöberg", "Lindström", "Öberg",
                                  "Ekström", "Holmgren", "Nyström", "Åkesson", "Söderberg",
                                  "Hägglund", "Forsgren", "Engström")),
    "nl": tuple((s, s) for s in ("de Vries", "Jansen", "van den Berg", "Bakker", "Visser",
                                  "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos",
                                  "Vos", "Peters", "Hendriks", "van Dijk", "Dekker",
                                  "van der Meer", "Kok", "Verhoeven", "Hoogendoorn",
                                  "Kuijpers", "van Leeuwen")),
    "en": tuple((s, s) for s in ("Thornton", "Ashby", "Whitfield", "Carmody", "Pennington",
                                  "Blackwood", "Halloran", "Fenwick", "Maddox", "Rowe",
                                  "Sutcliffe", "Garside", "Holloway", "Kerr", "Lindsay",
                                  "Moreland")),
}  # fmt: skip

DUTCH_PARTICLES = ("van den ", "van der ", "van ", "de ")


def random_person(rng: random.Random, lang: str, born: int | None = None) -> Person:
    """An invented person whose name is plausible in ``lang``."""
    forename, female = rng.choice(GIVEN_NAMES[lang])
    masculine, feminine = rng.choice(SURNAMES[lang])
    surname, particle = (feminine if female else masculine), ""
    for prefix in DUTCH_PARTICLES:
        if lang == "nl" and surname.startswith(prefix):
            particle, surname = prefix.strip(), surname[len(prefix):]
    return Person(surname, forename, female, born, particle=particle)


def translator_phrase(lang: str, source: str, person: Person) -> str:
    """245 $c's translation statement as a title page in ``lang`` words it."""
    source_name = FROM_LANG[lang][source]
    if lang == "sl":
        return f"iz {source_name} prevedl{'a' if person.female else ''} {person.display}"
    if lang == "lv":
        verb = "tulkojusi" if person.female else "tulkojis"
        return f"no {source_name} valodas {verb} {person.display}"
    if lang == "sv":
        return f"översättning från {source_name}: {person.display}"
    if lang == "nl":
        return f"vertaald uit het {source_name} door {person.display}"
    return f"translated from the {source_name} by {person.display}"


def illustrator_phrase(lang: str, person: Person) -> str:
    if lang == "sl":
        return f"ilustriral{'a' if person.female else ''} {person.display}"
    if lang == "lv":
        return f"{'ilustrējusi' if person.female else 'ilustrējis'} {person.display}"
    if lang == "sv":
        return f"illustrationer: {person.display}"
    if lang == "nl":
        return f"met illustraties van {person.display}"
    return f"illustrated by {person.display}"


DIRECTED = {"sl": "režija", "lv": "režisors", "sv": "regi:", "nl": "regie:",
            "en": "directed by"}

# ---------------------------------------------------------------- publishers


@dataclass(frozen=True, slots=True)
class Publisher:
    name: str
    place: str
    # MARC country code for 008/15-17.
    country: str
    # ISBN prefix up to and including the registrant ("978-961-6241"), checked
    # against stdnum's range table so that the hyphenation comes out as written.
    isbn_prefix: str


PUBLISHERS: dict[str, tuple[Publisher, ...]] = {
    "sl": (Publisher("Založba Breza", "Ljubljana", "xv ", "978-961-6241"),
           Publisher("Založba Modri rob", "Maribor", "xv ", "978-961-281"),
           Publisher("Založba Sidro", "Koper", "xv ", "978-961-6573"),
           Publisher("Mladinska hiša", "Ljubljana", "xv ", "978-961-295")),
    "lv": (Publisher("Apgāds Liepziede", "Rīga", "lv ", "978-9934-512"),
           Publisher("Dzintarkrasts", "Rīga", "lv ", "978-9934-563"),
           Publisher("Ozolzīle", "Cēsis", "lv ", "978-9934-706"),
           Publisher("Gaujas apgāds", "Valmiera", "lv ", "978-9934-27")),
    "sv": (Publisher("Bokförlaget Nordvik", "Stockholm", "sw ", "978-91-512"),
           Publisher("Lärkträd förlag", "Göteborg", "sw ", "978-91-27"),
           Publisher("Ekdal & Sjö", "Uppsala", "sw ", "978-91-638"),
           Publisher("Sundets förlag", "Malmö", "sw ", "978-91-43")),
    "nl": (Publisher("Uitgeverij De Meerkoet", "Amsterdam", "ne ", "978-90-6234"),
           Publisher("Uitgeverij Walvis", "Utrecht", "ne ", "978-90-413"),
           Publisher("Uitgeverij Havenlicht", "Rotterdam", "ne ", "978-90-5817"),
           Publisher("Uitgeverij Oostpoort", "Delft", "ne ", "978-90-267")),
    "en": (Publisher("Saltmarsh Press", "London", "enk", "978-1-84127"),
           Publisher("Millbrook & Hale", "New York", "nyu", "978-1-4092"),
           Publisher("Tern Editions", "Edinburgh", "stk", "978-1-912345"),
           Publisher("Harrow Lane Books", "Oxford", "enk", "978-0-7546")),
}  # fmt: skip

SERIES = {
    "sl": ("Zbirka Lastovka", "Knjižna zbirka Odmevi", "Zbirka Radovednež"),
    "lv": ("Sērija Dzintara plaukts", "Mūsdienu romāns", "Zinātne ikvienam"),
    "sv": ("Nordviks pocket", "Serien Fyrljus", "Fakta för alla"),
    "nl": ("Meerkoet pockets", "Walvisreeks", "Kennis in je zak"),
    "en": ("Saltmarsh Modern Classics", "Tern Pocket Library", "Field and Hearth"),
}
# 020 $q: how the copy is bound, in the catalog's language.
BINDING = {"sl": ("trda vezava", "broš."), "lv": ("iesējums", "brošēts"),
           "sv": ("inbunden", "häftad"), "nl": ("gebonden", "paperback"),
           "en": ("hardback", "paperback")}
# ISMN prefixes of invented music publishers, up to the registrant.
ISMN_PREFIX = {"sl": "979-0-2804", "lv": "979-0-55701", "sv": "979-0-3452", "nl": "979-0-3617",
               "en": "979-0-57012"}
# GS1 prefixes of each country, for the EAN-13s on discs.
EAN_PREFIX = {"sl": "383", "lv": "475", "sv": "73", "nl": "87", "en": "50"}

# ---------------------------------------------------------------- the works

A = {
    "lindqvist": Person("Lindqvist", "Maja", True, 1968),
    "kranjc": Person("Kranjc", "Tadej", False, 1959),
    "ozolina": Person("Ozoliņa", "Ieva", True, 1974),
    "dijkstra": Person("Dijkstra", "Maarten", False, 1965),
    "whitcombe": Person("Whitcombe", "Eleanor", True, 1971),
    "ashdown": Person("Ashdown", "Callum", False, 1980),
    "ekholm": Person("Ekholm", "Per", False, 1958),
    "zorko": Person("Zorko", "Meta", True, 1966),
    "kalnins": Person("Kalniņš", "Rihards", False, 1955),
    "hoekstra": Person("Hoekstra", "Femke", True, 1977),
    "penhallow": Person("Penhallow", "Iris", True, 1963),
    "greaves": Person("Greaves", "Thomas", False, 1969),
    "sundberg": Person("Sundberg", "Karin", True, 1950),
    "breznik": Person("Breznik", "Andrej", False, 1948),
    "vitols": Person("Vītols", "Edgars", False, 1962),
    "brouwer": Person("Brouwer", "Jorien", True, 1972),
    "fairbairn": Person("Fairbairn", "Hugh", False, 1957),
    "holmberg": Person("Holmberg", "Linnéa", True, 1981),
    "pecar": Person("Pečar", "Nina", True, 1979),
    "liepina": Person("Liepiņa", "Dace", True, 1976),
    "verhoef": Person("Verhoef", "Sanne", True, 1983),
    "lovell": Person("Lovell", "Harriet", True, 1975),
    "kos": Person("Kos", "Blaž", False, 1970),
    "berzins": Person("Bērziņš", "Arvīds", False, 1952),
    "dejong": Person("Jong", "Pieter", False, 1960, particle="de"),
    "marchbank": Person("Marchbank", "Rowan", False, 1985),
    "kettering": Person("Kettering", "Alasdair", False, 1966),
    "forsberg": Person("Forsberg", "Nils", False, 1961),
    "vovk": Person("Vovk", "Lucija", True, 1984),
    "eglite": Person("Eglīte", "Māra", True, 1969),
    "smeets": Person("Smeets", "Ruud", False, 1958),
    "hribar": Person("Hribar", "Klemen", False, 1982),
    "okafor": Person("Okafor", "Adaeze", True, 1978),
}

# Novels, stories and children's books: original language, author, year of the
# original, themes, form, and the title in every language an edition could be in
# ("Title : subtitle"). Which translations exist is drawn by the generator.
FICTION: tuple[tuple[str, str, int, tuple[str, ...], str, dict[str, str]], ...] = (
    ("sv", "lindqvist", 2014, ("sea", "islands"), "novel", {
        "sv": "Vinterhamnen : roman", "en": "The Winter Harbour", "sl": "Zimsko pristanišče",
        "lv": "Ziemas osta", "nl": "De winterhaven"}),
    ("sl", "kranjc", 2009, ("family", "rivers"), "novel", {
        "sl": "Hiša ob reki : roman", "en": "The House by the River", "lv": "Māja pie upes",
        "sv": "Huset vid floden", "nl": "Het huis aan de rivier"}),
    ("lv", "ozolina", 2016, ("sea", "history"), "novel", {
        "lv": "Dzintara krasts : romāns", "en": "The Amber Coast", "sl": "Jantarjeva obala",
        "sv": "Bärnstenskusten", "nl": "De barnsteenkust"}),
    ("nl", "dijkstra", 2011, ("rivers", "family"), "novel", {
        "nl": "De laatste veerman : roman", "en": "The Last Ferryman", "sl": "Zadnji brodar",
        "lv": "Pēdējais pārcēlājs", "sv": "Den siste färjkarlen"}),
    ("en", "whitcombe", 2012, ("sea", "family"), "novel", {
        "en": "The Lighthouse Keeper's Daughter", "sl": "Svetilničarjeva hči",
        "lv": "Bākas sarga meita", "sv": "Fyrvaktarens dotter",
        "nl": "De dochter van de vuurtorenwachter"}),
    ("en", "ashdown", 2019, ("love",), "novel", {
        "en": "A Map of Small Hours", "sl": "Zemljevid drobnih ur", "lv": "Mazo stundu karte",
        "sv": "En karta över små timmar", "nl": "Een kaart van de kleine uren"}),
    ("sv", "ekholm", 2015, ("crime",), "novel", {
        "sv": "Tystnaden i Norrby : kriminalroman", "en": "The Silence in Norrby",
        "sl": "Tišina v Norrbyju", "lv": "Klusums Norbijā", "nl": "De stilte in Norrby"}),
    ("sl", "zorko", 2008, ("history", "mountains"), "novel", {
        "sl": "Burja nad Krasom", "en": "Bora over the Karst", "lv": "Vētra pār Karstu",
        "sv": "Boran över Karst", "nl": "Bora boven de Karst"}),
    ("lv", "kalnins", 2006, ("birds", "childhood"), "novel", {
        "lv": "Putnu ceļš", "en": "The Way of the Birds", "sl": "Ptičja pot",
        "sv": "Fåglarnas väg", "nl": "De weg van de vogels"}),
    ("nl", "hoekstra", 2017, ("family", "sea"), "novel", {
        "nl": "Zout op de dijk", "en": "Salt on the Dyke", "sl": "Sol na nasipu",
        "lv": "Sāls uz dambja", "sv": "Salt på vallen"}),
    ("en", "penhallow", 2010, ("family", "gardens"), "novel", {
        "en": "The Glass Orchard : a novel", "sl": "Stekleni sadovnjak",
        "lv": "Stikla augļudārzs", "sv": "Glasträdgården", "nl": "De glazen boomgaard"}),
    ("en", "greaves", 2021, ("nature", "family"), "novel", {
        "en": "Winter Without Snow", "sl": "Zima brez snega", "lv": "Ziema bez sniega",
        "sv": "Vinter utan snö", "nl": "Winter zonder sneeuw"}),
    ("sv", "sundberg", 2003, ("family", "childhood"), "novel", {
        "sv": "Mormors sista sommar", "en": "Grandmother's Last Summer",
        "sl": "Babičino zadnje poletje", "lv": "Vecmāmiņas pēdējā vasara",
        "nl": "De laatste zomer van oma"}),
    ("sl", "breznik", 2001, ("history",), "novel", {
        "sl": "Zadnji vlak v Trst", "en": "The Last Train to Trieste",
        "lv": "Pēdējais vilciens uz Triesti", "sv": "Sista tåget till Trieste",
        "nl": "De laatste trein naar Triëst"}),
    ("lv", "vitols", 2013, ("crime", "history"), "novel", {
        "lv": "Sarkanā tilta noslēpums : detektīvromāns", "en": "The Secret of the Red Bridge",
        "sl": "Skrivnost rdečega mostu", "sv": "Hemligheten vid röda bron",
        "nl": "Het geheim van de rode brug"}),
    ("nl", "brouwer", 2018, ("birds", "nature"), "novel", {
        "nl": "Het jaar van de kraanvogels", "en": "The Year of the Cranes",
        "sl": "Leto žerjavov", "lv": "Dzērvju gads", "sv": "Tranornas år"}),
    ("en", "fairbairn", 2007, ("history",), "novel", {
        "en": "The Cartographer's Apprentice", "sl": "Kartografov vajenec",
        "lv": "Kartogrāfa māceklis", "sv": "Kartritarens lärling",
        "nl": "De leerling van de kaartenmaker"}),
    ("sv", "holmberg", 2020, ("islands", "friendship"), "juvenile", {
        "sv": "Ön där ingen bodde", "en": "The Island Where No One Lived",
        "sl": "Otok, kjer ni živel nihče", "lv": "Sala, kur neviens nedzīvoja",
        "nl": "Het eiland waar niemand woonde"}),
    ("sl", "pecar", 2015, ("animals",), "picture", {
        "sl": "Muca Zala in veliki dež", "en": "Zala the Cat and the Great Rain",
        "lv": "Kaķīte Zala un lielais lietus", "sv": "Katten Zala och det stora regnet",
        "nl": "Poes Zala en de grote regen"}),
    ("lv", "liepina", 2012, ("animals",), "picture", {
        "lv": "Ezītis, kurš baidījās no tumsas", "en": "The Hedgehog Who Was Afraid of the Dark",
        "sl": "Ježek, ki se je bal teme", "sv": "Igelkotten som var rädd för mörkret",
        "nl": "Het egeltje dat bang was in het donker"}),
    ("nl", "verhoef", 2019, ("friendship",), "juvenile", {
        "nl": "Bram en de vliegende fiets", "en": "Bram and the Flying Bicycle",
        "sl": "Bram in leteče kolo", "lv": "Brams un lidojošais ritenis",
        "sv": "Bram och den flygande cykeln"}),
    ("en", "lovell", 2016, ("animals", "friendship"), "juvenile", {
        "en": "The Clockmaker's Dog", "sl": "Urarjev pes", "lv": "Pulksteņmeistara suns",
        "sv": "Urmakarens hund", "nl": "De hond van de klokkenmaker"}),
    ("sv", "ekholm", 2018, ("crime",), "novel", {
        "sv": "Det sista ljuset : kriminalroman", "en": "The Last Light", "sl": "Zadnja luč",
        "lv": "Pēdējā gaisma", "nl": "Het laatste licht"}),
    ("sl", "kos", 2020, ("crime", "mountains"), "novel", {
        "sl": "Snežna slepota : kriminalni roman", "en": "Snow Blindness",
        "lv": "Sniega aklums", "sv": "Snöblindhet", "nl": "Sneeuwblindheid"}),
    ("lv", "berzins", 2004, ("sea",), "novel", {
        "lv": "Vējš no jūras", "en": "Wind from the Sea", "sl": "Veter z morja",
        "sv": "Vind från havet", "nl": "Wind van zee"}),
    ("nl", "dejong", 2009, ("migration",), "novel", {
        "nl": "Tussen twee oevers", "en": "Between Two Shores", "sl": "Med dvema bregovoma",
        "lv": "Starp diviem krastiem", "sv": "Mellan två stränder"}),
    ("en", "marchbank", 2022, ("fantasy",), "novel", {
        "en": "Half a Kingdom", "sl": "Pol kraljestva", "lv": "Puse karaļvalsts",
        "sv": "Ett halvt kungarike", "nl": "Een half koninkrijk"}),
    ("en", "kettering", 2014, ("history",), "novel", {
        "en": "The Salt Road", "sl": "Solna pot", "lv": "Sāls ceļš", "sv": "Saltvägen",
        "nl": "De zoutweg"}),
    ("sv", "forsberg", 2011, ("nature", "animals"), "novel", {
        "sv": "Älgarnas skog", "en": "The Forest of the Elk", "sl": "Gozd losov",
        "lv": "Aļņu mežs", "nl": "Het bos van de elanden"}),
    ("sl", "vovk", 2023, ("family", "rivers"), "novel", {
        "sl": "Poletje na Krki", "en": "Summer on the Krka", "lv": "Vasara pie Krkas",
        "sv": "Sommar vid Krka", "nl": "Zomer aan de Krka"}),
    ("lv", "eglite", 2010, ("love",), "novel", {
        "lv": "Rīta zvaigzne", "en": "Morning Star", "sl": "Jutranja zvezda",
        "sv": "Morgonstjärnan", "nl": "De morgenster"}),
    ("nl", "smeets", 2016, ("crime",), "novel", {
        "nl": "Vrijdag in Delft : thriller", "en": "Friday in Delft", "sl": "Petek v Delftu",
        "lv": "Piektdiena Delftā", "sv": "Fredag i Delft"}),
    ("en", "whitcombe", 2018, ("love", "family"), "novel", {
        "en": "The Quiet Year", "sl": "Tiho leto", "lv": "Klusais gads",
        "sv": "Det tysta året", "nl": "Het stille jaar"}),
    ("sv", "lindqvist", 2021, ("history", "love"), "novel", {
        "sv": "Flickan från Gamla stan", "en": "The Girl from the Old Town",
        "sl": "Dekle iz starega mesta", "lv": "Meitene no vecpilsētas",
        "nl": "Het meisje uit de oude stad"}),
    ("sl", "hribar", 2019, ("fantasy", "mountains"), "novel", {
        "sl": "Dolina tihih zvonov", "en": "The Valley of Silent Bells",
        "lv": "Kluso zvanu ieleja", "sv": "De tysta klockornas dal",
        "nl": "Het dal van de stille klokken"}),
    ("lv", "kalnins", 2015, ("nature",), "novel", {
        "lv": "Mežā aiz ezera", "en": "In the Forest beyond the Lake",
        "sl": "V gozdu za jezerom", "sv": "I skogen bortom sjön",
        "nl": "In het bos achter het meer"}),
    ("nl", "hoekstra", 2022, ("family", "gardens"), "novel", {
        "nl": "De tuin van mijn vader", "en": "My Father's Garden", "sl": "Očetov vrt",
        "lv": "Mana tēva dārzs", "sv": "Min fars trädgård"}),
    ("en", "okafor", 2017, ("migration", "family"), "novel", {
        "en": "Ten Thousand Stones", "sl": "Deset tisoč kamnov",
        "lv": "Desmit tūkstoši akmeņu", "sv": "Tiotusen stenar", "nl": "Tienduizend stenen"}),
    ("sv", "sundberg", 2008, ("nature", "love"), "novel", {
        "sv": "Stugan vid tjärnen", "en": "The Cabin by the Tarn", "sl": "Koča ob tolmunu",
        "lv": "Būda pie dīķa", "nl": "De hut bij het ven"}),
    ("sl", "zorko", 2013, ("family",), "stories", {
        "sl": "Zgodbe iz Trnovega", "en": "Stories from Trnovo", "lv": "Stāsti no Trnovas",
        "sv": "Berättelser från Trnovo", "nl": "Verhalen uit Trnovo"}),
    ("lv", "ozolina", 2022, ("family", "childhood"), "novel", {
        "lv": "Septiņas vasaras", "en": "Seven Summers", "sl": "Sedem poletij",
        "sv": "Sju somrar", "nl": "Zeven zomers"}),
    ("en", "greaves", 2008, ("crime", "history"), "novel", {
        "en": "The Drowned Parish", "sl": "Potopljena župnija", "lv": "Noslīkusī draudze",
        "sv": "Den dränkta socknen", "nl": "De verdronken parochie"}),
    ("sl", "kranjc", 2019, ("migration", "family"), "novel", {
        "sl": "Ptice selivke", "en": "Birds of Passage", "lv": "Gājputni",
        "sv": "Flyttfåglar", "nl": "Trekvogels"}),
)  # fmt: skip

# Non-fiction subjects: UDC and SAB classes, then the word in sl, lv, sv, nl, en (it
# is both the title's first half and the catalog's subject term).
TOPICS: dict[str, tuple[str, str, str, str, str, str, str]] = {
    "bees": ("638.1", "Pfb", "Čebele", "Bites", "Bin", "Bijen", "Bees"),
    "mushrooms": ("582.28", "Uhd", "Gobe", "Sēnes", "Svampar", "Paddenstoelen", "Mushrooms"),
    "bread": ("641.5", "Qcc", "Kruh", "Maize", "Bröd", "Brood", "Bread"),
    "lighthouses": ("627.9", "Pnb", "Svetilniki", "Bākas", "Fyrar", "Vuurtorens",
                    "Lighthouses"),
    "birds": ("598.2", "Ujk", "Ptice", "Putni", "Fåglar", "Vogels", "Birds"),
    "rivers": ("556.53", "Ucd", "Reke", "Upes", "Floder", "Rivieren", "Rivers"),
    "bridges": ("624.2", "Pcb", "Mostovi", "Tilti", "Broar", "Bruggen", "Bridges"),
    "herbs": ("635.7", "Pmc", "Zelišča", "Garšaugi", "Örter", "Kruiden", "Herbs"),
    "trees": ("582.5", "Uhc", "Drevesa", "Koki", "Träd", "Bomen", "Trees"),
    "stars": ("523.8", "Ue", "Zvezde", "Zvaigznes", "Stjärnor", "Sterren", "Stars"),
    "bicycles": ("629.118", "Pib", "Kolesa", "Velosipēdi", "Cyklar", "Fietsen", "Bicycles"),
    "wolves": ("599.742", "Ujb", "Volkovi", "Vilki", "Vargar", "Wolven", "Wolves"),
    "castles": ("728.81", "Ibe", "Gradovi", "Pilis", "Slott", "Kastelen", "Castles"),
    "islands": ("911.2", "Nc", "Otoki", "Salas", "Öar", "Eilanden", "Islands"),
    "glaciers": ("551.32", "Ucc", "Ledeniki", "Ledāji", "Glaciärer", "Gletsjers", "Glaciers"),
    "forests": ("630", "Pl", "Gozdovi", "Meži", "Skogar", "Bossen", "Forests"),
    "apples": ("634.1", "Pmb", "Jabolka", "Āboli", "Äpplen", "Appels", "Apples"),
    "knitting": ("746.4", "Qbb", "Pletenje", "Adīšana", "Stickning", "Breien", "Knitting"),
    "sleep": ("612.821", "Vc", "Spanje", "Miegs", "Sömn", "Slaap", "Sleep"),
    "dinosaurs": ("568.19", "Udb", "Dinozavri", "Dinozauri", "Dinosaurier", "Dinosaurussen",
                  "Dinosaurs"),
    "volcanoes": ("551.21", "Ucb", "Vulkani", "Vulkāni", "Vulkaner", "Vulkanen", "Volcanoes"),
    "windmills": ("621.548", "Pbb", "Mlini na veter", "Vējdzirnavas", "Väderkvarnar",
                  "Windmolens", "Windmills"),
    "wetlands": ("556.56", "Uce", "Mokrišča", "Purvi", "Våtmarker", "Moerasgebieden",
                 "Wetlands"),
    "honey": ("638.16", "Pfb", "Med", "Medus", "Honung", "Honing", "Honey"),
    "clouds": ("551.576", "Uca", "Oblaki", "Mākoņi", "Moln", "Wolken", "Clouds"),
    "chess": ("794.1", "Rfa", "Šah", "Šahs", "Schack", "Schaken", "Chess"),
    "oldmaps": ("912", "Nz", "Stari zemljevidi", "Senās kartes", "Gamla kartor",
                "Oude kaarten", "Old maps"),
    "fermentation": ("641.4", "Qcc", "Fermentacija", "Fermentācija", "Fermentering",
                     "Fermentatie", "Fermentation"),
    "photography": ("77", "Ik", "Fotografija", "Fotogrāfija", "Fotografi", "Fotografie",
                    "Photography"),
    "ants": ("595.796", "Ujd", "Mravlje", "Skudras", "Myror", "Mieren", "Ants"),
    "brain": ("612.82", "Vb", "Možgani", "Smadzenes", "Hjärnan", "Hersenen", "Brain"),
    "houseplants": ("635.965", "Pmd", "Sobne rastline", "Istabas augi", "Krukväxter",
                    "Kamerplanten", "Houseplants"),
    "whales": ("599.5", "Ujb", "Kiti", "Vaļi", "Valar", "Walvissen", "Whales"),
    "tea": ("663.95", "Qcd", "Čaj", "Tēja", "Te", "Thee", "Tea"),
    "saunas": ("613.41", "Vg", "Savne", "Pirtis", "Bastu", "Sauna's", "Saunas"),
    "climate": ("551.58", "Uca", "Podnebje", "Klimats", "Klimatet", "Klimaat", "Climate"),
    "cheese": ("637.3", "Qcc", "Sir", "Siers", "Ost", "Kaas", "Cheese"),
    "railways": ("656.2", "Pnc", "Železnice", "Dzelzceļi", "Järnvägar", "Spoorwegen",
                 "Railways"),
    "moss": ("582.32", "Uhb", "Mahovi", "Sūnas", "Mossor", "Mossen", "Mosses"),
    "sea": ("551.46", "Ucd", "Morje", "Jūra", "Havet", "Zee", "Oceans"),
}  # fmt: skip

# The second half of a non-fiction title, a noun phrase in the nominative so that
# "Topic : genre" reads right in every language; the flag marks children's books.
GENRES: dict[str, tuple[str, str, str, str, str, bool]] = {
    "history": ("kratka zgodovina", "īsa vēsture", "en kort historia",
                "een korte geschiedenis", "a short history", False),
    "practical": ("praktični vodnik", "praktisks ceļvedis", "en praktisk handbok",
                  "een praktische gids", "a practical guide", False),
    "beginners": ("priročnik za začetnike", "rokasgrāmata iesācējiem", "handbok för nybörjare",
                  "handboek voor beginners", "a handbook for beginners", False),
    "science": ("znanost in zgodbe", "zinātne un stāsti", "vetenskap och berättelser",
                "wetenschap en verhalen", "science and stories", False),
    "everything": ("vse, kar ste želeli vedeti", "viss, ko vēlējāties zināt",
                   "allt du velat veta", "alles wat je wilde weten",
                   "everything you wanted to know", False),
    "journey": ("potovanje po Evropi", "ceļojums pa Eiropu", "en resa genom Europa",
                "een reis door Europa", "a journey through Europe", False),
    "past": ("preteklost, sedanjost in prihodnost", "pagātne, tagadne un nākotne",
             "förr, nu och i framtiden", "vroeger, nu en straks", "past, present and future",
             False),
    "children": ("za radovedne otroke", "ziņkārīgiem bērniem", "för nyfikna barn",
                 "voor nieuwsgierige kinderen", "for curious children", True),
}  # fmt: skip

# (topic, genre, original language) of each non-fiction work.
NONFICTION: tuple[tuple[str, str, str], ...] = (
    ("bees", "practical", "sl"), ("mushrooms", "beginners", "sl"), ("bread", "history", "sv"),
    ("lighthouses", "journey", "en"), ("birds", "science", "en"), ("rivers", "past", "nl"),
    ("bridges", "history", "en"), ("herbs", "practical", "lv"), ("trees", "science", "sv"),
    ("stars", "children", "en"), ("bicycles", "history", "nl"), ("wolves", "science", "en"),
    ("castles", "journey", "sl"), ("islands", "journey", "sv"), ("glaciers", "past", "en"),
    ("forests", "science", "lv"), ("apples", "practical", "sv"), ("knitting", "beginners", "lv"),
    ("sleep", "everything", "en"), ("dinosaurs", "children", "en"),
    ("volcanoes", "children", "nl"), ("windmills", "history", "nl"),
    ("wetlands", "science", "lv"), ("honey", "practical", "sl"), ("clouds", "everything", "en"),
    ("chess", "beginners", "lv"), ("oldmaps", "history", "en"),
    ("fermentation", "practical", "sv"), ("photography", "beginners", "en"),
    ("ants", "children", "sl"), ("brain", "everything", "en"), ("houseplants", "practical", "nl"),
    ("whales", "science", "en"), ("tea", "journey", "en"), ("saunas", "history", "lv"),
    ("climate", "past", "en"), ("cheese", "journey", "nl"), ("railways", "history", "sl"),
    ("moss", "science", "sv"), ("sea", "past", "en"), ("bees", "children", "lv"),
    ("birds", "children", "sv"),
)  # fmt: skip

# Books from before ISBNs: the union index can only match them on title, author and
# year, so every catalog transcribes them alike. (language, author, year, title,
# form or UDC class for non-fiction, SAB class, theme, place, publisher, pages).
OLD_BOOKS: tuple[tuple[str, Person, int, str, str, str, str, str, str, int], ...] = (
    ("sl", Person("Jereb", "Alojz", False, 1898, 1971), 1952, "Pesmi z Gorenjske", "poetry",
     "Hcd", "mountains", "Kranj", "Tiskarna Savinja", 96),
    ("sl", Person("Bohinc", "Frančiška", True, 1905, 1983), 1938, "Zgodbe iz mlina", "stories",
     "Hc", "family", "Ljubljana", "Zadružna knjigarna", 184),
    ("sl", Person("Lesjak", "Rudolf", False, 1911, 1990), 1961, "Planinski dnevnik", "796.52",
     "Rdb", "mountains", "Ljubljana", "Zadružna knjigarna", 232),
    ("sl", Person("Rebolj", "Marija", True, 1902, 1979), 1956, "Domača zdravila iz narave",
     "615.89", "Vl", "botany", "Maribor", "Tiskarna Drava", 148),
    ("sl", Person("Gaberšček", "Anton", False, 1890, 1958), 1934, "Čebelarjevo leto", "638.1",
     "Pfb", "nature", "Ljubljana", "Zadružna knjigarna", 120),
    ("lv", Person("Āboliņš", "Jēkabs", False, 1894, 1962), 1936, "Lauku ļaudis", "novel", "Hc",
     "family", "Rīga", "Liesmiņa", 312),
    ("lv", Person("Sproģe", "Elza", True, 1910, 1988), 1958, "Jūrmalas vasaras", "novel", "Hc",
     "sea", "Rīga", "Liesmiņa", 276),
    ("lv", Person("Dreimanis", "Voldemārs", False, 1903, 1977), 1929, "Bišu kopšana lauku sētā",
     "638.1", "Pfb", "nature", "Rīga", "Laukstrādnieku apgāds", 164),
    ("lv", Person("Kaupiņš", "Roberts", False, 1921, 1995), 1965, "Vidzemes ceļi un ciemi",
     "908", "Nc", "geography", "Rīga", "Liesmiņa", 208),
    ("lv", Person("Bērzkalne", "Anna", True, 1906, 1984), 1940, "Mazā saimniece", "641.5",
     "Qcc", "family", "Cēsis", "Laukstrādnieku apgāds", 190),
    ("sv", Person("Wennerholm", "Axel", False, 1899, 1970), 1949, "Skärgårdens folk", "novel",
     "Hc", "islands", "Stockholm", "Fyrbåkens förlag", 288),
    ("sv", Person("Lindeblad", "Greta", True, 1912, 1994), 1962, "Sommaren vid sjön", "novel",
     "Hc", "love", "Stockholm", "Fyrbåkens förlag", 240),
    ("sv", Person("Ruthberg", "Harald", False, 1888, 1960), 1931, "Järnbruket", "novel", "Hc",
     "history", "Uppsala", "Ekbackens boktryckeri", 356),
    ("sv", Person("Tengwall", "Sigrid", True, 1907, 1986), 1957, "Uppländska gårdar", "728.6",
     "Ibe", "local", "Uppsala", "Ekbackens boktryckeri", 176),
    ("sv", Person("Ölander", "Karl", False, 1896, 1969), 1944, "Fjällvandring i Jämtland",
     "796.52", "Rdb", "mountains", "Stockholm", "Fyrbåkens förlag", 204),
    ("nl", Person("Kamphuis", "Hendrik", False, 1901, 1975), 1955, "Het dorp aan de vaart",
     "novel", "Hc", "rivers", "Den Haag", "Uitgeverij Het Binnenhof", 264),
    ("nl", Person("Wiersma", "Geertruida", True, 1915, 1999), 1951, "Polderjaren", "novel",
     "Hc", "family", "Den Haag", "Uitgeverij Het Binnenhof", 230),
    ("nl", Person("Verbrugge", "Cornelis", False, 1909, 1984), 1968, "Delftse straten en stegen",
     "949.2", "Kc", "local", "Delft", "Drukkerij Oostsingel", 152),
    ("en", Person("Hargreave", "Edwin", False, 1887, 1963), 1954,
     "A Naturalist on the Baltic Shore", "574", "Ug", "nature", "London", "Gresham & Cole",
     248),
    ("en", Person("Stanhope", "Lydia", True, 1899, 1978), 1936,
     "Letters from the Dalmatian Coast", "910.4", "Nb", "geography", "London",
     "Gresham & Cole", 220),
    ("en", Person("Pryor", "Walter", False, 1902, 1981), 1958,
     "Principles of Library Classification", "025.4", "Ab", "libraries", "London",
     "Holborn Library Association", 312),
    ("en", Person("Aldcliffe", "Margaret", True, 1910, 1990), 1962,
     "The Northern Cathedral Towns", "726.6", "Ibd", "history", "Edinburgh", "Lothian Press",
     198),
    ("en", Person("Thursby", "George", False, 1895, 1966), 1949, "The Orchard at Wickham",
     "novel", "Hce", "family", "London", "Gresham & Cole", 304),
    ("en", Person("Cobbold", "Agnes", True, 1893, 1971), 1928,
     "A Handbook of Northern Wildflowers", "582", "Uh", "botany", "Edinburgh", "Lothian Press",
     176),
)  # fmt: skip

# Journals: (language, title, place, publisher, first year, frequency, themes).
JOURNALS: tuple[tuple[str, str, str, str, int, str, tuple[str, ...]], ...] = (
    ("sl", "Vrtnarski mesečnik", "Ljubljana", "Zveza vrtičkarjev Slovenije", 1994, "m",
     ("gardens",)),
    ("sl", "Gorniški zapisi", "Kranj", "Gorniško društvo Jezerca", 1979, "b", ("mountains",)),
    ("sl", "Bralni list", "Ljubljana", "Zveza bralnih krožkov", 2005, "q", ("libraries",)),
    ("lv", "Dārza Lapa", "Rīga", "Dārzkopju biedrība", 1998, "m", ("gardens",)),
    ("lv", "Vidzemes Vēstures Žurnāls", "Cēsis", "Vidzemes novadpētnieku biedrība", 2009, "q",
     ("history", "local")),
    ("lv", "Putni un Daba", "Rīga", "Putnu vērotāju klubs", 1993, "b", ("birds",)),
    ("sv", "Trädgårdsliv", "Stockholm", "Föreningen Odla Mera", 1987, "m", ("gardens",)),
    ("sv", "Fågelvännen i Uppland", "Uppsala", "Upplands fågelvänner", 1971, "q", ("birds",)),
    ("sv", "Biblioteksspegeln", "Stockholm", "Biblioteksfrämjandet Norr", 2002, "q",
     ("libraries",)),
    ("nl", "Tuinier Vandaag", "Utrecht", "Stichting Volkstuin", 1990, "m", ("gardens",)),
    ("nl", "Vogelwacht", "Leiden", "Vereniging Vogelwacht Zuid-Holland", 1982, "b", ("birds",)),
    ("en", "Journal of Northern European Library Studies", "London", "Saltmarsh Press", 1999,
     "q", ("libraries",)),
    ("en", "The Baltic Review of Historical Geography", "Edinburgh", "Tern Editions", 1986, "q",
     ("geography", "history")),
    ("en", "European Journal of Wetland Ecology", "Oxford", "Harrow Lane Books", 2004, "b",
     ("ecology",)),
    ("en", "Alpine and Boreal Botany", "New York", "Millbrook & Hale", 1972, "q", ("botany",)),
    ("en", "Cartographic Notes", "London", "Saltmarsh Press", 1991, "q", ("maps",)),
)  # fmt: skip

# Films on DVD: (language, title, year, director, minutes, themes).
FILMS: tuple[tuple[str, str, int, Person, int, tuple[str, ...]], ...] = (
    ("sv", "Vinterhamnen", 2019, Person("Åström", "Henrik", False, 1975), 104, ("sea",)),
    ("sl", "Hiša ob reki", 2016, Person("Štrukelj", "Gregor", False, 1971), 97, ("family",)),
    ("lv", "Dzintara krasts", 2021, Person("Kalve", "Laura", True, 1984), 112, ("sea",)),
    ("nl", "De laatste veerman", 2018, Person("Postma", "Jelle", False, 1969), 101, ("rivers",)),
    ("en", "The Lighthouse Keeper's Daughter", 2020, Person("Ransome", "Clare", True, 1972), 118,
     ("sea",)),
    ("sv", "Tystnaden i Norrby. Säsong 1", 2022, Person("Berglund", "Tove", True, 1980), 360,
     ("crime",)),
    ("sl", "Ptice Ljubljanskega barja", 2015, Person("Kavčič", "Jernej", False, 1968), 58,
     ("birds",)),
    ("lv", "Gaujas gadalaiki", 2017, Person("Rudzītis", "Valters", False, 1977), 64,
     ("nature",)),
    ("en", "Salt and Iron : the Hanseatic coast", 2019, Person("Morrow", "Declan", False, 1966),
     90, ("history",)),
)  # fmt: skip

# Music on CD: (language, title, year, performing group, minutes, themes).
RECORDINGS: tuple[tuple[str, str, int, str, int, tuple[str, ...]], ...] = (
    ("sl", "Pesmi s Krasa", 2014, "Vokalna skupina Brinjevka", 52, ("folk",)),
    ("lv", "Dziesmas no Vidzemes", 2012, "Koris Dzirnakmens", 61, ("folk", "choirs")),
    ("sv", "Midsommarvisor", 2018, "Spelmanslaget Lärkan", 48, ("folk",)),
    ("nl", "Liederen van de polder", 2011, "Ensemble Oostpoort", 55, ("folk",)),
    ("lv", "Baltijas nokturni", 2020, "Rīgas klavieru trio", 66, ("piano",)),
    ("sl", "Jazz iz Trnovega", 2019, "Trio Ljubljanica", 58, ("music",)),
    ("en", "Songs for a Northern Winter", 2016, "Greyfriars Consort", 63, ("choirs",)),
)  # fmt: skip

# Printed music: (language, composer, year, "Title : subtitle", pages, themes).
SCORES: tuple[tuple[str, Person, int, str, int, tuple[str, ...]], ...] = (
    ("sl", Person("Hočevar", "Matija", False, 1971), 2011,
     "Tri pesmi : za mešani zbor a cappella", 24, ("choirs",)),
    ("sl", Person("Hočevar", "Matija", False, 1971), 2018,
     "Klavirske miniature : za mlade pianiste", 32, ("piano",)),
    ("lv", Person("Bērziņa", "Laila", True, 1976), 2015,
     "Vasaras dziesmas : jauktajam korim a cappella", 28, ("choirs",)),
    ("sv", Person("Nyqvist", "Elias", False, 1964), 2009, "Sånger vid sjön : för blandad kör",
     36, ("choirs",)),
    ("nl", Person("Kuipers", "Anouk", True, 1980), 2016, "Drie liederen : voor sopraan en piano",
     20, ("music",)),
    ("en", Person("Prentice", "Owen", False, 1958), 2013, "Suite for Baltic Winds : full score",
     64, ("music",)),
)  # fmt: skip

# Maps and an atlas: (language, "Title : subtitle", year, maker, scale, atlas, themes).
MAPS: tuple[tuple[str, str, int, str, int, bool, tuple[str, ...]], ...] = (
    ("sl", "Ljubljana : mestni načrt", 2021, "Kartografska hiša Vrh", 20000, False, ("maps",)),
    ("sl", "Kamniško-Savinjske Alpe : planinska karta", 2019, "Kartografska hiša Vrh", 50000,
     False, ("mountains",)),
    ("sl", "Gorenjska : kolesarska karta", 2020, "Kartografska hiša Vrh", 75000, False,
     ("cycling",)),
    ("lv", "Gaujas nacionālais parks : tūrisma karte", 2018, "Karšu darbnīca", 100000, False,
     ("nature",)),
    ("lv", "Rīga : pilsētas plāns", 2022, "Karšu darbnīca", 25000, False, ("maps",)),
    ("sv", "Uppland : cykelkarta", 2017, "Kartförlaget Nordkompass", 100000, False,
     ("cycling",)),
    ("nl", "Delft en omgeving : fietskaart", 2020, "Kaartenmakerij Delfland", 50000, False,
     ("cycling",)),
    ("en", "Road Atlas of Europe", 2023, "Northway Cartographic", 1000000, True,
     ("geography",)),
)  # fmt: skip

# Local history that only its own library holds: (library, language, year,
# "Title : subtitle", UDC, SAB).
LOCAL: tuple[tuple[str, str, int, str, str, str], ...] = (
    ("SI-KAM", "sl", 2012, "Kamniški mostovi skozi stoletja", "624.2(497.4Kamnik)", "Pcb"),
    ("SI-KAM", "sl", 2018, "Komenda in njeni ljudje : zbornik", "908(497.4Komenda)", "Kc"),
    ("SI-KR", "sl", 2016, "Kranjski vodnjaki in kanali", "628.1(497.4Kranj)", "Pcf"),
    ("SI-KR", "sl", 2010, "Stara Sava : spomini delavcev", "94(497.4Kranj)", "Kc"),
    ("SI-LJMK", "sl", 2009, "Trnovo : zgodovina predmestja", "94(497.4Ljubljana)", "Kc"),
    ("SI-LJMK", "sl", 2021, "Šišenske gostilne", "640.43(497.4Ljubljana)", "Qc"),
    ("LV-RCB", "lv", 2014, "Rīgas koka nami", "728(474.3Rīga)", "Ibe"),
    ("LV-RCB", "lv", 2019, "Brīvības ielas stāsti", "908(474.3Rīga)", "Kc"),
    ("LV-VAL", "lv", 2011, "Valmiera Hanzas laikā", "94(474.3Valmiera)", "Kc"),
    ("LV-CES", "lv", 2015, "Cēsu pils : vēsture un leģendas", "728.81(474.3Cēsis)", "Ibe"),
    ("SE-UPS", "sv", 2013, "Gottsunda : från åker till förort", "908(485Uppsala)", "Kc"),
    ("SE-UPS", "sv", 2010, "Fyrisån genom tiderna", "556.53(485Uppsala)", "Kc"),
    ("SE-ENK", "sv", 2016, "Enköpings trädgårdar", "712(485Enköping)", "Pm"),
    ("NL-DEL", "nl", 2012, "Delftse grachten", "908(492Delft)", "Kc"),
    ("NL-DEL", "nl", 2017, "Hof van Delft : een wijk in verandering", "908(492Delft)", "Kc"),
)  # fmt: skip

# Where the non-book media come from, by language: (place, name).
FILM_DISTRIBUTORS = {"sl": ("Ljubljana", "Kinoteka Breza"), "lv": ("Rīga", "Filmu studija Dzelme"),
                     "sv": ("Stockholm", "Nordvik Film"), "nl": ("Amsterdam", "Meerkoet Film"),
                     "en": ("London", "Saltmarsh Pictures")}
MUSIC_PUBLISHERS = {"sl": ("Ljubljana", "Založba Odmev"),
                    "lv": ("Rīga", "Mūzikas apgāds Ozols"),
                    "sv": ("Stockholm", "Nordvik Musikförlag"),
                    "nl": ("Utrecht", "Walvis Muziekuitgaven"),
                    "en": ("London", "Greyfriars Music")}
# 008/15-17 when a place is not in its language's usual country.
PLACE_CODE = {"Edinburgh": "stk", "New York": "nyu"}
LANG_PLACE_CODE = {"sl": "xv ", "lv": "lv ", "sv": "sw ", "nl": "ne ", "en": "enk"}
AND = {"sl": "in", "lv": "un", "sv": "och", "nl": "en", "en": "and"}

# ---------------------------------------------------------------- the model


@dataclass(slots=True)
class Manifestation:
    """One edition of a title: what every catalog holding it describes alike."""

    key: str
    kind: str  # book, journal, film, music, score, map
    lang: str
    title: str
    subtitle: str | None
    year: int
    place: str
    publisher: str
    author: Person | None = None
    corporate: str | None = None
    responsibility: str | None = None
    contributors: tuple[tuple[Person, str], ...] = ()
    original_lang: str | None = None
    subtitle_langs: tuple[str, ...] = ()
    isbn13: str | None = None
    issn: str | None = None
    ean: str | None = None
    ismn: str | None = None
    edition: int | None = None
    series: tuple[str, int] | None = None
    extent: int = 0  # pages, or minutes for discs
    height: int = 21
    illustrated: bool = False
    children: bool = False
    form: str = "nonfiction"  # novel, stories, picture, juvenile, poetry, nonfiction
    themes: tuple[str, ...] = ()
    topic: str | None = None
    genre: str | None = None
    udc: str = ""
    sab: str = ""
    scale: int | None = None
    atlas: bool = False
    frequency: str | None = None
    old: bool = False
    local_to: str | None = None
    # Discs cross language borders: held abroad as readily as English books.
    international: bool = False

    @property
    def country(self) -> str:
        return PLACE_CODE.get(self.place, LANG_PLACE_CODE[self.lang])

    @property
    def material(self) -> str:
        """The consortium's material type, as policies' ``lends`` name it."""
        return {"film": "av", "music": "av"}.get(self.kind, self.kind)


@dataclass(frozen=True, slots=True)
class Copy:
    location: str  # the library's own code or one of its branch codes
    status: str  # an ItemStatus value
    shelf: str  # a LOCATION key
    accessioned: date
    due: date | None = None


@dataclass(frozen=True, slots=True)
class Library:
    code: str
    index: int
    country: str
    languages: tuple[str, ...]
    branches: tuple[str, ...]
    lends: tuple[str, ...]
    holdings: dict[str, Any]
    catalog_path: Path | None
    register_path: Path | None

    @property
    def lang(self) -> str:
        """The language the library catalogs in."""
        return self.languages[0] if self.languages[0] in MARC_LANG else "en"

    @property
    def locations(self) -> tuple[str, ...]:
        """Where copies stand: the main library (its own code) first, then branches."""
        return (self.code, *self.branches)

    @property
    def size(self) -> float:
        # Libraries with branches buy more, and more copies.
        return 1.0 + 0.2 * len(self.branches)


@dataclass(frozen=True, slots=True)
class Field:
    tag: str
    value: str | None = None  # control fields
    ind1: str = " "
    ind2: str = " "
    subfields: tuple[tuple[str, str], ...] = ()


def control(tag: str, value: str) -> Field:
    return Field(tag, value=value)


def data(tag: str, ind1: str, ind2: str, *subfields: tuple[str, str | None]) -> Field:
    """A data field; subfields whose value is None are left out."""
    return Field(tag, None, ind1, ind2, tuple((c, v) for c, v in subfields if v is not None))


# ---------------------------------------------------------------- identifiers


class Numbers:
    """Hands out ISBNs, ISSNs, ISMNs and EANs, each unique and with a valid check digit.

    Check digits come from stdnum, and each number is validated (and its hyphenation
    split checked against the publisher's prefix) before it is used.
    """

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_title: dict[str, int] = {}
        self.used: set[str] = set()

    def _next_body(self, prefix: str) -> str:
        digits = prefix.replace("-", "")
        room = 12 - len(digits)
        start = self.next_title.get(prefix)
        number = start if start is not None else self.rng.randrange(10**room // 5)
        self.next_title[prefix] = number + self.rng.randint(1, 2)
        if number >= 10**room:
            raise ValueError(f"publisher prefix {prefix} has run out of title numbers")
        return f"{digits}{number:0{room}d}"

    def isbn(self, publisher: Publisher) -> str:
        body = self._next_body(publisher.isbn_prefix)
        number = isbn.validate(body + ean.calc_check_digit(body))
        if "-".join(isbn.split(number)[:3]) != publisher.isbn_prefix:
            raise ValueError(f"{number} does not split as {publisher.isbn_prefix}")
        return number

    def ismn(self, lang: str) -> str:
        prefix = ISMN_PREFIX[lang]
        body = self._next_body(prefix)
        number = ismn.validate(body + ean.calc_check_digit(body))
        if "-".join(ismn.split(number)[:3]) != prefix:
            raise ValueError(f"{number} does not split as {prefix}")
        return number

    def issn(self) -> str:
        while True:
            body = f"{self.rng.randrange(10**7):07d}"
            number = issn.validate(body + issn.calc_check_digit(body))
            if number not in self.used:
                self.used.add(number)
                return issn.format(number)

    def ean(self, lang: str) -> str:
        prefix = EAN_PREFIX[lang]
        while True:
            body = prefix + "".join(str(self.rng.randrange(10)) for _ in range(12 - len(prefix)))
            number = ean.validate(body + ean.calc_check_digit(body))
            if number not in self.used:
                self.used.add(number)
                return number


def split_title(text: str) -> tuple[str, str | None]:
    title, _, subtitle = text.partition(" : ")
    return title, subtitle or None


def topic_word(topic: str, lang: str) -> str:
    return TOPICS[topic][2 + THEME_LANGS.index(lang)]


def genre_phrase(genre: str, lang: str) -> str:
    return str(GENRES[genre][THEME_LANGS.index(lang)])


def join_statement(*parts: str | None) -> str:
    """245 $c: responsibility statements joined ISBD-style with " ; "."""
    return " ; ".join(p for p in parts if p)


# ---------------------------------------------------------------- the title pool


def fiction_editions(rng: random.Random) -> list[Manifestation]:
    editions: list[Manifestation] = []
    for i, (original, author_key, year, themes, form, titles) in enumerate(FICTION):
        author = A[author_key]
        children = form in ("picture", "juvenile")
        illustrator = random_person(rng, original, rng.randint(1960, 1990)) if children else None
        langs = [original] + [
            lang for lang in titles
            if lang != original and rng.random() < (0.75 if lang == "en" else 0.55)
        ]  # fmt: skip
        base_pages = 32 if form == "picture" else rng.randint(120, 220) if children else \
            rng.randint(200, 480)
        for lang in langs:
            translator = random_person(rng, lang) if lang != original else None
            title, subtitle = split_title(titles[lang])
            edition = rng.choice((2, 3)) if rng.random() < 0.08 else None
            published = year if lang == original else min(2025, year + rng.randint(1, 5))
            if edition:
                published = min(2026, published + rng.randint(2, 6))
            contributors = [(p, r) for p, r in ((illustrator, "ill"), (translator, "trl")) if p]
            editions.append(Manifestation(
                key=f"F{i:02d}-{lang}", kind="book", lang=lang, title=title, subtitle=subtitle,
                year=published, place="", publisher="", author=author,
                responsibility=join_statement(
                    author.display,
                    illustrator_phrase(lang, illustrator) if illustrator else None,
                    translator_phrase(lang, original, translator) if translator else None),
                contributors=tuple(contributors),
                original_lang=original if lang != original else None,
                edition=edition,
                series=(rng.choice(SERIES[lang][:2]), rng.randint(1, 80))
                if rng.random() < 0.2 else None,
                extent=base_pages + (rng.randint(-16, 24) if form != "picture" else 0),
                height=rng.choice((24, 27, 30)) if form == "picture" else rng.randint(19, 23),
                illustrated=children, children=children, form=form, themes=themes,
            ))  # fmt: skip
    return editions


def nonfiction_editions(rng: random.Random) -> list[Manifestation]:
    editions: list[Manifestation] = []
    for i, (topic, genre, original) in enumerate(NONFICTION):
        udc, sab = TOPICS[topic][:2]
        children = bool(GENRES[genre][5])
        author = random_person(rng, original, rng.randint(1948, 1990))
        coauthor = random_person(rng, original, rng.randint(1950, 1992)) \
            if rng.random() < 0.2 else None
        illustrator = random_person(rng, original) if children else None
        year = rng.randint(2004, 2024)
        pages = rng.randint(40, 80) if children else rng.randint(96, 360)
        langs = [original] + [
            lang for lang in THEME_LANGS
            if lang != original and rng.random() < (0.7 if lang == "en" else 0.45)
        ]  # fmt: skip
        for lang in langs:
            translator = random_person(rng, lang) if lang != original else None
            authors = author.display + (f" {AND[lang]} {coauthor.display}" if coauthor else "")
            contributors = [(p, r) for p, r in ((coauthor, "aut"), (illustrator, "ill"),
                                                 (translator, "trl")) if p]
            editions.append(Manifestation(
                key=f"N{i:02d}-{lang}", kind="book", lang=lang, title=topic_word(topic, lang),
                subtitle=genre_phrase(genre, lang),
                year=year if lang == original else min(2025, year + rng.randint(1, 4)),
                place="", publisher="", author=author,
                responsibility=join_statement(
                    authors,
                    illustrator_phrase(lang, illustrator) if illustrator else None,
                    translator_phrase(lang, original, translator) if translator else None),
                contributors=tuple(contributors),
                original_lang=original if lang != original else None,
                series=(SERIES[lang][2], rng.randint(1, 60)) if rng.random() < 0.15 else None,
                extent=pages, height=rng.randint(20, 26), illustrated=rng.random() < 0.8,
                children=children, topic=topic, genre=genre, udc=udc, sab=sab,
            ))  # fmt: skip
    return editions


def old_books(rng: random.Random) -> list[Manifestation]:
    books: list[Manifestation] = []
    for i, (lang, author, year, text, form_or_udc, sab, theme_key, place, publisher, pages) in (
        enumerate(OLD_BOOKS)
    ):
        title, subtitle = split_title(text)
        fiction = form_or_udc in ("novel", "stories", "poetry")
        books.append(Manifestation(
            key=f"O{i:02d}", kind="book", lang=lang, title=title, subtitle=subtitle, year=year,
            place=place, publisher=publisher, author=author, responsibility=author.display,
            extent=pages, height=rng.randint(18, 22), illustrated=rng.random() < 0.3,
            form=form_or_udc if fiction else "nonfiction", themes=(theme_key,),
            udc="" if fiction else form_or_udc, sab=sab, old=True,
        ))  # fmt: skip
    return books


def journals(rng: random.Random, numbers: Numbers) -> list[Manifestation]:
    return [
        Manifestation(
            key=f"J{i:02d}", kind="journal", lang=lang, title=title, subtitle=None, year=start,
            place=place, publisher=publisher, issn=numbers.issn(), frequency=frequency,
            themes=themes, height=30, international=lang == "en",
        )
        for i, (lang, title, place, publisher, start, frequency, themes) in enumerate(JOURNALS)
    ]


def films(rng: random.Random, numbers: Numbers) -> list[Manifestation]:
    discs: list[Manifestation] = []
    for i, (lang, text, year, director, minutes, themes) in enumerate(FILMS):
        title, subtitle = split_title(text)
        place, distributor = FILM_DISTRIBUTORS[lang]
        subtitles = tuple(x for x in THEME_LANGS if x != lang and rng.random() < 0.6)
        discs.append(Manifestation(
            key=f"V{i:02d}", kind="film", lang=lang, title=title, subtitle=subtitle, year=year,
            place=place, publisher=distributor,
            responsibility=f"{DIRECTED[lang]} {director.display}",
            contributors=((director, "drt"),), subtitle_langs=subtitles, ean=numbers.ean(lang),
            extent=minutes, themes=(*themes, "film"), international=True,
        ))  # fmt: skip
    return discs


def recordings(rng: random.Random, numbers: Numbers) -> list[Manifestation]:
    discs: list[Manifestation] = []
    for i, (lang, text, year, group, minutes, themes) in enumerate(RECORDINGS):
        title, subtitle = split_title(text)
        place, label = MUSIC_PUBLISHERS[lang]
        discs.append(Manifestation(
            key=f"M{i:02d}", kind="music", lang=lang, title=title, subtitle=subtitle, year=year,
            place=place, publisher=label, corporate=group, responsibility=group,
            ean=numbers.ean(lang), extent=minutes, themes=themes, international=lang == "en",
        ))  # fmt: skip
    return discs


def scores(rng: random.Random, numbers: Numbers) -> list[Manifestation]:
    sheets: list[Manifestation] = []
    for i, (lang, composer, year, text, pages, themes) in enumerate(SCORES):
        title, subtitle = split_title(text)
        place, publisher = MUSIC_PUBLISHERS[lang]
        udc, sab = {"choirs": ("784.1", "Ycb"), "piano": ("786.2", "Ydh")}.get(
            themes[0], ("78", "Y"))
        sheets.append(Manifestation(
            key=f"S{i:02d}", kind="score", lang=lang, title=title, subtitle=subtitle, year=year,
            place=place, publisher=publisher, author=composer,
            responsibility=composer.display, ismn=numbers.ismn(lang), extent=pages, height=31,
            themes=themes, udc=udc, sab=sab, international=lang == "en",
        ))  # fmt: skip
    return sheets


def maps(rng: random.Random, numbers: Numbers) -> list[Manifestation]:
    sheets: list[Manifestation] = []
    for i, (lang, text, year, maker, scale, atlas, themes) in enumerate(MAPS):
        title, subtitle = split_title(text)
        publisher = rng.choice(PUBLISHERS[lang])
        sheets.append(Manifestation(
            key=f"K{i:02d}", kind="map", lang=lang, title=title, subtitle=subtitle, year=year,
            place=publisher.place, publisher=publisher.name, corporate=maker,
            responsibility=maker, isbn13=numbers.isbn(publisher),
            extent=rng.randint(180, 320) if atlas else 0, height=30, themes=themes,
            udc="912", sab="Nz", scale=scale, atlas=atlas,
        ))  # fmt: skip
    return sheets


def local_books(rng: random.Random, numbers: Numbers) -> list[Manifestation]:
    books: list[Manifestation] = []
    for i, (library, lang, year, text, udc, sab) in enumerate(LOCAL):
        title, subtitle = split_title(text)
        author = random_person(rng, lang, rng.randint(1940, 1985))
        publisher = rng.choice(PUBLISHERS[lang])
        # Small local printings often go without an ISBN.
        has_isbn = rng.random() < 0.7
        books.append(Manifestation(
            key=f"L{i:02d}", kind="book", lang=lang, title=title, subtitle=subtitle, year=year,
            place=publisher.place, publisher=publisher.name,
            author=author, responsibility=author.display,
            isbn13=numbers.isbn(publisher) if has_isbn else None,
            extent=rng.randint(80, 260), height=rng.randint(21, 29), illustrated=True,
            themes=("local",), udc=udc, sab=sab, local_to=library,
        ))  # fmt: skip
    return books


def publish(editions: list[Manifestation], rng: random.Random, numbers: Numbers) -> None:
    """Give each new edition a publisher of its language and an ISBN from its range."""
    for edition in editions:
        publisher = rng.choice(PUBLISHERS[edition.lang])
        edition.place, edition.publisher = publisher.place, publisher.name
        edition.isbn13 = numbers.isbn(publisher)


def title_pool(rng: random.Random) -> list[Manifestation]:
    numbers = Numbers(rng)
    modern = fiction_editions(rng) + nonfiction_editions(rng)
    publish(modern, rng, numbers)
    return (
        modern
        + old_books(rng)
        + journals(rng, numbers)
        + films(rng, numbers)
        + recordings(rng, numbers)
        + scores(rng, numbers)
        + maps(rng, numbers)
        + local_books(rng, numbers)
    )

# ---------------------------------------------------------------- who holds what


def holding_chance(library: Library, edition: Manifestation) -> float:
    """How likely ``library`` is to have bought ``edition``: mostly its own language,
    then English (more so where English is a working language), rarely the rest."""
    if edition.local_to:
        return 1.0 if library.code == edition.local_to else 0.0
    if edition.lang == library.lang:
        chance = 0.8 if edition.kind in ("film", "music") else 0.58
    elif edition.old and edition.lang != "en":
        # Old books in the small languages stayed in their own country.
        chance = 0.0
    elif edition.lang == "en" or edition.international:
        chance = 0.3 if "en" in library.languages else 0.12
    else:
        chance = 0.03
    return min(0.95, chance * library.size)


def holders(edition: Manifestation, libraries: Sequence[Library],
            rng: random.Random) -> list[Library]:
    chosen = [lib for lib in libraries if rng.random() < holding_chance(lib, edition)]
    if not chosen:
        # Every title in the pool is held somewhere: by its likeliest buyer.
        best = max(libraries, key=lambda lib: (holding_chance(lib, edition), lib.size))
        if holding_chance(best, edition) > 0:
            chosen = [best]
    return chosen


def copy_count(edition: Manifestation, library: Library, rng: random.Random) -> int:
    """Popular titles in the library's language get a copy in several branches."""
    if edition.kind == "book" and not edition.old and edition.lang == library.lang:
        odds = 0.15 if edition.form == "nonfiction" else 0.4
        if rng.random() < odds:
            return rng.randint(2, max(2, len(library.locations) + 1))
    if edition.kind == "journal" and rng.random() < 0.3:
        return 2
    return 1


def copy_locations(library: Library, count: int, rng: random.Random) -> list[str]:
    """The main library gets most single copies; further copies go to other branches."""
    places = list(library.locations)
    first = places[0] if len(places) == 1 or rng.random() < 0.6 else rng.choice(places[1:])
    others = [p for p in places if p != first]
    rng.shuffle(others)
    ring = [first, *others]
    return [ring[i % len(ring)] for i in range(count)]


STATUSES = ("available", "on_loan", "reading_room", "not_loanable", "lost")


def copy_status(edition: Manifestation, library: Library, rng: random.Random) -> str:
    if edition.material not in library.lends:
        # What the library does not lend stays in the building.
        weights = (0, 0, 70, 30, 0)
    elif edition.kind == "journal":
        weights = (40, 10, 45, 5, 0)
    elif edition.atlas:
        weights = (30, 10, 60, 0, 0)
    elif edition.old:
        weights = (35, 10, 30, 20, 5)
    else:
        weights = (60, 28, 6, 3, 3)
    return rng.choices(STATUSES, weights)[0]


def shelf_for(edition: Manifestation, status: str) -> str:
    if status == "reading_room":
        return "reading_room"
    if edition.kind == "journal":
        return "serial"
    if edition.kind in ("film", "music"):
        return "av"
    return "child" if edition.children else "adult"


def random_date(rng: random.Random, first: date, last: date) -> date:
    return first + timedelta(days=rng.randint(0, max(0, (last - first).days)))


def make_copies(edition: Manifestation, library: Library, rng: random.Random) -> list[Copy]:
    copies = []
    for location in copy_locations(library, copy_count(edition, library, rng), rng):
        status = copy_status(edition, library, rng)
        copies.append(Copy(
            location=location, status=status, shelf=shelf_for(edition, status),
            accessioned=random_date(rng, date(max(edition.year, 1995), 1, 15),
                                    TODAY - timedelta(days=30)),
            # Loans fall due after the demo's today, into early 2027.
            due=TODAY + timedelta(days=rng.randint(1, 90)) if status == "on_loan" else None,
        ))  # fmt: skip
    return copies


def distribute(pool: Sequence[Manifestation], libraries: Sequence[Library],
               rng: random.Random) -> dict[str, list[tuple[Manifestation, list[Copy]]]]:
    held: dict[str, list[tuple[Manifestation, list[Copy]]]] = {lib.code: [] for lib in libraries}
    for edition in pool:
        for library in holders(edition, libraries, rng):
            held[library.code].append((edition, make_copies(edition, library, rng)))
    return held

# ---------------------------------------------------------------- call numbers

SCHEMES = {"SI": "udc", "LV": "udc", "SE": "sab", "NL": "siso"}
# UDC's form subdivisions for literature.
LITERARY_FORM = {"novel": "-31", "stories": "-32", "poetry": "-1", "picture": "-93",
                 "juvenile": "-93"}


def cutter_word(edition: Manifestation) -> str:
    if edition.author:
        return edition.author.surname
    return (edition.corporate or edition.title).split()[0]


def classification(edition: Manifestation, scheme: str) -> str:
    """The class part of a call number in the library's scheme (UDC, SAB, or the
    SISO-like numbers Dutch public libraries shelve by)."""
    if edition.kind in ("journal", "film", "music"):
        labels = {"journal": ("P", "Tidskr.", "TIJD"), "film": ("DVD", "Film", "DVD"),
                  "music": ("CD", "Musik", "CD")}[edition.kind]
        return labels[("udc", "sab", "siso").index(scheme)]
    if edition.form != "nonfiction":
        literature = edition.original_lang or edition.lang
        if scheme == "udc":
            return UDC_LITERATURE[literature] + LITERARY_FORM[edition.form]
        if scheme == "sab":
            sab = edition.sab or ("Hce" if edition.lang == "en" else "Hc")
            return f"u{sab}" if edition.children else sab
        return "J" if edition.children else ("E R" if edition.lang == "en" else "R")
    if scheme == "udc":
        return edition.udc
    if scheme == "sab":
        return f"u{edition.sab}" if edition.children else edition.sab
    siso = edition.udc.replace(".", "")[:3]
    return f"J {siso}" if edition.children else siso


def call_number(edition: Manifestation, library: Library) -> str:
    scheme = SCHEMES.get(library.country, "udc")
    cls, word = classification(edition, scheme), cutter_word(edition)
    if library.country == "SI":
        return f"{cls} {word.upper()}"
    if scheme == "udc":
        return f"{cls} {word[:3]}"
    if scheme == "sab":
        return f"{cls} {word}"
    return f"{cls} {word[:4].upper()}"


# ---------------------------------------------------------------- holdings fields

# Subfield order as each layout's exports write it; codes not listed go last.
SUBFIELD_ORDER = {"852": "abchpyd", "952": "17abcdopqy"}


def holdings_field(library: Library, copy: Copy, edition: Manifestation, call: str,
                   barcode: str) -> Field:
    """One copy as the library's 852 or 952 says it, following its consortium mapping.

    An on-loan copy is the "on loan" status code with a due date, or, where the map
    has no such code (Koha), the "available" code with a due date; a lost copy is
    the "lost" code, or the lost flag subfield with the "available" code.
    """
    mapping = library.holdings
    tag = str(mapping["tag"])
    code_for: dict[str, str] = {}
    for code, status in mapping["status_map"].items():
        code_for.setdefault(status, code)
    values: dict[str, str] = {}

    def put(key: str, value: str) -> None:
        if mapping.get(key):
            values[mapping[key]] = value

    put("branch", copy.location)
    put("call_number", call)
    put("barcode", barcode)
    status = copy.status
    if status == "lost" and "lost" not in code_for and mapping.get("lost"):
        values[mapping["lost"]] = "1"
        status = "available"
    if copy.due:
        put("due_date", copy.due.isoformat())
        status = status if status in code_for else "available"
    if status not in code_for:
        raise ValueError(f"{library.code}: the status map cannot say {copy.status!r}")
    put("status", code_for[status])

    # The layout's other usual subfields, where the mapping leaves them free.
    if tag == "952":
        extras = {"a": copy.location, "c": KOHA_LOCATION[copy.shelf],
                  "d": copy.accessioned.isoformat(), "y": KOHA_ITYPE[edition.kind]}
    else:
        extras = {"a": library.code, "c": LOCATION[library.lang][copy.shelf]}
    for code, value in extras.items():
        values.setdefault(code, value)
    order = SUBFIELD_ORDER.get(tag, "")
    codes = sorted(values, key=lambda c: (order.index(c) if c in order else len(order), c))
    ind1 = "8" if tag == "852" else " "
    return data(tag, ind1, " ", *((c, values[c]) for c in codes))

# ---------------------------------------------------------------- bibliographic fields

# How each catalog writes 020 $a. Library i (in consortium file order) takes style
# i mod 4, so that within every country some catalogs write ISBN-10 and others
# ISBN-13 for the same book, with and without hyphens, as real catalogs do.
ISBN_STYLES = ("13-hyphens", "10-hyphens", "13-plain", "10-plain")


def isbn_as_written(number13: str, style: str) -> str:
    number = isbn.to_isbn10(number13) if style.startswith("10") else number13
    return isbn.format(number) if style.endswith("hyphens") else number


def miskeyed_isbn(number13: str, rng: random.Random) -> str:
    """The ISBN with a wrong check digit: what 020 $z records when a book carries one."""
    body = number13[:12]
    wrong = (int(ean.calc_check_digit(body)) + rng.randint(1, 9)) % 10
    printed = isbn.format(number13)[:-1] + str(wrong)
    if isbn.is_valid(printed):
        raise ValueError(f"{printed} was meant to be invalid")
    return printed


def heading_subfields(person: Person, relator: str) -> tuple[tuple[str, str | None], ...]:
    dates = person.dates
    return (("a", person.heading + ("," if dates else "")), ("d", dates), ("4", relator))


def f008(edition: Manifestation, entered: date) -> str:
    """008 for the record's material: dates, place, the material-specific positions
    18-34, language and cataloguing source (MARC 21 Bibliographic, 008)."""
    lang = MARC_LANG[edition.lang]
    if edition.kind in ("music", "score") and "piano" in edition.themes:
        lang = "zxx"  # no linguistic content
    kind = edition.kind
    if kind == "journal":
        specific = f"{edition.frequency}r p       0   b0"
    elif kind == "film":
        # Running time, then blanks up to 33 (videorecording) and 34 (live action).
        specific = f"{min(edition.extent, 999):03d}" + " " * 12 + "vl"
    elif kind in ("music", "score"):
        composition = "sg" if {"choirs", "folk"} & set(edition.themes) else "mu"
        specific = composition + ("a " if kind == "score" else "nn") + "  " + " " * 6 + \
            "   " + ("n " if kind == "score" else "  ")
    elif kind == "map":
        specific = "       " + ("e" if edition.atlas else "a") + "     " + \
            ("1" if edition.atlas else "0") + "   "
    else:
        illustrations = "a   " if edition.illustrated else "    "
        audience = "j" if edition.children else " "
        index = "1" if edition.form == "nonfiction" and edition.extent > 200 else "0"
        literary = {"novel": "1", "stories": "j", "poetry": "p", "picture": "1",
                    "juvenile": "1"}.get(edition.form, "0")
        specific = f"{illustrations}{audience}      00{index} {literary} "
    if len(specific) != 17:
        raise ValueError(f"008/18-34 for {kind} is {len(specific)} long: {specific!r}")
    # A journal is "c"ontinuing from its first year to 9999; the rest are "s"ingle dates.
    dates = f"c{edition.year}9999" if kind == "journal" else f"s{edition.year}    "
    value = f"{entered:%y%m%d}{dates}{edition.country}{specific}{lang} d"
    if len(value) != 40:
        raise ValueError(f"008 is {len(value)} long: {value!r}")
    return value


def title_field(edition: Manifestation) -> Field:
    """245 with ISBD punctuation and the article's non-filing count."""
    main_entry = edition.author is not None or edition.corporate is not None
    statement = edition.responsibility
    title = edition.title
    subfields: list[tuple[str, str | None]] = []
    if edition.subtitle:
        subfields += [("a", f"{title} :"), ("b", edition.subtitle + (" /" if statement else "."))]
    else:
        subfields.append(("a", title + (" /" if statement else ".")))
    if statement:
        subfields.append(("c", statement if statement.endswith(".") else statement + "."))
    return data("245", "1" if main_entry else "0", nonfiling(title, edition.lang), *subfields)


def publication_field(edition: Manifestation) -> Field:
    year = f"{edition.year}-" if edition.kind == "journal" else f"{edition.year}."
    # Retro-converted records of old books kept 260; newer ones are RDA's 264 _1.
    tag, ind2 = ("260", " ") if edition.old else ("264", "1")
    return data(tag, " ", ind2, ("a", f"{edition.place} :"), ("b", f"{edition.publisher},"),
                ("c", year))


def extent_field(edition: Manifestation, lang: str) -> Field:
    words = EXTENT[lang]
    kind = edition.kind
    if kind == "journal":
        return data("300", " ", " ", ("a", f"{words['serial']} ;"), ("c", "30 cm"))
    if kind == "film":
        return data("300", " ", " ", ("a", words["dvd"].format(n=edition.extent) + " :"),
                    ("b", f"{words['dvd_b']} ;"), ("c", "12 cm"))
    if kind == "music":
        return data("300", " ", " ", ("a", words["cd"].format(n=edition.extent) + " ;"),
                    ("c", "12 cm"))
    if kind == "score":
        return data("300", " ", " ", ("a", words["score"].format(n=edition.extent) + " ;"),
                    ("c", f"{edition.height} cm"))
    if kind == "map":
        if edition.atlas:
            return data("300", " ", " ", ("a", words["atlas"].format(n=edition.extent) + " :"),
                        ("b", f"{words['map_b']} ;"), ("c", "30 cm"))
        return data("300", " ", " ", ("a", f"{words['map']} :"), ("b", f"{words['map_b']} ;"),
                    ("c", "70 x 100 cm"))
    pages = words["pages"].format(n=edition.extent)
    if edition.illustrated:
        return data("300", " ", " ", ("a", f"{pages} :"), ("b", f"{words['ill']} ;"),
                    ("c", f"{edition.height} cm"))
    return data("300", " ", " ", ("a", f"{pages} ;"), ("c", f"{edition.height} cm"))


def subject_fields(edition: Manifestation, lang: str) -> list[Field]:
    fields = []
    if edition.topic:
        subdivision = theme("history", lang) if edition.genre in ("history", "past") else None
        fields.append(data("650", " ", "4", ("a", topic_word(edition.topic, lang)),
                           ("x", subdivision)))
    fields += [data("650", " ", "4", ("a", theme(key, lang))) for key in edition.themes]
    if edition.form in GENRE:
        fields.append(data("655", " ", "4", ("a", GENRE[edition.form][lang])))
    return fields


def identifier_fields(edition: Manifestation, library: Library, rng: random.Random,
                      miskeyed: bool) -> list[Field]:
    fields = []
    if edition.isbn13:
        style = ISBN_STYLES[library.index % len(ISBN_STYLES)]
        binding = rng.choice(BINDING[library.lang]) if rng.random() < 0.3 else None
        fields.append(data("020", " ", " ", ("a", isbn_as_written(edition.isbn13, style)),
                           ("q", binding)))
        if miskeyed:
            fields.append(data("020", " ", " ", ("z", miskeyed_isbn(edition.isbn13, rng))))
    if edition.issn:
        fields.append(data("022", "0", " ", ("a", edition.issn)))
    if edition.ismn:
        fields.append(data("024", "2", " ", ("a", edition.ismn)))
    if edition.ean:
        fields.append(data("024", "3", " ", ("a", edition.ean)))
    if edition.scale:
        fields.append(data("034", "1", " ", ("a", "a"), ("b", str(edition.scale))))
    return fields


def language_field(edition: Manifestation) -> Field | None:
    if edition.original_lang:
        return data("041", "1", " ", ("a", MARC_LANG[edition.lang]),
                    ("h", MARC_LANG[edition.original_lang]))
    if edition.subtitle_langs:
        return data("041", "0", " ", ("a", MARC_LANG[edition.lang]),
                    *(("j", MARC_LANG[x]) for x in edition.subtitle_langs))
    return None


def main_entry_field(edition: Manifestation) -> Field | None:
    if edition.author:
        relator = "cmp" if edition.kind == "score" else "aut"
        return data("100", "1", " ", *heading_subfields(edition.author, relator))
    if edition.corporate:
        relator = "prf" if edition.kind == "music" else "ctg"
        return data("110", "2", " ", ("a", edition.corporate), ("4", relator))
    return None


def bibliographic_fields(edition: Manifestation, library: Library, rng: random.Random,
                         miskeyed: bool) -> list[Field]:
    """Every field from 020 to 830, in tag order, as ``library`` catalogs ``edition``."""
    lang = library.lang
    fields: list[Field | None] = [
        *identifier_fields(edition, library, rng, miskeyed),
        data("040", " ", " ", ("a", library.code), ("b", MARC_LANG[lang]), ("e", "rda"),
             ("c", library.code)),
        language_field(edition),
        main_entry_field(edition),
        title_field(edition),
    ]
    if edition.edition:
        n = edition.edition
        text = EDITION[edition.lang].format(n=n, ordinal=ORDINAL.get(n, f"{n}th"))
        fields.append(data("250", " ", " ", ("a", text if text.endswith(".") else text + ".")))
    if edition.scale:
        fields.append(data("255", " ", " ", ("a", f"{SCALE[lang]} 1:{edition.scale:,}."
                                                  .replace(",", " "))))
    fields += [publication_field(edition), extent_field(edition, lang)]
    if edition.frequency:
        fields.append(data("310", " ", " ", ("a", FREQUENCY[edition.frequency][lang])))
    if edition.series:
        name, number = edition.series
        fields.append(data("490", "1", " ", ("a", f"{name} ;"), ("v", str(number))))
    fields += subject_fields(edition, lang)
    fields += [data("700", "1", " ", *heading_subfields(person, relator))
               for person, relator in edition.contributors]
    if edition.series:
        name, number = edition.series
        fields.append(data("830", " ", "0", ("a", f"{name} ;"), ("v", f"{number}.")))
    return [f for f in fields if f is not None]


# ---------------------------------------------------------------- records and catalogs


def leader(fields: Sequence[Field], edition: Manifestation, rng: random.Random) -> str:
    """Leader with the record length and base address the record would have in
    ISO 2709, so that a converter to binary MARC finds them right."""
    lengths = 0
    for f in fields:
        if f.value is not None:
            lengths += len(f.value.encode()) + 1
        else:
            lengths += 2 + sum(2 + len(v.encode()) for _, v in f.subfields) + 1
    base = 24 + 12 * len(fields) + 1
    total = base + lengths + 1
    # Leader/06 type of record and /07 bibliographic level.
    type_and_level = {"book": "am", "journal": "as", "film": "gm", "music": "jm",
                      "score": "cm", "map": "em"}[edition.kind]
    status = "c" if rng.random() < 0.4 else "n"
    # Retro-converted cards of old books are minimal-level records.
    encoding = "7" if edition.old else " "
    return f"{total:05d}{status}{type_and_level} a22{base:05d}{encoding}i 4500"


def record_dates(edition: Manifestation, rng: random.Random) -> tuple[date, str]:
    """When the record was created (008/00-05) and last changed (005)."""
    first = date(2008, 1, 10) if edition.old else date(max(edition.year, 1996), 2, 1)
    entered = random_date(rng, first, date(2026, 9, 30))
    changed = random_date(rng, entered, TODAY - timedelta(days=2))
    seconds = rng.randrange(7 * 3600, 19 * 3600)
    return entered, f"{changed:%Y%m%d}{seconds // 3600:02d}{seconds // 60 % 60:02d}" \
        f"{seconds % 60:02d}.0"


@dataclass(frozen=True, slots=True)
class Record:
    leader: str
    fields: tuple[Field, ...]


def catalog_records(library: Library, held: Sequence[tuple[Manifestation, list[Copy]]],
                    rng: random.Random) -> list[Record]:
    """The library's records in control-number order, with barcodes in that order."""
    order = list(held)
    rng.shuffle(order)
    with_isbn = [i for i, (edition, _) in enumerate(order) if edition.isbn13]
    # One record per catalog also carries a misprinted ISBN in 020 $z.
    miskeyed = {rng.choice(with_isbn)} if with_isbn else set()
    number = rng.randint(100, 4000)
    barcode = rng.randint(10_000, 90_000)
    records = []
    for i, (edition, copies) in enumerate(order):
        number += rng.randint(1, 40)
        entered, changed = record_dates(edition, rng)
        fields = [
            control("001", f"{library.code}-{number:06d}"),
            control("003", library.code),
            control("005", changed),
            control("008", f008(edition, entered)),
            *bibliographic_fields(edition, library, rng, i in miskeyed),
        ]
        call = call_number(edition, library)
        for copy in copies:
            barcode += rng.randint(1, 25)
            code = f"3{library.index + 1:02d}{barcode:08d}"
            fields.append(holdings_field(library, copy, edition, call, code))
        records.append(Record(leader(fields, edition, rng), tuple(fields)))
    return records


def catalog_xml(library: Library, records: Sequence[Record]) -> bytes:
    """A MARCXML collection (MARC21/slim), pretty-printed, UTF-8."""
    def q(name: str) -> str:
        return f"{{{MARC_NS}}}{name}"

    root = etree.Element(q("collection"), nsmap={None: MARC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    for record in records:
        element = etree.SubElement(root, q("record"))
        etree.SubElement(element, q("leader")).text = record.leader
        for f in record.fields:
            if f.value is not None:
                etree.SubElement(element, q("controlfield"), tag=f.tag).text = f.value
                continue
            datafield = etree.SubElement(element, q("datafield"), tag=f.tag, ind1=f.ind1,
                                         ind2=f.ind2)
            for code, value in f.subfields:
                etree.SubElement(datafield, q("subfield"), code=code).text = value
    tree = etree.ElementTree(root)
    root.addprevious(etree.Comment(
        f" {library.code}: invented demo records, generated by demo/make_catalogs.py;"
        " not copied from any catalog. "))
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# ---------------------------------------------------------------- registers

CATEGORY_WEIGHTS = {"adult": 6.0, "student": 2.0, "child": 1.5, "digital": 1.0}
RESTRICTIONS = ("fee_unpaid", "statement_unsigned", "blocked", "expired", "fines")


def fold(text: str) -> str:
    """Lower-case ASCII for e-mail addresses: "Ģērmane" -> "germane"."""
    bare = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in bare if c.isascii() and c.isalnum())


def birth_date(category: str, rng: random.Random) -> date:
    first, last = {"child": (2012, 2019), "student": (1999, 2008)}.get(category, (1944, 2001))
    return random_date(rng, date(first, 1, 1), date(last, 12, 31))


def card_number(library: Library, rng: random.Random, used: set[str]) -> str:
    """Slovenian COBISS membership numbers are eight digits; the other systems put
    the library's short code before the digits."""
    while True:
        if library.country == "SI":
            card = f"{rng.randrange(10_000_000, 100_000_000)}"
        else:
            card = f"{library.code.split('-', 1)[-1]}{rng.randrange(10**6, 10**7)}"
        if card not in used:
            used.add(card)
            return card


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def patron_row(library: Library, category: str, restriction: str | None, rng: random.Random,
               used: set[str]) -> dict[str, str]:
    person = random_person(rng, library.lang)
    surname = f"{person.particle} {person.surname}" if person.particle else person.surname
    address = f"{fold(person.forename)}.{fold(surname)}"
    while address in used:
        address += str(rng.randint(1, 9))
    used.add(address)
    expires = (random_date(rng, date(2025, 3, 1), TODAY - timedelta(days=1))
               if restriction == "expired"
               else random_date(rng, date(2027, 1, 15), date(2028, 12, 31)))
    if restriction == "fines":
        fines = rng.randint(105, 248) * 10
    else:
        fines = 0 if rng.random() < 0.6 else rng.randint(1, 60) * 10
    flag = {True: "true", False: "false"}
    return {
        "card_number": card_number(library, rng, used),
        "surname": surname,
        "given_name": person.forename,
        "birth_date": birth_date(category, rng).isoformat(),
        "email": f"{address}@{rng.choice(('example.org', 'example.net'))}",
        "category": category,
        "fee_paid": flag[restriction != "fee_unpaid"],
        "statement_signed": flag[restriction != "statement_unsigned"],
        "blocked": flag[restriction == "blocked"],
        "expires": expires.isoformat(),
        "fines_due": money(fines),
    }


def register_rows(library: Library, categories: Sequence[str],
                  rng: random.Random) -> list[dict[str, str]]:
    """15-30 patrons; one of each restriction the broker must refuse, never the first
    patron, so that every library has a patron in good standing to demo with."""
    count = rng.randint(16, 28)
    restricted = dict(zip(rng.sample(range(1, count), len(RESTRICTIONS)), RESTRICTIONS,
                          strict=True))
    weights = [CATEGORY_WEIGHTS.get(c, 1.0) for c in categories]
    used: set[str] = set()
    rows = []
    for i in range(count):
        category = categories[0] if i == 0 else rng.choices(categories, weights)[0]
        rows.append(patron_row(library, category, restricted.get(i), rng, used))
    return rows


def register_csv(rows: Iterable[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=REGISTER_HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


# ---------------------------------------------------------------- the consortium file


def load_consortium(path: Path) -> tuple[list[Library], list[str]]:
    """The libraries (in file order) and patron category codes of consortium.toml."""
    with path.open("rb") as stream:
        raw = tomllib.load(stream)
    base = path.parent
    libraries = []
    for index, lib in enumerate(raw["libraries"]):
        catalog, register = lib.get("catalog", {}), lib.get("register", {})
        libraries.append(Library(
            code=lib["code"], index=index, country=lib["country"],
            languages=tuple(lib.get("languages") or ["en"]),
            branches=tuple(b["code"] for b in lib.get("branches", [])),
            lends=tuple(lib.get("policy", {}).get("lends", [])),
            holdings=catalog.get("holdings") or {},
            catalog_path=base / catalog["path"] if catalog.get("path") else None,
            register_path=base / register["path"] if register.get("path") else None,
        ))  # fmt: skip
    categories = [c["code"] for c in raw.get("categories", [])] or ["adult"]
    return libraries, categories


def render(consortium: Path) -> dict[Path, bytes]:
    """Every file the demo needs, by path: made in memory, written by the caller."""
    libraries, categories = load_consortium(consortium)
    rng = random.Random(SEED)
    held = distribute(title_pool(rng), libraries, rng)
    files: dict[Path, bytes] = {}
    for library in libraries:
        # Each library has its own generator, so one library's records do not shift
        # when another's change.
        if library.catalog_path and library.holdings:
            records = catalog_records(library, held[library.code],
                                      random.Random(f"{SEED}:catalog:{library.code}"))
            files[library.catalog_path] = catalog_xml(library, records)
        if library.register_path:
            rows = register_rows(library, categories,
                                 random.Random(f"{SEED}:register:{library.code}"))
            files[library.register_path] = register_csv(rows)
    return files


def stale(files: dict[Path, bytes]) -> list[Path]:
    return [path for path, content in files.items()
            if not path.is_file() or path.read_bytes() != content]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true",
                        help="regenerate in memory and fail unless the files on disk match")
    parser.add_argument("--consortium", type=Path, default=CONSORTIUM,
                        help="the consortium file (default: %(default)s)")
    args = parser.parse_args(argv)
    files = render(args.consortium)
    if args.check:
        differing = stale(files)
        for path in differing:
            print(f"out of date: {path}", file=sys.stderr)
        if differing:
            print("run: python demo/make_catalogs.py", file=sys.stderr)
        return 1 if differing else 0
    for path, content in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        print(f"wrote {path} ({len(content)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
