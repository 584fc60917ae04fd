"""The questions the benchmark asks, one fixed set per kind, the same on every catalog size.

They are written the way the development set and the stack-log fixtures write them (typos, words,
log lines from real stacks), so the timings are for questions the engine really gets. Every id, number
and address in the log is invented.
"""
from __future__ import annotations

LOG_CHARS = 40_000

EXACT: tuple[str, ...] = (
    "-2008", "SIP/2.0 486 Busy Here", "NO_ROUTE_DESTINATION", "customer-did-not-answer",
    "pipeline-error-openai-429-exceeded-quota", "Q.850 cause 16", "voxifi 403",
)
TYPO: tuple[str, ...] = (
    "asistant-not-found", "custommer-ended-call", "vonage-completd", "no coverge for requested area",
    "agent not fond",
)
SYMPTOM: tuple[str, ...] = (
    "caller hears silence after transfer", "caller hears a busy signal",
    "the line went dead in the middle of talking", "we are out of credits", "openai api key is wrong",
    "concurrent call limit reached on 8x8",
)
# One call's worth of log lines from the stacks the README lists; repeated with fresh times and ids.
_LOG_LINES: tuple[str, ...] = (
    "{t} [NOTICE] switch_channel.c:1142 Hangup sofia/external/+1555010{n:04d}@203.0.113.7 [CS_CONSUME_MEDIA] "
    "[NO_ROUTE_DESTINATION]",
    "{t} [ERR] mod_dptools.c:3630 Originate Failed.  Cause: USER_BUSY",
    '{{"event":"CHANNEL_HANGUP_COMPLETE","variable_hangup_cause":"RECOVERY_ON_TIMER_EXPIRE",'
    '"variable_sip_term_status":"408","uuid":"c0ffee00-0000-4000-8000-{n:012d}"}}',
    "[{t}] VERBOSE[2211][C-0000{n:04x}] chan_sip.c: Got SIP response 486 \"Busy Here\" back from "
    "198.51.100.20:5060",
    "{t} INFO 8x8 VSS session=sess-{n:06d} errorCode=-2008 errorMessage=\"Caller id not allowed\" callB FAILED",
    "{t} sbc1 kamailio[812]: INFO: <script>: failure route: reply 408 Request Timeout for INVITE "
    "sip:+1555010{n:04d}@carrier.example.net",
    '{{"type":"end-of-call-report","endedReason":"pipeline-error-openai-429-exceeded-quota",'
    '"call":{{"id":"call-{n:06d}"}},"durationSeconds":187}}',
    "{t} webhook POST https://hooks.example.com/voxifi -> Connection Failed (ECONNREFUSED) attempt 3",
    "{t} worker pool healthy, p99 latency 850 ms, rtp range 10000-20000, queue depth 4",
    "{t} call.hangup hangup_cause=normal_clearing sip_hangup_cause=200 call_control_id=v3:{n:08d}",
)


def log_paste(chars: int = LOG_CHARS) -> str:
    """A pasted log of exactly `chars` characters: many calls' lines, each call with its own times and ids."""
    lines: list[str] = []
    size = 0
    call = 0
    while size < chars:
        for template in _LOG_LINES:
            stamp = f"2026-11-23T10:{(call // 60) % 60:02d}:{call % 60:02d}.{call % 1000:03d}Z"
            line = template.format(t=stamp, n=call)
            lines.append(line)
            size += len(line) + 1
        call += 1
    return "\n".join(lines)[:chars]


def question_sets(log_chars: int = LOG_CHARS) -> dict[str, tuple[str, ...]]:
    """Kind of question -> the questions of that kind, in the order the report lists kinds."""
    return {"exact code": EXACT, "typo": TYPO, "symptom words": SYMPTOM, f"log paste ({log_chars:,} chars)":
            (log_paste(log_chars),)}


def slash_questions() -> tuple[str, ...]:
    """What people type after /voicecode: the exact, typo and symptom questions (a log goes to a thread)."""
    return (*EXACT, *TYPO, *SYMPTOM)
