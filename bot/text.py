"""Text clean-up shared by recognition and plain-words matching.

People paste codes from Slack (entities, link markup, code fences), from terminals (typographic minus
signs) and from JSON; everything downstream sees one normal form.
"""
from __future__ import annotations

import functools
import re

_SLACK_LINK = re.compile(r"<((?:https?|mailto|tel):[^|>]*)(?:\|([^>]*))?>")
_SLACK_REF = re.compile(r"<[@#!][^>]*>")
# Slack emphasis around a token: _-2008_, *customer-busy*, ~486~ (but not a wildcard such as *-401-*).
# The mark comes first and the look back after it, so the scan skips to the next mark instead of trying
# every position of a long paste.
_EMPHASIS = re.compile(r"([_*~])(?<![\w*_~][_*~])([^\s*_~](?:[^*_~\n]*[^\s*_~-])?)\1(?![\w*_~])")
_MINUS = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u2010": "-", "\u2011": "-",
                        "\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'", "`": " "})
_WORD = re.compile(r"[a-z0-9]+")
_CODE_SEPARATORS = re.compile(r"[\s_\-]+")
MEMO_CHARS = 120

STOPWORDS = frozenset("""
a an the and or but if of to in on at by for with into onto over under about as is are was were be
been being am do does did doing done have has had having it its it's this that these those there here i me my we
our us you your he she they them their what which who whom whose when where why how all any some each every
only own same so than too very can could should would will shall may might must just also get got getting
please help hi hello hey thanks thank anyone someone somebody know tell explain mean means meaning seeing see
saw keep keeps kept happen happens happened happening again still now today yesterday since after before
while because then one two via vs per like really some lot go goes going gone straight directly
right away just always sometimes often suddenly randomly started starting start starts keeps keeping every
time times whole anything something everything thing things guys team folks issue issues problem problems
many much more most lots
""".split())


def normalize(text: str) -> str:
    """Slack markup and typographic characters turned into plain text (links keep their label)."""
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = _SLACK_REF.sub(" ", text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return _EMPHASIS.sub(r"\2", text.translate(_MINUS))


def code_key(text: str) -> str:
    """The form codes and aliases are looked up by: lower case, runs of `_`, space and `-` as one `-`.

    Token-sized texts are memoised (a log paste repeats the same few tokens hundreds of times); a whole
    question is not, so a long-running bot never keeps thousands of pastes in the memo.
    """
    return _token_key(text) if len(text) <= MEMO_CHARS else _key(text)


def _key(text: str) -> str:
    return _CODE_SEPARATORS.sub("-", text.strip().strip("\"'").lower()).rstrip("-")


_token_key = functools.lru_cache(maxsize=4096)(_key)


def line_around(text: str, position: int) -> tuple[int, str]:
    """Where the line holding `position` starts, and that line (without its newline)."""
    start = text.rfind("\n", 0, position) + 1
    end = text.find("\n", position)
    return start, text[start: end if end >= 0 else len(text)]


def stem(word: str) -> str:
    """A deliberately small stemmer: enough to make 'dropped', 'drops' and 'drop' meet."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            word = word[: len(word) - len(suffix)] + repl
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsaeiou":
        word = word[:-1]
    return word


_CONTRACTION = re.compile(r"(?<=[a-z])n['’]t\b")


def words(text: str) -> list[str]:
    """Lower-case word tokens of a text (letters and digits); "can't" reads as "ca not", keeping the "not"."""
    return _WORD.findall(_CONTRACTION.sub(" not", text.lower()))


def content_words(text: str) -> list[str]:
    """Stemmed words that carry meaning (no stopwords), in order."""
    return [stem(w) for w in words(text) if w not in STOPWORDS]


def any_word(phrases: tuple[str, ...] | list[str]) -> re.Pattern[str]:
    """A case-insensitive pattern matching any of `phrases` as whole words (hyphens count as word parts)."""
    return re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(p) for p in phrases) + r")(?![\w-])", re.I)
