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

from incidents.records import NormalizedText
from pipelines.lemmas import Lemmatizer

# The opening tag is bounded like _TAG: «<script<script…» must not cost a scan to the end each.
_SCRIPT_OPEN = re.compile(r"<(script|style)\b[^>]{0,2000}>", re.I)
_SCRIPT_CLOSE = {"script": re.compile(r"</script\s*>", re.I), "style": re.compile(r"</style\s*>", re.I)}
_TAG = re.compile(r"<[^>]{0,2000}>")
_BR = re.compile(r"<\s*(br|/p|/div|/li)\b[^>]*>", re.I)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.I)
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_]{2,64})")
_VK_LINK = re.compile(r"\[(?:id|club|public)\d+\|([^\]]{1,200})\]")
_HASHTAG = re.compile(r"#([^\s#.,!?;:()\"'«»]{1,100})")
_CAMEL = re.compile(r"(?<=[a-zа-яё])(?=[A-ZА-ЯЁ])")
_REPEAT = re.compile(r"([a-zа-я])\1{2,}")
_TOKEN = re.compile(r"\d+[а-яa-z]?(?:/\d+[а-яa-z]?)?|[а-яa-z]+(?:-[а-яa-z]+)*")
_LATIN = re.compile(r"[a-z]")
_CYR = re.compile(r"[а-я]")

_TRANSLIT = [
    ("shch", "щ"), ("sch", "щ"), ("yo", "е"), ("zh", "ж"), ("kh", "х"), ("ts", "ц"), ("ch", "ч"),
    ("sh", "ш"), ("yu", "ю"), ("ya", "я"), ("ye", "е"), ("a", "а"), ("b", "б"), ("v", "в"),
    ("g", "г"), ("d", "д"), ("e", "е"), ("z", "з"), ("i", "и"), ("y", "ы"), ("k", "к"),
    ("l", "л"), ("m", "м"), ("n", "н"), ("o", "о"), ("p", "п"), ("r", "р"), ("s", "с"),
    ("t", "т"), ("u", "у"), ("f", "ф"), ("h", "х"), ("c", "ц"), ("w", "в"), ("x", "кс"),
    ("j", "й"), ("q", "к"), ("'", "ь"),
]
_TRANSLIT_RE = re.compile("|".join(re.escape(k) for k, _ in _TRANSLIT))
_TRANSLIT_MAP = dict(_TRANSLIT)
# Ukrainian letters residents of the border districts mix in; mapped to the nearest Russian.
_UKR = str.maketrans({"і": "и", "ї": "и", "є": "е", "ґ": "г", "ў": "у"})


def _drop_scripts(text: str) -> str:
    """Remove <script>…</script> and <style>…</style> blocks in linear time.

    A lazy `<script>.*?</script>` regex rescans to the end of the text for every opening tag
    that is never closed: 16,000 unclosed tags (128 KB) took 20 s, a 1 MB post would stop the
    pipeline for twenty minutes. Here a tag whose closing tag does not occur after it is kept
    as text (the tag itself is removed later with the others), as the regex did."""
    out: list[str] = []
    pos = 0
    unclosed: set[str] = set()  # no closing tag of this name after some point: none later either
    while True:
        m = _SCRIPT_OPEN.search(text, pos)
        while m is not None and m.group(1).lower() in unclosed:
            m = _SCRIPT_OPEN.search(text, m.end())
        if m is None:
            out.append(text[pos:])
            return "".join(out)
        name = m.group(1).lower()
        close = _SCRIPT_CLOSE[name].search(text, m.end())
        if close is None:
            unclosed.add(name)
            out.append(text[pos : m.end()])
            pos = m.end()
            continue
        out.append(text[pos : m.start()])
        out.append(" ")
        pos = close.end()


def strip_html(text: str) -> str:
    if "<" not in text and "&" not in text:
        return text
    text = _drop_scripts(text)
    text = _BR.sub("\n", text)
    text = _TAG.sub(" ", text)
    return html.unescape(text)


def display_text(text: str) -> str:
    """What people see: NFC, no HTML, no control characters; ё kept."""
    text = unicodedata.normalize("NFC", text)
    text = strip_html(text)
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return text.strip()


def _drop_symbols(text: str) -> str:
    # Emoji and pictographs are "So"/"Sk"; variation selectors and joiners are "Mn"/"Cf".
    return "".join(" " if unicodedata.category(ch) in ("So", "Sk", "Cs", "Co", "Mn", "Cf") else ch for ch in text)


def split_hashtag(tag: str) -> str:
    words = _CAMEL.sub(" ", tag).replace("_", " ")
    return words.lower()


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
    text = _REPEAT.sub(r"\1", text)
    return text, urls, mentions, hashtags


INPUT_FACTOR = 8  # raw characters read per character matched (HTML markup, entities, emoji)


class Normalizer:
    """text → NormalizedText. Holds the lemma cache, so build one and reuse it."""

    def __init__(self, *, lemmatizer: Lemmatizer | None = None, max_chars: int = 20000) -> None:
        self.lemmatizer = lemmatizer or Lemmatizer()
        self.max_chars = max_chars

    def __call__(self, text: str) -> NormalizedText:
        # Bound the work before anything scans the text: a post of megabytes (pasted logs, a
        # broken export) is cut to a few times what the matching reads, HTML and all.
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
