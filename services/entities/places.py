"""Places the rules keep or give up: a place inside a facility's name ("محطة دنيبرو", "Kakhovka Dam") is not a
mention of the place, and an ambiguous alias (a place name that is also a common word: "حجة", "صور") is kept only
after a place cue or next to an accepted place (:func:`_filter_ambiguous`, the last pass).
"""

from __future__ import annotations

from services.entities.document import _CTX, _any_in, _capitalised, _Doc, _Span
from services.entities.lexicon import _EN_FACILITY_TAILS, _FACILITY_HEADS, _PLACE_CUES


def _filter_ambiguous(doc: _Doc, spans: list[_Span]) -> list[_Span]:
    """Keep an ambiguous alias ("حجة", "صور") only after a place cue or next to an accepted place.

    Acceptance spreads along lists: in "صنعاء والحديدة وتعز وحجة" صنعاء vouches for تعز, which
    vouches for حجة; and through the document (one sense per discourse): once "مدينة الأبيض" has said
    that الأبيض is El Obeid, the headline's "سوق الأبيض" is El Obeid too.
    """
    rejected = {idx for idx, s in enumerate(spans)
                if s.kind == _CTX and not (s.first > 0 and _any_in(doc.toks[s.first - 1], _PLACE_CUES))}
    changed = True
    while changed and rejected:
        changed = False
        for idx in sorted(rejected):
            s = spans[idx]
            for k in (s.first - 1, s.last + 1):
                if not 0 <= k < len(doc.toks) or doc.owner[k] < 0 or doc.owner[k] in rejected:
                    continue
                other = spans[doc.owner[k]]
                gap = doc.match[doc.end(k):doc.start(s.first)] if k < s.first \
                    else doc.match[doc.end(s.last):doc.start(k)]
                if other.type == "LOC" and gap.strip(" ،,") == "":
                    rejected.discard(idx)
                    changed = True
                    break
    if rejected:
        accepted = {s.canonical for idx, s in enumerate(spans) if s.kind == _CTX and idx not in rejected}
        rejected = {idx for idx in rejected if spans[idx].canonical not in accepted}
    return [s for idx, s in enumerate(spans) if idx not in rejected] if rejected else list(spans)


def _inside_facility(doc: _Doc, first: int, last: int, cut: int) -> bool:
    """Is the place at tokens first..last the name of a facility ("محطة دنيبرو", "Kakhovka Dam")?"""
    if cut == 0 and first > 0 and doc.toks[first - 1] in _FACILITY_HEADS and doc.joined(first - 1) \
            and doc.owner[first - 1] < 0:
        return True
    nxt = last + 1
    return nxt < len(doc.toks) and doc.toks[nxt] in _EN_FACILITY_TAILS and doc.joined(last) \
        and _capitalised(doc.word(nxt))
