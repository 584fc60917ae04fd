"""Plain-words matching: "caller hears silence after transfer" → the entries that describe that.

A weighted word-overlap score over each entry's title, aliases, keywords, code words, meaning and symptom,
with the synonyms voice engineers use, typo repair against the catalog's vocabulary, and a coverage
requirement so that a question about lunch finds nothing instead of a guess.
"""
from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
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
TYPO_CUTOFF = 82.0

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
_PROVIDER_RX = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(PROVIDER_NAMES, key=len, reverse=True)) + r")\b")


@dataclass
class Scored:
    entry: Entry
    score: float
    facets: dict[str, str | int]


def _field_text(entry: Entry, name: str) -> str:
    if name == "code":
        return re.sub(r"[._\-*?]+", " ", " ".join((entry.code, *entry.patterns)))
    value = getattr(entry, name)
    return " ".join(value) if isinstance(value, tuple) else value


class SymptomIndex:
    """Term weights per entry and inverse document frequencies, computed once per catalog."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.weights: list[dict[str, float]] = []
        df: dict[str, int] = defaultdict(int)
        for entry in catalog.entries:
            per_field: dict[str, list[float]] = defaultdict(list)
            for name, weight in FIELD_WEIGHTS:
                for term in set(_terms(_field_text(entry, name))):
                    per_field[term].append(weight)
            # The best field counts in full; a word repeated in other fields adds a little (it is central).
            terms = {t: max(ws) + EXTRA_FIELD * (sum(ws) - max(ws)) for t, ws in per_field.items()}
            self.weights.append(terms)
            for term in terms:
                df[term] += 1
        n = max(len(catalog.entries), 1)
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for i, terms in enumerate(self.weights):
            for term, weight in terms.items():
                postings[term].append((i, weight))
        self.postings = dict(postings)  # plain dicts: a lookup while answering must never write
        self.vocabulary = sorted(t for t in self.idf if "_" not in t and not t.isdigit() and len(t) >= 3)
        by_initial: dict[str, list[str]] = defaultdict(list)
        for term in self.vocabulary:
            by_initial[term[0]].append(term)
        self.by_initial = dict(by_initial)
        self.phrases = [_phrases(entry) for entry in catalog.entries]
        # What a code says about itself (a Vapi provider code names its component) plus the entry's own facets.
        self.facets = [{**({} if e.is_family else vapi.parse(e.code)), **e.facet_map} for e in catalog.entries]
        self.synonyms = [(_terms(k, bigrams=False), _alternatives(v)) for k, v in SYNONYMS]
        self.vendor_words = {sid: s.vendor_words for sid, s in catalog.sources.items()}
        self.vendor_rx = {sid: any_word(words) for sid, words in self.vendor_words.items() if words}

    def _repair(self, term: str) -> str:
        """A word the catalog never uses, replaced by the closest word it does use (typos)."""
        if term in self.idf or len(term) < 5 or term.isdigit():
            return term
        same_start = [t for t in self.by_initial.get(term[0], []) if len(t) >= 4]
        best = process.extractOne(term, same_start, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF)
        return best[0] if best else term

    def _query(self, text: str) -> list[tuple[str, set[str]]]:
        """Query words (typos repaired), each with the alternative words (synonyms) that also count for it."""
        base = [self._repair(t) for t in dict.fromkeys(_terms(text, bigrams=False))][:MAX_QUERY_TERMS]
        alts: list[tuple[str, set[str]]] = [(t, set()) for t in base]
        for phrase, extra in self.synonyms:
            size = len(phrase)
            for i in range(len(base) - size + 1):
                if base[i:i + size] == phrase:
                    for j in range(i, i + size):
                        alts[j][1].update(extra)
        return alts

    def _candidates(self, query: list[tuple[str, set[str]]], total: float, vendor_mass: float) -> set[int]:
        """Entries that can still reach MIN_COVERAGE: they must hold one of the rarer words (or a synonym).

        The commonest words, taken together with the vendor words, weigh less than MIN_COVERAGE of the
        question; an entry holding only those can never qualify, so their long postings are never walked.
        """
        by_rarity = sorted(query, key=lambda q: self.idf.get(q[0], UNKNOWN_IDF))
        optional = vendor_mass
        required = []
        for term, alts in by_rarity:
            idf = self.idf.get(term, UNKNOWN_IDF)
            if optional + idf < MIN_COVERAGE * total:
                optional += idf
            else:
                required.append((term, alts))
        out: set[int] = set()
        for term, alts in required:
            for word in (term, *alts):
                out.update(i for i, _ in self.postings.get(word, ()))
        return out

    def _accumulate(self, candidates: set[int], query: list[tuple[str, set[str]]], as_typed: set[str]
                    ) -> tuple[dict[int, float], dict[int, float], dict[int, int], dict[int, int]]:
        """Per candidate: weighted score, idf mass covered, words matched, words matched as typed."""
        got: dict[int, float] = {}
        covered: dict[int, float] = {}
        hits: dict[int, int] = {}
        typed_hits: dict[int, int] = {}
        terms = [(t, tuple(alts), self.idf.get(t, UNKNOWN_IDF), t in as_typed) for t, alts in query]
        for i in candidates:
            weights = self.weights[i]
            g = c = 0.0
            h = th = 0
            for term, alts, idf, typed in terms:
                w = weights.get(term, 0.0)
                if not w and alts:
                    w = max(weights.get(a, 0.0) for a in alts) * SYNONYM_WEIGHT
                if w:
                    g += idf * w / TOP_WEIGHT
                    c += idf
                    h += 1
                    th += typed
            if h:
                got[i], covered[i], hits[i], typed_hits[i] = g, c, h, th
        return got, covered, hits, typed_hits

    def search(self, text: str, limit: int = 8, floor: float = 0.0) -> list[Scored]:
        """Entries whose words cover the question's words, best first, scores 0-100, nothing below MIN_SCORE
        (or `floor`, when higher)."""
        low = text.lower()
        steer = {sid for sid, rx in self.vendor_rx.items() if rx.search(low)}
        provider = _PROVIDER_RX.search(low)
        vendor_terms = {stem(w) for sid in steer for ws in self.vendor_words[sid] for w in words(ws)}
        if provider:
            vendor_terms.update(stem(w) for w in words(provider.group(1)))
        serves = vapi.components_of(PROVIDER_NAMES[provider.group(1)]) if provider else None
        main = vapi.main_component(PROVIDER_NAMES[provider.group(1)]) if provider else None
        query = self._query(low)
        own = [t for t, _ in query if t not in vendor_terms]
        if not own or (len(own) == 1 and self.idf.get(own[0], 0.0) < SINGLE_WORD_IDF):
            return []  # one everyday word ("error", "help") is no question the catalog can answer
        # A typo repair is a guess; it may support other evidence but never be the only evidence.
        as_typed = set(_terms(low, bigrams=False)[:1000])
        plain = [t for t, _ in query]
        positions = [{t, *alts} for t, alts in query]
        bigrams = _bigrams(plain)
        # Vendor words steer; they count when an entry uses them but cost nothing when it does not.
        total = sum(self.idf.get(t, UNKNOWN_IDF) for t, _ in query if t not in vendor_terms)
        vendor_mass = sum(self.idf.get(t, UNKNOWN_IDF) for t, _ in query if t in vendor_terms)
        got, covered, hits, typed_hits = self._accumulate(self._candidates(query, total, vendor_mass), query, as_typed)
        results: list[Scored] = []
        need = min(2, len(query))
        union = set().union(*positions)
        base = {i: min(1.0, got[i] / total) * 0.75 + min(1.0, cover / total) * 0.25 for i, cover in covered.items()
                if cover >= MIN_COVERAGE * total and cover >= MIN_EVIDENCE and hits[i] >= need and typed_hits[i]}
        # Only the best word matches get the finer (slower) phrase and source adjustments; in a real catalog
        # that is every qualifying entry, in a vast one it bounds the work.
        for i in heapq.nlargest(SHORTLIST, base, key=base.__getitem__):
            weights = self.weights[i]
            phrase_bonus = sum(0.04 for b in bigrams if b in weights) + _longest_phrase(self.phrases[i], positions, union)
            entry = self.catalog.entries[i]
            facets = self.facets[i]
            component = facets.get("component")
            if serves is not None and component in PIPELINE and component not in serves:
                continue  # "deepgram api key": Deepgram is no LLM, so the LLM families do not apply
            raw = base[i] + phrase_bonus
            raw *= 1 - RANK_PENALTY * (self.catalog.sources[entry.source].rank - 1)
            if entry.is_family:
                raw *= FAMILY_FACTOR
            if "fault" in entry.facet_map:
                raw *= FAMILY_FACTOR  # a prefix-specific variant: only when the words point at it
            if main is not None and component == main:
                raw *= 1.03
            if entry.source in steer:
                raw *= 1.2
            elif steer:
                raw *= 0.9
            score = MAX_SCORE * raw / (raw + SOFTNESS)
            if score >= max(MIN_SCORE, floor):
                facets = dict(facets)
                if provider and entry.source == "vapi":
                    facets["vendor"] = PROVIDER_NAMES[provider.group(1)]
                results.append(Scored(entry, score, facets))
        results.sort(key=lambda s: -s.score)
        return results[:limit]


def _phrases(entry: Entry) -> list[tuple[tuple[str, ...], frozenset[str]]]:
    """Multi-word titles, aliases and keywords as word tuples (and their word sets), for the phrase bonus."""
    out = []
    for text in (entry.title, *entry.aliases, *entry.keywords):
        terms = tuple(content_words(text))
        if len(terms) >= 2:
            out.append((terms, frozenset(terms)))
    return out


def _longest_phrase(phrases: list[tuple[tuple[str, ...], frozenset[str]]], query: list[set[str]], union: set[str]) -> float:
    """A bonus when one of the entry's own phrases appears whole, in order, in the question; each question
    word may stand in by one of its synonyms ("tts broke" meets "tts failed")."""
    best = 0
    for phrase, word_set in phrases:
        size = len(phrase)
        if size <= best or not word_set <= union:
            continue
        if any(all(w in query[i + k] for k, w in enumerate(phrase)) for i in range(len(query) - size + 1)):
            best = size
    return min(0.2, 0.05 * best)


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

