"""Question answering over the guidance topics.

Practitioners type fast: typos, abbreviations (EH, MASH, DSL), scenarios ("mum says don't tell social
care"). The engine normalises a question into stemmed terms using content/vocabulary.yaml (abbreviations,
synonyms, stopwords; Snowball stemming), corrects unknown words to the nearest known word with rapidfuzz,
and ranks topics by TF-IDF cosine similarity (words and word pairs) against each topic's example
phrasings and its whole profile (examples, title, keywords, answer). Its confidence is how much of the
question the topic explains (IDF mass of the question's words found in the topic, full credit for the
topic's title and keywords) combined with that similarity, so a single shared everyday word scores low.
A long question the whole text cannot answer confidently is also scored by its last clauses, where the
real question usually sits; a leading "As a teacher, ..." is set aside (who asks rarely changes the answer),
falling back to the whole text when the rest is unsure. When the runner-up topic is a curated related topic
and scores almost as well, the answer adds its key sentence. Below a calibrated confidence it abstains and
signposts a human instead of answering something unrelated. Everything is computed once at construction:
one answer costs a fraction of a millisecond.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

from bot.messages import Source

if TYPE_CHECKING:
    from bot.content import Content
    from bot.topics import Topic, Vocabulary


@dataclass(frozen=True)
class Answer:
    """The fixed contract of ``python -m bot ask --json``."""

    answered: bool
    answer: str
    sources: tuple[Source, ...] = field(default=())
    confidence: float = 0.0
    topic: str | None = None
    smalltalk: bool = False

    def to_json(self) -> dict:
        return {
            "answered": self.answered,
            "answer": self.answer,
            "sources": [{"title": s.title, "ref": s.ref} for s in self.sources],
            "confidence": round(self.confidence, 4),
            "topic": self.topic,
        }


# Calibrated with bench/qa_calibrate.py (leave-one-out over the topics' examples against a separate set of
# out-of-scope questions); checked with bench/qa_eval.py on the development set and held-out paraphrases.
ANSWER_THRESHOLD = 0.34  # below this confidence the engine abstains
SUGGEST_THRESHOLD = 0.22  # abstentions above this suggest the nearest topics
EXAMPLE_WEIGHT = 0.4  # confidence = blend of best matching example and the whole topic profile
PAIR_WEIGHT = 0.5  # word pairs ("legal obligation") count half as much as single words
FUZZY_PENALTY = 0.8  # a corrected typo counts a little less than a word typed right
UNKNOWN_WEIGHT = 1.0  # an unknown word weighs like the rarest known word: it suggests an out-of-scope question
UNANCHORED_CREDIT = 0.5  # coverage credit for a word found only in a topic's examples or answer
CORRECTED_CREDIT = 0.5  # coverage credit for a word we had to guess from a typo ("county" is not "counts")
WEAK_QUERY_WEIGHT = 0.5  # everyday words also count less when ranking
WEAK_CREDIT = 0.25  # coverage credit for an everyday word (vocabulary.yaml weak_words) wherever it is found
COVERAGE_POWER = 0.7  # confidence = coverage^p * similarity^(1-p)
PROFILE_EXAMPLE_WEIGHT = 1.0  # how much each field counts in a topic's profile
PROFILE_KEYWORD_WEIGHT = 1.0
PROFILE_ANSWER_WEIGHT = 0.5
CLOSE_MARGIN = 0.08  # a runner-up topic this close to the best adds its key (first) sentence to the answer
RELATED_MAX_WORDS = 35  # ...when that sentence is short
KEY_SENTENCE_MIN_WORDS = 5
LONG_QUESTION_WORDS = 16  # longer questions are usually a story with the real question at the end
TRAILING_CLAUSES = 3  # ...so the last one, two and three clauses are also scored on their own
SMALLTALK_MAX_WORDS = 6
SMALLTALK_CUTOFF = 88

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
_SENTENCE_END = re.compile(r"[.!?](?=\s+[A-Z(\"])")
_CLAUSE_BREAK = re.compile(r"[.?!;,:()]+|\s[-–—]+\s|\bbut\b|\bso\b", re.IGNORECASE)
# "As a teacher, ...", "I'm a GP receptionist and ...", "youth worker here - ...": who is asking, not what.
# The role must end like a job title ("-er", "-or", "-ist", "nurse"...), so "I'm a bit worried" stays.
_ROLE = (r"(?:[a-z']+\s+){0,3}?(?:[a-z']+(?:er|or|ist|ant|ian)|nurse|midwife|lead|dsl|hv|gp|sw|senco|staff|"
         r"volunteer|head|police|school|nursery|charity|council)")
_ROLE_INTRO = re.compile(
    r"^\s*(?:(?:i'?m|i\s+am|im|as|speaking\s+as)\s+(?:a|an|the)\s+" + _ROLE + r"|" + _ROLE + r"\s+here)"
    r"(?:\s*[,.:;!?()–—-]+\s*|\s+and\s+|\s+(?=(?:can|could|do|does|should|is|am|are|what|how|when|who|i|if|"
    r"must|may|have|has|would|will|a|an|the|my|our|we|mum|dad|parent|parents)\b))",
    re.IGNORECASE)


class Normaliser:
    """Text -> stemmed terms, the same way for topic text and for questions."""

    def __init__(self, vocabulary: Vocabulary):
        import snowballstemmer

        self._stem = lru_cache(maxsize=8192)(snowballstemmer.stemmer("english").stemWord)
        self.stopwords = vocabulary.stopwords
        self.abbreviations = {k: v.lower() for k, v in vocabulary.abbreviations.items()}
        capitals = vocabulary.capital_abbreviations  # "IT" means information technology; "it" is a stopword
        self._capitals = (
            (re.compile(r"\b(" + "|".join(map(re.escape, capitals)) + r")\b"), capitals) if capitals else None
        )
        single: dict[str, str] = {}
        phrases: dict[str, str] = {}
        for canonical, variants in vocabulary.synonyms.items():
            for variant in variants:
                normalised = " ".join(self._raw_words(variant))  # "children's services" -> "children services"
                (phrases if " " in normalised else single)[normalised] = canonical
        self.single_synonyms = single
        self.phrase_synonyms = phrases
        self._phrase_pattern = (
            re.compile(r"\b(" + "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True)) + r")\b")
            if phrases else None
        )
        self.weak_words = vocabulary.weak_words  # real everyday words: never "corrected" into something else
        self.weak_stems = frozenset(self.stem(w) for w in vocabulary.weak_words)
        self.known_words: frozenset[str] = frozenset()  # set by the engine once topics are indexed

    @staticmethod
    def _raw_words(text: str) -> list[str]:
        """Lower-case words, curly apostrophes straightened, possessive 's dropped, "7th" read as "7"."""
        text = _ORDINAL.sub(r"\1", text.lower().replace("’", "'").replace("‘", "'"))
        return [w[:-2] if w.endswith("'s") else w for w in _WORD.findall(text)]

    def words(self, text: str) -> list[str]:
        """Lower-case words with abbreviations expanded."""
        if self._capitals is not None:
            pattern, capitals = self._capitals
            text = pattern.sub(lambda m: capitals[m.group(1)], text)
        out: list[str] = []
        for word in self._raw_words(text):
            expansion = self.abbreviations.get(word)
            out.extend(expansion.split() if expansion else (word,))
        return out

    def canonical_words(self, words: list[str]) -> list[str]:
        """Apply synonyms (phrases first), then drop stopwords."""
        if self._phrase_pattern is not None:
            joined = self._phrase_pattern.sub(lambda m: self.phrase_synonyms[m.group(1)], " ".join(words))
            words = joined.split()
        out = []
        for word in words:
            word = self.single_synonyms.get(word, word)
            if word not in self.stopwords:
                out.append(word)
        return out

    def stem(self, word: str) -> str:
        return self._stem(word.replace("'", ""))


@dataclass(frozen=True)
class _Doc:
    topic_index: int
    weights: dict[str, float]  # term -> tf-idf weight, L2-normalised


class QuestionEngine:
    """Answers a question from the topics, or abstains, or recognises small talk."""

    def __init__(self, content: Content):
        from rapidfuzz import fuzz, process
        from rapidfuzz.distance import DamerauLevenshtein, Indel

        self._fuzz = fuzz
        self._process = process
        # Typos are mostly one slip: a missing, extra, changed or swapped letter ("consnet" -> "consent").
        self._typo_similarity = DamerauLevenshtein.normalized_similarity
        self._indel_similarity = Indel.normalized_similarity
        self.strings = content.strings
        self.topics: list[Topic] = list(content.topics)
        vocabulary = content.vocabulary
        self.normaliser = Normaliser(vocabulary)
        self._smalltalk_phrases: list[str] = []
        self._smalltalk_kinds: list[str] = []
        for kind, phrases in vocabulary.smalltalk.items():
            for phrase in phrases:
                self._smalltalk_phrases.append(_plain(phrase))
                self._smalltalk_kinds.append(kind)
        self._build_index()

    # ------------------------------------------------------------------ index
    def _build_index(self) -> None:
        n = self.normaliser
        known: set[str] = set()
        topic_examples: list[list[list[str]]] = []  # per topic: the term list of each example and the title
        profiles: list[dict[str, float]] = []  # per topic: weighted term counts over all its text

        def terms_of(text: str) -> list[str]:
            words = n.canonical_words(n.words(text))
            known.update(words)
            return self._terms(words)

        self._anchors: list[frozenset[str]] = []  # per topic: terms of its title and keywords
        for topic in self.topics:
            docs = [terms_of(text) for text in (*topic.examples, topic.title)]
            keyword_docs = [terms_of(k) for k in topic.keywords]
            self._anchors.append(frozenset(t for doc in [docs[-1], *keyword_docs] for t in doc))
            profile: dict[str, float] = defaultdict(float)
            fields = [(docs, PROFILE_EXAMPLE_WEIGHT), (keyword_docs, PROFILE_KEYWORD_WEIGHT),
                      ([terms_of(topic.answer)], PROFILE_ANSWER_WEIGHT)]
            for field_docs, weight in fields:
                for doc in field_docs:
                    for term in doc:
                        profile[term] += weight
            topic_examples.append(docs)
            profiles.append(profile)
        known.update(n.single_synonyms)  # "mother" is a known word even though it is indexed as "parent"
        n.known_words = frozenset(known)
        self._known_stems = frozenset(n.stem(w) for w in known)
        self._candidates_by_length: dict[int, list[str]] = defaultdict(list)  # only similar lengths can match
        for word in sorted({w for w in known | n.stopwords if len(w) >= 3}):
            self._candidates_by_length[len(word)].append(word)

        topic_count = len(self.topics)
        document_frequency: dict[str, int] = defaultdict(int)
        for profile in profiles:
            for term in profile:
                document_frequency[term] += 1
        self._idf = {t: math.log((topic_count + 1) / (df + 0.5)) for t, df in document_frequency.items()}
        self._max_idf = max(self._idf.values(), default=1.0)

        self._examples: list[_Doc] = []
        self._postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for topic_index, docs in enumerate(topic_examples):
            for terms in docs:
                counts: dict[str, float] = defaultdict(float)
                for term in terms:
                    counts[term] += 1.0
                self._add_doc(self._examples, self._postings, topic_index, counts)
        self._profiles: list[_Doc] = []
        self._profile_postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for topic_index, profile in enumerate(profiles):
            self._add_doc(self._profiles, self._profile_postings, topic_index, profile)

    def _terms(self, words: list[str]) -> list[str]:
        """Stemmed words plus adjacent word pairs (pairs marked with a space)."""
        stems = [self.normaliser.stem(w) for w in words]
        return stems + [f"{a} {b}" for a, b in pairwise(stems)]

    def _term_weight(self, term: str, count: float) -> float:
        """Sub-linear term frequency times inverse topic frequency; pairs count less than words."""
        pair = PAIR_WEIGHT if " " in term else 1.0
        frequency = 1 + math.log(count) if count >= 1 else count
        return frequency * self._idf.get(term, self._max_idf) * pair

    def _add_doc(self, docs: list[_Doc], postings: dict, topic_index: int, counts: dict[str, float]) -> None:
        weights = {t: self._term_weight(t, c) for t, c in counts.items()}
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        weights = {t: w / norm for t, w in weights.items()}
        doc_index = len(docs)
        docs.append(_Doc(topic_index, weights))
        for term, weight in weights.items():
            postings[term].append((doc_index, weight))

    # ------------------------------------------------------------------ query
    @lru_cache(maxsize=4096)  # noqa: B019 - the engine lives as long as the process; bounded
    def _correct(self, word: str) -> tuple[str, float]:
        """The known word a typo was meant to be, with how sure we are (1.0 = typed right)."""
        n = self.normaliser
        if word in n.known_words or word in n.stopwords or word in n.weak_words or len(word) < 4 or word.isdigit():
            return word, 1.0
        if n.stem(word) in self._known_stems:  # another form of a known word ("discussing", "agencies")
            return word, 1.0
        if word.endswith("s") and word[:-1] in n.known_words:  # a possessive typed without its apostrophe
            return word[:-1], 1.0
        spread = 1 if len(word) < 10 else 2  # at most one edit in a short word, two in a long one
        candidates = [c for size in range(len(word) - spread, len(word) + spread + 1)
                      for c in self._candidates_by_length.get(size, ())]
        if len(word) < 6:  # in a short word only a dropped or doubled letter: "lunch" is not "hunch"
            match = self._process.extractOne(word, candidates, scorer=self._indel_similarity, score_cutoff=0.85)
        else:
            match = self._process.extractOne(word, candidates, scorer=self._typo_similarity,
                                             score_cutoff=0.79 if len(word) < 10 else 0.74)
        if match is None:
            return word, 1.0
        return match[0], FUZZY_PENALTY

    def _query_vector(self, question: str) -> tuple[dict[str, float], dict[str, float], set[str]]:
        """TF-IDF weights of the question, L2-normalised; the raw weights of its single words (unknown
        words kept: they lower the confidence); and which of those were typo-corrected."""
        n = self.normaliser
        corrected: list[str] = []
        certainty: dict[str, float] = {}
        for word in n.words(question):
            fixed, sure = self._correct(word)
            for part in fixed.split():
                corrected.append(part)
                certainty[part] = min(certainty.get(part, 1.0), sure)
        words = n.canonical_words(corrected)
        stems = [n.stem(w) for w in words]
        counts: dict[str, float] = defaultdict(float)
        for word, stem in zip(words, stems, strict=True):
            counts[stem] += certainty.get(word, 1.0)
        for a, b in pairwise(stems):
            if f"{a} {b}" in self._idf:
                counts[f"{a} {b}"] += 1.0
        weights: dict[str, float] = {}
        weak = n.weak_stems
        for term, count in counts.items():
            known = 1.0 if term in self._idf else UNKNOWN_WEIGHT
            weights[term] = self._term_weight(term, count) * known * (WEAK_QUERY_WEIGHT if term in weak else 1.0)
        norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
        words_only = {t: w for t, w in weights.items() if " " not in t}
        guessed = {stem for word, stem in zip(words, stems, strict=True) if certainty.get(word, 1.0) < 1.0}
        return {t: w / norm for t, w in weights.items()}, words_only, guessed

    def rank(self, question: str, limit: int = 3) -> list[tuple[float, int]]:
        """(confidence, topic index) of the best matching topics, best match first.

        A long, rambling question ("so I've got a family... mum told me in confidence... do I need her
        consent?") that the whole text cannot answer confidently is also scored by its trailing clauses,
        where the real question usually is: the story around it is mostly words no topic uses, which
        would drown the confidence. Each topic then keeps its best score over the whole and those endings.
        """
        parts = _question_parts(question)
        ranked = self._rank_text(parts[0], limit)
        if len(parts) == 1 or (ranked and ranked[0][0] >= ANSWER_THRESHOLD):
            return ranked
        best = {topic_index: confidence for confidence, topic_index in ranked}
        for text in parts[1:]:
            for confidence, topic_index in self._rank_text(text, limit):
                best[topic_index] = max(confidence, best.get(topic_index, 0.0))
        return sorted(((c, t) for t, c in best.items()), reverse=True)[:limit]

    def _rank_text(self, question: str, limit: int) -> list[tuple[float, int]]:
        """Rank the topics for one piece of text.

        Topics are ranked by TF-IDF cosine similarity (best example blended with the whole profile);
        confidence is how much of the question's meaning (IDF mass of its words) the topic covers,
        times that similarity, so one shared word in an otherwise unrelated question scores low.
        """
        vector, words, guessed = self._query_vector(question)
        if not any(term in self._idf for term in words):
            return []
        best_example: dict[int, float] = defaultdict(float)
        scores: dict[int, float] = defaultdict(float)
        for term, weight in vector.items():
            for doc_index, doc_weight in self._postings.get(term, ()):
                scores[doc_index] += weight * doc_weight
        for doc_index, score in scores.items():
            topic_index = self._examples[doc_index].topic_index
            if score > best_example[topic_index]:
                best_example[topic_index] = score
        profile_scores: dict[int, float] = defaultdict(float)
        for term, weight in vector.items():
            for doc_index, doc_weight in self._profile_postings.get(term, ()):
                profile_scores[self._profiles[doc_index].topic_index] += weight * doc_weight
        ranked = sorted(
            ((EXAMPLE_WEIGHT * best_example[t] + (1 - EXAMPLE_WEIGHT) * profile_scores[t], t)
             for t in set(best_example) | set(profile_scores)),
            reverse=True)[:limit]
        total = sum(words.values()) or 1.0
        weak = self.normaliser.weak_stems
        results = []
        for similarity, topic_index in ranked:
            profile, anchors = self._profiles[topic_index].weights, self._anchors[topic_index]
            coverage = sum(w * (WEAK_CREDIT if term in weak else 1.0 if term in anchors else UNANCHORED_CREDIT)
                           * (CORRECTED_CREDIT if term in guessed else 1.0)
                           for term, w in words.items() if term in profile) / total
            results.append((coverage ** COVERAGE_POWER * similarity ** (1 - COVERAGE_POWER), topic_index))
        return sorted(results, reverse=True)

    def smalltalk_kind(self, question: str) -> str | None:
        text = _plain(question)
        if not text or len(text.split()) > SMALLTALK_MAX_WORDS:
            return None
        match = self._process.extractOne(text, self._smalltalk_phrases, scorer=self._fuzz.ratio,
                                         score_cutoff=SMALLTALK_CUTOFF)
        return self._smalltalk_kinds[match[2]] if match else None

    def answer(self, question: str) -> Answer:
        s = self.strings
        if not _plain(question):
            return Answer(False, s.get("qa.empty"))
        kind = self.smalltalk_kind(question)
        if kind is not None:
            return Answer(True, s.get(f"smalltalk.{kind}"), confidence=1.0, smalltalk=True)
        ranked = self.rank(question)
        if not ranked or ranked[0][0] < ANSWER_THRESHOLD:
            text = s.get("qa.abstain")
            near = [self.topics[t].title for score, t in ranked[:2] if score >= SUGGEST_THRESHOLD]
            if near:
                text += " " + s.get("qa.abstain_suggestion", titles="; ".join(near))
            return Answer(False, text, confidence=ranked[0][0] if ranked else 0.0)
        confidence, topic_index = ranked[0]
        topic = self.topics[topic_index]
        text, sources = topic.answer, topic.sources
        runner_up = self._close_runner_up(ranked)
        if runner_up is not None:
            text += " " + s.get("qa.also", title=runner_up.title, fact=_first_sentence(runner_up.answer))
            sources += tuple(source for source in runner_up.sources if source not in sources)
        return Answer(True, text, sources, min(confidence, 1.0), topic.id)

    def _close_runner_up(self, ranked: list[tuple[float, int]]) -> Topic | None:
        """The second-best topic when it scored almost as well as the best and the best lists it as related:
        the question may mean either, so the answer adds its key sentence rather than bet all on a near tie.
        Only curated related topics qualify, so the added sentence never reads as a non sequitur."""
        if len(ranked) < 2:
            return None
        (best, _), (second, index) = ranked[0], ranked[1]
        if second < ANSWER_THRESHOLD or best - second > CLOSE_MARGIN:
            return None
        runner_up = self.topics[index]
        if runner_up.id not in self.topics[ranked[0][1]].related:
            return None
        return runner_up if len(_first_sentence(runner_up.answer).split()) <= RELATED_MAX_WORDS else None


def _question_parts(question: str) -> list[str]:
    """The question itself (without a leading "as a teacher, ..."), and, when it is long, its last one, two,
    ... TRAILING_CLAUSES clauses, and the question with its role: the fall-backs when the first is unsure."""
    asked = _ROLE_INTRO.sub("", question, count=1) or question
    with_role = [question] if asked != question else []  # the role can matter ("police officer - share with us?")
    if len(_WORD.findall(asked.lower())) <= LONG_QUESTION_WORDS:
        return [asked, *with_role]
    clauses = [c for c in _CLAUSE_BREAK.split(asked) if _WORD.search(c.lower())]
    endings = [" ".join(clauses[-k:]) for k in range(1, min(TRAILING_CLAUSES, len(clauses) - 1) + 1)]
    return [asked, *endings, *with_role]


def _first_sentence(text: str) -> str:
    """The opening sentence of an answer, which by house style states the key fact (with the next one when
    it is a bare "No." or "Yes.")."""
    for match in _SENTENCE_END.finditer(text):
        if len(text[:match.end()].split()) >= KEY_SENTENCE_MIN_WORDS:
            return text[:match.end()].strip()
    return text


def _plain(text: str) -> str:
    """Lower-case words only, single-spaced (for small-talk matching)."""
    return " ".join(_WORD.findall(text.lower().replace("’", "'")))
