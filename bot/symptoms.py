"""Plain-words matching: "caller hears silence after transfer" → the entries that describe that.

A weighted word-overlap score over each entry's title, aliases, keywords, code words, meaning and symptom,
with the synonyms voice engineers use, typo repair against the catalog's vocabulary, and a coverage
requirement so that a question about lunch finds nothing instead of a guess.

Only the few hundred best word matches are ranked finely. In a vast catalog they are found without scoring
every entry that shares a word with the question: a branch and bound over each word's weight classes rules
most entries out in groups, with exactly the result of scoring them all. Equal scores rank in catalog order
(ascending entry id), also where they decide who makes a cut-off.
"""
from __future__ import annotations

import heapq
import itertools
import math
import operator
import re
from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from . import vapi
from .catalog import Catalog, Entry
from .text import any_word, content_words, stem, words

FIELD_WEIGHTS = (("title", 3.0), ("aliases", 3.0), ("keywords", 2.6), ("code", 2.2), ("meaning", 1.0), ("symptom", 1.0))
TOP_WEIGHT = 4.0
EXTRA_FIELD = 0.25
FAMILY_FACTOR = 0.985
RANK_PENALTY = 0.06
SYNONYM_WEIGHT = 0.8
MIN_COVERAGE = 0.5
MIN_EVIDENCE = 4.5  # idf mass of the matched words: two everyday words are not enough
UNKNOWN_IDF = 2.5
SINGLE_WORD_IDF = 3.0
SHORTLIST = 200
MAX_QUERY_TERMS = 40  # distinct words; a longer text is a paste, not a description
MIN_SCORE = 55.0
MAX_SCORE = 96.0
SOFTNESS = 0.25
MAX_PHRASE_BONUS = 0.2
TYPO_CUTOFF = 82.0
# The search for the shortlist in a vast catalog: bounds that change how fast it is found, never what is found.
PROSE_WEIGHT = 1.0 + EXTRA_FIELD * 1.0  # the most a word weighs in the meaning and symptom alone
SMALL_CLASS = 64  # entries of one weight few enough to list even when they only mention the word in prose
SMALL_BRANCH = 64  # entries few enough to score outright
SMALL_LIST = 4 * SHORTLIST  # candidates listed few enough to collect, to see if they are few enough to score
BOUND_SLACK = 1e-9  # bounds add in another order than scores do
LOOKUP_COST = 30  # one weight lookup against steps of set intersection; from 2 to 30 as fast at 100k entries
WORK_BUDGET = 3  # entries handled per candidate before scoring every candidate is the cheaper way

# Phrases on the left are how people say it; the words on the right are how the catalog says it.
SYNONYMS: tuple[tuple[str, str], ...] = (
    ("dead air", "silence, silent, no audio"), ("silence", "silent, quiet, dead air, no audio"),
    ("silent", "silence, quiet, no audio"), ("never rang", "did not ring, never connected, no ring"),
    ("didn't ring", "never rang, did not ring"), ("no ring", "never rang, did not ring"),
    ("not ringing", "never rang, did not ring"), ("dropped", "drop, disconnected, went dead, cut off"),
    ("drops", "drop, disconnected, went dead"), ("cut off", "drop, disconnected, went dead"),
    ("went dead", "drop, disconnected, dropped"), ("hung up", "hangup, ended, hang up"),
    ("hangs up", "hangup, ended, hung up"), ("hang up", "hangup, hung up, ended"),
    ("rate limited", "rate limit, 429, too many requests, throttled"), ("throttled", "rate limit, 429, too many requests"),
    ("too many requests", "rate limit, 429"), ("out of credits", "credits, insufficient balance, quota, insufficient credits"),
    ("no credit", "credits, insufficient balance"), ("no money", "balance, credits, insufficient"),
    ("top up", "balance, credits, funds"), ("balance", "credits, funds"), ("credits", "balance, funds, credit"),
    ("allow list", "whitelisted, whitelist, allowlist"), ("allowlist", "whitelisted, whitelist, allow list"),
    ("whitelist", "whitelisted, allow list"), ("caller id", "msisdn, source number, cli"),
    ("speech to text", "transcriber, stt, transcription"), ("stt", "transcriber, speech to text"),
    ("asr", "transcriber, speech to text"), ("text to speech", "voice, tts, synthesize, synthesis"),
    ("tts", "text to speech, synthesize, voice"), ("busy signal", "busy"), ("engaged", "busy"),
    ("no answer", "did not answer, not answered, unanswered"), ("nobody answered", "did not answer, no answer"),
    ("didn't answer", "did not answer, no answer"), ("unanswered", "did not answer, no answer"),
    ("voicemail", "voice mail, answering machine"), ("answering machine", "voicemail"),
    ("api key", "credentials, unauthorized, authentication, invalid api key"), ("wrong", "incorrect, invalid"), ("invalid", "wrong, incorrect"), ("incorrect", "wrong, invalid"),
    ("unauthorized", "authentication, credentials, 401"), ("forbidden", "403, permission denied"),
    ("concurrent", "concurrency, capacity, simultaneous"), ("concurrency", "concurrent, simultaneous, capacity"),
    ("capacity", "concurrent, trunk capacity"), ("overloaded", "overload, 503, capacity"),
    ("down", "unreachable, not responding, not reachable"), ("unreachable", "connection failed, not reachable, down"),
    ("timed out", "timeout"), ("time out", "timeout"), ("timeout", "timed out"), ("expired", "expiry, validity, expire"),
    ("transfer", "forward, transferred, forwarding"), ("forward", "transfer, forwarding"),
    ("not found", "does not exist, missing, deleted"), ("doesn't exist", "not found, missing"),
    ("does not exist", "not found, missing"), ("deleted", "not found, no longer exists"),
    ("llm", "model, language model"), ("model", "llm"), ("gpt", "openai, llm"), ("claude", "anthropic, llm"),
    ("mp3", "audio file"), ("wav", "audio file"), ("recording", "audio file"),
    ("mic", "microphone"), ("microphone", "mic"), ("hmac", "signature"), ("econnrefused", "connection refused, connection failed"),
    ("e164", "e.164, format"), ("trunk", "sip, carrier"), ("carrier", "trunk, provider"),
    ("garbled", "audio quality"), ("one way audio", "rtp, media"),
    ("can't hear", "transcriber"), ("cannot hear", "transcriber"),
    ("broke", "failed, error"), ("broken", "failed, error"), ("not working", "failed"), ("died", "failed, crashed"),
    ("failing", "failed"), ("fails", "failed"), ("crashed", "crash, died, failed"),
    ("rings forever", "no answer, did not answer"), ("keeps ringing", "no answer, did not answer"),
    ("rang out", "no answer, did not answer"), ("ring out", "no answer, did not answer"),
    ("stopped talking", "silent, stopped responding, went silent"), ("stopped responding", "silent, unresponsive"),
    ("not responding", "silent, unresponsive, timeout"), ("bot", "assistant"), ("agent", "assistant"),
    ("abroad", "international"), ("overseas", "international"), ("foreign", "international"),
    ("uk", "international"), ("country", "international"), ("countries", "international"),
    ("dial", "call, calling, outbound"), ("mobile", "cell, destination, number"),
    ("maximum", "max"), ("length", "duration"), ("longest", "max duration"), ("too long", "max duration"),
    ("middle", "mid"), ("midway", "mid"), ("talking", "conversation, speaking, mid call"),
    ("conversation", "mid call, talking"), ("halfway", "mid"),
)
PROVIDER_NAMES = {
    "openai": "openai", "anthropic": "anthropic", "elevenlabs": "eleven-labs", "eleven labs": "eleven-labs",
    "11labs": "eleven-labs", "deepgram": "deepgram", "cartesia": "cartesia", "playht": "playht",
    "play.ht": "playht", "azure": "azure", "groq": "groq", "gemini": "google", "google": "google",
    "assemblyai": "assembly-ai", "assembly ai": "assembly-ai", "gladia": "gladia", "speechmatics": "speechmatics",
    "mistral": "mistral", "xai": "xai", "grok": "xai", "tavus": "tavus", "rime": "rime-ai", "soniox": "soniox",
    "together": "together-ai", "perplexity": "perplexity-ai", "openrouter": "openrouter", "cerebras": "cerebras",
    "deepseek": "deep-seek", "lmnt": "lmnt", "hume": "hume", "minimax": "minimax",
}
PIPELINE = frozenset({"llm", "voice", "transcriber", "video"})
# A question: each word (typos repaired), its synonyms, and the keys of their lists in SymptomIndex.synonym_users.
_Query = list[tuple[str, set[str], set[str]]]
_PROVIDER_RX = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(PROVIDER_NAMES, key=len, reverse=True)) + r")\b")


@dataclass
class Scored:
    entry: Entry
    score: float
    facets: dict[str, str | int]


@dataclass(frozen=True)
class _Word:
    """One question word as it is scored: who uses it (entry -> weight), who uses one of its synonyms (one
    map per synonym list that applies), how rare it is, and whether it was typed (not a typo repair)."""

    postings: dict[int, float]
    alternatives: tuple[dict[int, float], ...]
    idf: float
    typed: bool

    def weights(self, members: AbstractSet[int]) -> dict[float, set[int]]:
        """`members` by the weight they have for this word: their own, else their best synonym's discounted, 0
        if they use neither. Who uses what is found by set operations; only users are looked up one by one."""
        groups: dict[float, set[int]] = defaultdict(set)
        users = self.postings.keys() & members
        for i in users:
            groups[self.postings[i]].add(i)
        others = members - users
        if self.alternatives:
            synonym_users: set[int] = set().union(*(a.keys() & others for a in self.alternatives))
            for i in synonym_users:
                groups[max([a.get(i, 0.0) for a in self.alternatives]) * SYNONYM_WEIGHT].add(i)
            others -= synonym_users
        if others:
            groups[0.0].update(others)
        return groups


@dataclass(frozen=True)
class _Classes:
    """A term's users grouped by weight, heaviest first, down to the first large group of prose mentions:
    `listed` names them, `rest` bounds the weight of all other users, `known` holds every listed entry (None:
    every user is listed)."""

    listed: tuple[tuple[float, frozenset[int]], ...]
    rest: float
    known: frozenset[int] | None

    def __reduce__(self) -> tuple:
        """Pickled as packed entry ids, unpickled onto the shared entry id objects (see `_shared_ids`);
        `known`, the union of the listed, is not pickled but made again."""
        return _listed_classes, (tuple((weight, _packed(members)) for weight, members in self.listed), self.rest)


def _listed_classes(listed: tuple[tuple[float, bytes], ...], rest: float) -> _Classes:
    """Weight classes of the `listed` (packed) entries, and the bound `rest` of all other users."""
    groups = tuple((weight, frozenset(_shared_ids(packed))) for weight, packed in listed)
    return _Classes(groups, rest, frozenset().union(*(members for _, members in groups)) if rest else None)


class _Weights(dict[int, float]):
    """One term's users, entry -> weight. Pickled compactly (packed ids, one byte per weight: a weight is one
    of at most 63 sums of field weights) and unpickled onto shared entry ids and one float per distinct weight:
    millions of ints and floats, one per posting, were most of the unpacked index. It unpickles as a plain
    dict: the garbage collector stops tracking a dict of ints and floats, but not a subclass's, and a full
    collection walking every posting took 30 ms out of one question."""

    def __reduce__(self) -> tuple:
        weights = tuple(dict.fromkeys(self.values()))
        code = {weight: k for k, weight in enumerate(weights)}
        return _unpacked_weights, (_packed(self), weights, bytes(map(code.__getitem__, self.values())))


def _unpacked_weights(ids: bytes, weights: tuple[float, ...], codes: bytes) -> dict[int, float]:
    return dict(zip(_shared_ids(ids), map(weights.__getitem__, codes)))


def _packed(ids: Iterable[int]) -> bytes:
    return array("i", ids).tobytes()


_ENTRY_IDS: dict[int, int] = {}  # entry id -> the one int object every unpickled map and set holds for it


def _shared_ids(packed: bytes) -> Iterator[int]:
    """Packed entry ids as int objects shared by every unpickled map and set: pickle would give each its own
    (28 bytes per posting). Interned in a dict, not a list: two threads unpacking at once cannot misplace one."""
    ids = array("i")
    ids.frombytes(packed)
    return map(_ENTRY_IDS.setdefault, ids, ids)


@dataclass(frozen=True)
class _Level:
    """What one question word can add to an entry's weighted score: the listed entries of the word and of its
    synonyms by gain, `rest` bounding everyone else's gain; `known` (sets) hold every listed entry."""

    word: _Word
    listed: tuple[tuple[float, frozenset[int]], ...]
    rest: float
    known: tuple[AbstractSet[int], ...]

    @property
    def top(self) -> float:
        return max(self.rest, self.listed[0][0] if self.listed else 0.0)

    def split(self, members: AbstractSet[int]) -> tuple[list[tuple[float, set[int]]], AbstractSet[int]]:
        """`members` by gain: the listed ones in groups of one gain, and the others (gain at most `rest`). The
        listed ones are looked up one by one when that is cheaper than intersecting them with every group;
        groups found by intersection may also hold entries of another gain (a word and its synonym), which
        only loosens their bound."""
        known: set[int] = set().union(*(members & k for k in self.known))
        if len(known) * LOOKUP_COST > sum(min(len(known), len(group)) for _, group in self.listed):
            return [(gain, hit) for gain, group in self.listed if (hit := known & group)], members - known
        return self.exact(known), members - known

    def exact(self, members: AbstractSet[int]) -> list[tuple[float, set[int]]]:
        """`members` grouped by their exact gain (0: they use neither the word nor a synonym)."""
        return [(self.word.idf * w / TOP_WEIGHT, group) for w, group in self.word.weights(members).items()]


@dataclass(frozen=True)
class _Vendors:
    """What a question says about vendors: the catalog sources it names (they steer), their words, and the AI
    provider it names, with the pipeline components that provider serves and the one it is best known for."""

    steer: set[str]
    terms: set[str]
    provider: str | None
    serves: frozenset[str] | None
    main: str | None


class _Contest:
    """Finds, among a vast set of candidates, every entry that can make the SHORTLIST (see `run`)."""

    def __init__(self, levels: list[_Level], score: _Scorer, everyone: _Candidates):
        self.levels = sorted((lv for lv in levels if lv.listed or lv.rest), key=lambda lv: -lv.top)
        self.gain_left = [sum(lv.top for lv in self.levels[d:]) for d in range(len(self.levels) + 1)]
        self.cover_left = [sum(lv.word.idf for lv in self.levels[d:]) for d in range(len(self.levels) + 1)]
        self.floor = score.floor - BOUND_SLACK
        self.score, self.total, self.everyone = score, score.total, everyone
        self.scores: dict[int, float] = {}
        self.best: list[float] = []  # the SHORTLIST best scores so far, smallest first
        self.seen: set[int] = set()
        # Branches: (-bound, -gain bound, -depth, age, gain, coverage, entries (None: all), levels only bounded);
        # of equal bounds the one with more gain to expect opens first, then the deeper, then the older.
        self.branches: list[tuple] = []
        self.age = itertools.count()

    def run(self) -> dict[int, float]:
        """Scores (as `_Scorer`) of every entry that can still make the SHORTLIST, and of some others.

        Best-first branch and bound: a branch fixes, word by word, the gain its entries have for that word
        (exactly, or no more than a bound), which bounds the score they can reach. The best branch is opened
        first; once few entries are left in it (or every word is fixed exactly) they are scored. When no open
        branch can reach the SHORTLIST-th best score found, no entry left unscored can make the shortlist, not
        even on a tie. A vast catalog thus scores hundreds of entries, not all that share a word.
        """
        self._push(0, 0.0, 0.0, None, ())
        budget = WORK_BUDGET * self.everyone.listed
        while self.branches:
            reach, _, deeper, _, gain, cover, members, pending = heapq.heappop(self.branches)
            if self._hopeless(-reach):
                break
            budget -= 0 if members is None else len(members)
            if budget < 0:  # the bounds prune too little here (few entries qualify, or the words are many)
                self._take(self.everyone.members)
                break
            self._open(-deeper, gain, cover, members, pending)
        return self.scores

    def _open(self, depth: int, gain: float, cover: float, members: AbstractSet[int] | None,
              pending: tuple[int, ...]) -> None:
        last = depth == len(self.levels)
        if members is None and not last:
            level = self.levels[depth]
            for step, tier in level.listed:
                self._push(depth + 1, gain + step, cover + level.word.idf, tier, pending)
            self._push_rest(depth, gain, cover, None, pending)
        elif members is None or len(members) <= SMALL_BRANCH or (last and not pending):
            self._take(self.everyone.members if members is None else members)
        elif not last:
            groups, rest = self.levels[depth].split(members)
            for step, group in groups:
                self._push(depth + 1, gain + step, cover + self.levels[depth].word.idf, group, pending)
            if rest:
                self._push_rest(depth, gain, cover, rest, pending)
        else:  # every word fixed, some only bounded: look those up, one word at a time
            level = self.levels[pending[0]]
            gain, cover = gain - level.rest, cover - (level.word.idf if level.rest else 0.0)
            for step, group in level.exact(members):
                self._push(depth, gain + step, cover + (level.word.idf if step else 0.0), group, pending[1:])

    def _push_rest(self, depth: int, gain: float, cover: float, members: AbstractSet[int] | None,
                   pending: tuple[int, ...]) -> None:
        """The entries of a branch not listed for the word at `depth`: their gain is only bounded."""
        level = self.levels[depth]
        bounded = (*pending, depth) if level.rest else pending
        self._push(depth + 1, gain + level.rest, cover + (level.word.idf if level.rest else 0.0), members, bounded)

    def _push(self, depth: int, gain: float, cover: float, members: AbstractSet[int] | None,
              pending: tuple[int, ...]) -> None:
        reach = self._bound(depth, gain, cover)
        if not self._hopeless(reach):
            heapq.heappush(self.branches, (-reach, -(gain + self.gain_left[depth]), -depth, next(self.age), gain,
                                           cover, members, pending))

    def _bound(self, depth: int, gain: float, cover: float) -> float:
        """The best score an entry of the branch can reach (-1: it cannot qualify)."""
        gain, cover = gain + self.gain_left[depth], cover + self.cover_left[depth]
        if cover < self.floor:
            return -1.0
        return min(1.0, gain / self.total) * 0.75 + min(1.0, cover / self.total) * 0.25

    def _hopeless(self, reach: float) -> bool:
        return reach < 0 or (len(self.best) == SHORTLIST and reach < self.best[0] - BOUND_SLACK)

    def _take(self, members: AbstractSet[int]) -> None:
        """Scores `members`, but those scored already and those that are no candidates (they cannot qualify)."""
        fresh = self.everyone.among(members - self.seen)
        self.seen |= fresh
        for i, score in self.score(fresh).items():
            self.scores[i] = score
            (heapq.heappushpop if len(self.best) == SHORTLIST else heapq.heappush)(self.best, score)


class _Candidates:
    """The entries that hold one of a question's rarer words. Collecting tens of thousands of entries costs
    more than finding the best of them, so they are collected only when asked for all of them."""

    def __init__(self, users: list[dict[int, float]]):
        self.users = users
        self.listed = sum(map(len, users))  # the work of collecting them
        self._members: set[int] | None = None

    @property
    def members(self) -> set[int]:
        """Every candidate, collected on first use (a vast list only when the search gives up pruning)."""
        if self._members is None:
            self._members = set().union(*self.users)
        return self._members

    def among(self, entries: AbstractSet[int]) -> set[int]:
        """The candidates among `entries`."""
        if self._members is not None:
            return self._members & entries
        return set().union(*(users.keys() & entries for users in self.users))


def _best_first(scores: dict[int, float], count: int) -> list[int]:
    """The `count` best-scored entries, best first. Equal scores go in catalog order (ascending entry id):
    a rule of its own, so that no answer depends on how its entries happened to be collected."""
    return [-negated for _, negated in heapq.nlargest(count, zip(scores.values(), map(operator.neg, scores)))]


def _field_text(entry: Entry, name: str) -> str:
    if name == "code":
        return re.sub(r"[._\-*?]+", " ", " ".join((entry.code, *entry.patterns)))
    value = getattr(entry, name)
    return " ".join(value) if isinstance(value, tuple) else value


class SymptomIndex:
    """Per term the entries that use it and its weight in each, inverse document frequencies and weight classes,
    computed once per catalog."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        postings: dict[str, _Weights] = defaultdict(_Weights)
        shared_weights: dict[float, float] = {}  # one float object per distinct weight, as unpickling gives
        for i, entry in enumerate(catalog.entries):
            per_field: dict[str, list[float]] = defaultdict(list)
            for name, weight in FIELD_WEIGHTS:
                for term in set(_terms(_field_text(entry, name))):
                    per_field[term].append(weight)
            # The best field counts in full; a word repeated in other fields adds a little (it is central).
            for t, ws in per_field.items():
                weight = max(ws) + EXTRA_FIELD * (sum(ws) - max(ws))
                postings[t][i] = shared_weights.setdefault(weight, weight)
        # Entries in catalog order, per term; no defaultdicts: a lookup while answering must never write.
        self.postings = dict(postings)
        n = max(len(catalog.entries), 1)
        self.idf = {t: math.log(1 + n / len(p)) for t, p in self.postings.items()}
        self.classes = {t: _classes(p) for t, p in self.postings.items() if len(p) > SMALL_CLASS}
        self.vocabulary = sorted(t for t in self.idf if "_" not in t and not t.isdigit() and len(t) >= 3)
        by_initial: dict[str, list[str]] = defaultdict(list)
        for term in self.vocabulary:
            by_initial[term[0]].append(term)
        self.by_initial = dict(by_initial)
        shared: dict[object, object] = {}
        self.phrases = [_phrases(entry, shared) for entry in catalog.entries]
        # What a code says about itself (a Vapi provider code names its component) plus the entry's own facets.
        self.facets = [{**({} if e.is_family else vapi.parse(e.code)), **e.facet_map} for e in catalog.entries]
        alternatives = [(k, _alternatives(v)) for k, v in SYNONYMS]
        self.synonyms = [(_terms(k, bigrams=False), alts, _key(alts)) for k, alts in alternatives]
        # Per list of alternatives, each entry's best weight among them: a question word's synonyms in one lookup.
        self.synonym_users = {key: _best([self.postings[a] for a in alts if a in self.postings])
                              for _, alts, key in self.synonyms}
        self.synonym_classes = {k: _classes(p) for k, p in self.synonym_users.items() if len(p) > SMALL_CLASS}
        self.vendor_words = {sid: s.vendor_words for sid, s in catalog.sources.items()}
        self.vendor_rx = {sid: any_word(words) for sid, words in self.vendor_words.items() if words}

    def _repair(self, term: str) -> str:
        """A word the catalog never uses, replaced by the closest word it does use (typos)."""
        if term in self.idf or len(term) < 5 or term.isdigit():
            return term
        same_start = [t for t in self.by_initial.get(term[0], []) if len(t) >= 4]
        best = process.extractOne(term, same_start, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return best[0] if best else term

    def _query(self, text: str) -> _Query:
        """Query words (typos repaired), each with the alternative words (synonyms) that also count for it, and
        the keys of their lists in `synonym_users`."""
        base = [self._repair(t) for t in dict.fromkeys(_terms(text, bigrams=False))][:MAX_QUERY_TERMS]
        alts: _Query = [(t, set(), set()) for t in base]
        for phrase, extra, key in self.synonyms:
            size = len(phrase)
            for i in range(len(base) - size + 1):
                if base[i:i + size] == phrase:
                    for j in range(i, i + size):
                        alts[j][1].update(extra)
                        alts[j][2].add(key)
        return alts

    def _candidates(self, query: _Query, total: float, vendor_mass: float) -> _Candidates:
        """Entries that can still reach MIN_COVERAGE: they must hold one of the rarer words (or a synonym).

        The commonest words, taken together with the vendor words, weigh less than MIN_COVERAGE of the
        question; an entry holding only those can never qualify.
        """
        by_rarity = sorted(query, key=lambda q: self.idf.get(q[0], UNKNOWN_IDF))
        optional = vendor_mass
        required = []
        for term, alts, _ in by_rarity:
            idf = self.idf.get(term, UNKNOWN_IDF)
            if optional + idf < MIN_COVERAGE * total:
                optional += idf
            else:
                required.append((term, alts))
        # A word listed again would add no entry (a synonym of itself): listed once, the set is the same.
        words = dict.fromkeys(word for term, alts in required for word in (term, *alts))
        return _Candidates([self.postings.get(word, {}) for word in words])

    def _level(self, word: _Word, term: str, synonyms: set[str]) -> _Level:
        """The weight classes of a question word and of its synonyms, as gains for this question."""
        own = self._classes(term, self.classes, self.postings)
        own_rest = word.idf * own.rest / TOP_WEIGHT
        listed = [(word.idf * w / TOP_WEIGHT, members) for w, members in own.listed]
        rest, known = own_rest, [word.postings.keys() if own.known is None else own.known]
        for key in synonyms:
            alt = self._classes(key, self.synonym_classes, self.synonym_users)
            # An entry that also uses the word itself gets the word's weight: up to own_rest, if not listed.
            listed += [(max(own_rest, word.idf * w * SYNONYM_WEIGHT / TOP_WEIGHT), members)
                       for w, members in alt.listed]
            rest = max(rest, word.idf * alt.rest * SYNONYM_WEIGHT / TOP_WEIGHT)
            known.append(self.synonym_users[key].keys() if alt.known is None else alt.known)
        listed.sort(key=lambda item: -item[0])
        return _Level(word, tuple(listed), rest, tuple(known))

    @staticmethod
    def _classes(key: str, stored: dict[str, _Classes], users: dict[str, dict[int, float]]) -> _Classes:
        """Stored for the terms many entries use; a rare term's few users are grouped when asked."""
        return stored.get(key) or _classes(users.get(key, {}))

    def search(self, text: str, limit: int = 8, floor: float = 0.0) -> list[Scored]:
        """Entries whose words cover the question's words, best first, scores 0-100, nothing below MIN_SCORE
        (or `floor`, when higher)."""
        low = text.lower()
        vendors = self._vendors(low)
        query = self._query(low)
        plain = [t for t, _, _ in query]
        own = [t for t in plain if t not in vendors.terms]
        if not own or (len(own) == 1 and self.idf.get(own[0], 0.0) < SINGLE_WORD_IDF):
            return []  # one everyday word ("error", "help") is no question the catalog can answer
        # A typo repair is a guess; it may support other evidence but never be the only evidence.
        as_typed = set(_terms(low, bigrams=False)[:1000])
        # Vendor words steer; they count when an entry uses them but cost nothing when it does not.
        total = sum(self.idf.get(t, UNKNOWN_IDF) for t in own)
        vendor_mass = sum(self.idf.get(t, UNKNOWN_IDF) for t in plain if t in vendors.terms)
        asked = [_Word(self.postings.get(t, {}), tuple(self.synonym_users[k] for k in synonyms),
                       self.idf.get(t, UNKNOWN_IDF), t in as_typed) for t, _, synonyms in query]
        score = _Scorer(asked, total)
        candidates = self._candidates(query, total, vendor_mass)
        if candidates.listed <= SMALL_LIST and len(candidates.members) <= SHORTLIST:
            base = score(candidates.members)
        else:  # only the SHORTLIST best are ranked below: find those without scoring every candidate
            levels = [self._level(w, t, synonyms) for w, (t, _, synonyms) in zip(asked, query)]
            base = _Contest(levels, score, candidates).run()
        return self._rank(base, query, vendors, limit, max(MIN_SCORE, floor))

    def _vendors(self, low: str) -> _Vendors:
        steer = {sid for sid, rx in self.vendor_rx.items() if rx.search(low)}
        terms = {stem(w) for sid in steer for ws in self.vendor_words[sid] for w in words(ws)}
        found = _PROVIDER_RX.search(low)
        if not found:
            return _Vendors(steer, terms, None, None, None)
        terms.update(stem(w) for w in words(found.group(1)))
        provider = PROVIDER_NAMES[found.group(1)]
        return _Vendors(steer, terms, provider, vapi.components_of(provider), vapi.main_component(provider))

    def _rank(self, base: dict[int, float], query: _Query, vendors: _Vendors,
              limit: int, floor: float) -> list[Scored]:
        """The best word matches, with the finer phrase and source adjustments, best first; equal scores in
        catalog order (ascending entry id).

        Only the SHORTLIST best word matches are considered: in a real catalog that is every qualifying entry,
        in a vast one it bounds the work. The phrase bonus (the slow part) is skipped for an entry that could
        not make the first `limit` even with the largest bonus.
        """
        positions = [{t, *alts} for t, alts, _ in query]
        union = set().union(*positions)
        bigrams = [self.postings.get(b, {}) for b in _bigrams([t for t, _, _ in query])]
        ranked: list[tuple[float, int]] = []  # (score, -entry) of each that reaches `floor`: larger ranks first
        kept: list[tuple[float, int]] = []  # the `limit` best of those so far, smallest first
        for i in _best_first(base, SHORTLIST):
            component = self.facets[i].get("component")
            if vendors.serves is not None and component in PIPELINE and component not in vendors.serves:
                continue  # "deepgram api key": Deepgram is no LLM, so the LLM families do not apply
            words_bonus = sum(0.04 for b in bigrams if i in b)
            full = 0 < limit <= len(kept)
            if full and (self._final(i, base[i] + (words_bonus + MAX_PHRASE_BONUS), vendors), -i) < kept[0]:
                continue
            phrase_bonus = words_bonus + _longest_phrase(self.phrases[i], positions, union)
            score = self._final(i, base[i] + phrase_bonus, vendors)
            if score >= floor:
                ranked.append((score, -i))
                (heapq.heappushpop if len(kept) >= limit else heapq.heappush)(kept, (score, -i))
        ranked.sort(reverse=True)
        return [self._scored(-negated, score, vendors) for score, negated in ranked[:limit]]

    def _scored(self, i: int, score: float, vendors: _Vendors) -> Scored:
        facets = dict(self.facets[i])
        if vendors.provider and self.catalog.entries[i].source == "vapi":
            facets["vendor"] = vendors.provider
        return Scored(self.catalog.entries[i], score, facets)

    def _final(self, i: int, raw: float, vendors: _Vendors) -> float:
        """The 0-100 score of entry `i` from its word and phrase match `raw`, after the source adjustments."""
        entry = self.catalog.entries[i]
        raw *= 1 - RANK_PENALTY * (self.catalog.sources[entry.source].rank - 1)
        if entry.is_family:
            raw *= FAMILY_FACTOR
        if "fault" in entry.facet_map:
            raw *= FAMILY_FACTOR  # a prefix-specific variant: only when the words point at it
        if vendors.main is not None and self.facets[i].get("component") == vendors.main:
            raw *= 1.03
        if entry.source in vendors.steer:
            raw *= 1.2
        elif vendors.steer:
            raw *= 0.9
        return MAX_SCORE * raw / (raw + SOFTNESS)


class _Scorer:
    """The word-match score (0-1) of entries that qualify: their words cover MIN_COVERAGE of the question and
    MIN_EVIDENCE, they match two words (or the only one), one of them as typed."""

    def __init__(self, query: list[_Word], total: float):
        self.total = total
        self.need = min(2, len(query))
        self.floor = max(MIN_COVERAGE * total, MIN_EVIDENCE)
        # Bound once per question: a search scores entries in many small batches.
        self.lookups = [(w.postings.get, [a.get for a in w.alternatives], w.idf, w.typed) for w in query]

    def __call__(self, ids: Iterable[int]) -> dict[int, float]:
        total, need, floor, lookups = self.total, self.need, self.floor, self.lookups
        out: dict[int, float] = {}
        for i in ids:
            got = covered = 0.0
            hits = typed_hits = 0
            for own, alternatives, idf, typed in lookups:
                w = own(i, 0.0)
                if not w and alternatives:
                    w = max([alt(i, 0.0) for alt in alternatives]) * SYNONYM_WEIGHT
                if w:
                    got += idf * w / TOP_WEIGHT
                    covered += idf
                    hits += 1
                    typed_hits += typed
            if covered >= floor and hits >= need and typed_hits:
                out[i] = min(1.0, got / total) * 0.75 + min(1.0, covered / total) * 0.25
        return out


def _phrases(entry: Entry, shared: dict[object, object]) -> tuple[tuple[str, ...], ...]:
    """Multi-word titles, aliases and keywords as word tuples, for the phrase bonus.

    Entries borrow each other's phrases (a vendor's list repeats itself), so each distinct word, phrase and
    list of phrases is kept once, in `shared`: pickling keeps that sharing, it does not create it.
    """
    out = []
    for text in (entry.title, *entry.aliases, *entry.keywords):
        terms = tuple(shared.setdefault(w, w) for w in content_words(text))
        if len(terms) >= 2:
            out.append(shared.setdefault(terms, terms))
    listed = tuple(out)
    return shared.setdefault(listed, listed)  # type: ignore[return-value]


def _longest_phrase(phrases: tuple[tuple[str, ...], ...], query: list[set[str]], union: set[str]) -> float:
    """A bonus when one of the entry's own phrases appears whole, in order, in the question; each question
    word may stand in by one of its synonyms ("tts broke" meets "tts failed")."""
    best = 0
    for phrase in phrases:
        size = len(phrase)
        if size <= best or not union.issuperset(phrase):
            continue
        if any(all(w in query[i + k] for k, w in enumerate(phrase)) for i in range(len(query) - size + 1)):
            best = size
    return min(MAX_PHRASE_BONUS, 0.05 * best)


def _classes(postings: dict[int, float]) -> _Classes:
    """`postings` (entry -> weight) as weight classes, for the shortlist search."""
    by_weight: dict[float, list[int]] = defaultdict(list)
    for i, weight in postings.items():
        by_weight[weight].append(i)
    listed: list[tuple[float, frozenset[int]]] = []
    rest = 0.0
    for weight in sorted(by_weight, reverse=True):
        if weight <= PROSE_WEIGHT and len(by_weight[weight]) > SMALL_CLASS:
            rest = weight
            break
        listed.append((weight, frozenset(by_weight[weight])))
    known = frozenset().union(*(members for _, members in listed)) if rest else None
    return _Classes(tuple(listed), rest, known)


def _key(alternatives: set[str]) -> str:
    return " ".join(sorted(alternatives))


def _best(postings: list[_Weights]) -> _Weights:
    """Each entry's highest weight among `postings` (one of them: itself, shared rather than copied)."""
    if len(postings) == 1:
        return postings[0]
    out = _Weights()
    for users in postings:
        for i, weight in users.items():
            if weight > out.get(i, 0.0):
                out[i] = weight
    return out


def _alternatives(spec: str) -> set[str]:
    """Comma-separated alternatives: a word stands for itself, a phrase for its word pairs (all must meet)."""
    out: set[str] = set()
    for phrase in spec.split(","):
        terms = content_words(phrase)
        out.update(_bigrams(terms) if len(terms) > 1 else terms)
    return out


def _bigrams(terms: list[str]) -> list[str]:
    return [f"{a}_{b}" for a, b in zip(terms, terms[1:])]


def _terms(text: str, bigrams: bool = True) -> list[str]:
    # In prose only three-digit numbers are status codes worth matching ("returning 500"); shorter and
    # longer ones are counts, years, ids and phone number groups, and real codes are recognised elsewhere.
    ws = [w for w in content_words(text) if (len(w) > 1 and not w.isdigit()) or len(w) == 3]
    return ws + _bigrams(ws) if bigrams else ws

