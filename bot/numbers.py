"""Numbers in text: which ones are codes, and which catalog (8x8, SIP, Q.850, HTTP) they belong to.

A number is only a code where the words around it say so (`errorCode=-2008`, `SIP/2.0 486`, `cause=16`,
`voxifi 403`); timestamps, ports, durations, phone numbers and ids never become codes. A number in a
code position that no catalog holds is named as unknown instead of being matched to something else.
"""
from __future__ import annotations

import re
from typing import Callable

from .catalog import Entry
from .hits import Candidate, Hit, Line, Question, Recognition

NUMBER = re.compile(r"(?<![\w.\-/+$])-?\d+")

# What the words right before a number say it is.
Q850_KEY = re.compile(r"(?:\b|hangup|_|-)(?:cause|q\.?850)[a-z_\-]{0,8}(?:\s+(?:code|value|no\.?|number))?"
                      r"[\"']?\s*[:=;]?\s*[\"']?\s*$")
SIP_KEY = re.compile(
    r"(?:\b|_)(?:sip(?:/2\.0)?|invite|reply|response|rs|reason)[a-z_\-]{0,16}(?:\s+(?:code|status|response|error))?"
    r"[\"']?\s*[:=]?\s*[\"']?\s*[\[(]?\s*$")
CODE_KEY = re.compile(
    r"(?:\b|_)(?:error|err|errorcode|error_code|code|status|statuscode|status_code|errno|http(?:/[\d.]+)?)"
    r"[\"']?\s*[:=]?\s*[\"']?\s*$")
HTTP_KEY = re.compile(r"\bhttps?(?:/[\d.]+)?\s*(?:status\s*)?[:=]?\s*$", re.I)
# Verbs that introduce a code when the text says which layer it is about ("the carrier returned 503").
VERB_KEY = re.compile(r"\b(?:returned|returning|returns|got|gets|with|answered|answers|replied|replies|sent|sends|gave)\s*$")
NOT_A_CODE_BEFORE = re.compile(
    r"\b(?:port|ports|ref|reference|ticket|inc|pr|issue|version|v|line|room|floor|order|build|pid|job|id|"
    r"duration|timeout|latency|after|took|took about|for|over|under|about|every|last|top|page|step|"
    r"websocket|ws|close|closed|at|since|in|year|user|flight|gate|seqno|seq|cseq)\s*[:=#]?\s*$", re.I)
UNIT_AFTER = re.compile(
    r"^\s*(?:ms|s|sec|secs|seconds?|mins?|minutes?|h|hrs?|hours?|days?|kb|mb|gb|%|x|calls?|times|users?|"
    r"people|percent|concurrent|agents?|retries|attempts|chars?|characters|bytes|khz|hz|kbps|invoices?)\b", re.I)
ADJACENT_WORD = re.compile(r"(?:^|\b)([a-z0-9.\-]+)\W{0,3}$")

WELL_KNOWN_PORTS = {5060: "the standard SIP port (UDP/TCP)", 5061: "the standard SIP-over-TLS port",
                    5062: "a common alternative SIP port", 3478: "the STUN/TURN port",
                    5349: "the STUN/TURN-over-TLS port"}
WEBSOCKET_CLOSE = {
    1000: "normal closure", 1001: "going away: a server restart or page close", 1002: "protocol error",
    1003: "unsupported data", 1005: "no status received", 1006: "abnormal closure: the connection dropped "
    "without a close frame", 1007: "invalid payload", 1008: "policy violation", 1009: "message too big",
    1010: "missing extension", 1011: "internal error on the server", 1012: "service restart",
    1013: "try again later", 1014: "bad gateway", 1015: "TLS handshake failure",
}
HTTP_CLASSES = {
    "1": "informational", "2": "success", "3": "redirection", "4": "a client error (the request was refused)",
    "5": "a server error on the service's side",
}
SIP_CLASSES = {
    "1": "provisional (the call is still being set up)", "2": "success", "3": "redirection",
    "4": "request failure (a problem with this request or this destination)",
    "5": "server failure (a proxy, gateway or carrier failed)", "6": "global failure (final for every destination)",
}
WEAK_NUMBER_SCORE = 66.0

Order = Callable[[list[Entry], str, Question, str], list[Entry]]


def _phrase_pattern(names: list[str]) -> str:
    """`404 Not Found`, `486 (BUSY_HERE)`, `480: Temporarily Unavailable`: the reason phrase after a number.

    Kept as source and compiled when first needed (re caches it): compiling every SIP code's pattern would
    be a third of a cached engine's load time, and most questions hold no SIP code.
    """
    words = [re.split(r"[\s_\-]+", n.strip()) for n in names if n.strip() and not n.strip().isdigit()]
    body = "|".join(r"[\s_\-]+".join(re.escape(w) for w in ws) for ws in sorted(words, key=len, reverse=True))
    return rf"""[\s:(\["']*(?:{body})[)\]"']?(?![\w])"""


class NumberReader:
    """Decides, for each number in a question, whether it is a code and of which catalog."""

    def __init__(self, by_key: dict[str, list[Entry]], order: Order, sip_source: str, q850_source: str,
                 http_sources: frozenset[str], vendor_rx: dict[str, re.Pattern[str]], vendor_words: frozenset[str]):
        self.by_key = by_key
        self.order = order
        self.sip_source, self.q850_source, self.http_sources = sip_source, q850_source, http_sources
        self.vendor_rx = vendor_rx
        self.vendor_words = vendor_words
        self.sip_phrases = {
            e.code: _phrase_pattern([e.title, *e.aliases])
            for entries in by_key.values() for e in entries if e.source == sip_source and e.code.isdigit()}

    def read(self, q: Question, m: re.Match[str], out: Recognition) -> Hit | None:
        """The hit for this number, or None; the same number in the same surroundings is decided once."""
        start, end = m.start(), m.end()
        key = (m.group(0), q.text[max(0, start - 48):start], q.text[end:end + 40], q.line_at(start)[1])
        if key not in q.memo:
            q.memo[key] = self._read(q, m, out)
        hit = q.memo[key]
        if hit is None:
            return None
        return Hit(start, start + (hit.end - hit.start), hit.token, hit.candidates, hit.strong, hit.context, hit.score)

    def _read(self, q: Question, m: re.Match[str], out: Recognition) -> Hit | None:
        raw, start, end = m.group(0), m.start(), m.end()
        text = q.text
        before_char = text[start - 1] if start else " "
        after = text[end:end + 40]
        if not _stands_alone(raw, before_char, after):
            return None
        line_start, line = q.line_at(start)
        before = text[max(line_start, start - 48):start].lower()
        if before_char == "#":
            before = before[:-1]  # "cause #21" reads as "cause 21"; "order #48012" still has no code key
        keyed = any(k.search(before) for k in (CODE_KEY, SIP_KEY, Q850_KEY))
        if before_char in ":#" and not (raw.startswith("-") or keyed):
            return None  # host:5060, 10:20:30, order #48012; but statusCode:-1013 and cause #21 are codes
        if raw.startswith("-"):
            return self._negative(q, raw, start, end, out)
        if NOT_A_CODE_BEFORE.search(before) and not (SIP_KEY.search(before) or Q850_KEY.search(before)):
            return None
        return self._positive(q, int(raw), raw, start, end, before, line, out)

    def _hit(self, start: int, end: int, token: str, entries: list[Entry], strong: bool, context: str) -> Hit | None:
        if not entries:
            return None
        return Hit(start, end, token, [Candidate(e, "exact", e.facet_map) for e in entries], strong, context,
                   100.0 if strong else WEAK_NUMBER_SCORE)

    def _negative(self, q: Question, raw: str, start: int, end: int, out: Recognition) -> Hit | None:
        """Negative numbers are vendor codes (-2008, -1013); one the catalog lacks is said to be unknown."""
        found = self.order(self.by_key.get(raw, []), "", q, raw)
        if not found and 1000 <= abs(int(raw)) <= 99999:
            out.note_unknown(f"{raw} is not a code in the catalog (8x8 runtime codes are -2001..-2010 and -9999, "
                             "Callflows API status codes -1001..-1020).")
        return self._hit(start, end, raw, found, True, "code")

    def _positive(self, q: Question, n: int, digits: str, start: int, end: int, before: str, line: Line,
                  out: Recognition) -> Hit | None:
        if Q850_KEY.search(before) and "sip" not in before[-24:]:
            return self._q850(n, digits, start, end, out)
        http_here = line.http or bool(HTTP_KEY.search(before))
        phrase = None if http_here else self._sip_phrase(digits, q.text, end)
        sip_here = bool(SIP_KEY.search(before)) and not http_here
        if sip_here or phrase or (line.sip and 100 <= n <= 699 and (CODE_KEY.search(before) or VERB_KEY.search(before))):
            return self._sip(q, n, digits, start, phrase.end() if phrase else end, out)
        if n in WELL_KNOWN_PORTS and not CODE_KEY.search(before):
            out.explain(f"{n} is {WELL_KNOWN_PORTS[n]}, not an error code.")
            return None
        if line.websocket and (1000 <= n <= 1015 or 4000 <= n <= 4999):
            meaning = WEBSOCKET_CLOSE.get(n, "an application-defined close code" if n >= 4000 else "a reserved close code")
            out.explain(f"{n} is a WebSocket close code ({meaning}), not a voice error code; look at what closed "
                        "the socket (the media stream or the server URL) and the error logged just before it.")
            return None
        adjacent = ADJACENT_WORD.search(before)
        vendor_adjacent = bool(adjacent) and adjacent.group(1) in self.vendor_words
        negative = self.by_key.get("-" + digits, [])
        said_by = bool(VERB_KEY.search(before)) and any(e.source in q.mentioned for e in negative)
        if negative and n >= 1000 and (q.short or vendor_adjacent or CODE_KEY.search(before) or said_by):
            return self._hit(start, end, "-" + digits, self.order(negative, "", q, "-" + digits), True, "code")
        return self._status(q, n, digits, start, end, before, http_here, vendor_adjacent, out)

    def _q850(self, n: int, digits: str, start: int, end: int, out: Recognition) -> Hit | None:
        found = [e for e in self.by_key.get(digits, []) if e.source == self.q850_source]
        if not found and n > 0:
            out.note_unknown(f"cause {n} is not a Q.850 release cause in the catalog (valid causes are 1-127).")
        return self._hit(start, end, digits, found, True, "q850")

    def _sip(self, q: Question, n: int, digits: str, start: int, end: int, out: Recognition) -> Hit | None:
        if digits not in self.sip_phrases:
            if 100 <= n <= 699:
                out.note_unknown(f"{n} is not a registered SIP response code; {digits[0]}xx means "
                                 f"{SIP_CLASSES[digits[0]]}. Check the full status line in the SIP trace.")
            return None
        return self._hit(start, end, digits, self.order(self.by_key[digits], self.sip_source, q, digits), True, "sip")

    def _status(self, q: Question, n: int, digits: str, start: int, end: int, before: str, http_here: bool,
                vendor_adjacent: bool, out: Recognition) -> Hit | None:
        """A three-digit status whose layer (SIP or HTTP) only the surrounding words can tell."""
        # Bare numbers never stand for Q.850 causes: those need "cause" next to them.
        found = [e for e in self.by_key.get(digits, []) if e.source != self.q850_source] if n >= 100 else []
        http_found = [e for e in found if e.source in self.http_sources]
        keyed = bool(CODE_KEY.search(before)) or (bool(VERB_KEY.search(before)) and (q.sip or q.http or vendor_adjacent))
        if http_here and not http_found and 100 <= n <= 599 and (keyed or HTTP_KEY.search(before)):
            out.note_unknown(f"HTTP {n} is not one of the HTTP statuses in the catalog; {digits[0]}xx means "
                             f"{HTTP_CLASSES[digits[0]]}. Check the response body for the service's own error.")
            return None
        if not found:
            return None
        if http_here and not q.sip:
            prefer = http_found[0].source if http_found else ""
        else:
            prefer = self.sip_source if q.sip and not q.http else ""
        only_source = len({e.source for e in found}) == 1 and found[0].source in q.mentioned
        strong = (q.short or vendor_adjacent or keyed or only_source
                  or (q.sip != q.http and q.word_count <= 8))
        return self._hit(start, end, digits, self.order(found, prefer, q, digits), strong, "sip" if prefer == self.sip_source else "number")

    def _sip_phrase(self, digits: str, text: str, end: int) -> re.Match[str] | None:
        """The reason phrase of that very SIP code right after the number, so the hit can cover it."""
        pattern = self.sip_phrases.get(digits)
        return re.compile(pattern, re.I).match(text, end) if pattern else None


def _stands_alone(raw: str, before_char: str, after: str) -> bool:
    """Not part of a word, an address, a date, a time, a version, a measurement."""
    if raw.startswith("-"):
        if before_char.isalnum() or before_char in "-._/":
            return False
    elif before_char.isalnum() or before_char in ".-/+$_":
        return False
    next_char = after[:1] or " "
    if next_char.isalnum() or next_char in "_%" or re.match(r"[.:,/-]\d", after):
        return False
    return len(raw.lstrip("-")) <= 6 and not UNIT_AFTER.match(after)
