"""Recognition: every code a person typed or pasted, in order of appearance.

Three shapes of code are looked for: word codes (`customer-busy`, `call.start.error-get-org`,
`NO_ROUTE_DESTINATION`), numbers (`-2008`, `SIP/2.0 486`, `cause=16`) and reason phrases in words
("Busy Here", "Customer Did Not Answer"). Numbers are only taken where the text around them says they
are codes, so timestamps, ports, durations, phone numbers and ids never become codes.
"""
from __future__ import annotations

import bisect
import fnmatch
import itertools
import re
from collections.abc import Callable, Iterable, Iterator

from rapidfuzz import fuzz, process

from . import vapi
from .catalog import Catalog, Entry
from .hits import MAX_HITS, Candidate, Hit, Question, Recognition
from .numbers import NUMBER, NumberReader
from .text import any_word, code_key

WORD_TOKEN = re.compile(r"(?<![\w.\-])([A-Za-z][A-Za-z0-9]*(?:[._\-][A-Za-z0-9]+)+)")  # captured, for _Spans
# Vapi's phase prefixes, which people drop when they quote a code ("sip-completed-call").
PHASE_PREFIX = re.compile(r"^call\.[a-z\-]+\.(?:error-)?")
# A plain word is a code only where a field name says so: `endedReason=voicemail`, `"status": "busy"`.
_KEYED_WORD = (r"(?:ended_?reason|reason|status|call_?status|hangup_?cause|cause|disposition|outcome|result|error)"
               r"[\"']?\s*[:=]\s*[\"']?([A-Za-z][A-Za-z_]+)\b(?![\-.])")
KEYED_WORD = re.compile(_KEYED_WORD, re.I)
# The same pattern for lower-cased ASCII text: without re.I the field names give the scan a first-character
# set to skip by, about fifteen times faster on a long paste.
KEYED_WORD_LOWER = re.compile(_KEYED_WORD)
PHRASE_WORD = re.compile(r"([A-Za-z][A-Za-z']*)")  # captured: split() keeps the words
DIGIT = re.compile(r"\d")
MAX_PHRASE = 7
HTTP_WORDS = re.compile(r"\b(?:http|https|api|endpoint|rest|curl|request|webhook|json|nginx|cdn)\b", re.I)
WEBSOCKET = re.compile(r"\b(?:websockets?|web socket|sockets?|ws|wss|close code|close|closed|closes|closing)\b", re.I)
OTHER_VENDORS = {"twilio": "Twilio", "telnyx": "Telnyx", "plivo": "Plivo", "bandwidth": "Bandwidth",
                 "sinch": "Sinch", "signalwire": "SignalWire", "cloudflare": "Cloudflare", "nexmo": "Vonage"}
OTHER_VENDOR_RX = re.compile(r"\b(" + "|".join(OTHER_VENDORS) + r")\b", re.I)
FUZZY_CUTOFF = 88.0
PROSE_PHRASE_SCORE = 72.0
SIP_SOURCE, Q850_SOURCE = "sip", "q850"


class Recognizer:
    """Indexes built once per catalog; `find` does no per-query rebuilding."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.by_key: dict[str, list[Entry]] = {}
        for entry in catalog.entries:
            for name in (entry.code, *entry.aliases):
                bucket = self.by_key.setdefault(code_key(name), [])
                if entry not in bucket:
                    bucket.append(entry)
        self.tails: dict[str, list[Entry]] = {}
        for key, entries in self.by_key.items():
            tail = PHASE_PREFIX.sub("", key)
            if tail != key and tail not in self.by_key:
                self.tails.setdefault(tail, []).extend(entries)
        # Each family with the longest fixed piece of its patterns: a code without that piece cannot match, and
        # a substring test is far cheaper than a wildcard match (thousands of families in a large catalog).
        self.families = [(e, tuple(p.lower() for p in e.patterns), _shared_literal(e.patterns))
                         for e in catalog.entries if e.patterns]
        self.phrase_prefixes: set[str] = set()
        for key in self.by_key:
            parts = key.split("-")
            if len(parts) > 1 and all(p.replace("'", "").isalpha() for p in parts):
                self.phrase_prefixes.update("-".join(parts[:n]) for n in range(1, min(len(parts), MAX_PHRASE)))
        # Keys a typo may be of, by length, so the keys of the lengths a typo can reach are one slice.
        typo_keys = (k for k in self.by_key if len(k) >= 6 and not k.lstrip("-").isdigit())
        self.fuzzy_keys = _Keys("\n".join(sorted(typo_keys, key=lambda k: (len(k), k))))
        self.fuzzy_lengths = [len(k) for k in self.fuzzy_keys]
        self.code_keys = {e: code_key(e.code) for e in catalog.entries}  # by entry: ids do not survive pickling
        self.vendor_rx = {sid: any_word(s.vendor_words) for sid, s in catalog.sources.items() if s.vendor_words}
        # A source's vendor words in lower case, where all are ASCII: in ASCII text, none of them as a
        # substring means no match, and a substring test is far cheaper than the pattern on a long paste.
        self.vendor_needles = {sid: tuple(w.lower() for w in s.vendor_words) for sid, s in catalog.sources.items()
                               if s.vendor_words and all(w.isascii() for w in s.vendor_words)}
        http_sources = frozenset(sid for sid, s in catalog.sources.items() if "http" in s.vendor_words)
        all_words = frozenset(w for s in catalog.sources.values() for w in s.vendor_words)
        self.numbers = NumberReader(self.by_key, self.order, SIP_SOURCE, Q850_SOURCE, http_sources, self.vendor_rx, all_words)
        self.sip_words = self.vendor_rx.get(SIP_SOURCE, re.compile(r"(?!)"))
        self.single_words = {code_key(e.code) for e in catalog.entries if code_key(e.code).isalpha()}

    # ---- word codes -------------------------------------------------------------------------------
    def family(self, code: str) -> Candidate | None:
        """The family entry for a structured code: patterns that match, facets that agree, most specific."""
        facets = vapi.parse(code)
        best: tuple[int, int, Entry] | None = None
        for entry, patterns, literal in self.families:
            if literal not in code or not any(fnmatch.fnmatchcase(code, p) for p in patterns):
                continue
            fixed = entry.facet_map
            if any(str(facets.get(k)) != str(v) for k, v in fixed.items()):
                continue
            specificity = max(len(p.replace("*", "")) for p in patterns if fnmatch.fnmatchcase(code, p))
            rank = (len(fixed), specificity, entry)
            if best is None or rank[:2] > best[:2]:
                best = rank
        return Candidate(best[2], "pattern", facets) if best else None

    def word_code(self, token: str) -> list[Candidate]:
        key = code_key(token)
        # Only a token written like an endedReason may be completed with a phase prefix (not `vapi_hooks.py`).
        options = [key, *vapi.expansions(key)] if token == key else [key]
        for option in options:
            if option in self.by_key:
                facets = vapi.parse(option)
                return [Candidate(e, "exact", {**e.facet_map, **facets}) for e in self.by_key[option]]
        if key in self.tails:
            return [Candidate(e, "exact", {**e.facet_map, **vapi.parse(e.code)}) for e in self.tails[key]]
        for option in options:
            if vapi.split_prefix(option)[0] is not None:
                found = self.family(option)
                if found:
                    return [found]
        return []

    def fuzzy(self, token: str) -> list[tuple[Candidate, float]]:
        """Typos of word codes (`asistant-not-found`): close spellings of known codes and aliases."""
        key = code_key(token)
        if len(key) < 6:
            return []
        # ratio = 2·matches / (len a + len b) ≥ cutoff bounds the other length: only those keys can qualify.
        low, high = _length_window(len(key), FUZZY_CUTOFF)
        keys = self.fuzzy_keys[bisect.bisect_left(self.fuzzy_lengths, low):bisect.bisect_right(self.fuzzy_lengths, high)]
        found = process.extract(key, keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=3)
        out: list[tuple[Candidate, float]] = []
        for name, ratio, _ in found:
            for entry in self.by_key[name]:
                out.append((Candidate(entry, "fuzzy", entry.facet_map), ratio))
        return out

    # ---- numbers ----------------------------------------------------------------------------------
    def mentioned(self, text: str) -> frozenset[str]:
        """Sources whose vendor words the text uses ("masking", "voxifi", "sip", "deepgram")."""
        lower = text.lower() if text.isascii() else ""
        return frozenset(sid for sid, rx in self.vendor_rx.items()
                         if (not lower or self._may_name(sid, lower)) and rx.search(text))

    def _may_name(self, source: str, lower: str) -> bool:
        needles = self.vendor_needles.get(source)
        return needles is None or any(n in lower for n in needles)

    def order(self, entries: list[Entry], prefer: str, q: Question, token: str = "") -> list[Entry]:
        """Entries sharing one code: the preferred source, then sources the text names, then an entry that
        spells the token exactly as written (`NO_ANSWER` is FreeSWITCH's, `no-answer` Voxifi's), then one
        whose code rather than an alias it is, then the sources' own rank."""
        key = code_key(token)

        def rank(e: Entry) -> tuple[int, int, int, int, int]:
            verbatim = token in (e.code, *e.aliases)
            by_alias = bool(key) and self.code_keys[e] != key
            return (0 if e.source == prefer else 1, 0 if e.source in q.mentioned else 1, 0 if verbatim else 1,
                    int(by_alias), self.catalog.sources[e.source].rank)
        return sorted(entries, key=rank)

    # ---- phrases ----------------------------------------------------------------------------------
    def phrases(self, q: Question, taken: bytearray, words: _Words) -> list[Hit]:
        """Codes and aliases written as words ("Busy Here", "Customer Did Not Answer"), longest first.

        A phrase is a recognised code when it is the whole question or written the way logs and dashboards
        write labels (Title Case, UPPER CASE); in running prose it is only a candidate. A single word counts
        only when it is the whole question ("voicemail", "canceled").
        """
        text = q.text
        starts, ends = words.starts, words.ends
        entire = _entire_key(q.stripped)
        hits: list[Hit] = []
        free = 0  # the first word not inside a phrase already found
        for i in self._phrase_starts(words.lower, entire):
            if len(hits) >= MAX_HITS:
                break
            if i < free or taken[starts[i]]:
                continue
            size = self._phrase_at(text, words, taken, i, entire)
            if not size:
                continue
            s, e = starts[i], ends[i + size - 1]
            key = code_key(text[s:e])
            entries = self._phrase_entries(q, s, key, text[s:e])
            if entries:
                strong = key == entire or (size > 1 and _titled(text[s:e]))
                hits.append(Hit(s, e, text[s:e], [Candidate(x, "exact", x.facet_map) for x in entries],
                                strong, "phrase", 100.0 if strong else PROSE_PHRASE_SCORE))
            free = i + size
        return hits

    def _phrase_starts(self, lower: list[str], entire: str) -> list[int]:
        """The words a phrase may start at. Most words of a paste start none; short of the whole question,
        a phrase's first two words are a code or the start of one."""
        prefixes, keys = self.phrase_prefixes, self.by_key
        firsts = prefixes.intersection(lower)  # one set operation rules out most words of a paste
        if entire:
            firsts.add(entire)
        after = [*lower[1:], ""]
        return [i for i in _where(lower, firsts.__contains__)
                if (word := lower[i]) == entire or (pair := f"{word}-{after[i]}") in keys or pair in prefixes]

    def _phrase_entries(self, q: Question, start: int, key: str, phrase: str) -> list[Entry]:
        """Entries a phrase names; on an HTTP line ("HTTP/1.1 503 Service Unavailable") not the SIP/Q.850 ones."""
        entries = self.order(self.by_key[key], "", q, phrase)
        if not any(e.source in (SIP_SOURCE, Q850_SOURCE) for e in entries):
            return entries  # the line cannot change them: no need to read it
        line = q.line_at(start)[1]
        if line.http and not line.sip:
            entries = [e for e in entries if e.source not in (SIP_SOURCE, Q850_SOURCE)]
        return entries

    def _phrase_at(self, text: str, words: _Words, taken: bytearray, i: int, entire: str) -> int:
        """Length in words of the longest catalog phrase starting at word i (0: none); words must be
        separated by blanks only, so `busy.here` or `busy, here` never read as "Busy Here", and none may be
        inside a code already recognised."""
        starts, ends, lower = words.starts, words.ends, words.lower
        key, best = lower[i], 1 if lower[i] == entire and lower[i] in self.by_key else 0
        for j in range(i + 1, min(i + MAX_PHRASE, len(lower))):
            if (key not in self.phrase_prefixes or taken[starts[j]]
                    or not text[ends[j - 1]:starts[j]].isspace()):
                break
            key = f"{key}-{lower[j]}"
            if key in self.by_key:
                best = j - i + 1
        return best

    # ---- all together -----------------------------------------------------------------------------
    def find(self, text: str) -> Recognition:
        """Every code in `text` (already normalised), in order of first appearance (at most MAX_HITS)."""
        out = Recognition()
        q = Question(text, self.mentioned(text), self.sip_words, HTTP_WORDS, WEBSOCKET)
        typos = self._word_codes(q, out)
        for start, end in _keyed_words(text):
            value = text[start:end]
            key = code_key(value)
            if key in self.by_key and len(out.hits) < MAX_HITS:
                entries = self.order(self.by_key[key], "", q, value)
                out.hits.append(Hit(start, end, value, [Candidate(e, "exact", e.facet_map) for e in entries],
                                    True, "word"))
        for m in NUMBER.finditer(text):
            if len(out.hits) >= MAX_HITS:
                break
            found = self.numbers.read(q, m, out)
            if found:
                out.hits.append(found)
        words = _Words(text)
        out.hits.extend(self._listed_words(words, out.hits, _covered(text, out.hits)))
        out.hits.extend(self.phrases(q, _covered(text, out.hits), words))
        if not any(h.strong for h in out.hits):
            fuzzy_hits = self._typos(typos)
            if q.word_count <= 6:
                out.hits.extend(self._whole_query(q.stripped, fuzzy_hits))
            out.hits.extend(fuzzy_hits)
        self._other_vendor_note(text, out)
        out.hits = _first_per_span(sorted(out.hits, key=lambda h: h.start))
        return out

    def _word_codes(self, q: Question, out: Recognition) -> Iterator[tuple[int, int, str]]:
        """Word-shaped codes into `out`, each distinct token looked up once (a paste repeats them); returns
        the unknown word-shaped tokens (typos, maybe) as (start, end, token), found only when asked for."""
        tokens = _Spans(WORD_TOKEN, q.text)
        known = {t: found for t in dict.fromkeys(tokens.found) if (found := self._ordered_word_code(q, t))}
        for k in itertools.islice(_where(tokens.found, known.__contains__), max(0, MAX_HITS - len(out.hits))):
            token = tokens.found[k]
            out.hits.append(Hit(tokens.starts[k], tokens.ends[k], token, known[token], True, "word"))
        unknown = _where(tokens.found, lambda t: t not in known)
        return ((tokens.starts[k], tokens.ends[k], tokens.found[k]) for k in unknown)

    def _typos(self, tokens: Iterable[tuple[int, int, str]]) -> list[Hit]:
        """Close spellings of known codes among the tokens shaped like one, for a text in which no code was
        recognised (they would not count beside one, and the typo search is the costliest step at 100,000
        entries). Host names, UUIDs and file names in a paste are not shaped like one."""
        found: dict[str, list[tuple[Candidate, float]]] = {}
        hits: list[Hit] = []
        for start, end, token in tokens:
            if token not in found:
                found[token] = self.fuzzy(token) if _typo_shaped(token) else []
            hits.extend(Hit(start, end, token, [c], False, "fuzzy", r * 0.9) for c, r in found[token])
        return hits

    def _ordered_word_code(self, q: Question, token: str) -> list[Candidate]:
        found = self.word_code(token)
        if not found:
            return found
        rank = {id(e): i for i, e in enumerate(self.order([c.entry for c in found], "", q, token))}
        return sorted(found, key=lambda c: rank[id(c.entry)])

    def _listed_words(self, words: _Words, hits: list[Hit], taken: bytearray) -> list[Hit]:
        """Single-word codes listed next to codes of the same source ("customer-busy, some voicemail")."""
        sources = {h.candidates[0].entry.source for h in hits if h.strong and h.context == "word"}
        out: list[Hit] = []
        if not sources:
            return out
        single = self.single_words
        for i in _where(words.lower, single.__contains__):
            word = words.lower[i]
            if taken[words.starts[i]]:
                continue
            entries = [e for e in self.by_key[word] if e.source in sources and e.code == word]
            if entries:
                out.append(Hit(words.starts[i], words.ends[i], words.found[i],
                               [Candidate(e, "exact", e.facet_map) for e in entries], True, "word"))
        return out

    def _whole_query(self, stripped: str, fuzzy_hits: list[Hit]) -> list[Hit]:
        """A short question that is a code written with spaces or a typo in it ("customer endd call")."""
        key = code_key(stripped)
        if key in self.by_key or key.lstrip("-").isdigit():
            return []
        return [Hit(0, len(stripped), stripped, [c], False, "fuzzy", r * 0.9)
                for c, r in self.fuzzy(key) if not any(h.candidates[0].entry is c.entry for h in fuzzy_hits)]

    def _other_vendor_note(self, text: str, out: Recognition) -> None:
        if any(h.strong for h in out.hits):
            return
        vendor = OTHER_VENDOR_RX.search(text)
        number = re.search(r"(?<![\w.\-])\d{4,6}(?![\w.])", text)
        if vendor and number:
            name = OTHER_VENDORS[vendor.group(1).lower()]
            out.note_unknown(f"{number.group(0)} looks like a {name} error code; {name}'s own codes are not in the "
                             f"catalog yet. Look it up in {name}'s error reference.")


def _entire_key(stripped: str) -> str:
    """The key of the whole question, to compare with words and phrases ("" for none): with a digit in it,
    it equals none of them, and a long paste's key is not worth making."""
    return "" if DIGIT.search(stripped) else code_key(stripped)


def _keyed_words(text: str) -> list[tuple[int, int]]:
    """Spans of the values a field name calls a code or reason, in order (KEYED_WORD's group)."""
    if text.isascii():  # lower-casing keeps every position, and re.I adds no ASCII-only equivalences
        return [m.span(1) for m in KEYED_WORD_LOWER.finditer(text.lower())]
    return [m.span(1) for m in KEYED_WORD.finditer(text)]


class _Keys(list[str]):
    """Code keys laid out one after another in memory, made from the keys joined by newlines (a key holds no
    blank). A typo search reads tens of thousands of them; scattered over a large engine's heap, nearly every
    read missed the CPU caches (twice the time at 100,000 entries). Pickled as that one string, so an engine
    loaded from the cache gets the same layout."""

    def __init__(self, joined: str):
        super().__init__(joined.split("\n") if joined else [])

    def __reduce__(self) -> tuple:
        return _Keys, ("\n".join(self),)


def _where(items: list[str], wanted: Callable[[str], bool]) -> Iterator[int]:
    """Indexes of the items `wanted` accepts, in order, lazily; with no Python loop over a paste's words."""
    return itertools.compress(range(len(items)), map(wanted, items))


class _Spans:
    """Every match of a pattern with one group (the match) in a text, as lists of match, start and end: one
    split gives the matches and the text between them with no match object per match (a paste has
    thousands), and their lengths added up give every position."""

    def __init__(self, pattern: re.Pattern[str], text: str):
        pieces = pattern.split(text)  # between, match, between, match, ..., between
        offsets = list(itertools.accumulate(map(len, pieces), initial=0))
        self.found = pieces[1::2]
        self.starts, self.ends = offsets[1:-1:2], offsets[2::2]


class _Words(_Spans):
    """The words (PHRASE_WORD) of one text, read once for the listed-word and the phrase passes, with their
    lower case."""

    def __init__(self, text: str):
        super().__init__(PHRASE_WORD, text)
        # Words hold no blank, so one join, one lower() and one split give every word's lower case.
        self.lower = " ".join(self.found).lower().split(" ") if self.found else []


def _covered(text: str, hits: list[Hit]) -> bytearray:
    """One flag per character of `text`: inside a code already recognised."""
    flags = bytearray(len(text) + 1)
    for hit in hits:
        flags[hit.start:hit.end] = b"\x01" * (hit.end - hit.start)
    return flags


def _shared_literal(patterns: tuple[str, ...]) -> str:
    """A piece of text every one of the patterns requires (lower case), "" when they share none."""
    pieces = [set(p.lower().replace("?", "*").split("*")) - {""} for p in patterns]
    common = set.intersection(*pieces) if pieces else set()
    return max(common, key=len, default="")


def _length_window(length: int, cutoff: float) -> tuple[int, int]:
    """Lengths a string may have and still reach `cutoff` (percent) in fuzz.ratio against one of `length`."""
    share = cutoff / 100
    return int(length * share / (2 - share)), int(length * (2 - share) / share) + 1


def _first_per_span(hits: list[Hit]) -> list[Hit]:
    """Drop a hit that starts inside an earlier one (a reason phrase already read with its status number)."""
    out: list[Hit] = []
    for hit in hits:
        if out and hit.start < out[-1].end and out[-1].strong:
            continue
        out.append(hit)
    return out


def _typo_shaped(token: str) -> bool:
    """Worth a fuzzy look: a code-like token of words (`asistant-not-found`), not a UUID or host name."""
    parts = re.split(r"[.\-_]", token.lower())
    return len(parts) >= 3 and sum(p.isalpha() and len(p) >= 3 for p in parts) >= 2 and vapi.looks_like_vapi(token.lower())


def _titled(text: str) -> bool:
    words = [w for w in text.split() if len(w) > 3]
    return bool(words) and all(w[0].isupper() for w in words)
