"""The rules' word lists (services/entities/lexicon.py): matching forms, and the triggers that open each pass."""

from __future__ import annotations

from services.entities.lexicon import (
    _EN_FUNCTION_WORDS,
    _EN_ORG_NOUNS,
    _EN_PARTICLES,
    _EN_STOP,
    _MINISTRIES,
    _ORG_HEADS,
    _ORG_TRIGGERS,
    _PERSON_TRIGGERS,
    _REPORT_AR,
    _STOP,
    _TITLE_HEADS,
    _TRIGGERS,
    _UNIT_HEADS,
    _forms,
)
from services.normalizer.textforms import matching_form


def test_arabic_lists_hold_matching_forms() -> None:
    """The passes compare tokens in matching form: every Arabic list is already in that form."""
    for words in (_TITLE_HEADS, _STOP, _ORG_HEADS, _REPORT_AR, frozenset(_MINISTRIES)):
        assert words and all(matching_form(w) == w for w in words)
    assert _forms("الأرمينية وزارة") == {"الارمينيه", "وزاره"}


def test_triggers_are_the_lists_that_open_each_pass() -> None:
    assert _TITLE_HEADS <= _TRIGGERS and frozenset(_MINISTRIES) <= _TRIGGERS and "وزاره" in _TRIGGERS
    assert _ORG_TRIGGERS == _ORG_HEADS | _UNIT_HEADS | _EN_ORG_NOUNS
    assert _REPORT_AR <= _PERSON_TRIGGERS and "said" in _PERSON_TRIGGERS
    assert _EN_FUNCTION_WORDS == _EN_PARTICLES | _EN_STOP
