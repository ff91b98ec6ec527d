"""HTML bodies to plain text, for the normalizer.

Feeds send HTML (RSS ``content:encoded``, Atom ``type="html"``, CMS exports).  :func:`looks_like_html` tells
such a body from plain text; :func:`html_to_text` turns it into the plain-text shape the normalizer reads:
one paragraph a line.

The parser is the standard library's :class:`html.parser.HTMLParser`: a tolerant, maintained tokenizer
(unclosed tags, stray ``<``, ``script`` content as raw text, every HTML5 named and numeric character
reference) with no dependency to install or to keep in the image; the text extraction needs no tree.

* block elements (``p``, ``div``, ``h1``…``h6``, ``li``, ``blockquote``, ``tr``…) and ``br`` end a line;
* character references are unescaped (``&nbsp;`` becomes a space the display form folds, ``&#1594;`` a letter);
* ``script``, ``style``, ``figure``, ``figcaption``, table ``caption``, ``noscript``, ``template``,
  ``svg``, ``iframe``, ``object``, ``head`` and what is inside them are dropped; images are dropped;
* inline elements (``a``, ``strong``, ``span``…) keep their text: link text stays, the address goes;
* whitespace inside a text runs collapses as a browser would (``pre`` keeps its line breaks).

Detection looks for real markup, never for a bare ``<``: an Arabic (or any) sentence with ``<`` or ``>``
as characters ("درجة الحرارة < 5") is plain text, and ``html.parser`` itself only takes ``<`` followed by
an ASCII letter, ``/`` or ``!`` as markup.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

__all__ = ["html_to_text", "looks_like_html"]

# The tags whose presence makes a body HTML: an opening tag with a known name (then whitespace, ``/`` or
# ``>``), any closing tag of a known name, a comment, a doctype.  An ASCII name is required, so "<المقاومة>"
# and "a < b > c" are text.
_KNOWN_TAGS = (
    "a|abbr|article|aside|b|blockquote|body|br|caption|center|cite|code|dd|del|details|div|dl|dt|em|"
    "figcaption|figure|font|footer|h[1-6]|head|header|hr|html|i|iframe|img|ins|li|main|mark|nav|noscript|"
    "ol|p|picture|pre|q|s|section|small|source|span|strong|style|sub|summary|sup|script|svg|table|tbody|"
    "td|tfoot|th|thead|time|tr|u|ul|video"
)
_MARKUP_RE = re.compile(rf"<(?:/?(?:{_KNOWN_TAGS})(?=[\s/>])|!--|!doctype\b)", re.IGNORECASE)
# A character reference: named (letters, then ``;``), decimal or hexadecimal.
_ENTITY_RE = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")

_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "center", "dd", "details", "dialog", "div", "dl", "dt",
    "fieldset", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "html", "li",
    "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr",
    "ul",
})
# Dropped with everything inside them.  Void elements (img, source...) hold no text and need no entry.
_DROPPED = frozenset({
    "script", "style", "figure", "figcaption", "caption", "noscript", "template", "svg", "iframe", "object",
    "head", "math", "button", "select", "textarea",
})


def looks_like_html(body: str) -> bool:
    """Is ``body`` HTML: known tags, a comment or doctype, or character references (``&nbsp;``, ``&#1594;``)?

    Plain text pays two ``in`` scans: only a body with ``<`` or ``&`` reaches the regexes.
    """
    if "<" in body and _MARKUP_RE.search(body) is not None:
        return True
    return "&" in body and _ENTITY_RE.search(body) is not None


class _Text(HTMLParser):
    """Collects text runs, a line break at every block boundary and ``br``."""

    def __init__(self, *, lines_are_breaks: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.dropped = 0  # depth inside dropped elements
        self.pre = 0
        self.lines_are_breaks = lines_are_breaks

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROPPED:
            self.dropped += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag in _BLOCKS:
            self.out.append("\n")
            if tag == "pre":
                self.pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _DROPPED:  # "<script/>" opens nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROPPED:
            self.dropped = max(0, self.dropped - 1)
        elif tag in _BLOCKS or tag == "br":  # "</br>": browsers read it as "<br>"
            self.out.append("\n")
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if self.dropped:
            return
        if self.pre or self.lines_are_breaks:
            self.out.append(data)
        else:
            self.out.append(data.replace("\n", " ").replace("\r", " "))


def html_to_text(body: str) -> str:
    """The text of the HTML ``body``, one paragraph a line (blank lines and blank-only runs dropped).

    A body without any line-breaking tag (only inline markup or character references, as some CMS exports
    send) keeps its own line breaks as paragraph breaks.
    """
    lower = body.lower()
    has_breaks = "<br" in lower or "</br" in lower or any(f"<{tag}" in lower for tag in ("p", "div", "li", "h"))
    parser = _Text(lines_are_breaks=not has_breaks)
    parser.feed(body)
    parser.close()
    text = "".join(parser.out)
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
