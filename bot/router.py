"""The trained topic router: which topic a question is about, with a calibrated probability.

A scikit-learn pipeline is trained from content/: every topic's examples and title, plus the out-of-scope
examples (content/out-of-scope.yaml) as one more class, so "what's the IT helpdesk number" has somewhere
to go other than the nearest topic. Features are TF-IDF over character 2-5-grams inside words (robust to
typos: "consnet" shares most of its n-grams with "consent") and word 1-2-grams; the classifier is a
linear SVM (``MODEL``; logistic regression and ridge are the alternatives bench/qa_calibrate.py compares).
Its scores become probabilities through one softmax temperature fitted on held-out predictions, and
the one answer threshold is chosen on those same predictions (grouped k-fold repeated over ``REPEATS``
shuffles and pooled, so that one split's luck does not move the threshold): the lowest threshold whose held-out
confidently-wrong rate stays within ``WRONG_RATE_TARGET`` (answering with a topic the content lists as
related to the right one is not counted wrong). The held-out predictions are grouped k-fold over the
questions: a paraphrase family (examples of one topic sharing most of their words) is never split
between training and validation, so calibration sees questions as new as real ones. ``decide`` is the
one decision rule, shared by the engine and the threshold search. Nothing is tuned by hand.

Importing scikit-learn costs about two seconds, too slow for ``python -m bot ask``. So the fitted model is
exported to plain arrays (vocabularies, IDF weights, coefficients) in a cache file keyed by a hash of the
training data and the library versions, and answering needs only numpy. The analyzers below are the
same functions at training and at answering time, and a test checks that the exported model gives
scikit-learn's own probabilities.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from itertools import pairwise
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

OUTSIDE = "_outside"  # the class of out-of-scope questions
ROUTER_FORMAT = "4"  # bump when training or the analyzers change: old caches are then ignored
FOLDS = 5
REPEATS = 3  # grouped k-fold is repeated over this many shuffles: one split moves the threshold by +-0.03
MODEL = "svm"  # "logistic", "svm" or "ridge", each calibrated the same way; compared in bench/qa_calibrate.py
REGULARISATION_C = {"logistic": 20.0, "svm": 1.0, "ridge": 1.0}  # inverse regularisation strength of each model
WRONG_RATE_TARGET = 0.05  # held-out share of questions we may answer with the wrong topic (the limit)
SEED = 12
FAMILY_SIMILARITY = 0.7  # word TF-IDF cosine at which two examples of a topic count as paraphrases
CACHES_KEPT = 4  # other content versions (a test's edited copy) keep theirs for a while

Prepare = Callable[[str], list[str]]  # text -> normalised words
_NO_COLUMNS = np.zeros(0, dtype=np.int64)


def char_grams(words: Sequence[str]) -> list[str]:
    """Character 2-5-grams inside each word, padded with a space at both ends (like ``char_wb``)."""
    return [gram for word in words for gram in word_char_grams(word)]


@lru_cache(maxsize=16384)
def word_char_grams(word: str) -> tuple[str, ...]:
    """One word's character 2-5-grams (words recur, so answering reuses them)."""
    padded = f" {word} "
    size = len(padded)
    return tuple(padded[i:i + n] for n in range(2, 6) if size >= n for i in range(size - n + 1))


def word_grams(words: Sequence[str]) -> list[str]:
    """Words and adjacent word pairs."""
    return [*words, *(f"{a} {b}" for a, b in pairwise(words))]


ANALYZERS: tuple[Callable[[Sequence[str]], list[str]], ...] = (char_grams, word_grams)


@dataclass(frozen=True)
class _Block:
    """One TF-IDF feature block, exported: term -> column, and the IDF of each column."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    offset: int


@dataclass(frozen=True)
class HeldOut:
    """Calibrated grouped out-of-fold probabilities of the training examples, and their true columns: what
    the threshold was chosen on (kept after training for bench/qa_calibrate.py; not cached)."""

    probabilities: np.ndarray
    truth: np.ndarray
    acceptable: np.ndarray  # acceptable[true, answered]: a related topic, not counted as wrong


class Router:
    """Answer-time half of the router: numpy only, microseconds per question."""

    held_out: HeldOut | None = None

    def __init__(self, labels: Sequence[str], blocks: Sequence[_Block], coef: np.ndarray, intercept: np.ndarray,
                 temperature: float, threshold: float, prepare: Prepare, related: np.ndarray):
        self.labels = tuple(labels)
        self.related = related  # related[a, b]: the content lists b as related to a (both ways)
        self._blocks = tuple(blocks)
        self._coef = coef  # (features, classes)
        self._intercept = intercept
        self.temperature = temperature
        self.threshold = threshold
        self._prepare = prepare
        self.outside_index = self.labels.index(OUTSIDE)
        # Per word, the columns of its known n-grams in each block whose analyzer works word by word.
        self._word_columns = lru_cache(maxsize=16384)(self._columns_of_word)

    def _columns_of_word(self, word: str) -> np.ndarray:
        column_of = self._blocks[0].vocabulary.get
        return np.fromiter((c for c in map(column_of, word_char_grams(word)) if c is not None), dtype=np.int64)

    def known_words(self) -> frozenset[str]:
        """Every word the router was trained on (the single words of its word block)."""
        return frozenset(term for term in self._blocks[-1].vocabulary if " " not in term)

    def scores(self, words: Sequence[str]) -> np.ndarray:
        """The classifier's raw decision scores (before calibration) for normalised words."""
        columns: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for number, (analyzer, block) in enumerate(zip(ANALYZERS, self._blocks, strict=True)):
            if number == 0:  # character n-grams: word by word, from the per-word cache
                found = np.concatenate([self._word_columns(word) for word in words]) if words else _NO_COLUMNS
            else:
                column_of = block.vocabulary.get
                found = np.fromiter((c for c in map(column_of, analyzer(words)) if c is not None), dtype=np.int64)
            if not found.size:
                continue
            index, frequency = np.unique(found, return_counts=True)
            weights = (1.0 + np.log(frequency)) * block.idf[index]
            weights /= math.sqrt(float(weights @ weights))
            columns.append(index + block.offset)
            values.append(weights)
        if not columns:
            return self._intercept.astype(float)
        return np.concatenate(values).astype(np.float32) @ self._coef[np.concatenate(columns)] + self._intercept

    def probabilities(self, text: str) -> np.ndarray:
        """Calibrated probability of each label (``self.labels``) for a question."""
        return softmax(self.scores(self._prepare(text)) * self.temperature)


def decide(probabilities: np.ndarray, outside: int, threshold: float,
           related: np.ndarray) -> tuple[str, np.ndarray, float]:
    """The one decision rule (the engine answers by it and the threshold is chosen by it): "answer" when
    the best topic's ``confidence`` reaches the threshold; "options" when only the top two together do
    (two close topics, neither sure); else "abstain". Also returns the topic columns, likeliest first
    (never ``outside``) and the best topic's confidence."""
    topics = probabilities.copy()
    topics[outside] = -1.0
    order = np.argsort(-topics)[:-1]
    first, second = topics[order[0]], topics[order[1]]
    sure = confidence(probabilities, order[0], related)
    kind = "answer" if sure >= threshold else "options" if first + second >= threshold else "abstain"
    return kind, order, sure


def confidence(probabilities: np.ndarray, best: int, related: np.ndarray) -> float:
    """How likely answering with topic ``best`` gives the rule asked about: its own probability plus its
    related topics' (their answers overlap by design, which is why calibration does not count answering a
    related topic as wrong). "mum says don't tell anyone about the bruises" splits between consent refused
    and sharing without consent; either answer is right, so the split is not doubt."""
    return float(probabilities[best] + probabilities[related[best]].sum())


def softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------------------------- training
@dataclass(frozen=True)
class TrainingSet:
    texts: tuple[str, ...]
    labels: tuple[str, ...]
    # Pairs of labels whose answers overlap by design (a topic's ``related`` list, both ways): answering a
    # question with its topic's related topic still gives the rule it asked about, so held-out calibration
    # does not count it as confidently wrong.
    related: frozenset[tuple[str, str]] = frozenset()
    # Per text: is it a question (an example)? Titles and keyword lists train the router but are not
    # what people type, so calibration is measured on questions only. Empty: all are questions.
    questions: tuple[bool, ...] = ()

    def digest(self) -> str:
        material = [self.texts, self.labels, sorted(self.related), self.questions]
        return hashlib.sha256(json.dumps(material).encode()).hexdigest()


def fit_pipeline(words: Sequence[Sequence[str]], labels: Sequence[str], model: str = MODEL):
    """The scikit-learn pipeline (two TF-IDF blocks and a linear classifier), fitted."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, RidgeClassifier
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.svm import LinearSVC

    union = make_union(*(TfidfVectorizer(analyzer=analyzer, sublinear_tf=True) for analyzer in ANALYZERS))
    c = REGULARISATION_C[model]
    classifier = {"logistic": lambda: LogisticRegression(C=c, max_iter=3000), "svm": lambda: LinearSVC(C=c),
                  "ridge": lambda: RidgeClassifier(alpha=1.0 / c)}[model]()
    return make_pipeline(union, classifier).fit(list(words), list(labels))


def paraphrase_groups(words: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """A group number per example: examples of one label that share most of their words (cosine of word
    TF-IDF >= ``FAMILY_SIMILARITY``, linked transitively) are one paraphrase family.

    Held-out folds keep a family together, so a near-duplicate of a validation question is never in the
    training fold: otherwise calibration would see paraphrases of what it was trained on and be
    overconfident on genuinely new questions."""
    from scipy.sparse.csgraph import connected_components
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectors = TfidfVectorizer(analyzer=word_grams, sublinear_tf=True).fit_transform(list(words))
    same_label = np.equal.outer(np.asarray(labels), np.asarray(labels))
    linked = ((vectors @ vectors.T).toarray() >= FAMILY_SIMILARITY) & same_label
    return connected_components(linked, directed=False)[1]


def out_of_fold_scores(words: Sequence[Sequence[str]], labels: Sequence[str], classes: Sequence[str],
                       model: str = MODEL, questions: np.ndarray | None = None, seed: int = SEED) -> np.ndarray:
    """Decision scores of each question from a model that saw neither it nor its paraphrases (grouped
    k-fold, folds shuffled by ``seed``), columns in ``classes``. Rows that are not questions (``questions``
    false: topic titles and keyword lists) are in every training fold and never held out; their scores
    stay at -1e3."""
    from sklearn.model_selection import GroupKFold

    scores = np.full((len(words), len(classes)), -1e3)
    position = {label: i for i, label in enumerate(classes)}
    groups = paraphrase_groups(words, labels)
    # Shuffle the group numbers so folds mix topics (GroupKFold balances fold sizes but does not shuffle).
    groups = np.random.default_rng(seed).permutation(groups.max() + 1)[groups]
    rows = np.arange(len(words)) if questions is None else np.flatnonzero(questions)
    always = np.setdiff1d(np.arange(len(words)), rows)
    for inner_train, inner_held in GroupKFold(FOLDS).split(rows, groups=groups[rows]):
        train, held = np.concatenate([rows[inner_train], always]), rows[inner_held]
        fitted = fit_pipeline([words[i] for i in train], [labels[i] for i in train], model)
        fold = fitted.decision_function([words[i] for i in held])
        for column, label in enumerate(fitted.classes_):
            scores[held, position[label]] = fold[:, column]
    return scores


def fit_temperature(scores: np.ndarray, truth: np.ndarray) -> float:
    """The softmax temperature that minimises held-out log loss (probability calibration)."""
    from scipy.optimize import minimize_scalar

    def loss(t: float) -> float:
        probabilities = softmax(scores * t)
        return -float(np.mean(np.log(probabilities[np.arange(len(truth)), truth] + 1e-12)))

    return float(minimize_scalar(loss, bounds=(0.05, 20.0), method="bounded").x)


def choose_threshold(probabilities: np.ndarray, truth: np.ndarray, outside: int, acceptable: np.ndarray) -> float:
    """The lowest answer threshold whose held-out confidently-wrong rate is within the target.

    A question is answered when its best topic's ``confidence`` (never the out-of-scope class) reaches
    the threshold, as ``decide`` answers; it
    is wrong when that topic is neither its own nor (``acceptable[true, answered]``) a related one, or it
    had none."""
    topic_probabilities = probabilities.copy()
    topic_probabilities[:, outside] = -1.0
    best = topic_probabilities.argmax(axis=1)
    sure = np.array([confidence(row, column, acceptable) for row, column in zip(probabilities, best, strict=True)])
    wrong = (best != truth) & ~acceptable[truth, best]
    for threshold in np.arange(0.20, 0.96, 0.01):
        answered = sure >= threshold
        if (answered & wrong).mean() <= WRONG_RATE_TARGET:
            return round(float(threshold), 2)
    return 0.95


def train(training: TrainingSet, prepare: Prepare, model: str = MODEL) -> Router:
    """Fit, calibrate and export a router (imports scikit-learn: seconds, so results are cached)."""
    words = [prepare(text) for text in training.texts]
    labels = list(training.labels)
    pipeline = fit_pipeline(words, labels, model)
    classes = [str(c) for c in pipeline.classes_]
    truth = np.array([classes.index(label) for label in labels])
    questions = np.array(training.questions, dtype=bool) if training.questions else np.ones(len(labels), bool)
    # Every question is held out once per repeat; the repeats are pooled, so the temperature and the
    # threshold rest on several splits rather than on one split's luck.
    held_out = np.concatenate([out_of_fold_scores(words, labels, classes, model, questions, SEED + repeat)[questions]
                               for repeat in range(REPEATS)])
    truth = np.tile(truth[questions], REPEATS)
    temperature = fit_temperature(held_out, truth)
    held_out_probabilities = softmax(held_out * temperature)
    acceptable = np.zeros((len(classes), len(classes)), dtype=bool)
    for a, b in training.related:
        if a in classes and b in classes:
            acceptable[classes.index(a), classes.index(b)] = acceptable[classes.index(b), classes.index(a)] = True
    threshold = choose_threshold(held_out_probabilities, truth, classes.index(OUTSIDE), acceptable)
    union, classifier = pipeline.steps[0][1], pipeline.steps[1][1]
    blocks, offset = [], 0
    for _, vectorizer in union.transformer_list:
        vocabulary = {str(term): int(column) for term, column in vectorizer.vocabulary_.items()}
        blocks.append(_Block(vocabulary, vectorizer.idf_.astype(float), offset))
        offset += len(vocabulary)
    router = Router(classes, blocks, classifier.coef_.T.astype(np.float32).copy(),
                    classifier.intercept_.astype(float), temperature, threshold, prepare, acceptable)
    router.held_out = HeldOut(held_out_probabilities, truth, acceptable)
    return router


# ---------------------------------------------------------------------------------------------- cache
def _library_versions() -> str:
    return ",".join(f"{name}={_version(name)}" for name in ("scikit-learn", "numpy", "scipy"))


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


def cache_key(training: TrainingSet, prepare_digest: str, model: str = MODEL) -> str:
    material = (f"{ROUTER_FORMAT}|{model}|{REGULARISATION_C[model]}|{WRONG_RATE_TARGET}|{_library_versions()}|"
                f"{prepare_digest}|")
    return hashlib.sha256((material + training.digest()).encode()).hexdigest()[:24]


def save(router: Router, path: Path) -> None:
    """Write the exported model atomically (a half-written cache must never be read)."""
    arrays: dict[str, np.ndarray] = {
        "labels": np.array(router.labels),
        "coef": router._coef,
        "intercept": router._intercept,
        "calibration": np.array([router.temperature, router.threshold]),
        "related": router.related,
    }
    for number, block in enumerate(router._blocks):
        terms = sorted(block.vocabulary, key=block.vocabulary.__getitem__)
        arrays[f"terms{number}"] = np.array(terms)
        arrays[f"idf{number}"] = block.idf
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, allow_pickle=False, **arrays)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load(path: Path, prepare: Prepare) -> Router:
    with np.load(path, allow_pickle=False) as data:
        blocks, offset = [], 0
        for number in range(len(ANALYZERS)):
            terms = data[f"terms{number}"].tolist()
            blocks.append(_Block({t: i for i, t in enumerate(terms)}, data[f"idf{number}"], offset))
            offset += len(terms)
        temperature, threshold = data["calibration"].tolist()
        return Router(data["labels"].tolist(), blocks, data["coef"], data["intercept"], temperature, threshold,
                      prepare, data["related"].astype(bool))


def cached_router(training: TrainingSet, prepare: Prepare, prepare_digest: str, cache_dir: Path,
                  model: str = MODEL) -> Router:
    """The router for this training data: from the cache when it is there, else trained and cached."""
    key = cache_key(training, prepare_digest, model)
    path = cache_dir / f"qa-router-{key}.npz"
    if path.exists():
        try:
            return load(path, prepare)
        except (OSError, ValueError, KeyError) as exc:  # a corrupt cache is rebuilt, never fatal
            log.warning("question router cache unreadable; retraining", extra={"reason": type(exc).__name__})
    router = train(training, prepare, model)
    try:
        save(router, path)
        stale = sorted(cache_dir.glob("qa-router-*.npz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in stale[CACHES_KEPT:]:
            old.unlink(missing_ok=True)
    except OSError as exc:  # a read-only disk costs start-up time, not answers
        log.warning("could not cache the question router", extra={"reason": type(exc).__name__})
    return router
