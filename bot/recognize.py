"""Recognition: every code a person typed or pasted, in order of appearance.

Three shapes of code are looked for: word codes (`customer-busy`, `call.start.error-get-org`,
`NO_ROUTE_DESTINATION`), numbers (`-2008`, `SIP/2.0 486`, `cause=16`) and reason phrases in words
("Busy Here", "Customer Did Not Answer"). Numbers are only taken where the text around them says they
are codes, so timestamps, ports, durations, phone numbers and ids never become codes.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from . import vapi
from .catalog import Catalog, Entry
from .text import any_word, code_key

WORD_TOKEN = re.compile(r"(?<![\w.\-])[A-Za-z][A-Za-z0-9]*(?:[._\-][A-Za-z0-9]+)+")
NUMBER = re.compile(r"(?<![\w.\-/+$])-?\d+")
# Vapi's phase prefixes, which people drop when they quote a code ("sip-completed-call").
PHASE_PREFIX = re.compile(r"^call\.[a-z\-]+\.(?:error-)?")
# A plain word is a code only where a field name says so: `endedReason=voicemail`, `"status": "busy"`.
KEYED_WORD = re.compile(
    r"(?:ended_?reason|reason|status|call_?status|hangup_?cause|cause|disposition|outcome|result|error)"
    r"[\"']?\s*[:=]\s*[\"']?([A-Za-z][A-Za-z_]+)\b(?![\-.])", re.I)
PHRASE_WORD = re.compile(r"[A-Za-z][A-Za-z']*")
MAX_PHRASE = 7

# What the words right before a number say it is.
Q850_KEY = re.compile(r"(?:\b|hangup|_|-)(?:cause|q\.?850)[a-z_\-]{0,8}(?:\s+(?:code|value|no\.?|number))?[\"']?\s*[:=;]?\s*[\"']?\s*$")
SIP_KEY = re.compile(
    r"(?:\b|_)(?:sip(?:/2\.0)?|invite|reply|response|rs|reason)[a-z_\-]{0,16}(?:\s+(?:code|status|response|error))?"
    r"[\"']?\s*[:=]?\s*[\"']?\s*[\[(]?\s*$")
CODE_KEY = re.compile(
    r"(?:\b|_)(?:error|err|errorcode|error_code|code|status|statuscode|status_code|errno|http(?:/[\d.]+)?)"
    r"[\"']?\s*[:=]?\s*[\"']?\s*$")
HTTP_KEY = re.compile(r"\bhttps?(?:/[\d.]+)?\s*(?:status\s*)?[:=]?\s*$", re.I)
# Verbs that introduce a code only when the line is about SIP or HTTP ("the carrier returned 503").
VERB_KEY = re.compile(r"\b(?:returned|returning|returns|got|gets|with|answered|answers|replied|replies|sent|sends|gave)\s*$")
SIP_WORDS = re.compile(
    r"\b(?:sip|invite|trunk|carrier|sbc|kamailio|opensips|asterisk|freeswitch|pjsip|livekit|jambonz|drachtio|"
    r"registrar|proxy|bye|siptrunk|sip-trunk|telnyx|gateway)\b", re.I)
HTTP_WORDS = re.compile(r"\b(?:http|https|api|endpoint|rest|curl|request|webhook|json)\b", re.I)
NOT_A_CODE_BEFORE = re.compile(
    r"\b(?:port|ports|ref|reference|ticket|inc|pr|issue|version|v|line|room|floor|order|build|pid|job|id|"
    r"duration|timeout|latency|after|took|took about|for|over|under|about|every|last|top|page|step|"
    r"websocket|ws|close|closed)\s*[:=#]?\s*$", re.I)
UNIT_AFTER = re.compile(
    r"^\s*(?:ms|s|sec|secs|seconds?|mins?|minutes?|h|hrs?|hours?|days?|kb|mb|gb|%|x|calls?|times|users?|"
    r"people|percent|concurrent|agents?|retries|attempts|chars?|characters|bytes|khz|hz|kbps)\b", re.I)
WEBSOCKET = re.compile(r"\b(?:websockets?|web socket|sockets?|ws|wss|close code|close|closed|closes|closing)\b", re.I)
WELL_KNOWN_PORTS = {5060: "the standard SIP port (UDP/TCP)", 5061: "the standard SIP-over-TLS port",
                    5062: "a common alternative SIP port", 3478: "the STUN/TURN port", 5349: "the STUN/TURN-over-TLS port"}
WEBSOCKET_CLOSE = {
    1000: "normal closure", 1001: "going away: a server restart or page close", 1002: "protocol error",
    1003: "unsupported data", 1005: "no status received", 1006: "abnormal closure: the connection dropped "
    "without a close frame", 1007: "invalid payload", 1008: "policy violation", 1009: "message too big",
    1010: "missing extension", 1011: "internal error on the server", 1012: "service restart",
    1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake failure",
}
OTHER_VENDORS = {"twilio": "Twilio", "telnyx": "Telnyx", "plivo": "Plivo", "bandwidth": "Bandwidth",
                 "sinch": "Sinch", "signalwire": "SignalWire", "cloudflare": "Cloudflare", "nexmo": "Vonage"}
OTHER_VENDOR_RX = re.compile(r"\b(" + "|".join(OTHER_VENDORS) + r")\b", re.I)
FUZZY_CUTOFF = 88.0
WEAK_NUMBER_SCORE = 66.0
PROSE_PHRASE_SCORE = 72.0


@dataclass
class Candidate:
    entry: Entry
    via: str
    facets: dict[str, str | int] = field(default_factory=dict)


@dataclass
class Hit:
    """One code found in the text and the catalog entries it can stand for, most likely first."""

    start: int
    end: int
    token: str
    candidates: list[Candidate]
    strong: bool
    context: str = ""
    score: float = 100.0


@dataclass
class Recognition:
    hits: list[Hit] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


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
        self.families = [(e, tuple(p.lower() for p in e.patterns)) for e in catalog.entries if e.patterns]
        self.phrase_prefixes: set[str] = set()
        for key in self.by_key:
            parts = key.split("-")
            if len(parts) > 1 and all(p.replace("'", "").isalpha() for p in parts):
                self.phrase_prefixes.update("-".join(parts[:n]) for n in range(1, min(len(parts), MAX_PHRASE)))
        self.fuzzy_keys = sorted(k for k in self.by_key if len(k) >= 6 and not k.lstrip("-").isdigit())
        self.sip = {e.code: e for e in catalog.entries if e.source == "sip"}
        self.vendor_words = {sid: s.vendor_words for sid, s in catalog.sources.items()}
        self.vendor_rx = {sid: any_word(words) for sid, words in self.vendor_words.items() if words}
        self.single_words = {code_key(e.code) for e in catalog.entries if code_key(e.code).isalpha()}

    # ---- word codes -------------------------------------------------------------------------------
    def family(self, code: str) -> Candidate | None:
        """The family entry for a structured code: patterns that match, facets that agree, most specific."""
        facets = vapi.parse(code)
        best: tuple[int, int, Entry] | None = None
        for entry, patterns in self.families:
            if not any(fnmatch.fnmatchcase(code, p) for p in patterns):
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
                return [Candidate(e, "exact", {**e.facet_map, **facets}) for e in self._ordered(self.by_key[option], "", token, token)]
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
        found = process.extract(key, self.fuzzy_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_CUTOFF, limit=3)
        out: list[tuple[Candidate, float]] = []
        for name, ratio, _ in found:
            for entry in self.by_key[name]:
                out.append((Candidate(entry, "fuzzy", entry.facet_map), ratio))
        return out

    # ---- numbers ----------------------------------------------------------------------------------
    def _mentioned(self, source: str, text: str) -> bool:
        rx = self.vendor_rx.get(source)
        return bool(rx and rx.search(text))

    def _ordered(self, entries: list[Entry], prefer: str, text: str, token: str = "") -> list[Entry]:
        """Entries sharing one code: the preferred source, then sources the text names, then an entry that
        spells the token exactly as written (`NO_ANSWER` is FreeSWITCH's, `no-answer` Voxifi's), then one
        whose code rather than an alias it is, then the sources' own rank."""
        key = code_key(token)

        def rank(e: Entry) -> tuple[int, int, int, int, int]:
            mentioned = self._mentioned(e.source, text)
            verbatim = token in (e.code, *e.aliases)
            by_alias = bool(key) and code_key(e.code) != key
            return (0 if e.source == prefer else 1, 0 if mentioned else 1, 0 if verbatim else 1, int(by_alias),
                    self.catalog.sources[e.source].rank)
        return sorted(entries, key=rank)

    def number(self, text: str, m: re.Match[str], whole: bool, notes: list[str]) -> Hit | None:
        raw = m.group(0)
        start, end = m.start(), m.end()
        sign = raw.startswith("-")
        digits = raw.lstrip("-")
        before_char = text[start - 1] if start else " "
        after = text[end:end + 24]
        next_char = after[:1] or " "
        if sign and (before_char.isalnum() or before_char in "-._/"):
            return None
        if not sign and (before_char.isalnum() or before_char in ".-/+$_"):
            return None
        if next_char.isalnum() or next_char in "_%" or re.match(r"[.:,/-]\d", after):
            return None
        if len(digits) > 6 or UNIT_AFTER.match(after):
            return None
        line_start = text.rfind("\n", 0, start) + 1
        before = text[max(line_start, start - 48):start].lower()
        line = text[line_start: (text.find("\n", end) + 1 or len(text) + 1) - 1]
        if before_char == "#":
            before = before[:-1]  # "cause #21" reads as "cause 21"; "order #48012" still has no code key
        if before_char in ":#" and not (sign or any(k.search(before) for k in (CODE_KEY, SIP_KEY, Q850_KEY))):
            return None  # host:5060, 10:20:30, order #48012; but statusCode:-1013 and cause #21 are codes
        if sign:
            return self._negative(text, raw, start, end, notes)
        if NOT_A_CODE_BEFORE.search(before) and not (SIP_KEY.search(before) or Q850_KEY.search(before)):
            return None
        return self._positive(text, int(digits), digits, start, end, before, line, whole, notes)

    def _negative(self, text: str, raw: str, start: int, end: int, notes: list[str]) -> Hit | None:
        """Negative numbers are vendor codes (-2008, -1013); one the catalog lacks is said to be unknown."""
        found = self._ordered(self.by_key.get(raw, []), "", text)
        if not found:
            if 1000 <= abs(int(raw)) <= 99999:
                notes.append(f"{raw} is not a code in the catalog (8x8 runtime codes are -2001..-2010 and -9999, "
                             f"Callflows API status codes -1001..-1020).")
            return None
        return Hit(start, end, raw, [Candidate(e, "exact", e.facet_map) for e in found], True, "code")

    def _positive(self, text: str, n: int, digits: str, start: int, end: int, before: str, line: str,
                  whole: bool, notes: list[str]) -> Hit | None:
        def hit(entries: list[Entry], strong: bool, context: str, token: str = digits) -> Hit | None:
            if not entries:
                return None
            return Hit(start, end, token, [Candidate(e, "exact", e.facet_map) for e in entries], strong, context,
                       100.0 if strong else WEAK_NUMBER_SCORE)

        sip_key = bool(SIP_KEY.search(before))
        if Q850_KEY.search(before) and "sip" not in before[-24:]:
            found = [e for e in self.by_key.get(digits, []) if e.source == "q850"]
            if not found and n > 0:
                notes.append(f"cause {n} is not a Q.850 release cause in the catalog (valid causes are 1-127).")
            return hit(found, True, "q850")
        phrase_after = self._sip_phrase_after(digits, text[end:end + 40])
        sip_line = bool(SIP_WORDS.search(line)) and not HTTP_WORDS.search(line)
        if sip_key or phrase_after or (sip_line and 100 <= n <= 699 and (CODE_KEY.search(before) or VERB_KEY.search(before))):
            if digits not in self.sip:
                if 100 <= n <= 699:
                    notes.append(f"{n} is not a registered SIP response code; {str(n)[0]}xx means "
                                 f"{_SIP_CLASSES[str(n)[0]]}. Check the full status line in the SIP trace.")
                return None
            return hit(self._ordered(self.by_key.get(digits, []), "sip", text), True, "sip")
        if n in WELL_KNOWN_PORTS and not CODE_KEY.search(before):
            notes.append(f"{n} is {WELL_KNOWN_PORTS[n]}, not an error code.")
            return None
        if WEBSOCKET.search(line) and (1000 <= n <= 1015 or 4000 <= n <= 4999):
            meaning = WEBSOCKET_CLOSE.get(n, "an application-defined close code" if n >= 4000 else "a reserved close code")
            notes.append(f"{n} is a WebSocket close code ({meaning}), not a voice error code; look at what closed "
                         "the socket (the media stream or the server URL) and the error logged just before it.")
            return None
        negative = self.by_key.get("-" + digits, [])
        said_by = VERB_KEY.search(before) and any(self._mentioned(e.source, text) for e in negative)
        if negative and n >= 1000 and (whole or CODE_KEY.search(before) or said_by):
            return hit(self._ordered(negative, "", text), True, "code", "-" + digits)
        found = self.by_key.get(digits, [])
        if not found and 100 <= n <= 599 and HTTP_KEY.search(before):
            notes.append(f"HTTP {n} is not one of the HTTP statuses in the catalog; {str(n)[0]}xx means "
                         f"{_HTTP_CLASSES[str(n)[0]]}. Check the response body for the service's own error.")
            return None
        if not found or n < 100:
            return None
        sip_ctx = bool(SIP_WORDS.search(text))
        http_ctx = bool(HTTP_WORDS.search(text))
        prefer = "sip" if sip_ctx and not http_ctx else ""
        ordered = self._ordered(found, prefer, text)
        adjacent = re.search(r"(?:^|\b)([a-z0-9.\-]+)\W{0,3}$", before)
        vendor_adjacent = bool(adjacent) and any(adjacent.group(1) in words for words in self.vendor_words.values())
        keyed = bool(CODE_KEY.search(before)) or (bool(VERB_KEY.search(before)) and (sip_ctx or http_ctx or vendor_adjacent))
        only_source = len({e.source for e in found}) == 1 and self._mentioned(found[0].source, text)
        strong = whole or vendor_adjacent or keyed or only_source or (sip_ctx != http_ctx and len(text.split()) <= 8)
        return hit(ordered, strong, "sip" if prefer else "number")

    def _sip_phrase_after(self, digits: str, after: str) -> bool:
        """`404 Not Found`, `486 (BUSY_HERE)`: the reason phrase of that very SIP code follows the number."""
        entry = self.sip.get(digits)
        if entry is None:
            return False
        tail = code_key(re.sub(r"[()\[\]\"']", " ", after))
        return any(tail.startswith(code_key(name)) for name in (entry.title, *entry.aliases) if not name.isdigit())

    # ---- phrases ----------------------------------------------------------------------------------
    def phrases(self, text: str, taken: bytearray) -> list[Hit]:
        """Codes and aliases written as words ("Busy Here", "Customer Did Not Answer"), longest first.

        A phrase is a recognised code when it is the whole question or written the way logs and dashboards
        write labels (Title Case, UPPER CASE); in running prose it is only a candidate. A single word counts
        only when it is the whole question ("voicemail", "canceled").
        """
        words = [m for m in PHRASE_WORD.finditer(text) if not taken[m.start()]]
        lower = [m.group(0).lower() for m in words]
        entire = code_key(text.strip().strip("\"'`.,;:!?()[]{}"))
        hits: list[Hit] = []
        i = 0
        while i < len(words):
            size = self._phrase_at(text, words, lower, i, entire)
            if size:
                s, e = words[i].start(), words[i + size - 1].end()
                key = code_key(text[s:e])
                strong = key == entire or (size > 1 and _titled(text[s:e]))
                entries = self._ordered(self.by_key[key], "", text, text[s:e])
                hits.append(Hit(s, e, text[s:e], [Candidate(x, "exact", x.facet_map) for x in entries],
                                strong, "phrase", 100.0 if strong else PROSE_PHRASE_SCORE))
            i += size or 1
        return hits

    def _phrase_at(self, text: str, words: list[re.Match[str]], lower: list[str], i: int, entire: str) -> int:
        """Length in words of the longest catalog phrase starting at word i (0: none); words must be
        separated by blanks only, so `busy.here` or `busy, here` never read as "Busy Here"."""
        key, best = lower[i], 1 if lower[i] == entire and lower[i] in self.by_key else 0
        for j in range(i + 1, min(i + MAX_PHRASE, len(words))):
            if key not in self.phrase_prefixes or not text[words[j - 1].end():words[j].start()].isspace():
                break
            key = f"{key}-{lower[j]}"
            if key in self.by_key:
                best = j - i + 1
        return best

    # ---- all together -----------------------------------------------------------------------------
    def find(self, text: str) -> Recognition:
        """Every code in `text` (already normalised), in order of first appearance."""
        out = Recognition()
        stripped = text.strip().strip("\"'`.,;:!?()[]{}")
        whole_words = len(stripped.split())
        whole = whole_words <= 2
        fuzzy_hits: list[Hit] = []
        known: dict[str, list[Candidate]] = {}
        typos: dict[str, list[tuple[Candidate, float]]] = {}
        for m in WORD_TOKEN.finditer(text):
            token = m.group(0)
            if token not in known:
                known[token] = self.word_code(token)
            if known[token]:
                out.hits.append(Hit(m.start(), m.end(), token, known[token], True, "word"))
            elif _typo_shaped(token):
                if token not in typos:
                    typos[token] = self.fuzzy(token)
                fuzzy_hits.extend(Hit(m.start(), m.end(), token, [c], False, "fuzzy", r * 0.9) for c, r in typos[token])
        for m in KEYED_WORD.finditer(text):
            key = code_key(m.group(1))
            if key in self.by_key:
                out.hits.append(Hit(m.start(1), m.end(1), m.group(1),
                                    [Candidate(e, "exact", e.facet_map) for e in self._ordered(self.by_key[key], "", text, m.group(1))], True, "word"))
        for m in NUMBER.finditer(text):
            found = self.number(text, m, whole_words <= 3 or len(stripped) <= 6, out.notes)
            if found:
                out.hits.append(found)
        taken = _covered(text, out.hits)
        out.hits.extend(self._listed_words(text, out.hits, taken))
        out.hits.extend(self.phrases(text, _covered(text, out.hits)))
        if whole_words <= 6 and not any(h.strong for h in out.hits):
            out.hits.extend(self._whole_query(stripped, fuzzy_hits))
        out.hits.extend(fuzzy_hits)
        self._other_vendor_note(text, out)
        out.hits.sort(key=lambda h: h.start)
        return out

    def _listed_words(self, text: str, hits: list[Hit], taken: bytearray) -> list[Hit]:
        """Single-word codes listed next to codes of the same source ("customer-busy, some voicemail")."""
        sources = {h.candidates[0].entry.source for h in hits if h.strong and h.context == "word"}
        out: list[Hit] = []
        if not sources:
            return out
        for m in PHRASE_WORD.finditer(text):
            word = m.group(0).lower()
            if word not in self.single_words or taken[m.start()]:
                continue
            entries = [e for e in self.by_key[word] if e.source in sources and e.code == word]
            if entries:
                out.append(Hit(m.start(), m.end(), m.group(0), [Candidate(e, "exact", e.facet_map) for e in entries], True, "word"))
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
            out.notes.append(f"{number.group(0)} looks like a {name} error code; {name}'s own codes are not in the "
                             f"catalog yet. Look it up in {name}'s error reference.")


def _covered(text: str, hits: list[Hit]) -> bytearray:
    """One flag per character of `text`: inside a code already recognised."""
    flags = bytearray(len(text) + 1)
    for hit in hits:
        flags[hit.start:hit.end] = b"\x01" * (hit.end - hit.start)
    return flags


def _typo_shaped(token: str) -> bool:
    """Worth a fuzzy look: a code-like token of words (`asistant-not-found`), not a UUID or host name."""
    parts = re.split(r"[.\-_]", token.lower())
    return len(parts) >= 3 and sum(p.isalpha() and len(p) >= 3 for p in parts) >= 2 and vapi.looks_like_vapi(token.lower())


def _titled(text: str) -> bool:
    words = [w for w in text.split() if len(w) > 3]
    return bool(words) and all(w[0].isupper() for w in words)


_HTTP_CLASSES = {
    "1": "informational", "2": "success", "3": "redirection", "4": "a client error (the request was refused)",
    "5": "a server error on the service's side",
}
_SIP_CLASSES = {
    "1": "provisional (the call is still being set up)", "2": "success", "3": "redirection",
    "4": "request failure (a problem with this request or this destination)",
    "5": "server failure (a proxy, gateway or carrier failed)", "6": "global failure (final for every destination)",
}
