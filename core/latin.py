"""Russian in Latin letters: how codes are made from names (`incidents region new`) and how a
page's address spells its town («podslushano_kursk», «tg_zhel_chat»).

Slugs in the wild use many transliterations (Железногорск: zheleznogorsk, jeleznogorsk; Щигры:
shchigry, schigry; Хомутовка: khomutovka, homutovka), so `skeleton` folds them to one spelling
before two names are compared."""

from __future__ import annotations

import re

CYRILLIC_TO_LATIN = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "y",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "kh",
            "ts",
            "ch",
            "sh",
            "shch",
            "-",
            "y",
            "-",
            "e",
            "yu",
            "ya",
        ],
        strict=True,
    )
)

# longest first: «shch» before «sh», «kh» before «h»
_FOLDS = [
    ("shch", "sh"),
    ("sch", "sh"),
    ("kh", "h"),
    ("tz", "c"),
    ("ts", "c"),
    ("zh", "j"),
    ("ya", "a"),
    ("ia", "a"),
    ("yu", "u"),
    ("iu", "u"),
    ("yo", "o"),
    ("ye", "e"),
    ("ie", "e"),  # «Верховье»: verkhov'e, verhovie, verkhovye
    ("x", "ks"),
    ("w", "v"),
    ("y", "i"),
]
_FOLD_RE = re.compile("|".join(a for a, _ in _FOLDS))
_FOLD = dict(_FOLDS)
_DOUBLE = re.compile(r"(.)\1+")

# Words of a place's name that are not the place: «город Курск», «Курский район», «с. Тим».
GENERIC_NAME_WORDS = re.compile(
    r"\b(город(ской)?|округ|муниципальн\w*|район|сельсовет|поселени\w*|внутригородск\w*|территори\w*|"
    r"г\.|село|деревня|посёлок|поселок|пгт|рп|с\.|д\.|п\.|х\.|хутор|станция|слобода)\s*",
    re.I,
)


def latin(text: str) -> str:
    """Cyrillic letters in Latin ones (ГОСТ-like, as the codes are made); «ь», «ъ» become «-»;
    other characters stay."""
    return "".join(CYRILLIC_TO_LATIN.get(ch, ch) for ch in text.lower())


def skeleton(text: str) -> str:
    """One spelling for the many Latin spellings of a Russian word: lower case, Cyrillic in Latin,
    «kh»/«h», «zh»/«j», «ts»/«c», «ya»/«ia»/«a», «y»/«i» folded, doubled letters single, only
    letters and digits kept."""
    out = _FOLD_RE.sub(lambda m: _FOLD[m.group(0)], latin(text))
    out = _DOUBLE.sub(r"\1", out)
    return re.sub(r"[^a-z0-9]+", "", out)


def slug(name: str) -> str:
    """A municipality code from its name: «Беловский район» → `belovsky`, «город Курск» → `kursk`."""
    words = GENERIC_NAME_WORDS.sub(" ", name.lower()).split() or name.lower().split()
    out = latin("_".join(words)).replace("-", "")
    out = re.sub(r"iy\b|yy\b", "y", out)
    out = re.sub(r"[^a-z0-9_]+", "_", out).strip("_")
    return out or "m"
