"""Unit tests of the normalizer's functional core (``services.normalizer.core``) and text forms.

The seed articles are real newsroom pages in the plain-text format; the small inline articles
are modelled on the noise of the annotated dev set (agency lines, captions, repeated
paragraphs, tashkeel, tatweel, Arabic-Indic digits, mixed quotes).  Nothing here reads
``/work/shared``: the tests must run anywhere the repository is checked out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import pytest

from schemas.models import NormalizedArticle, RawArticle
from services.normalizer.core import (
    article_id,
    canonical_url,
    detect_language,
    normalize,
    parse_text_article,
)
from services.normalizer.textforms import display_form, matching_form

SEEDS = Path(__file__).parents[2] / "seeds"
NOW = datetime(2024, 9, 10, 12, 0, tzinfo=UTC)

SEED_000_TITLE = "الصراع في ناغورنو كاراباخ يعود إلى الواجهة: أذربيجان تهاجم وقوات الانفصال تقاوم"
SEED_002_TITLE = 'وسط دعوات للتهدئة.. أذربيجان ستواصل عمليتها في كاراباخ "حتى النهاية"'


def _seed(prefix: str) -> NormalizedArticle:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return normalize(parse_text_article(path.read_text(encoding="utf-8"), source="seed"), now=NOW)


@pytest.fixture(scope="module")
def seed000() -> NormalizedArticle:
    return _seed("000")


@pytest.fixture(scope="module")
def seed002() -> NormalizedArticle:
    return _seed("002")


def _lines(article: NormalizedArticle) -> list[str]:
    return article.text.split("\n")


# --------------------------------------------------------------------------- seed 000


def test_seed000_title_is_the_headline_not_the_agency_line(seed000: NormalizedArticle) -> None:
    """The file opens with "وكالات.." (an agency line); the headline is the next line."""
    assert seed000.title == SEED_000_TITLE
    assert _lines(seed000)[0] == SEED_000_TITLE
    assert "وكالات.." not in seed000.text


@pytest.mark.parametrize("paragraph_start", [
    'وقال الانفصاليون على منصة "إكس"',  # exact repeat: the file's last paragraph
    "أكدت القوات الانفصالية في كاراباخ",  # near repeat: "وفي السياق، أكدت ..." adds a prefix
])
def test_seed000_repeated_paragraphs_appear_once(seed000: NormalizedArticle, paragraph_start: str) -> None:
    """Sites paste paragraphs twice (verbatim or with a connective prefix); keep the first only."""
    assert seed000.text.count(paragraph_start) == 1
    assert "وفي السياق، أكدت القوات الانفصالية" not in seed000.text


def test_seed000_caption_block_is_dropped(seed000: NormalizedArticle) -> None:
    """The quoted photo tag "أرشيفية" and the lone tag "فرنسا" under it are not body text."""
    lines = _lines(seed000)
    assert '"أرشيفية"' not in lines
    assert "فرنسا" not in lines
    assert lines[1].startswith("أعلنت وزارة الدفاع في أذربيجان")


def test_seed000_has_no_dateline_and_no_invented_date(seed000: NormalizedArticle) -> None:
    """No date line in the file: nothing to parse, and no published date is made up."""
    assert seed000.dateline is None
    assert seed000.published_at is None
    assert seed000.language == "ar"


# --------------------------------------------------------------------------- seed 002


def test_seed002_title_appears_exactly_once(seed002: NormalizedArticle) -> None:
    """The headline is printed twice under the date line; the text carries it once, first."""
    assert seed002.title == SEED_002_TITLE
    assert seed002.text.count(SEED_002_TITLE) == 1
    assert _lines(seed002)[0] == SEED_002_TITLE


def test_seed002_dateline_and_published_date(seed002: NormalizedArticle) -> None:
    """"الأحد 8 Sep / September 2024" is the dateline and gives the missing publication date."""
    assert seed002.dateline == "الأحد 8 Sep / September 2024"
    assert seed002.published_at == "2024-09-08"
    assert "September 2024" not in seed002.text


@pytest.mark.parametrize("noise", ["شارك القصة", "تابع القراءة", "المصادر:", "العربي - وكالات", "تغطية خاصة",
                                   "Close"])
def test_seed002_boilerplate_lines_are_gone(seed002: NormalizedArticle, noise: str) -> None:
    """Share buttons, "continue reading", source sign-offs and the modal's Close are page chrome."""
    assert noise not in _lines(seed002)


def test_seed002_captions_are_gone(seed002: NormalizedArticle) -> None:
    """A "(الصورة: غيتي)" caption, and a caption printed twice (once with " - غيتي"), are dropped."""
    assert "(الصورة: غيتي)" not in seed002.text
    assert "غيتي" not in seed002.text
    assert not any(line.startswith("نافذة إخبارية") for line in _lines(seed002))
    assert "عدة مواقع عسكرية منطقة ناغورني كاراباخ\n" not in seed002.text + "\n"


@pytest.mark.parametrize("subheading", ["فرنسا تدعو إلى اجتماع عاجل للأمم المتحدة", 'دعوات لوقف "إراقة الدماء"'])
def test_seed002_short_subheadings_are_kept(seed002: NormalizedArticle, subheading: str) -> None:
    """Short subheadings inside the body are content, unlike short caption tags in the lead."""
    assert subheading in _lines(seed002)


def test_seed002_caption_paragraph_follows_real_text(seed002: NormalizedArticle) -> None:
    """After the caption is dropped, the first body line is the lead paragraph."""
    assert _lines(seed002)[1].startswith("دعت فرنسا إلى عقد اجتماع عاجل لمجلس الأمن الدولي")


@pytest.mark.parametrize("prefix", ["000", "002"])
def test_seed_output_shape(prefix: str) -> None:
    """One paragraph per line, no empty line, no repeated line, match_text aligned with text."""
    article = _seed(prefix)
    lines = _lines(article)
    assert all(line and line == line.strip() for line in lines)
    assert len(lines) == len(set(lines))
    assert article.match_text == matching_form(article.text)
    assert len(article.match_text) == len(article.text)
    assert article.id.startswith("h-")
    assert article.ingested_at == NOW.timestamp()


# --------------------------------------------------------------------------- text forms


@pytest.mark.parametrize(("raw", "expected"), [
    ("مُحَمَّدٌ", "محمد"),  # harakat, shadda, tanwin
    ("الحـــرب", "الحرب"),  # tatweel
    ("بيان\u200c رسمي\u200f", "بيان رسمي"),  # zero-width non-joiner, right-to-left mark
    ("\u202bنص\u202c \ufeffآخر", "نص آخر"),  # bidi embedding, BOM
    ("٥٥ قتيلا و١٤٦ جريحا", "55 قتيلا و146 جريحا"),  # Arabic-Indic digits
    ("۱۲۳", "123"),  # Extended (Persian) digits
    ("١٠٫٢٥ مليار و٤٦٪", "10.25 مليار و46%"),  # Arabic decimal and percent signs
    ("«جهاز الردع»", '"جهاز الردع"'),  # guillemets to straight quotes
    ("ﻻ", "لا"),  # presentation form (NFKC)
    ("ا\u0654حمد", "أحمد"),  # decomposed hamza composed by NFKC, not dropped
    ("  a \u00a0 b  \n\n  c ", "a b\n\nc"),  # spaces collapsed, lines stripped, breaks kept
])
def test_display_form(raw: str, expected: str) -> None:
    """The display form is what people read: no marks, controls or Arabic-Indic digits."""
    assert display_form(raw) == expected


@pytest.mark.parametrize(("display", "expected"), [
    ("أحمد إبراهيم آل", "احمد ابراهيم ال"),
    ("مصطفى", "مصطفي"),
    ("القاهرة", "القاهره"),
    ("مسؤول بيئة", "مسوول بييه"),
    ("Reuters NATO", "reuters nato"),
    ("İstanbul", "İstanbul"),  # "İ".lower() is two characters: kept so the length holds
])
def test_matching_form_unifies_letters_and_keeps_length(display: str, expected: str) -> None:
    """Matching unifies hamza/alef forms, ى/ي, ة/ه and case, character for character."""
    assert matching_form(display) == expected
    assert len(matching_form(display)) == len(display)


# --------------------------------------------------------------------------- ids and URLs


def test_article_id_prefers_the_given_id() -> None:
    """A feed's own id is the article's identity, whatever its URL or content."""
    raw = RawArticle(id="dev-001", url="https://example.com/a", body="نص")
    assert article_id(raw) == "dev-001"


def test_article_id_from_url_is_stable_across_tracking_params() -> None:
    """The same story shared with different campaign tags must get one id."""
    plain = RawArticle(url="https://news.example.com/world/story-1", body="x")
    tagged = RawArticle(url="HTTPS://News.Example.com:443/world/story-1/?utm_source=tw&fbclid=abc#comments",
                        body="different body")
    other = RawArticle(url="https://news.example.com/world/story-2", body="x")
    assert article_id(plain) == article_id(tagged)
    assert article_id(plain).startswith("u-") and len(article_id(plain)) == 18
    assert article_id(plain) != article_id(other)


def test_article_id_from_content() -> None:
    """Without id or URL, the id hashes source, title and body: stable, and content-sensitive."""
    a = RawArticle(source="وكالة", title="عنوان", body="نص الخبر")
    assert article_id(a) == article_id(RawArticle(source="وكالة", title="عنوان", body="نص الخبر"))
    assert article_id(a).startswith("h-") and len(article_id(a)) == 18
    assert article_id(a) != article_id(RawArticle(source="وكالة", title="عنوان", body="نص آخر"))
    assert article_id(a) != article_id(RawArticle(source="مصدر", title="عنوان", body="نص الخبر"))


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTPS://Example.COM/News/Story/", "https://example.com/News/Story"),
    ("https://example.com:443/a?utm_source=x&utm_medium=y", "https://example.com/a"),
    ("http://example.com:80/a#section", "http://example.com/a"),
    ("https://example.com:8443/a", "https://example.com:8443/a"),
    ("https://example.com/a?id=5&fbclid=z&gclid=q", "https://example.com/a?id=5"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com/", "https://example.com"),
])
def test_canonical_url(url: str, expected: str) -> None:
    """Case, default ports, fragments, tracking parameters and trailing slashes do not make a new URL."""
    assert canonical_url(url) == expected


def test_normalize_canonicalises_url_and_passes_source() -> None:
    """The normalized article carries the canonical URL and the feed's source unchanged."""
    raw = RawArticle(url="https://Example.com/a/?utm_campaign=z", source="نافذة العرب", title="عنوان",
                     body="فقرة أولى من الخبر تتحدث عن اجتماع وزراء الخارجية في العاصمة اليوم.")
    article = normalize(raw, now=NOW)
    assert article.url == "https://example.com/a"
    assert article.source == "نافذة العرب"
    assert article.id == article_id(raw)


# --------------------------------------------------------------------------- language


@pytest.mark.parametrize(("text", "expected"), [
    ("أعلنت وزارة الدفاع في أذربيجان اليوم الثلاثاء بدء عملية عسكرية", "ar"),
    ("The United States has called on Serbia to withdraw its troops", "en"),
    ('قال المتحدث باسم "Reuters" إن الاجتماع انتهى دون اتفاق', "ar"),  # a Latin name in Arabic text
    ("COP29 president Mukhtar Babayev said the conference (كوب 29) would open", "en"),
    ("2024 - 55 / 146", "und"),
    ("", "und"),
])
def test_detect_language(text: str, expected: str) -> None:
    """Language is the script holding at least 60 % of the letters."""
    assert detect_language(text) == expected


def test_given_language_wins_over_detection() -> None:
    """A feed that declares its language is trusted (detection is only a fallback)."""
    raw = RawArticle(title="Title", body="Body paragraph of the story.", language="AR")
    assert normalize(raw, now=NOW).language == "ar"
    assert normalize(raw.model_copy(update={"language": None}), now=NOW).language == "en"


# --------------------------------------------------------------------------- empty articles


@pytest.mark.parametrize("body", [
    "شارك القصة\n\nتابع القراءة\n\nClose",
    "وكالات..\n\n(الصورة: أرشيفية)\n\nالأحد 8 سبتمبر 2024",
    "\u200f\u0640\u064e\n\n...",
    "Advertisement\nShare this article\nRead more: Another headline",
])
def test_empty_after_cleaning_raises(body: str) -> None:
    """Only chrome, captions or dates: nothing to publish, so the agent sends it to the DLQ."""
    with pytest.raises(ValueError, match="empty"):
        normalize(RawArticle(body=body), now=NOW)


def test_parse_text_article_rejects_blank_content() -> None:
    """A blank seed file is not an article."""
    with pytest.raises(ValueError):
        parse_text_article("  \n\n ")


def test_parse_text_article_keeps_whole_file_as_body() -> None:
    """The plain-text format is one article; the title is found later by the normalizer."""
    raw = parse_text_article("عنوان\n\nنص", source="seed")
    assert raw.title is None and raw.body == "عنوان\n\nنص" and raw.source == "seed"


# --------------------------------------------------------------------------- dev-style articles

ARABIC_WIRE = """طرابلس - وكالات

ارتفعت حَصيلة الاشتباكات العنيفة في العاصمة الليبية إلى ٥٥ قتيلا و١٤٦ جريحا، وفق ما أعلنه مركز طب الطوارئ.

واندلعت المواجهات إثر احتجاز قائد اللواء ٤٤٤ في مطار معيتيقة، قبل أن تمتد إلى أحياء سكنية جنوب العاصمة.

اشتباكات طرابلس (الصورة: أرشيفية)

وأفاد سكان في منطقة عين زارة بسماع دوي قذائف طوال الليل، فيما علقت عشرات العائلات داخل منازلها.

وأفاد سكان في منطقة عين زارة بسماع دوي قذائف طوال الليل، فيما علقت عشرات العائلات داخل منازلها.

المصدر: وكالات ومواقع محلية
شارك القصة"""


def test_arabic_wire_article() -> None:
    """Agency line, caption, verbatim repeat and sign-off go; digits become ASCII; marks go."""
    article = normalize(RawArticle(title="55 قتيلا في اشتباكات طرابلس", body=ARABIC_WIRE,
                                   published_at="2023-08-15T12:00:00Z"), now=NOW)
    lines = _lines(article)
    assert lines[0] == "55 قتيلا في اشتباكات طرابلس"
    assert len(lines) == 5
    assert lines[1] == "طرابلس"  # where the story was filed: a mention of the place, without the credit
    assert lines[2].startswith("ارتفعت حصيلة الاشتباكات")  # tashkeel removed
    assert "55 قتيلا و146 جريحا" in lines[2]
    assert "اللواء 444" in lines[3]
    assert article.text.count("وأفاد سكان") == 1
    assert "الصورة" not in article.text and "وكالات" not in article.text and "شارك" not in article.text
    assert article.published_at == "2023-08-15T12:00:00Z"  # the feed's date wins
    assert article.dateline == "طرابلس"  # the place of the agency line


def test_given_title_repeated_in_body_is_dropped() -> None:
    """Pages print the headline again under the date line; the text starts with it once."""
    body = ("الثلاثاء ١٩ سبتمبر/ أيلول ٢٠٢٣\n\n"
            'أذربيجان تطلق عملية عسكرية في كاراباخ ويريفان تتحدث عن "هجوم بري واسع"  \n\n'
            "شارك القصة\n\n"
            "أطلقت القوات الأذربيجانية، صباح اليوم الثلاثاء، عملية عسكرية في إقليم ناغورنو كاراباخ.\n\n"
            "سحب الدخان تتصاعد فوق ستيباناكيرت عقب القصف (الصورة: رويترز)\n\n"
            "اقرأ المزيد  ")
    title = 'أذربيجان تطلق عملية عسكرية في كاراباخ ويريفان تتحدث عن "هجوم بري واسع"'
    article = normalize(RawArticle(title=title, body=body), now=NOW)
    assert _lines(article) == [title, "أطلقت القوات الأذربيجانية، صباح اليوم الثلاثاء، عملية عسكرية في إقليم "
                                      "ناغورنو كاراباخ."]
    assert article.dateline == "الثلاثاء 19 سبتمبر/ أيلول 2023"
    assert article.published_at == "2023-09-19"


ENGLISH_WIRE = """ODESA, Ukraine, March 15 — A Russian ballistic missile strike on a residential district killed 20.

Regional governor Oleh Kiper said two Iskander missiles hit the same neighbourhood minutes apart.

Advertisement

“This is a deliberate tactic designed to kill those who come to help,” Kiper wrote on Telegram.

Rescue workers search the rubble in Odesa (AP Photo/Jane Doe)

Read more: Ukraine asks allies for more air defence systems

Share this article
— With agency reporting"""


def test_english_wire_article() -> None:
    """English chrome ("Advertisement", "Read more: ...", "Share this article") and credits go."""
    article = normalize(RawArticle(title="Odesa missile attack kills 20", body=ENGLISH_WIRE), now=NOW)
    lines = _lines(article)
    assert len(lines) == 4
    assert lines[3] == '"This is a deliberate tactic designed to kill those who come to help," Kiper wrote on Telegram.'
    for noise in ("Advertisement", "Read more", "Share this", "agency reporting", "AP Photo"):
        assert noise not in article.text
    assert article.language == "en"
    assert article.dateline == "ODESA, Ukraine, March 15"
    assert article.match_text.startswith("odesa missile attack kills 20\nodesa, ukraine")


def test_headline_found_without_a_title_after_date_and_share_lines() -> None:
    """With no feed title, the headline is the first line that is not chrome, date or agency."""
    body = ("الأربعاء ١٤ فبراير/ شباط ٢٠٢٤\n\nشارك القصة\n\nالقاهرة - وكالات\n\n"
            "يريفان: أربعة من جنودنا قتلوا بنيران أذربيجانية\n\n"
            "قتل أربعة جنود أرمينيين وأصيب خامس بجروح، فجر اليوم الثلاثاء، في إطلاق نار على الحدود.")
    article = normalize(RawArticle(body=body), now=NOW)
    assert article.title == "يريفان: أربعة من جنودنا قتلوا بنيران أذربيجانية"
    assert article.published_at == "2024-02-14"
    assert article.dateline == "الأربعاء 14 فبراير/ شباط 2024"
    assert _lines(article)[1:] == [
        "القاهرة",  # the filing place stays as a mention; its agency credit goes
        "قتل أربعة جنود أرمينيين وأصيب خامس بجروح، فجر اليوم الثلاثاء، في إطلاق نار على الحدود.",
    ]


def test_body_without_headline_gets_a_short_title_and_loses_nothing() -> None:
    """When the first content line is a whole paragraph, the title is its first sentence and the
    paragraph stays in the body."""
    first = ("WASHINGTON — The United States has called on Serbia to withdraw its troops from the border. "
             "Officials said the deployment of tanks and artillery along the boundary with Kosovo was "
             "unprecedented and destabilising for the whole region, and urged restraint from everyone.")
    article = normalize(RawArticle(body=first + "\n\nSecond paragraph of the story."), now=NOW)
    assert article.title == first[: first.index(".") + 1]
    assert article.title.endswith("withdraw its troops from the border.")
    assert _lines(article)[1:] == [first, "Second paragraph of the story."]
    assert article.dateline == "WASHINGTON"


@pytest.mark.parametrize(("date_line", "expected"), [
    ("الأحد 8 Sep / September 2024", "2024-09-08"),
    ("الجمعة 12 يناير/كانون الثاني 2024", "2024-01-12"),
    ("السبت ٢٠ أبريل/ نيسان ٢٠٢٤", "2024-04-20"),
    ("الأحد 8 أيلول 2024", "2024-09-08"),
    ("Sunday, September 8, 2024 10:30 GMT", "2024-09-08"),
    ("آخر تحديث: 8 سبتمبر 2024 - 10:30", "2024-09-08"),
    ("2024-09-08", "2024-09-08"),
    ("08/09/2024", "2024-09-08"),
])
def test_date_line_gives_published_at(date_line: str, expected: str) -> None:
    """Levantine, Egyptian and English month names, ISO and numeric dates all parse."""
    body = f"{date_line}\n\nعنوان الخبر\n\nفقرة أولى من الخبر تتحدث عن اجتماع وزراء الخارجية في العاصمة اليوم."
    article = normalize(RawArticle(body=body), now=NOW)
    assert article.published_at == expected
    assert article.title == "عنوان الخبر"
    assert date_line not in article.text


def test_near_repeat_with_new_numbers_is_kept() -> None:
    """An updated toll is news, not a repeat: a paragraph bringing a new number stays."""
    body = ("ارتفعت حصيلة ضحايا الزلزال في إقليم الحوز إلى 2800 قتيل وفق وزارة الداخلية المغربية.\n\n"
            "ارتفعت حصيلة ضحايا الزلزال في إقليم الحوز إلى 2862 قتيل وفق وزارة الداخلية المغربية.")
    article = normalize(RawArticle(title="زلزال المغرب", body=body), now=NOW)
    assert len(_lines(article)) == 3


def test_long_paragraph_loses_only_its_photo_credit() -> None:
    """A real paragraph that ends with a photo credit is kept, without the credit."""
    paragraph = " ".join(["وقال المتحدث العسكري إن القوات تواصل عملياتها في المنطقة الحدودية"] * 5)
    article = normalize(RawArticle(title="عنوان", body=paragraph + " (الصورة: غيتي)"), now=NOW)
    assert _lines(article) == ["عنوان", paragraph]


def _phrases(section: str) -> list[str]:
    text = (resources.files("services.normalizer") / "data" / "boilerplate.txt").read_text(encoding="utf-8")
    current, out = "", []
    for line in map(str.strip, text.splitlines()):
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
        elif line and not line.startswith("#") and current == section and not line.endswith(("...", "…")):
            out.append(line)
    return out


@pytest.mark.parametrize("phrase", _phrases("boilerplate") + _phrases("captions"))
def test_every_listed_phrase_is_dropped_as_a_whole_line(phrase: str) -> None:
    """Each phrase of data/boilerplate.txt, alone on a line, disappears from the body."""
    body = f"فقرة أولى من الخبر تتحدث عن اجتماع وزراء الخارجية في العاصمة اليوم.\n{phrase}\nفقرة ثانية."
    assert _lines(normalize(RawArticle(title="عنوان", body=body), now=NOW))[1:] == [
        "فقرة أولى من الخبر تتحدث عن اجتماع وزراء الخارجية في العاصمة اليوم.", "فقرة ثانية."]


@pytest.mark.parametrize("sentence", [
    "Share prices fell sharply on Monday after the announcement.",
    "شارك القصة عدد كبير من المستخدمين على مواقع التواصل بعد نشرها.",
    "Close to 200 people were evacuated from the area overnight.",
])
def test_boilerplate_words_inside_real_sentences_are_kept(sentence: str) -> None:
    """Phrases match whole lines only, never the start or middle of a real sentence."""
    article = normalize(RawArticle(title="Title", body=sentence), now=NOW)
    assert _lines(article)[1:] == [sentence]
