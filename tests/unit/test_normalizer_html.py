"""HTML bodies (feeds, CMS exports) become plain text in the normalizer; plain-text bodies stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from schemas.models import RawArticle
from services.normalizer.core import normalize, parse_text_article
from services.normalizer.html import html_to_text, looks_like_html

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)
SEEDS = Path(__file__).resolve().parents[2] / "seeds"

ISSUE_BODY = (
    "<p>شنّت الطائرات الإسرائيلية <strong>غارات</strong> على&nbsp;بلدات في جنوب لبنان، "
    "بحسب <a href=\"https://example.com/x\">الوكالة الوطنية للإعلام</a>.</p>"
    "<script>var tracker = '<p>not text</p>';</script>"
    "<figure><img src=\"a.jpg\"><figcaption>دخان يتصاعد (الصورة: غيتي)</figcaption></figure>"
    "<style>p { color: red }</style>"
    "<div>وقال مصدر أمني إن الغارات استهدفت &quot;مواقع&quot; &#1601;ي المنطقة.<br/>وأضاف أن القصف استمر ساعات.</div>"
)


def test_the_issue_s_body_becomes_paragraphs_of_text() -> None:
    assert html_to_text(ISSUE_BODY) == (
        "شنّت الطائرات الإسرائيلية غارات على بلدات في جنوب لبنان، بحسب الوكالة الوطنية للإعلام.\n"
        'وقال مصدر أمني إن الغارات استهدفت "مواقع" في المنطقة.\n'
        "وأضاف أن القصف استمر ساعات."
    )


def test_normalize_cleans_an_html_body_and_says_so() -> None:
    article = normalize(RawArticle(title="غارات على جنوب لبنان", body=ISSUE_BODY), now=NOW)
    assert article.body_format == "html"
    for leftover in ("<", ">", "&nbsp", "&quot", "tracker", "color", "غيتي", "href", "example.com"):
        assert leftover not in article.text, leftover
    assert "الوكالة الوطنية للإعلام" in article.text  # link text kept
    lines = article.text.split("\n")
    assert lines[0] == "غارات على جنوب لبنان"
    assert len(lines) == 4
    assert len(article.match_text) == len(article.text)


def test_tables_lists_headings_and_pre() -> None:
    html = ("<h2>Heading</h2><ul><li>one</li><li>two <em>2</em></li></ul>"
            "<table><caption>Table 1</caption><tr><td>cell</td></tr></table>"
            "<pre>line a\nline b</pre><p>a   b\n  c</p><!-- comment --><noscript>enable js</noscript>")
    assert html_to_text(html) == "Heading\none\ntwo 2\ncell\nline a\nline b\na b c"


def test_unclosed_and_malformed_markup_is_tolerated() -> None:
    assert html_to_text("<p>first<p>second <b>bold<div>third") == "first\nsecond bold\nthird"
    assert html_to_text("<p>x < y and y > z</p>") == "x < y and y > z"


def test_inline_only_html_keeps_its_own_line_breaks() -> None:
    body = "First paragraph with <b>bold</b> text &amp; more.\n\nSecond paragraph, <a href='#'>a link</a>."
    assert looks_like_html(body)
    assert html_to_text(body) == "First paragraph with bold text & more.\nSecond paragraph, a link."


@pytest.mark.parametrize("body", [
    "درجة الحرارة < 5 درجات و > 2 تحت الصفر",
    "قال إن <المقاومة> ستستمر\nوأضاف: الأسعار <= 10",
    "a < b > c and x<y, 3<5 but 10>7; AT&T & co",
    "the <p-value> and <br> a tag mentioned in prose",  # "<br>" alone is markup (see the next test)
])
def test_detection_of_plain_text_with_angle_brackets(body: str) -> None:
    expected = "<br>" in body
    assert looks_like_html(body) is expected


def test_detection_of_html() -> None:
    for body in ("<p>x</p>", "a<br>b", "a<br/>b", "<DIV class='x'>y</DIV>", "x&nbsp;y", "&#1594;", "&#x627;",
                 "<!-- c -->text", "<!DOCTYPE html><html><body>x</body></html>", "text</span>"):
        assert looks_like_html(body), body


def test_arabic_with_angle_brackets_is_untouched_by_normalize() -> None:
    body = "ارتفاع الأسعار\nقال التقرير إن نسبة التضخم < 5 في المئة بينما البطالة > 10 في المئة هذا العام."
    article = normalize(RawArticle(body=body), now=NOW)
    assert article.body_format == "text"
    assert "< 5" in article.text and "> 10" in article.text


def test_the_raw_hint_wins_over_detection() -> None:
    body = "Headline\nA <b> tag in prose, and &amp; as it is."
    assert normalize(RawArticle(body=body, body_format="text"), now=NOW).text.endswith("and &amp; as it is.")
    as_html = normalize(RawArticle(body="<p>Headline</p><p>Body text here.</p>", body_format="html"), now=NOW)
    assert as_html.text == "Headline\nBody text here."
    forced = normalize(RawArticle(title="T", body="a &lt; b, said the report on the matter", body_format="html"),
                       now=NOW)
    assert forced.text == "T\na < b, said the report on the matter"


def test_plain_text_seeds_are_untouched() -> None:
    """Every seed is plain text: detected as such, and its normalized text is what the text path gives."""
    seeds = sorted(SEEDS.rglob("*.txt"))
    assert seeds
    for path in seeds:
        raw = parse_text_article(path.read_text(encoding="utf-8"), source="seed")
        assert not looks_like_html(raw.body), path
        article = normalize(raw, now=NOW)
        assert article.body_format == "text"
        assert article == normalize(raw.model_copy(update={"body_format": "text"}), now=NOW)


def test_html_to_text_output_is_stable_through_the_text_path() -> None:
    """The HTML path ends in a plain-text body: normalizing that body as text gives the same article text."""
    text = html_to_text(ISSUE_BODY)
    via_html = normalize(RawArticle(title="عنوان الخبر", body=ISSUE_BODY), now=NOW)
    via_text = normalize(RawArticle(title="عنوان الخبر", body=text, body_format="text"), now=NOW)
    assert via_html.text == via_text.text


def test_an_html_article_s_title_is_text_too_a_plain_one_s_is_kept() -> None:
    html = normalize(RawArticle(title="Talks &amp; truce <b>resume</b>", body="<p>Negotiators met again today.</p>"),
                     now=NOW)
    assert html.title == "Talks & truce resume"
    plain = normalize(RawArticle(title="Talks &amp; truce", body="Negotiators met again today."), now=NOW)
    assert plain.title == "Talks &amp; truce"


def test_an_html_body_of_nothing_but_scripts_is_rejected_like_an_empty_one() -> None:
    with pytest.raises(ValueError, match="empty after cleaning"):
        normalize(RawArticle(body="<script>track()</script><style>p{}</style><figure><img src=x></figure>"), now=NOW)
    flash = normalize(RawArticle(title="Breaking", body="<script>track()</script>"), now=NOW)
    assert flash.text == "Breaking" and flash.body_format == "html"
