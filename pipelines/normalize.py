"""Normalization: make residents' writing comparable without losing what they wrote.

The display text keeps the original (NFC, HTML removed); the matching text is lower case,
ё→е, emoji dropped, stretched letters folded («воооды нееет» → «воды нет»), hashtags split
into words («#НетВоды» → «нет воды»), URLs and mentions taken out as features, and Latin
transliteration («vody net») turned back into Cyrillic when a post is written that way.
"""

from __future__ import annotations

import html
import re
import unicodedata

from core.records import NormalizedText
from pipelines.lemmas import Lemmatizer, morph

_SCRIPT_OPEN = re.compile(r"<(script|style)\b[^>]{0,2000}>", re.I)
_TAG = re.compile(r"<[^>]{0,2000}>")
_BR = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.I)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.I)
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,64})")
_VK_LINK = re.compile(r"\[(?:id|club|public)\d+\|([^\]]{1,200})\]")
_HASHTAG = re.compile(r"#([^\s#.,!?;:()\"'«»]{1,100})")
_CAMEL = re.compile(r"(?<=[a-zа-яё])(?=[A-ZА-ЯЁ])")
_REPEAT = re.compile(r"([a-zа-я])\1{2,}")
_WORD_WITH_REPEAT = re.compile(r"[a-zа-я]*([a-zа-я])\1{2,}[a-zа-я]*")
_TOKEN = re.compile(r"\d+[а-яa-z]?(?:/\d+[а-яa-z]?)?|[а-яa-z]+(?:-[а-яa-z]+)*")
_LATIN = re.compile(r"[a-z]")
_CYR = re.compile(r"[а-я]")

_TRANSLIT = [
    ("shch", "щ"),
    ("sch", "щ"),
    ("yo", "е"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ts", "ц"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("yu", "ю"),
    ("ya", "я"),
    ("ye", "е"),
    ("ja", "я"),
    ("ju", "ю"),
    ("jo", "е"),
    ("je", "е"),
    ("a", "а"),
    ("b", "б"),
    ("v", "в"),
    ("g", "г"),
    ("d", "д"),
    ("e", "е"),
    ("z", "з"),
    ("i", "и"),
    ("y", "ы"),
    ("k", "к"),
    ("l", "л"),
    ("m", "м"),
    ("n", "н"),
    ("o", "о"),
    ("p", "п"),
    ("r", "р"),
    ("s", "с"),
    ("t", "т"),
    ("u", "у"),
    ("f", "ф"),
    ("h", "х"),
    ("c", "ц"),
    ("w", "в"),
    ("x", "кс"),
    ("j", "й"),
    ("q", "к"),
    ("'", "ь"),
]
_TRANSLIT_RE = re.compile("|".join(re.escape(k) for k, _ in _TRANSLIT))
_TRANSLIT_MAP = dict(_TRANSLIT)
# Ukrainian letters residents of the border districts mix in; mapped to the nearest Russian.
_UKR = str.maketrans({"і": "и", "ї": "и", "є": "е", "ґ": "г", "ў": "у"})


def _drop_scripts(text: str) -> str:
    """Script and style elements out, in one pass (a lazy regular expression was quadratic on
    a text of many unclosed «<script>»: 10 s for 160 kB). An unclosed one drops the rest."""
    m = _SCRIPT_OPEN.search(text)
    if m is None:
        return text
    lower = text.lower()
    out: list[str] = []
    pos = 0
    while m is not None:
        out.append(text[pos : m.start()])
        out.append(" ")
        end = lower.find("</" + m.group(1).lower(), m.end())
        if end < 0:
            return "".join(out)
        close = text.find(">", end)
        pos = len(text) if close < 0 else close + 1
        m = _SCRIPT_OPEN.search(text, pos)
    out.append(text[pos:])
    return "".join(out)


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    text = _drop_scripts(text)
    text = _BR.sub("\n", text)
    text = _TAG.sub(" ", text)
    return html.unescape(text)


# Characters that are never control characters, symbols or marks: only the others are looked
# up in the Unicode database (a per-character loop over every post cost a third of the
# normalization time).
_UNUSUAL = re.compile(
    r"[^\n\t\x20-\x5d\x5f\x61-\x7e\u00a0\u00ab\u00bb\u0400-\u0481\u048a-\u052f\u2010-\u2027\u2030-\u205e]"
)
_DROPPED = frozenset(("So", "Sk", "Cs", "Co", "Mn", "Cf"))


def display_text(text: str) -> str:
    """What people see: NFC, no HTML, no control characters; ё kept."""
    text = unicodedata.normalize("NFC", text)
    text = strip_html(text)
    text = _UNUSUAL.sub(lambda m: "" if unicodedata.category(m.group(0))[0] == "C" else m.group(0), text)
    return text.strip()


def _drop_symbols(text: str) -> str:
    # Emoji and pictographs are "So"/"Sk"; variation selectors and joiners are "Mn"/"Cf".
    return _UNUSUAL.sub(lambda m: " " if unicodedata.category(m.group(0)) in _DROPPED else m.group(0), text)


# Short words that may stand alone inside a run-together hashtag («#нетводы», «#ямынадорогах»).
_SHORT_WORDS = frozenset(
    ["в", "во", "на", "не", "нет", "по", "у", "с", "со", "за", "до", "от", "и", "из", "к", "о", "без"]
)
_CYR_RUN = re.compile(r"[а-яё]{5,}")


def _known(word: str) -> bool:
    return word in _SHORT_WORDS or (len(word) >= 3 and morph().word_is_known(word))


def segment(word: str) -> str:
    """«нетводы» → «нет воды», «ямынадорогах» → «ямы на дорогах»: the split into dictionary
    words with the fewest pieces; the word unchanged when it is known or cannot be split."""
    if len(word) > 40 or morph().word_is_known(word):
        return word
    n = len(word)
    best: list[list[str] | None] = [None] * (n + 1)
    best[0] = []
    for end in range(1, n + 1):
        for start in range(max(0, end - 20), end):
            prev = best[start]
            piece = word[start:end]
            if prev is not None and _known(piece):
                cand = [*prev, piece]
                cur = best[end]
                if cur is None or len(cand) < len(cur):
                    best[end] = cand
    parts = best[n]
    return " ".join(parts) if parts and len(parts) > 1 else word


def split_hashtag(tag: str) -> str:
    """«#ЯмыНаДорогах» → «ямы на дорогах» (capitals), «#жкх_курск» → «жкх курск»
    (underscores), «#нетводы» → «нет воды» (dictionary words)."""
    words = _CAMEL.sub(" ", tag).replace("_", " ").lower()
    return _CYR_RUN.sub(lambda m: segment(m.group(0)), words)


def fold_repeats(text: str) -> str:
    """Stretched letters folded: «воооды нееет» → «воды нет»; a run is kept double when only
    the double spelling is a word («ваннна» → «ванна», «кассса» → «касса»)."""
    if not _REPEAT.search(text):
        return text

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        single = _REPEAT.sub(r"\1", word)
        double = _REPEAT.sub(r"\1\1", word)
        known = morph().word_is_known
        return double if known(double) else single

    return _WORD_WITH_REPEAT.sub(fix, text)


def transliterate(word: str) -> str:
    return _TRANSLIT_RE.sub(lambda m: _TRANSLIT_MAP[m.group(0)], word)


def matching_text(display: str) -> tuple[str, list[str], list[str], list[str]]:
    """Lower-cased matching text plus the URLs, mentions and hashtag words taken out of it."""
    urls = _URL.findall(display)
    text = _URL.sub(" ", display)
    text = _VK_LINK.sub(r"\1", text)
    mentions = [m.lower() for m in _MENTION.findall(text)]
    text = _MENTION.sub(" ", text)
    hashtags = [split_hashtag(h) for h in _HASHTAG.findall(text)]
    text = _HASHTAG.sub(lambda m: " " + split_hashtag(m.group(1)) + " ", text)
    text = _drop_symbols(text).lower().replace("ё", "е").translate(_UKR)
    text = fold_repeats(text)
    return text, urls, mentions, hashtags


INPUT_FACTOR = 8  # raw characters read per character matched (HTML markup, entities, emoji)
MAX_CHARS = 20_000  # characters of a post analysed (and indexed); the rest is cut


class Normalizer:
    """text → NormalizedText. Holds the lemma cache, so build one and reuse it."""

    def __init__(self, *, lemmatizer: Lemmatizer | None = None, max_chars: int = MAX_CHARS) -> None:
        self.lemmatizer = lemmatizer or Lemmatizer()
        self.max_chars = max_chars

    def display_of(self, text: str) -> str:
        """The display text as __call__ makes it (cut to `max_chars`)."""
        return display_text((text or "")[: self.max_chars * INPUT_FACTOR])[: self.max_chars]

    def __call__(self, text: str) -> NormalizedText:
        # Bound the work before anything scans the text: a post of megabytes (pasted logs, a
        # broken export; a megabyte of «<» took seconds in the tag regex) is cut to a few times
        # what the matching reads, HTML and all.
        raw = text or ""
        cut = len(raw) > self.max_chars * INPUT_FACTOR
        display = display_text(raw[: self.max_chars * INPUT_FACTOR] if cut else raw)
        truncated = cut or len(display) > self.max_chars
        work = display[: self.max_chars] if truncated else display
        mtext, urls, mentions, hashtags = matching_text(work)
        tokens = _TOKEN.findall(mtext)
        latin = len(_LATIN.findall(mtext))
        if latin and latin > 2 * len(_CYR.findall(mtext)):
            tokens = [transliterate(t) if _LATIN.search(t) else t for t in tokens]
        lemmas = self.lemmatizer.lemmas_of(tokens)
        return NormalizedText(
            display=display,
            text=mtext,
            tokens=tokens,
            lemmas=lemmas,
            hashtags=hashtags,
            mentions=mentions,
            urls=urls,
            truncated=truncated,
        )
