"""The Arabic sequence tagger: a linear-chain CRF trained with CRFsuite (:mod:`services.entities.train`), run here.

The model is CRFsuite's own file (``data/tagger.crfsuite``), opened once with python-crfsuite, whose Viterbi labels
the tokens.  What is not done per call is the expensive part of CRFsuite's API: turning ~24 feature strings per
token into attribute ids (~6 us a token).  A token's label scores are a sum of the weights of its features, and
its features are the five window views of its neighbouring words (:meth:`Features.views`) and those of the gaps
around it; so each *word type* is compiled, the first time it is seen, into the five score vectors its views add
(numpy rows), and a token's scores are five row lookups and a sum, for all the tokens of an article at once.  The
scores go back to CRFsuite's Viterbi through seven of the model's own attributes with real values: any score vector
is a weighted sum of seven linearly independent weight vectors of the model (fixed at load: ASCII attribute names,
chosen for a well-conditioned basis), so CRFsuite sees the same scores as with the feature strings and gives the same
labels (the unit tests compare the two on the corpus) for ~3 us a token.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any, Final

import numpy as np

from services.entities.document import _Doc
from services.entities.features import Features, gap_after, gap_before, token_spans
from services.entities.gazetteer import DATA_DIR, Gazetteer

MODEL: Final = DATA_DIR / "tagger.crfsuite"
_CACHE_LIMIT: Final = 65_536  # word types kept compiled (280 bytes each)


class _Model:
    """A CRFsuite model file, opened once per process (:func:`_model`): its labels, weights and Viterbi."""

    def __init__(self, path: Path) -> None:
        import pycrfsuite

        self.crf: Any = pycrfsuite.Tagger()
        self.crf.open(str(path))
        info = self.crf.info()
        self.labels: tuple[str, ...] = tuple(sorted(info.labels, key=lambda lab: int(info.labels[lab])))
        index = {lab: k for k, lab in enumerate(self.labels)}
        weights: dict[str, np.ndarray] = {}
        for (attr, label), weight in info.state_features.items():
            weights.setdefault(attr, np.zeros(len(self.labels)))[index[label]] = weight
        self.weights = weights
        self.basis = _basis(weights, len(self.labels))
        self.to_basis = np.linalg.inv(np.array([weights[a] for a in self.basis]))


@lru_cache(maxsize=4)
def _model(path: Path) -> _Model:
    return _Model(path)


class Tagger:
    """Loads a CRFsuite model once; :meth:`tags` labels the tokens of a :class:`_Doc` ("B-LOC", "I-PERSON", "O")."""

    def __init__(self, gazetteer: Gazetteer, model: Path = MODEL) -> None:
        loaded = _model(Path(model).resolve())
        self._crf = loaded.crf
        self.labels = loaded.labels
        size = len(self.labels)
        self._weights = loaded.weights
        self._basis = loaded.basis
        self._to_basis = loaded.to_basis
        self.features = Features(gazetteer)
        # Compiled word types: row r of _views holds, for the word of id r, the label scores its features give a
        # token when it stands 2 before it, 1 before, is the token, 1 after, 2 after.  Row 0: no word (the edges).
        self._ids: dict[str, int] = {}
        self._views = np.zeros((1024, 5, size))
        self._views[0] = [self._score(view) for view in self.features.edge_views()]
        self._next = 1
        # Gaps: row r of _gap_scores is (as the gap before a token, before the first token, after a token).
        self._gap_ids: dict[str, int] = {}
        self._gap_scores = np.zeros((256, 3, size))
        self._tags: list[str] = []

    def _score(self, attrs: Sequence[str]) -> np.ndarray:
        """The label scores a set of features adds up to."""
        vec = np.zeros(len(self.labels))
        for attr in attrs:
            w = self._weights.get(attr)
            if w is not None:
                vec += w
        return vec

    def _word_id(self, tok: str) -> int:
        """The row of a word not compiled yet (compiled now)."""
        if self._next >= _CACHE_LIMIT:
            self._ids.clear()
            self._next = 1
        if self._next >= len(self._views):
            self._views = np.concatenate([self._views, np.zeros_like(self._views)])
        row = self._next
        self._views[row] = [self._score(view) for view in self.features.views(tok)]
        self._ids[tok] = row
        self._next += 1
        return row

    def _gap_id(self, gap: str) -> int:
        """The row of a gap not compiled yet (compiled now; row 0 is unused, so that a row is never falsy)."""
        if len(self._gap_ids) + 1 >= len(self._gap_scores):
            self._gap_ids.clear()
        row = self._gap_ids[gap] = len(self._gap_ids) + 1
        self._gap_scores[row] = (self._score(gap_before(gap, False)), self._score(gap_before(gap, True)),
                                 self._score(gap_after(gap)))
        return row

    def emissions(self, doc: _Doc) -> np.ndarray:
        """The label scores of every token of ``doc`` (tokens x labels): the sums CRFsuite makes of the weights of
        each token's features, from the compiled word types and gaps."""
        toks = doc.toks
        n = len(toks)
        ids = self._ids
        rows = np.array([0, 0, *[ids.get(t) or self._word_id(t) for t in toks], 0, 0])
        views = self._views
        gap_ids = self._gap_ids
        gap_rows = np.array([gap_ids.get(g) or self._gap_id(g) for g in doc._parts[0::2]])
        gaps = self._gap_scores
        emit: np.ndarray = (views[rows[0:n], 0] + views[rows[1:n + 1], 1] + views[rows[2:n + 2], 2]
                            + views[rows[3:n + 3], 3] + views[rows[4:n + 4], 4]
                            + gaps[gap_rows[:n], 0] + gaps[gap_rows[1:], 2])
        emit[0] += gaps[gap_rows[0], 1] - gaps[gap_rows[0], 0]  # the first token starts a sentence
        return emit

    def tags(self, doc: _Doc) -> list[str]:
        """The label of every token of ``doc`` (CRFsuite's Viterbi on the model's scores of its features)."""
        if not doc.toks:
            return []
        coefficients = (self.emissions(doc) @ self._to_basis).tolist()
        tags: list[str] = self._crf.tag(list(map(dict, map(zip, repeat(self._basis), coefficients))))
        return tags

    def spans(self, doc: _Doc) -> list[tuple[int, int, str]]:
        """(first token, last token, type) of each entity the tagger finds in ``doc``: the Viterbi labels, an entity
        cut where its words are not in one phrase (punctuation between them).  :meth:`probability` then gives an
        entity's probability (for this ``doc``, until the next call)."""
        self._tags = tags = self.tags(doc)
        out = []
        joined = doc.joined
        for first, last, etype in token_spans(tags):
            start = first
            for k in range(first, last + 1):
                if k == last or not joined(k):
                    out.append((start, k, etype))
                    start = k + 1
        return out

    def probability(self, first: int, last: int) -> float:
        """The probability of an entity of the last :meth:`spans`: the smallest marginal probability of its tokens'
        labels (CRFsuite's forward-backward, computed on the first call for a text)."""
        marginal, tags = self._crf.marginal, self._tags
        return float(min(marginal(tags[j], j) for j in range(first, last + 1)))


def _basis(weights: dict[str, np.ndarray], size: int, pool: int = 300) -> tuple[str, ...]:
    """``size`` attributes of the model with linearly independent weight vectors, picked greedily (largest smallest
    singular value) among the ``pool`` ASCII-named attributes of largest weights (short names: cheap to pass)."""
    names = sorted((a for a in weights if a.isascii()), key=lambda a: (-float(np.linalg.norm(weights[a])), a))[:pool]
    chosen: list[str] = []
    for _ in range(size):
        best, best_sv = "", -1.0
        for name in names:
            if name in chosen:
                continue
            sv = float(np.linalg.svd(np.array([weights[a] for a in (*chosen, name)]), compute_uv=False).min())
            if sv > best_sv:
                best, best_sv = name, sv
        chosen.append(best)
    return tuple(chosen)


def configured_tagger(gazetteer: Gazetteer) -> Tagger | None:
    """The tagger, unless the setting ``RASD_ENTITIES_TAGGER`` is false (then None: the rules alone)."""
    from services.common.settings import EntitiesSettings

    return Tagger(gazetteer) if EntitiesSettings().entities_tagger else None
