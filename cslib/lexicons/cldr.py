"""Names the Unicode CLDR gives in nearly every language: territories, cities, languages, months, weekdays.

CLDR (the locale data behind ICU and every operating system; Unicode licence) writes, for each of
its locales, the names of about 300 territories and regions ("Germany": Jámánì in Yoruba, Jerman in
Javanese), the cities that name time zones, about 450 languages ("French": Faranse), and the months
and weekdays. The `babel` package ships it, so the pairs need no download. They are few (about 800
per language) but curated, and they are the words PAN-X names most often: countries and cities.
A default build adds them where the target has no dictionary (`sources.uses_cldr`).

Pairs whose target is the English name itself (Nigeria: Nigeria) are left out: they switch nothing.
"""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from functools import lru_cache

from ..errors import CslibError

# English names that are not how running text writes them: "Congo - Kinshasa", "Hong Kong SAR China",
# "Myanmar (Burma)", "St. Kitts & Nevis" (the ampersand is read as "and").
_ODD = re.compile(r"[()\[\]/,;:]| - ")
# PAN-X codes CLDR spells otherwise
_LOCALE = {"tl": "fil"}


def available() -> bool:
    """Whether `babel` (which ships CLDR) is installed."""
    return importlib.util.find_spec("babel") is not None


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in text if not unicodedata.combining(c))


def _english(name: str) -> str | None:
    name = name.replace("&", "and").replace("’", "'").strip()
    return None if not name or _ODD.search(name) else name


@lru_cache(maxsize=64)
def cldr_pairs(lang: str) -> tuple[tuple[str, str], ...]:
    """(English name, `lang` name) pairs of CLDR's territories, time-zone cities, languages, months
    and weekdays, in that order, each English name once; names written the same in both left out."""
    if not available():
        raise CslibError("CLDR names need the babel package: pip install 'xner[dicts]'")
    from babel import Locale, UnknownLocaleError

    try:
        loc = Locale.parse(_LOCALE.get(lang, lang))
    except (UnknownLocaleError, ValueError):
        raise CslibError(f"CLDR (babel) has no locale for {lang!r}") from None
    en = Locale.parse("en")
    tables: list[tuple[dict, dict]] = [(en.territories, loc.territories)]
    theirs = {z: d["city"] for z, d in loc.time_zones.items() if "city" in d}
    # English writes most zone cities as the zone's id does (Europe/London): CLDR stores only the others
    en_cities = {z: en.time_zones.get(z, {}).get("city") or z.rsplit("/", 1)[-1].replace("_", " ") for z in theirs}
    tables.append((en_cities, theirs))
    tables.append((en.languages, loc.languages))
    for kind in ("months", "days"):
        tables.append((getattr(en, kind)["format"]["wide"], getattr(loc, kind)["format"]["wide"]))
    out: dict[str, str] = {}
    for names, theirs in tables:
        for code, name in names.items():
            english, target = _english(name), theirs.get(code, "").strip()
            if english is None or not target or _ODD.search(target) or english in out:
                continue
            if _fold(english) != _fold(target):
                out[english] = target
    return tuple(out.items())


def cldr_version() -> str:
    """The CLDR release babel ships (for manifests)."""
    from babel import __version__
    from babel.core import get_cldr_version

    return f"CLDR {get_cldr_version()} (babel {__version__})"
