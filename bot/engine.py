"""The engine: one question in, one ranked Answer out. No Slack here, so the CLI starts fast.

Ranking order (issue 2): codes recognised in the text come first, in order of appearance; then the other
entries those codes could also mean (a twin in another source), then weaker evidence ranked by score:
numbers whose meaning depends on context, typos of codes, and plain-words matches.
"""
from __future__ import annotations

import functools
import pickle
import threading
from pathlib import Path

from .answer import Answer, FoundId, Match
from .catalog import Catalog, Entry, default_knowledge_dir, load
from .ids import MAX_IDS, LineIds, find_ids
from .recognize import Candidate, Hit, Recognizer
from .symptoms import SymptomIndex
from .text import content_words, line_around, normalize

MAX_OTHERS = 5
ALTERNATE_SCORE = 92.0
MAX_QUERY_CHARS = 100_000
EXPLAINED_FLOOR = 75.0
LONG_TEXT = 4000
_UNPACKING = threading.Lock()  # rarely taken: once per engine loaded from the cache


class Engine:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.recognizer = Recognizer(catalog)
        self._symptoms: SymptomIndex | None = SymptomIndex(catalog)
        self._symptoms_state: bytes | None = None
        self.entries_by_key = catalog.by_key()
        self.contexts = code_contexts(catalog)

    @property
    def symptoms(self) -> SymptomIndex:
        """The plain-words index. From the cache it is unpacked on first use: it is most of the engine's
        load time, and a code question (the usual CLI call) never needs it. Once unpacked, the packed bytes
        go (tens of MiB at 100,000 entries). One thread unpacks; others asking meanwhile wait for it (at
        100,000 entries each copy would cost hundreds of MiB)."""
        if self._symptoms is None:
            with _UNPACKING:
                if self._symptoms is None:
                    assert self._symptoms_state is not None
                    index = SymptomIndex.__new__(SymptomIndex)
                    index.__dict__.update(pickle.loads(self._symptoms_state))
                    index.catalog = self.catalog  # the same Entry objects as the rest of the engine
                    self._symptoms = index
                    self._symptoms_state = None
        return self._symptoms

    def __getstate__(self) -> dict[str, object]:
        """For the cache: the plain-words index packed apart (without its catalog), to unpack lazily."""
        state = dict(self.__dict__)
        index = dict(vars(self.symptoms))
        del index["catalog"]
        state["_symptoms_state"] = pickle.dumps(index, protocol=pickle.HIGHEST_PROTOCOL)
        state["_symptoms"] = None
        return state

    def ask(self, question: str) -> Answer:
        """Answer a code, a symptom in words, or a pasted log (Slack markup accepted as-is)."""
        # Lone surrogates (from JSON or a broken paste) cannot be printed or encoded; they become U+FFFD.
        question = question.encode("utf-8", "replace").decode("utf-8")
        text = normalize(question[:MAX_QUERY_CHARS])
        found = self.recognizer.find(text)
        lines = LineIds(text)
        answer = Answer(query=question, ids=self._ids(lines, found.hits), notes=found.notes)
        matches: dict[str, Match] = {}
        strong = [(h, self.in_context(h, text)) for h in found.hits if h.strong]
        for hit, candidates in strong:
            self._add(matches, hit, candidates[0], 100.0, True, lines)
        for hit, candidates in strong:
            for cand in candidates[1:]:
                self._add(matches, hit, cand, ALTERNATE_SCORE, False, lines)
        if not strong:
            for hit in found.hits:
                for rank, cand in enumerate(hit.candidates):
                    self._add(matches, hit, cand, hit.score - 2 * rank, False, lines)
            # A code-shaped token the catalog lacks is the question; guessing from the words around it is not.
            # Where the text explains its own numbers (a port, a WebSocket close code), only clear words count.
            floor = EXPLAINED_FLOOR if found.explained else 0.0
            for scored in ([] if found.unknown_code else self.symptoms.search(text, floor=floor)):
                key = scored.entry.key
                if key not in matches or matches[key].score < scored.score:
                    matches[key] = self._match(scored.entry, scored.score, "symptom", None, scored.facets, False)
        recognised = [m for m in matches.values() if m.recognised]
        others = sorted((m for m in matches.values() if not m.recognised), key=lambda m: -m.score)
        answer.matches = recognised + others[:MAX_OTHERS]
        for match in answer.matches:
            match.related = self.related(match)
        return answer

    def in_context(self, hit: Hit, text: str) -> list[Candidate]:
        """The hit's candidates, led by an entry of the same source whose keyword names the code together with
        words its line also uses: "our webhook answers 404" is the status our endpoint returned (the keyword
        "webhook 404"), not the vendor API's own 404."""
        readings = self.contexts.get(hit.token.lower())
        if not readings:
            return hit.candidates
        first = hit.candidates[0].entry
        line = set(content_words(line_around(text, hit.start)[1]))
        for entry, words in readings:
            if entry.source == first.source and entry is not first and words <= line:
                rest = [c for c in hit.candidates if c.entry is not entry]
                return [Candidate(entry, "context", entry.facet_map), *rest]
        return hit.candidates

    @staticmethod
    def _ids(lines: LineIds, hits: list[Hit]) -> list[FoundId]:
        """Ids in a question; in a long paste, only those on the lines of the codes found (support asks for
        the session of the failure, not every id in the log)."""
        text = lines.text
        if len(text) <= LONG_TEXT or not hits:
            return find_ids(text)
        seen: dict[FoundId, None] = {}
        for line_start in dict.fromkeys(text.rfind("\n", 0, hit.start) + 1 for hit in hits):
            seen.update(dict.fromkeys(lines.near(line_start)))
            if len(seen) >= MAX_IDS:
                break
        return list(seen)[:MAX_IDS]

    def _add(self, matches: dict[str, Match], hit: Hit, cand: Candidate, score: float, recognised: bool, lines: LineIds) -> None:
        key = cand.entry.key
        if key in matches and (matches[key].recognised or matches[key].score >= score):
            return
        match = self._match(cand.entry, score, cand.via, hit.token, cand.facets, recognised)
        match.ids = list(lines.near(hit.start)) if recognised else []
        matches[key] = match

    def _match(self, entry: Entry, score: float, via: str, token: str | None, facets: dict, recognised: bool) -> Match:
        return Match(entry=entry, source=self.catalog.sources[entry.source], score=score, via=via, token=token,
                     facets=dict(facets), recognised=recognised)

    def related(self, match: Match) -> list[Entry]:
        """See-also entries: the entry's own links, plus the SIP code a Vapi SIP reason embeds."""
        keys = list(match.entry.related)
        if match.facets.get("component") == "sip" and "http_status" in match.facets:
            keys.append(f"sip:{match.facets['http_status']}")
        out: list[Entry] = []
        for key in keys:
            entry = self.entries_by_key.get(key)
            if entry is not None and entry is not match.entry and entry not in out:
                out.append(entry)
        return out


def code_contexts(catalog: Catalog) -> dict[str, list[tuple[Entry, frozenset[str]]]]:
    """Keywords that name one number among other words ("webhook 404", "respond 200 immediately"), by that
    number, with the other words (stemmed, as `content_words` gives them)."""
    out: dict[str, list[tuple[Entry, frozenset[str]]]] = {}
    for entry in catalog.entries:
        for keyword in entry.keywords:
            said = content_words(keyword)
            numbers = [w for w in said if w.isdigit()]
            if len(numbers) == 1 and len(said) > 1:
                out.setdefault(numbers[0], []).append((entry, frozenset(w for w in said if w != numbers[0])))
    return out


@functools.lru_cache(maxsize=4)
def _engine_for(directory: str) -> Engine:
    from .cache import cached_engine  # cache imports this module

    return cached_engine(Path(directory))


def get_engine(directory: Path | None = None) -> Engine:
    """The engine for a knowledge directory, built once per process (Slack workers share it)."""
    return _engine_for(str(directory or default_knowledge_dir()))
