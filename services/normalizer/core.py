"""Functional core of the normalizer: plain Python, no Faust, no I/O at call time.

:func:`normalize` turns a :class:`~schemas.models.RawArticle` into a
:class:`~schemas.models.NormalizedArticle`:

0. an HTML body (``raw.body_format``, else detected) becomes plain text, one paragraph a line
   (:mod:`services.normalizer.html`); a plain-text body is used as it is;
1. the title and body are put in display form (:func:`~services.normalizer.textforms.display_form`);
2. every non-empty body line is classified on its own: boilerplate (the phrases of
   ``data/boilerplate.txt``), date line, place/agency line ("طرابلس - وكالات", "وكالات.."),
   photo caption ("... (الصورة: غيتي)", "أرشيفية", "... - غيتي", "... (أ ف ب)"), or content;
3. in context: the headline is the first content line when the feed sent no title; short
   tag lines sitting next to a caption before the first real paragraph are captions; a
   caption line repeated with a credit suffix drops its uncredited twin;
4. the title, exact repeats and near repeats (≥ 85 % of a paragraph's words in one earlier
   paragraph, no new number) are dropped from the body.

``text`` is the title and the body paragraphs, one per line; ``match_text`` its matching form.
Everything is precompiled at import: the function is on the hot path.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from schemas.models import NormalizedArticle, RawArticle
from services.normalizer.html import html_to_text, looks_like_html
from services.normalizer.textforms import display_form, matching_form, matching_form_is_per_line

__all__ = ["article_id", "canonical_url", "detect_language", "normalize", "parse_text_article"]

# --------------------------------------------------------------------------- URLs and ids

_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "li_fat_id", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "ref", "ref_src", "ref_url", "referrer", "src",
    "cmpid", "cmp", "ocid", "ncid", "soc_src", "soc_trk", "spm", "share", "s_cid", "at_medium",
    "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "wt.mc_id", "ito", "xtor",
    "rss", "amp", "outputtype", "output",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "__s", "ga_")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(param: str) -> bool:
    low = param.lower()
    return low in _TRACKING_PARAMS or low.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """A stable form of ``url`` for identity: lower-case scheme and host, no default port,
    no user info, no fragment, no tracking parameters (``utm_*``, ``fbclid``...), remaining
    query parameters sorted, no trailing slash."""
    url = url.strip()
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    netloc = parts.netloc
    if netloc:
        host = (parts.hostname or "").rstrip(".")
        if ":" in host:  # IPv6 literal
            host = f"[{host}]"
        try:
            port = parts.port
        except ValueError:  # a malformed port: keep what was sent, lower-cased
            port = None
            host = netloc.rsplit("@", 1)[-1].lower()
        netloc = host if port is None or _DEFAULT_PORTS.get(scheme) == port else f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = ""
    if parts.query:
        params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
        query = urlencode(sorted(params))
    return urlunsplit((scheme, netloc, path, query, ""))


def _sha16(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def article_id(raw: RawArticle) -> str:
    """The feed's id when it sent one; else ``u-`` + a hash of the canonical URL (stable across
    tracking parameters); else ``h-`` + a hash of ``source|title|body``."""
    if raw.id is not None and raw.id.strip():
        return raw.id
    if raw.url is not None and raw.url.strip():
        return "u-" + _sha16(canonical_url(raw.url))
    return "h-" + _sha16(f"{raw.source or ''}|{raw.title or ''}|{raw.body}")


# --------------------------------------------------------------------------- language

# UTF-8 lead bytes of U+0600..U+06FF (Arabic) and U+0750..U+077F (Arabic Supplement).
_ARABIC_LEAD_BYTES = bytes([0xD8, 0xD9, 0xDA, 0xDB, 0xDD])
# ASCII letters and the lead bytes of Latin-1 Supplement / Latin Extended-A letters.
_LATIN_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" + bytes([0xC3, 0xC4, 0xC5])
_LANG_SAMPLE = 8000
_LANG_SHARE = 0.6


def detect_language(text: str) -> str:
    """``"ar"`` or ``"en"`` when Arabic or Latin letters make up at least 60 % of the letters
    of ``text`` (its first 8,000 characters), ``"und"`` otherwise or when it has no letters."""
    data = text[:_LANG_SAMPLE].encode("utf-8")
    arabic = len(data) - len(data.translate(None, _ARABIC_LEAD_BYTES))
    latin = len(data) - len(data.translate(None, _LATIN_BYTES))
    total = arabic + latin
    if total < 2:
        return "und"
    if arabic >= _LANG_SHARE * total:
        return "ar"
    if latin >= _LANG_SHARE * total:
        return "en"
    return "und"


# --------------------------------------------------------------------------- lexicon


def _tokens(phrase: str) -> list[str]:
    return _WORD_RE.findall(matching_form(display_form(phrase)))


_WORD_RE = re.compile(r"\w+")
# Punctuation becomes spaces for word keys.  ASCII punctuation goes through bytes.translate (fast);
# the few non-ASCII marks that survive the display form are replaced first.  The words stay UTF-8
# bytes: splitting bytes, hashing and comparing them is cheaper than str words, and skips decoding
# the whole body back to str (~22 µs less an article, ~9 % of normalize).  ``bytes.split()``
# cuts at ASCII whitespace only, ``str.split()`` at any: the same words, since the display form has
# no whitespace but " " and "\n" (a unit test checks every whitespace character).
_ASCII_PUNCT = bytes(c for c in range(0x21, 0x7F) if not chr(c).isalnum() and chr(c) != "_")
_PUNCT_BYTES = bytes.maketrans(_ASCII_PUNCT, b" " * len(_ASCII_PUNCT))
_WIDE_PUNCT = ("،", "؛", "؟", "…", "–", "—", "•", "·", "٭", "۔")


def _unpunct(text: str) -> bytes:
    """``text`` in UTF-8 with punctuation replaced by spaces (same line structure): its words are
    ``_unpunct(text).split()``."""
    for mark in _WIDE_PUNCT:
        if mark in text:
            text = text.replace(mark, " ")
    return text.encode("utf-8").translate(_PUNCT_BYTES)


@dataclass(frozen=True, slots=True)
class _Lexicon:
    boiler_lines: frozenset[tuple[bytes, ...]]  # line keys (see _key)
    boiler_prefix: re.Pattern[str]
    caption_lines: frozenset[tuple[bytes, ...]]
    caption_prefix: re.Pattern[str]
    # The first word of every prefix phrase: a line whose first word is none of them cannot match
    # the prefix regex (see ``_classify``).
    boiler_firsts: frozenset[str]
    caption_firsts: frozenset[str]
    credits: str  # a regex alternation (matching form) of credit names
    # The last word of every credit name, by its last character: every credit pattern ends with it.
    credit_ends: dict[str, tuple[str, ...]]


_NEVER = re.compile(r"(?!)")


def _prefix_regex(alternatives: list[str]) -> re.Pattern[str]:
    if not alternatives:
        return _NEVER
    alternatives.sort(key=len, reverse=True)
    return re.compile(r"\W*(?:" + "|".join(alternatives) + ")")


def _load_lexicon(text: str) -> _Lexicon:
    sections: dict[str, tuple[set[tuple[bytes, ...]], list[str]]] = {
        "boilerplate": (set(), []), "captions": (set(), []), "credits": (set(), []),
    }
    credits: list[str] = []
    credit_ends: dict[str, set[str]] = {}
    firsts: dict[str, set[str]] = {"boilerplate": set(), "captions": set()}
    section = "boilerplate"
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
            if section not in sections:
                raise ValueError(f"boilerplate.txt: unknown section [{section}]")
            continue
        toks = _tokens(line)
        if not toks:
            continue
        if section == "credits":
            credits.append(r"\W*".join(map(re.escape, toks)))
            credit_ends.setdefault(toks[-1][-1], set()).add(toks[-1])
            continue
        whole, prefixes = sections[section]
        body = r"\W+".join(map(re.escape, toks))
        if line.endswith((":", "：")):
            whole.add(tuple(t.encode() for t in toks))  # a line key (see _key)
            prefixes.append(body + r"\s*[:：]")
        elif line.endswith(("...", "…")):
            prefixes.append(body + r"(?!\w)")
        else:
            whole.add(tuple(t.encode() for t in toks))  # a line key (see _key)
            continue
        firsts[section].add(toks[0])
    credits.sort(key=len, reverse=True)
    return _Lexicon(
        boiler_lines=frozenset(sections["boilerplate"][0]),
        boiler_prefix=_prefix_regex(sections["boilerplate"][1]),
        caption_lines=frozenset(sections["captions"][0]),
        caption_prefix=_prefix_regex(sections["captions"][1]),
        boiler_firsts=frozenset(firsts["boilerplate"]),
        caption_firsts=frozenset(firsts["captions"]),
        credits="(?:" + "|".join(credits or ["(?!)"]) + r")(?!\w)",
        credit_ends={last: tuple(sorted(words)) for last, words in credit_ends.items()},
    )


_LEXICON = _load_lexicon(
    (resources.files("services.normalizer") / "data" / "boilerplate.txt").read_text(encoding="utf-8")
)
_CRED = _LEXICON.credits
_CRED_LIST = rf"{_CRED}(?:\s*(?:[-–—/،,+&]|\band\b|و)\s*{_CRED})*"

# "طرابلس - وكالات", "غوريس (ارمينيا) - وكالات", "العربي - وكالات", "وكالات..", "(رويترز)", "اكادير - خاص"
_AGENCY_RE = re.compile(
    rf"(?P<place>[^\W\d_][^.!?؟،,:;()\-–—|/\n]{{0,40}}?(?:\s*\([^()\n]{{1,30}}\))?)?"
    rf"\s*(?:[-–—|/]+\s*)?\(?{_CRED_LIST}\)?[\s.:…]*$"
)
# "... (الصورة: غيتي)", "(الصورة: ارشيفيه)", "... (photo: AFP)"
_PHOTO_PAREN_RE = re.compile(
    r"\(\s*(?:(?:ال)?صور[ه]?|تصوير|photos?|pictures?|images?|photograph|file photo|credit)\b[^()]{0,60}\)\s*$"
)
# "... (ا ف ب)", "... (getty images)"
_CREDIT_PAREN_RE = re.compile(rf"\(\s*{_CRED_LIST}[^()]{{0,30}}\)\s*$")
# "... - غيتي"
_CREDIT_SUFFIX_RE = re.compile(rf"\s[-–—|]\s*{_CRED_LIST}\s*$")
# What may follow the credit at the end of an agency line or a credit suffix (``\)?[\s.:…]*$``, ``\s*$``):
# every character ``\s`` matches (``str.isspace``; none lies above U+3000, a unit test checks) and ``.:…)``.
_AFTER_CREDIT = "".join(filter(str.isspace, map(chr, range(0x3001)))) + ".:…)"


def _ends_with_credit(m: str) -> bool:
    """Does the matching-form line ``m`` end with a credit's last word (then only ``)``, spaces, ``.:…``)?

    A necessary condition for :data:`_AGENCY_RE` and :data:`_CREDIT_SUFFIX_RE`, which both end
    with a credit name: those regexes retry every credit name at every character of the line
    (~5 µs a line); this check (~0.2 µs) lets only ~8 % of the short lines reach them.
    """
    end = m.rstrip(_AFTER_CREDIT)
    words = _LEXICON.credit_ends.get(end[-1:])
    return words is not None and end.endswith(words)


_URL_LINE_RE = re.compile(r"\W*(?:https?://|www\.)\S+\W*$")
_HASHTAGS_RE = re.compile(r"(?:#\w+\W*)+$")

# English wire dateline opening the first paragraph: "ODESA, Ukraine, March 15 — ", "CAIRO — ".
_EN_DATELINE_RE = re.compile(
    r"(?P<dl>[A-Z][A-Z.'\-]+(?: [A-Z][A-Z.'\-]+){0,3}(?:, [A-Z][\w.'\-]*(?: [\w.'\-]+){0,3}){0,2})"
    r"(?: \([^()]{1,25}\))? (?:[—–]{1,2}|--?) "
)

# --------------------------------------------------------------------------- dates

_MONTHS: dict[str, int] = {}
for _num, _names in enumerate((
    "january jan يناير جانفي كانون_الثاني",
    "february feb فبراير فيفري شباط",
    "march mar مارس اذار",
    "april apr ابريل افريل نيسان",
    "may مايو ماي ايار",
    "june jun يونيو يونيه جوان حزيران",
    "july jul يوليو يوليه يوليوز جويليه تموز",
    "august aug اغسطس غشت اوت اب",
    "september sep sept سبتمبر شتنبر ايلول",
    "october oct اكتوبر تشرين_الاول",
    "november nov نوفمبر نونبر تشرين_الثاني",
    "december dec ديسمبر دجنبر كانون_الاول",
), start=1):
    for _name in _names.split():
        _MONTHS[_name] = _num
_COMPOUND_MONTH_HEADS = frozenset({"كانون", "تشرين"})


def _word_set(*chunks: str) -> frozenset[str]:
    return frozenset(" ".join(chunks).split())


_DATE_WORDS = _word_set(
    # weekdays
    "الاحد الاثنين الثلاثاء الاربعاء الخميس الجمعه السبت احد اثنين ثلاثاء اربعاء خميس جمعه سبت "
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    # fillers
    "يوم في الموافق نشر نشرت تاريخ النشر اخر تحديث محدث بتاريخ الساعه ص م صباحا مساء مساءا "
    "بتوقيت غرينتش جرينتش مكه المكرمه القدس الشرقيه ش ه هـ ميلادي ميلاديه هجري هجريه "
    "updated published posted last on at am pm a p gmt utc edt est bst cet cest eet eest "
    # Hijri months and the parts of compound month names
    "محرم صفر ربيع جمادي الاخره الاخر الاولي الاول الثاني رجب شعبان رمضان شوال ذو ذي القعده الحجه "
    "كانون تشرين st nd rd th",
)
_DATE_SPLIT_RE = re.compile(r"[\s/,،\-–—|.:()\[\]]+")
_NUM_TOKEN_RE = re.compile(r"(\d{1,4})(?:st|nd|rd|th|م|ه)?")
_ISO_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:z|[+-]\d{2}:?\d{2})?)?")
_NUMERIC_DATE_RE = re.compile(r"(?<!\d)(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?!\d)")
_HAS_DIGIT_RE = re.compile(r"\d")


def _date_from(m: str) -> tuple[bool, str | None]:
    """Is the matching-form line ``m`` only a date?  And its ISO date when it has a full one."""
    iso = _ISO_RE.search(m)
    if iso is not None and not m[:iso.start()].strip(" :") and not m[iso.end():].strip():
        return True, _iso(int(iso[1]), int(iso[2]), int(iso[3]))
    toks = [t for t in _DATE_SPLIT_RE.split(m) if t]
    if not toks or len(toks) > 16:
        return False, None
    month = day = year = None
    numbers: list[int] = []
    for i, tok in enumerate(toks):
        num = _NUM_TOKEN_RE.fullmatch(tok)
        if num is not None:
            value = int(num[1])
            numbers.append(value)
            if len(num[1]) == 4 and year is None and 1900 <= value <= 2100:
                year = value
            elif len(num[1]) <= 2 and day is None and month is None and 1 <= value <= 31:
                day = value
            elif len(num[1]) <= 2 and month is not None and day is None and 1 <= value <= 31 \
                    and (i + 1 == len(toks) or not toks[i + 1].isalpha()):
                day = value  # "September 8, 2024"
            continue
        if tok in _COMPOUND_MONTH_HEADS and i + 1 < len(toks):
            compound = _MONTHS.get(f"{tok}_{toks[i + 1]}")
            if compound is not None and month is None:
                month = compound
            continue
        if tok in _MONTHS:
            if month is None:
                month = _MONTHS[tok]
            continue
        if tok not in _DATE_WORDS:
            return False, None
    if month is None:
        numeric = _NUMERIC_DATE_RE.search(m)
        if numeric is None:
            return False, None
        d_, mo, y = int(numeric[1]), int(numeric[2]), int(numeric[3])
        if mo > 12 >= d_:
            d_, mo = mo, d_
        return True, _iso(y, mo, d_)
    if year is None and day is None:
        return False, None
    if year is None or day is None:
        return True, None
    return True, _iso(year, month, day)


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


# --------------------------------------------------------------------------- lines

_SENT_END = frozenset(".!?؟…")
_CONTENT, _BOILER, _DATE, _AGENCY, _CAPTION = range(5)
_REAL_PARAGRAPH_WORDS = 8
_NEAR_MIN_WORDS = 6
_NEAR_SHARE = 0.85
_NEAR_MAX_KEPT = 120  # near repeats are searched among the first 120 paragraphs (bounded work)
_TITLE_MAX_WORDS = 30


@dataclass(slots=True)
class _Line:
    display: str
    match: str
    toks: list[bytes]  # the words (UTF-8), see _unpunct
    kind: int = _CONTENT
    place: str | None = None
    date_iso: str | None = None
    uncredited: tuple[bytes, ...] | None = None  # key of a caption without its credit suffix


def _key(toks: list[bytes]) -> tuple[bytes, ...]:
    """The identity of a line for exact comparisons: its words (a tuple is 5× cheaper to make than a
    joined string, and equal exactly when the joined strings are, as no word holds a space)."""
    return tuple(toks)


def _classify(line: _Line) -> None:
    """Context-free classification of one non-empty line (sets ``line.kind``)."""
    d, m, toks = line.display, line.match, line.toks
    n = len(toks)
    if n == 0:
        line.kind = _BOILER
        return
    if n <= 12:
        key = _key(toks)
        if key in _LEXICON.boiler_lines:
            line.kind = _BOILER
            return
        if key in _LEXICON.caption_lines:
            line.kind = _CAPTION
            return
    if n <= 25:
        # A prefix phrase matches from the line's first \w run on, and its first word is that whole run
        # (the regex wants a non-word character after it).  When the first word is all \w characters it
        # is that run: unless it starts a phrase, skip the regex (two regex calls → two set lookups).
        first_word = toks[0].decode()
        plain = first_word.isalnum()
        if (not plain or first_word in _LEXICON.boiler_firsts) and _LEXICON.boiler_prefix.match(m):
            line.kind = _BOILER
            return
        if (not plain or first_word in _LEXICON.caption_firsts) and _LEXICON.caption_prefix.match(m):
            line.kind = _CAPTION
            return
    if n <= 16 and len(m) <= 100 and _HAS_DIGIT_RE.search(m):
        is_date, iso = _date_from(m)
        if is_date:
            line.kind, line.date_iso = _DATE, iso
            return
    if n <= 8 and _ends_with_credit(m):
        agency = _AGENCY_RE.match(m)
        if agency is not None:
            line.kind = _AGENCY
            if agency.group("place"):
                line.place = d[agency.start("place"):agency.end("place")].strip(" -–—|/")
            return
    first = m[0]
    if (first in "hw" and _URL_LINE_RE.match(m)) or (first == "#" and _HASHTAGS_RE.match(m)):
        line.kind = _BOILER
        return
    last = m[-1]
    if last == ")":
        tail_at = max(0, len(m) - 90)
        tail = m[tail_at:]
        photo = _PHOTO_PAREN_RE.search(tail)
        if photo is not None:
            if n <= 40:
                line.kind = _CAPTION
            else:  # a real paragraph carrying a photo credit: keep the paragraph
                cut = tail_at + photo.start()
                line.display, line.match = d[:cut].rstrip(), m[:cut].rstrip()
            return
        if n <= 20 and _CREDIT_PAREN_RE.search(tail) is not None:
            line.kind = _CAPTION
            return
    if n <= 40 and last not in _SENT_END and _ends_with_credit(m):
        tail_at = max(0, len(m) - 60)
        suffix = _CREDIT_SUFFIX_RE.search(m, tail_at)
        if suffix is not None and suffix.start() > 0 and m[suffix.start() - 1] not in _SENT_END:
            line.kind = _CAPTION
            line.uncredited = _key(_unpunct(m[:suffix.start()]).split())


def _is_real(line: _Line) -> bool:
    return line.kind == _CONTENT and (len(line.toks) >= _REAL_PARAGRAPH_WORDS or line.display[-1] in _SENT_END)


def _fallback_title(display: str) -> str:
    """A title for an article whose first content line is a whole paragraph."""
    for i, ch in enumerate(display):
        if ch in _SENT_END and i > 0:
            sentence = display[: i + 1]
            if len(sentence.split()) <= _TITLE_MAX_WORDS:
                return sentence
            break
    words = display.split()
    return " ".join(words[:20]) + "…"


def _near_repeat(words: set[bytes], need: float, kept: list[tuple[set[bytes], int]]) -> bool:
    """Are ``need`` of ``words`` in one earlier paragraph, with no number that paragraph lacks?"""
    for earlier, size in kept:
        if size >= need and len(words & earlier) >= need and all(
                w in earlier for w in words if w.decode().isdigit()):  # str.isdigit: any script's digits
            return True
    return False


def _near_equal(a: set[bytes], b: set[bytes]) -> bool:
    if not 0.9 * len(a) <= len(b) <= len(a) / 0.9:
        return False
    common = len(a & b)
    return common >= 0.9 * len(a) and common >= 0.9 * len(b)


# --------------------------------------------------------------------------- public API


def parse_text_article(content: str, *, source: str | None = None) -> RawArticle:
    """A :class:`RawArticle` from the seeds' plain-text format: the whole file is one article,
    its headline somewhere near the top (the normalizer finds it), so ``title`` is ``None``."""
    if not content.strip():
        raise ValueError("text article is empty")
    return RawArticle(body=content, source=source)


def normalize(raw: RawArticle, *, now: datetime) -> NormalizedArticle:
    """Clean ``raw`` into a :class:`NormalizedArticle` (see the module docstring).

    Raises :class:`ValueError` when nothing is left after cleaning.  A feed title with a body
    that is only chrome still makes an article (a one-line flash), ``text`` being the title.
    """
    body_text = raw.body
    body_format = raw.body_format or ("html" if looks_like_html(body_text) else "text")
    if body_format == "html":  # tags, character references, scripts and captions out (services/normalizer/html.py)
        body_text = html_to_text(body_text)
    body_display = display_form(body_text)
    body_match = matching_form(body_display)
    body_keys = _unpunct(body_match)
    lines: list[_Line] = []
    for d, m, k in zip(body_display.split("\n"), body_match.split("\n"), body_keys.split(b"\n"), strict=True):
        if d:
            line = _Line(d, m, k.split())
            _classify(line)
            lines.append(line)

    # Caption twins: "X" followed by "X - غيتي" -> both are captions.
    for i in range(1, len(lines)):
        line = lines[i]
        if line.uncredited is not None:
            prev = lines[i - 1]
            if prev.kind == _CONTENT and prev.display[-1] not in _SENT_END and _key(prev.toks) == line.uncredited:
                prev.kind = _CAPTION

    # Title.
    raw_title = raw.title
    if raw_title and body_format == "html" and looks_like_html(raw_title):  # "A &amp; B", "<b>A</b>" from a CMS
        raw_title = html_to_text(raw_title)
    title = " ".join(display_form(raw_title).split()) if raw_title else ""
    first_content = 0
    if not title:
        for i, line in enumerate(lines):
            if line.kind == _CONTENT:
                if len(line.toks) <= _TITLE_MAX_WORDS:
                    title = line.display
                    line.kind = _BOILER  # consumed as the headline
                    first_content = i + 1
                else:
                    title = _fallback_title(line.display)
                    first_content = i
                break

    # Lead zone: short tag lines next to a caption before the first real paragraph ("فرنسا").
    lead_end = next((i for i in range(first_content, len(lines)) if _is_real(lines[i])), len(lines))
    for i in range(first_content, lead_end):
        line = lines[i]
        if line.kind != _CONTENT or len(line.toks) > 3 or line.display[-1] in _SENT_END:
            continue
        near_caption = (i > 0 and lines[i - 1].kind == _CAPTION) or (
            i + 1 < len(lines) and lines[i + 1].kind == _CAPTION)
        if near_caption or len(line.toks) == 1:
            line.kind = _CAPTION

    # Dateline and published date.
    dateline: str | None = None
    date_iso: str | None = None
    place: str | None = None
    for i, line in enumerate(lines):
        if line.kind == _DATE and dateline is None:
            dateline, date_iso = line.display, line.date_iso
        elif line.kind == _AGENCY and place is None and i < lead_end and line.place:
            place = line.place

    # Body: content lines minus the title and repeats.
    title_match = matching_form(title)
    title_toks = _unpunct(title_match).split()
    title_set = set(title_toks)
    title_size = len(title_set)
    seen = {_key(title_toks)}
    kept: list[tuple[set[bytes], int]] = []
    # Every word of the paragraphs of 6+ words seen so far: a cheap first filter.  A superset of the
    # kept paragraphs' words is enough (the filter only has to pass every paragraph that
    # _near_repeat would drop), so it is updated first and its growth counts the paragraph's new
    # words: one set operation a paragraph instead of two (``words & union``, ``union |= words``).
    union: set[bytes] = set()
    body: list[_Line] = []
    for line in lines:
        if line.kind != _CONTENT:
            continue
        toks = line.toks
        key = _key(toks)
        if key in seen:
            continue
        words = set(toks)
        size = len(words)
        # The size test of _near_equal, inlined: it rejects nearly every line without the call.
        if title_size and 0.9 * size <= title_size <= size / 0.9 and _near_equal(words, title_set):
            continue
        if len(toks) >= _NEAR_MIN_WORDS:
            need = _NEAR_SHARE * size
            before = len(union)
            union |= words
            if size - (len(union) - before) >= need and _near_repeat(words, need, kept):
                continue
            if len(kept) < _NEAR_MAX_KEPT:
                kept.append((words, size))
        seen.add(key)
        body.append(line)

    if not title:  # no feed title and no content line left to be the headline
        raise ValueError("article is empty after cleaning (only boilerplate, captions or dates)")

    if dateline is None:
        dateline = place
    if dateline is None and body:
        wire = _EN_DATELINE_RE.match(body[0].display)
        if wire is not None:
            dateline = wire.group("dl")

    # The place of a leading "طرابلس - وكالات" line is where the story was filed: a real mention of
    # that place, so it stays in the text (as its own line after the headline); the credit goes.
    texts = [title, *(line.display for line in body)]
    matches = [title_match, *(line.match for line in body)]
    if place is not None and not any(place in line for line in texts[1:2]):
        texts.insert(1, place)
        matches.insert(1, matching_form(place))
    text = "\n".join(texts)
    # The lines' matching forms are at hand: joining them saves a matching_form pass over the text
    # (15 µs → 2 µs), and gives the same string when matching_form works line by line.
    if matching_form_is_per_line(body_display) and matching_form_is_per_line(title):
        match_text = "\n".join(matches)
    else:
        match_text = matching_form(text)
    published_at = raw.published_at.strip() if raw.published_at and raw.published_at.strip() else date_iso
    language = raw.language.strip().lower() if raw.language and raw.language.strip() else detect_language(text)
    return NormalizedArticle(
        id=article_id(raw),
        url=canonical_url(raw.url) if raw.url and raw.url.strip() else None,
        source=raw.source,
        title=title,
        language=language,
        published_at=published_at,
        dateline=dateline,
        text=text,
        match_text=match_text,
        ingested_at=now.timestamp(),
        body_format=body_format,
    )
