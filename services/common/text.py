"""Facts about the layout of a normalized article's text, shared by the stages that read it.

The normalizer writes ``text`` headline first; when the report names where it was filed, that place comes
right after: as its own line ("بيروت" from "بيروت - وكالات") or opening the first paragraph ("CAIRO, Nov
18 — The central bank…"), and the article's ``dateline`` field holds it.
"""

from __future__ import annotations


def dateline_span(text: str, dateline: str | None) -> tuple[int, int]:
    """Where the dateline sits in ``text`` (start, end), or an empty span at the body's start.

    Where a report was filed is not where its event happened: story grouping and the alerts' places
    leave out what is named only there.
    """
    title_end = text.find("\n")
    body = len(text) if title_end < 0 else title_end + 1
    if dateline and text.startswith(dateline, body):
        return body, body + len(dateline)
    return body, body
