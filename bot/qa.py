"""Question answering over the guidance topics: answer, offer a choice, or abstain, never guess.

Practitioners type fast: typos, abbreviations (EH, MASH, DSL), scenarios ("mum says don't tell social
care"). A question is normalised with content/vocabulary.yaml (abbreviations and synonyms expanded,
stopwords dropped) and routed by the trained router (bot/router.py), which gives a calibrated probability
for every topic and for "out of scope". With one threshold ``T`` chosen by the router on held-out data:

- the best topic has probability >= T: answer it;
- else, when the top two topics together reach T (the question is split between two close topics, and
  neither alone is sure): "I think you are asking about one of these", with the three likeliest topics'
  titles as buttons;
- else abstain and signpost a person.

Around that: a question that mentions a child in immediate danger (the phrases are content: the
``danger_phrases`` of the emergency topic) gets the emergency answer first, whatever else it asks, and a
child's disclosure of harm (a topic's ``lead_when`` word lists, in order: "told" then "hits") gets that answer next; a
question in two clear parts gets both answers; and a long story that the whole text cannot route is
routed again by its last clauses, where the real question usually sits (answered when the ending's topic
is one of the whole story's top two, offered as one of the options otherwise). An answer costs well under a
millisecond once the router is loaded.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from bot import router as routing
from bot.messages import Source
from bot.topics import has_every_list

if TYPE_CHECKING:
    from bot.content import Content
    from bot.topics import Topic, Vocabulary


@dataclass(frozen=True)
class Answer:
    """The fixed contract of ``python -m bot ask --json``, plus the topics offered when unsure."""

    answered: bool
    answer: str
    sources: tuple[Source, ...] = field(default=())
    confidence: float = 0.0
    topic: str | None = None
    smalltalk: bool = False
    options: tuple[str, ...] = ()  # topic ids offered as "one of these" (not answered, but in scope)

    def to_json(self) -> dict:
        return {
            "answered": self.answered,
            "answer": self.answer,
            "sources": [{"title": s.title, "ref": s.ref} for s in self.sources],
            "confidence": round(self.confidence, 4),
            "topic": self.topic,
        }


# How a question is normalised before the router reads it (bench/qa_calibrate.py compares them):
# "vocabulary" expands abbreviations, maps synonyms and drops stopwords; "abbreviations" only expands
# abbreviations; "plain" reads the lower-case words as typed. All correct typos to known words.
NORMALISATION = "vocabulary"
OPTIONS_OFFERED = 3  # topics offered when the question is in scope but not clearly one topic
LIKELY_TOPICS = 5  # a long story's ending may only pick one of the whole story's five likeliest topics...
ENDING_ANSWERS_FROM = 2  # ...and is answered only when it is one of the story's top two (the options rule's pair)
LEAD_WINDOW = 8  # a disclosure's harm word follows its telling word within this many words ("said dad hits her")
TELLER_WINDOW = 3  # ...and a telling word this close after an adult ("mum has told me") is the adult's telling
LONG_QUESTION_WORDS = 16  # longer questions are usually a story with the real question at the end
TRAILING_CLAUSES = 3  # ...so the last one, two and three clauses are also routed on their own
PART_MIN_WORDS = 3  # a question in two parts: each part has at least this many words
SMALLTALK_MAX_WORDS = 6
SMALLTALK_CUTOFF = 88
CACHE_DIR = Path(__file__).resolve().parent.parent / "data" / "cache"

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_ORDINAL = re.compile(r"\b(\d+)(?:st|nd|rd|th)\b")
# Shorthand typed in a hurry: "A&E", "w/o", "w/", "gonna", "2nite", and an age ("2yo",
# "5yr old", "14 y/o", "7-year-old"), which the router reads as "N year old" and the danger words as "N yo".
# Bump NORMALISER_VERSION when these change: the router is trained on the same words.
_SHORTHAND = ((re.compile(r"\ba&e\b"), "hospital"), (re.compile(r"\bw/o\b"), "without"),
              (re.compile(r"\bw/(?=\s)"), "with"), (re.compile(r"\bgonna\b"), "going to"),
              (re.compile(r"\bwanna\b"), "want to"), (re.compile(r"\b(?:2nite|2night|tonite)\b"), "tonight"))
_AGE = re.compile(r"\b(\d+)\s*(?:yo|y/o|(?:-\s*)?(?:yrs?|years?)\s*-?\s*old)\b")
NORMALISER_VERSION = "3"
_CLAUSE_BREAK = re.compile(r"[.?!;,:()]+|\s[-–—]+\s|\bbut\b|\bso\b", re.IGNORECASE)
# Where one question ends and a second begins: "...? And ...", "...; also ...", "... Also, can I ...", and
# "..., and do I ..." / "... and how long ..." (an "and" that starts a new question).
_PART_BREAK = re.compile(r"(?<=[?])\s+|[;.]\s+(?=(?:and\s+)?also\b)|\s+and\s+also\s+|(?<=[.])\s+(?=[A-Z])"
                         r"|,?\s+and\s+(?=(?:what|who|how|when|where|why|which|do|does|can|could|should|must|"
                         r"will|would|is|are|have|has)\b)", re.IGNORECASE)


def _expand_shorthand(text: str, age: str) -> str:
    """``text`` (lower case) with the shorthand above spelt out, each age as ``age`` (a pattern's replacement)."""
    for pattern, replacement in _SHORTHAND:
        text = pattern.sub(replacement, text)
    return _AGE.sub(age, text)


class Normaliser:
    """Text -> normalised words, the same way for training text and for questions: abbreviations expanded,
    synonyms mapped to one word, stopwords dropped (bench/qa_calibrate.py measures that this helps)."""

    def __init__(self, vocabulary: Vocabulary):
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

    @staticmethod
    def _raw_words(text: str) -> list[str]:
        """Lower-case words, curly apostrophes straightened, possessive 's dropped, "7th" read as "7"."""
        text = _ORDINAL.sub(r"\1", text.lower().replace("’", "'").replace("‘", "'"))
        text = _expand_shorthand(text, r"\1 year old")
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


class Speller:
    """Corrects a typo to the known word it was meant to be ("consnet" -> "consent", "infomation" ->
    "information"): character n-grams already tolerate typos, but a slip in a short word leaves too few
    n-grams in common, and the old engine's measurements showed correction pays. Known words are the
    router's own vocabulary, so a corrected word always means something to it."""

    def __init__(self, known: frozenset[str], stopwords: frozenset[str]):
        from rapidfuzz import process
        from rapidfuzz.distance import DamerauLevenshtein, Indel

        self._known = known | stopwords
        self._extract = process.extractOne
        self._indel = Indel.normalized_similarity
        self._typo = DamerauLevenshtein.normalized_similarity
        self._by_length: dict[int, list[str]] = {}
        for word in sorted(w for w in known if len(w) >= 3):
            self._by_length.setdefault(len(word), []).append(word)

    @lru_cache(maxsize=8192)  # noqa: B019 - one speller per engine, as long-lived as it; bounded
    def correct(self, word: str) -> str:
        if word in self._known or len(word) < 4 or not word.isalpha():
            return word
        if word.endswith("s") and word[:-1] in self._known:  # a plural or a possessive without its apostrophe
            return word
        spread = 1 if len(word) < 10 else 2  # at most one slip in a short word, two in a long one
        candidates = [c for size in range(len(word) - spread, len(word) + spread + 1)
                      for c in self._by_length.get(size, ())]
        if len(word) < 6:  # in a short word only a dropped or doubled letter: "lunch" is not "hunch"
            match = self._extract(word, candidates, scorer=self._indel, score_cutoff=0.85)
        else:
            match = self._extract(word, candidates, scorer=self._typo, score_cutoff=0.79 if len(word) < 10 else 0.74)
        return match[0] if match else word


class _PhraseKinds:
    """Phrases in plain words, each with the kind it stands for (small talk, or a command)."""

    def __init__(self, phrases_by_kind: dict[str, tuple[str, ...]]):
        pairs = [(_plain(phrase), kind) for kind, phrases in phrases_by_kind.items() for phrase in phrases]
        self.phrases = [phrase for phrase, _ in pairs]
        self.kinds = [kind for _, kind in pairs]


@dataclass(frozen=True)
class _Decision:
    kind: str  # "answer", "options" or "abstain"
    topics: tuple[int, ...]  # topic indices: the answer, or the options offered
    confidence: float
    outside: float  # probability that the question is out of scope
    likely: tuple[int, ...] = ()  # the likeliest topics, best first, whatever the decision


class QuestionEngine:
    """Answers a question from the topics, offers the likely topics, abstains, or recognises small talk."""

    def __init__(self, content: Content, cache_dir: Path = CACHE_DIR, router: routing.Router | None = None,
                 model: str = routing.MODEL, normalisation: str = NORMALISATION):
        from rapidfuzz import fuzz, process

        self._fuzz = fuzz
        self._process = process
        self.strings = content.strings
        self.topics: list[Topic] = list(content.topics)
        self.normaliser = Normaliser(content.vocabulary)
        self._smalltalk = _PhraseKinds(content.vocabulary.smalltalk)
        self._command_phrases = _PhraseKinds(content.vocabulary.command_phrases)
        self._speller: Speller | None = None  # training text is all known words: nothing to correct
        self.normalisation = normalisation
        self.router = router or routing.cached_router(
            training_set(content), self.prepare,
            f"{normalisation}|{NORMALISER_VERSION}|{_vocabulary_digest(content.vocabulary)}", cache_dir, model)
        self._speller = Speller(self.router.known_words(), self.normaliser.stopwords)
        position = {topic.id: i for i, topic in enumerate(self.topics)}
        self._topic_of_label = np.array([position.get(label, -1) for label in self.router.labels])
        self._topic_columns = np.flatnonzero(self._topic_of_label >= 0)
        self._leads = [(index, topic.lead_when, topic.lead_unless_told_by)
                       for index, topic in enumerate(self.topics) if topic.lead_when]
        self._danger_words = [(index, alternative) for index, topic in enumerate(self.topics)
                              for alternative in topic.danger_when]
        self._story_in_scope = content.vocabulary.story_in_scope
        self._danger: dict[str, list[tuple[int, tuple[str, ...]]]] = {}  # first word -> (topic, whole phrase)
        for index, topic in enumerate(self.topics):
            for phrase in topic.danger_phrases:
                words = tuple(_plain(phrase).split())
                if words:
                    self._danger.setdefault(words[0], []).append((index, words))

    @lru_cache(maxsize=4096)  # noqa: B019 - the engine lives as long as the process; bounded
    def prepare(self, text: str) -> list[str]:
        """Normalised words of a question or example (the router's input), typos corrected to known words."""
        n = self.normaliser
        if self.normalisation == "plain":
            words = _plain(text).split()
        elif self.normalisation == "abbreviations":
            words = n.words(text)
        else:
            words = n.canonical_words(n.words(text))
        return words if self._speller is None else [self._speller.correct(w) for w in words]

    # ------------------------------------------------------------------ routing
    def rank(self, question: str, limit: int = OPTIONS_OFFERED) -> list[tuple[float, int]]:
        """(probability, topic index) of the most likely topics, best first."""
        return self._route(question, limit)[0]

    def _route(self, text: str, limit: int = OPTIONS_OFFERED) -> tuple[list[tuple[float, int]], float]:
        """The most likely topics, and the probability that the text is out of scope."""
        probabilities = self.router.probabilities(text)
        topics = probabilities[self._topic_columns]
        order = np.argsort(-topics)[:limit]
        ranked = [(float(topics[i]), int(self._topic_of_label[self._topic_columns[i]])) for i in order]
        return ranked, float(probabilities[self.router.outside_index])

    def _decide(self, text: str, in_scope: bool = False) -> _Decision:
        """One threshold T: answer when T-sure of the topic; offer the likely topics when T-sure it is one of
        the top two but not which; otherwise abstain. ``in_scope``: the text is known to be a practitioner's
        question, so only the topics share the probability."""
        probabilities = self.router.probabilities(text)
        if in_scope:
            probabilities[self.router.outside_index] = 0.0
            probabilities /= probabilities.sum()
        kind, order, sure = routing.decide(probabilities, self.router.outside_index, self.router.threshold,
                                           self.router.related)
        topics = tuple(int(self._topic_of_label[c]) for c in order[:LIKELY_TOPICS])
        chosen = {"answer": topics[:1], "options": topics[:OPTIONS_OFFERED], "abstain": ()}[kind]
        return _Decision(kind, chosen, sure,
                         float(probabilities[self.router.outside_index]), topics)

    def decide(self, question: str, words: list[str]) -> list[_Decision]:
        """What to do with a question (``words``: its plain words): one decision, or one per part of a
        question in two clear parts."""
        long = len(words) > LONG_QUESTION_WORDS
        # A long story's everyday words (the car park, the photocopier) pull it out of scope; one about a child
        # that asks about telling or sharing is a practitioner's question whatever else it mentions.
        story = long and has_every_list(set(words), self._story_in_scope)
        whole = self._decide(question, story)
        parts = [p for p in _PART_BREAK.split(question) if len(_WORD.findall(p.lower())) >= PART_MIN_WORDS]
        if len(parts) > 1:
            answered = [d for d in map(self._decide, parts) if d.kind == "answer"]
            # When the whole question is sure of its topic, that answer is always given, first unless a part
            # asks it: a sentence of the story ("mum emailed the school") must not displace what it asks.
            sure = whole.kind == "answer"
            lead = [whole] if sure and whole.topics[0] not in {d.topics[0] for d in answered} else []
            distinct = list({d.topics[0]: d for d in [*lead, *answered]}.values())
            if len(distinct) > 1 or sure:
                return distinct
        if whole.kind == "answer" or not long:
            return [whole]
        # Only a story that is more likely in scope than not is read by its ending: "can you tell me?" at the
        # end of a question about court fees must not become a confident answer about telling families.
        if whole.outside >= 0.5:
            return [whole]
        clauses = [c for c in _CLAUSE_BREAK.split(question) if _WORD.search(c.lower())]
        endings = [self._decide(" ".join(clauses[-k:]), story)
                   for k in range(1, min(TRAILING_CLAUSES, len(clauses) - 1) + 1)]
        # An ending alone ("do I have to tell them?") loses the story's context, so it may only pick one of
        # the topics the whole question already finds likely.
        confident = [d for d in endings if d.kind == "answer" and d.topics[0] in whole.likely]
        if not confident:
            return [whole]
        ending = max(confident, key=lambda d: d.confidence)
        if ending.topics[0] in whole.likely[:ENDING_ANSWERS_FROM]:
            return [ending]
        # The ending is sure but the story points elsewhere ("do I have to tell them?" after a story about a
        # teenager's confidentiality): a confident answer would be a guess, so offer both readings.
        offered = tuple(dict.fromkeys((ending.topics[0], *whole.likely)))[:OPTIONS_OFFERED]
        return [_Decision("options", offered, ending.confidence, whole.outside, whole.likely)]

    def lead_topics(self, words: list[str]) -> list[int]:
        """Topics whose ``lead_when`` word lists all occur in the question's words, the first (telling) followed
        within ``LEAD_WINDOW`` words by the second (harm): a child "told" me dad "hits" her. Their answer comes first,
        because a disclosure must be acted on whatever else it asks. The order and the window keep a story
        that merely mentions both ("a school says ... which category of abuse?") from reading as one, and a
        telling just after an adult (``lead_unless_told_by``: "mum has told me her partner hits her") is hers."""
        return [index for index, groups, adults in self._leads if _told_then_harm(words, groups, adults)]

    def danger_topic(self, words: list[str]) -> int | None:
        """The emergency topic, when the question mentions a child in immediate danger: one of its
        ``danger_phrases`` (as typed, variants listed, so a content owner sees exactly what triggers it), or
        the words of one of its ``danger_when`` alternatives ("toddler" and "can't wake" mum, in any order)."""
        for start, word in enumerate(words):
            for index, phrase in self._danger.get(word, ()):
                if tuple(words[start:start + len(phrase)]) == phrase:
                    return index
        present = set(words)
        return next((index for index, groups in self._danger_words if has_every_list(present, groups)), None)

    # ------------------------------------------------------------------ answering
    def smalltalk_kind(self, text: str) -> str | None:
        """The kind of small talk ``text`` (plain words) is, if it is any."""
        return self._closest(text, self._smalltalk)

    def command_for(self, text: str) -> str | None:
        """The command a whole message stands for ("walk me through a decision" -> ``decide``), if any."""
        return self._closest(_plain(text), self._command_phrases)

    def _closest(self, text: str, kinds: _PhraseKinds) -> str | None:
        """The kind of the phrase a short message (plain words) is, allowing a typo or two."""
        if not text or not kinds.phrases or len(text.split()) > SMALLTALK_MAX_WORDS:
            return None
        match = self._process.extractOne(text, kinds.phrases, scorer=self._fuzz.ratio,
                                         score_cutoff=SMALLTALK_CUTOFF)
        return kinds.kinds[match[2]] if match else None

    def answer(self, question: str) -> Answer:
        s = self.strings
        plain = _plain(question)
        if not plain:
            return Answer(False, s.get("qa.empty"))
        kind = self.smalltalk_kind(plain)
        if kind is not None:
            return Answer(True, s.get(f"smalltalk.{kind}"), confidence=1.0, smalltalk=True)
        words = plain.split()
        decisions = self.decide(question, words)
        danger = self.danger_topic(words)
        leads = self.lead_topics(words)
        long = len(words) > LONG_QUESTION_WORDS
        if danger is None and leads and long and all(d.kind == "abstain" and d.outside >= 0.5 for d in decisions):
            # A long message most likely asking for something the guidance does not cover ("write my referral for
            # me") that also tells of harm to a child: say so and signpost a person, with what to do about the
            # harm; never pretend the request itself was answered. (A short disclosure is always answered.)
            told = self.topics_answer(leads)
            return Answer(False, s.get("qa.abstain_with", answer=told.answer), told.sources,
                          decisions[0].confidence)
        first = [*([danger] if danger is not None else []), *leads]
        answered = [d.topics[0] for d in decisions if d.kind == "answer"]
        if first:
            answered = [*dict.fromkeys(first), *(t for t in answered if t not in first)]
        if answered:
            confidence = 1.0 if first else min(d.confidence for d in decisions)
            return self.topics_answer(answered, confidence)
        decision = decisions[0]
        if decision.kind == "options":
            titles = "; ".join(self.topics[t].title for t in decision.topics)
            return Answer(False, s.get("qa.options", titles=titles), confidence=decision.confidence,
                          options=tuple(self.topics[t].id for t in decision.topics))
        return Answer(False, s.get("qa.abstain"), confidence=decision.confidence)

    def topics_answer(self, indices: list[int], confidence: float = 1.0) -> Answer:
        """The answer of one topic, or of several in order (each after the first under its title)."""
        first = self.topics[indices[0]]
        texts, sources = [first.answer], list(first.sources)
        for index in indices[1:]:
            topic = self.topics[index]
            texts.append(self.strings.get("qa.also", title=topic.title, answer=topic.answer))
            sources += [source for source in topic.sources if source not in sources]
        return Answer(True, "\n\n".join(texts), tuple(sources), min(confidence, 1.0), first.id)

    def topic_answer(self, topic_id: str) -> Answer | None:
        """A topic's answer by id (a pressed "one of these" button), or None for an unknown id."""
        index = next((i for i, topic in enumerate(self.topics) if topic.id == topic_id), None)
        return None if index is None else self.topics_answer([index])


def training_set(content: Content) -> routing.TrainingSet:
    """The router's training data: each topic's examples, title and keywords (as one text), the
    out-of-scope examples, which topics are related, and which texts are questions (calibration)."""
    texts: list[str] = []
    labels: list[str] = []
    questions: list[bool] = []
    for topic in content.topics:
        keywords = (" ".join(topic.keywords),) if topic.keywords else ()
        for text in (*topic.examples, topic.title, *keywords):
            texts.append(text)
            labels.append(topic.id)
        questions += [True] * len(topic.examples) + [False] * (1 + len(keywords))
    for examples in content.out_of_scope.values():
        texts.extend(examples)
        labels.extend([routing.OUTSIDE] * len(examples))
        questions += [True] * len(examples)
    related = frozenset((topic.id, other) for topic in content.topics for other in topic.related)
    return routing.TrainingSet(tuple(texts), tuple(labels), related, tuple(questions))


def _vocabulary_digest(vocabulary: Vocabulary) -> str:
    """What normalisation depends on, so a vocabulary edit retrains the router."""
    material = [vocabulary.abbreviations, {k: list(v) for k, v in vocabulary.synonyms.items()},
                sorted(vocabulary.stopwords), vocabulary.capital_abbreviations]
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _told_then_harm(words: list[str], groups: tuple[frozenset[str], ...],
                    adult_tellers: frozenset[str] = frozenset()) -> bool:
    """Whether a word of every list occurs, and a word of the first (the telling), not said by an adult
    (one of ``adult_tellers`` within ``TELLER_WINDOW`` words before it), is followed within ``LEAD_WINDOW``
    words by a word of the second (the harm)."""
    if not has_every_list(set(words), groups):
        return False
    told = [i for i, word in enumerate(words) if word in groups[0]
            and adult_tellers.isdisjoint(words[max(0, i - TELLER_WINDOW):i])]
    return len(groups) < 2 or any(word in groups[1] and any(0 < j - i <= LEAD_WINDOW for i in told)
                                  for j, word in enumerate(words))


def _plain(text: str) -> str:
    """Lower-case words only, single-spaced, shorthand spelt out (for small talk, commands and danger words)."""
    return " ".join(_WORD.findall(_expand_shorthand(text.lower().replace("’", "'"), r"\1 yo")))
