"""Train the Arabic tagger on the vendored ANERcorp train split: ``python -m services.entities.train`` (``make model``).

Writes ``data/tagger.crfsuite`` and ``data/tagger.manifest.json``.  The manifest records what the model was made
from: the sha256 of the corpus, of the training code (this file, :mod:`~services.entities.features`,
:mod:`~services.entities.corpus`), of the word lists the features read and of the training options, and the
model's own sha256.  ``tests/unit/test_entities_tagger.py`` recomputes the inputs: after a change to any of them
it fails until ``make model`` is run again.  The gazetteer (which grows often) is recorded for information only;
its membership is a feature, so a larger gazetteer only gives the model more evidence, and retraining with another
gazetteer gives another model (the manifest's ``gazetteer_sha256`` says which data the committed one saw).

Training is deterministic: the corpus is read in order, features are lists in a fixed order, L-BFGS has no random
start; ``SEED`` is recorded (CRFsuite's L-BFGS draws no random numbers).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from services.entities.corpus import CORPUS, Sentence, chunk_doc, chunks, read_corpus, sha256_file
from services.entities.features import Features, lexicon_words
from services.entities.gazetteer import DATA_DIR, Gazetteer

MODEL: Final = DATA_DIR / "tagger.crfsuite"
MANIFEST: Final = DATA_DIR / "tagger.manifest.json"
SEED: Final = 0
# L-BFGS with an L1 term (OWL-QN): the L1 term drops most features, which keeps the model file small.
OPTIONS: Final[dict[str, Any]] = {
    "algorithm": "lbfgs",
    "c1": 0.05,
    "c2": 0.01,
    "max_iterations": 200,
    "feature.possible_transitions": True,
    "chunk_words": 300,
}
_HERE: Final = Path(__file__).resolve().parent
CODE: Final = ("train.py", "features.py", "corpus.py")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def input_hashes() -> dict[str, Any]:
    """What the model is made from: corpus, training code, the features' word lists, options."""
    return {
        "corpus_sha256": sha256_file(CORPUS),
        "code_sha256": {name: sha256_file(_HERE / name) for name in CODE},
        "lexicons_sha256": _sha(json.dumps(lexicon_words(), ensure_ascii=False, sort_keys=True).encode()),
        "options_sha256": _sha(json.dumps({**OPTIONS, "seed": SEED}, sort_keys=True).encode()),
    }


def train(sentences: Sequence[Sentence], model: Path, gazetteer: Gazetteer, options: dict[str, Any] | None = None,
          verbose: bool = False) -> None:
    """Train a model on ``sentences`` (grouped into article-sized texts) and write it to ``model``."""
    import pycrfsuite

    opts = dict(OPTIONS if options is None else options)
    features = Features(gazetteer)
    trainer = pycrfsuite.Trainer(algorithm=opts.pop("algorithm"), verbose=verbose)
    chunk_words = opts.pop("chunk_words")
    trainer.set_params(opts)
    for group in chunks(sentences, chunk_words):
        doc = chunk_doc(group)
        trainer.append(features.sequence(doc.doc), doc.labels)
    trainer.train(str(model))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--manifest", type=Path, default=MANIFEST)
    args = parser.parse_args(argv)
    from importlib.metadata import version

    import pycrfsuite  # noqa: F401  (fail before the work when it is missing)

    sentences = read_corpus()
    # The gazetteer's and knowledge base's data (every data file but the corpus and the model), hashed before
    # loading: the data the model saw.
    gazetteer_files = sorted(p for p in DATA_DIR.rglob("*") if p.is_file() and "anercorp" not in p.parts
                             and not p.name.startswith("tagger."))
    gazetteer_sha256 = _sha(b"".join(p.relative_to(DATA_DIR).as_posix().encode() + sha256_file(p).encode()
                                     for p in gazetteer_files))
    gazetteer = Gazetteer.load()
    t0 = time.perf_counter()
    train(sentences, args.model, gazetteer)
    manifest = {
        **input_hashes(),
        "options": OPTIONS,
        "seed": SEED,
        "model_sha256": sha256_file(args.model),
        "gazetteer_sha256": gazetteer_sha256,
        "python_crfsuite": version("python-crfsuite"),
        "sentences": len(sentences),
        "words": sum(len(s.words) for s in sentences),
    }
    args.manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n",
                             encoding="utf-8")
    print(f"{args.model}: sha256 {manifest['model_sha256']} ({args.model.stat().st_size / 1e6:.1f} MB, "
          f"{time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
