"""Synthetic catalogs of any size in the real schema: the real catalog plus generated vendor lists.

The real entries stay in, so the same questions are asked of every catalog size and only the catalog
grows. Generated entries borrow their prose (meaning, symptom, fix, keywords) from real entries, so the
word frequencies the plain-words index sees grow the way they would if a team added every vendor's full
list; their codes have the shapes real vendors use: positive and negative numbers, kebab words, UPPER_SNAKE,
dotted phases and wildcard families. Generation is seeded: the same size always gives the same catalog.
"""
from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from bot.catalog import Catalog, Entry, Source
from bot.text import code_key

SEED = 5
MAX_TITLE = 80
MAX_TRIES = 1_000
# (shape, share of the generated entries). Families are rarer than in the real catalog (12 %), which is
# mostly Vapi's provider families, but a 100k catalog still holds thousands of them.
SHAPES: tuple[tuple[str, float], ...] = (
    ("numeric", 0.30), ("negative", 0.15), ("kebab", 0.30), ("snake", 0.08), ("dotted", 0.12), ("family", 0.05),
)
PHASES = ("call.start", "call.in-progress", "call.ringing", "media.stream", "dial.out", "sip.trunk")


@dataclass(frozen=True)
class _Pools:
    """What generated entries are made of: words of real codes, real entries to borrow prose from."""

    code_words: tuple[str, ...]
    templates: tuple[Entry, ...]


def synthetic_catalog(base: Catalog, size: int, seed: int = SEED) -> Catalog:
    """`base` plus generated entries up to `size` entries in all (no growth when `size` <= len(base))."""
    rng = random.Random(seed * 1_000_003 + size)
    pools = _pools(base)
    # Codes of the real catalog stay unique to it, so every question gets the same answer at every size.
    taken = {code_key(name) for e in base.entries for name in (e.code, *e.aliases)}
    catalog = Catalog(sources=dict(base.sources), entries=list(base.entries))
    extra = max(size - len(base.entries), 0)
    for shape, count in _shape_counts(extra):
        source = _source(shape)
        catalog.sources[source.id] = source
        catalog.entries.extend(_entries(shape, source.id, count, pools, taken, rng))
    return catalog


def _shape_counts(extra: int) -> list[tuple[str, int]]:
    """Entries per shape; the largest shape takes the rounding remainder so the total is exact."""
    counts = [(shape, int(extra * share)) for shape, share in SHAPES]
    remainder = extra - sum(n for _, n in counts)
    return [(shape, n + (remainder if shape == "kebab" else 0)) for shape, n in counts]


def _pools(base: Catalog) -> _Pools:
    words = sorted({w for e in base.entries for w in re.split(r"[^a-z]+", e.code.lower()) if len(w) >= 3})
    templates = tuple(e for e in base.entries if not e.is_family)
    return _Pools(tuple(words), templates)


def _source(shape: str) -> Source:
    sid = f"synth-{shape}"
    return Source(id=sid, vendor=f"Synth {shape.title()}", title=f"Synthetic {shape} codes (benchmark only)",
                  doc_url=f"https://docs.example.test/{sid}", vendor_words=(sid,),
                  support_contact=f"support@{shape}.example.test", support_ids=("call id", "timestamps (UTC)"))


def _entries(shape: str, source: str, count: int, pools: _Pools, taken: set[str],
             rng: random.Random) -> Iterator[Entry]:
    make_code = _CODE_MAKERS[shape]
    recent: list[str] = []
    for _ in range(count):
        code = _unique(lambda: make_code(pools, rng), source, taken)
        template = rng.choice(pools.templates)
        entry = _entry(source, code, template, recent, rng)
        if any(_clashes(a, code, source, taken) for a in entry.aliases):
            entry = replace(entry, aliases=())
        taken.update(f"{source}:{code_key(a)}" for a in entry.aliases)
        recent = [*recent[-9:], entry.key]
        yield entry


def _unique(make: Callable[[], str], source: str, taken: set[str]) -> str:
    """A code not yet used in `source` (duplicates are a lint error in real knowledge too) nor in the real
    catalog. `taken` holds `source:key` for generated codes and bare keys for the real ones."""
    for _ in range(MAX_TRIES):
        code = make()
        key = code_key(code)
        if key not in taken and f"{source}:{key}" not in taken:
            taken.add(f"{source}:{key}")
            return code
    raise ValueError(f"{source}: no unused code after {MAX_TRIES} tries; the catalog is too big for its code shapes")


def _clashes(alias: str, code: str, source: str, taken: set[str]) -> bool:
    key = code_key(alias)
    return key != code_key(code) and (key in taken or f"{source}:{key}" in taken)


def _entry(source: str, code: str, template: Entry, recent: list[str], rng: random.Random) -> Entry:
    family = "*" in code
    patterns = (code, code.replace("*-", "*", 1)) if family else ()
    alias = _label(code) if not family and rng.random() < 0.2 and not code.lstrip("-").isdigit() else None
    related = tuple(rng.sample(recent, min(len(recent), rng.randint(0, 2))))
    return replace(template, source=source, code=code, title=_title(code, template.title),
                   aliases=(alias,) if alias else (), patterns=patterns, facets=(), related=related, doc_url="",
                   file="", line=0)


def _title(code: str, borrowed: str) -> str:
    return f"{borrowed} ({code})"[:MAX_TITLE] if len(code) < 40 else borrowed[:MAX_TITLE]


def _label(code: str) -> str | None:
    """A dashboard label for a word code ("Trunk Media Rejected"), the way vendors print aliases."""
    words = [w for w in re.split(r"[._\-]+", code.lower()) if w]
    return " ".join(w.title() for w in words) if len(words) >= 2 else None


def _words(pools: _Pools, rng: random.Random, low: int, high: int) -> list[str]:
    return rng.sample(pools.code_words, rng.randint(low, high))


def _numeric(pools: _Pools, rng: random.Random) -> str:
    return str(rng.randint(10_000, 999_999))


def _negative(pools: _Pools, rng: random.Random) -> str:
    return f"-{rng.randint(1_000, 99_999)}"


def _kebab(pools: _Pools, rng: random.Random) -> str:
    return "-".join(_words(pools, rng, 2, 4))


def _snake(pools: _Pools, rng: random.Random) -> str:
    return "_".join(_words(pools, rng, 2, 3)).upper()


def _dotted(pools: _Pools, rng: random.Random) -> str:
    return f"{rng.choice(PHASES)}.error-{'-'.join(_words(pools, rng, 1, 3))}"


def _family(pools: _Pools, rng: random.Random) -> str:
    head, *tail = _words(pools, rng, 2, 3)
    return f"{head}-*-{'-'.join(tail)}"


_CODE_MAKERS: dict[str, Callable[[_Pools, random.Random], str]] = {
    "numeric": _numeric, "negative": _negative, "kebab": _kebab, "snake": _snake, "dotted": _dotted,
    "family": _family,
}


def write_yaml(catalog: Catalog, directory: Path) -> None:
    """Write `catalog` as knowledge YAML (one file per source, block style like the real files), the form
    `voicecode` loads and lints. Scalars are written JSON-quoted (valid YAML double-quoted strings): PyYAML's
    own dumper takes most of a minute for 100,000 entries, this takes seconds."""
    directory.mkdir(parents=True, exist_ok=True)
    by_source: dict[str, list[Entry]] = {sid: [] for sid in catalog.sources}
    for entry in catalog.entries:
        by_source[entry.source].append(entry)
    for sid, source in catalog.sources.items():
        doc = {**_source_doc(source), "entries": [_entry_doc(e) for e in by_source[sid]]}
        (directory / f"{sid}.yaml").write_text("\n".join(_block(doc, 0)) + "\n", encoding="utf-8")


def _block(value: object, indent: int) -> list[str]:
    """YAML block lines for a mapping or a list; scalars go on their key's or dash's line."""
    pad = " " * indent
    lines: list[str] = []
    items = value.items() if isinstance(value, dict) else ((None, v) for v in value)  # type: ignore[attr-defined]
    for key, item in items:
        lead = f"{pad}{key}:" if key is not None else f"{pad}-"
        if isinstance(item, (dict, list)) and item:
            nested = _block(item, indent + 2)
            if key is None:  # a mapping in a list starts on the dash's line
                lines += [f"{lead} {nested[0].lstrip()}", *nested[1:]]
            else:
                lines += [lead, *nested]
        else:
            lines.append(f"{lead} {_scalar(item)}")
    return lines


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (dict, list)):
        return "{}" if isinstance(value, dict) else "[]"
    return json.dumps(value, ensure_ascii=False)


def _source_doc(source: Source) -> dict[str, object]:
    return {"source": source.id, "vendor": source.vendor, "title": source.title, "doc_url": source.doc_url,
            "vendor_words": list(source.vendor_words), "rank": source.rank,
            "support": {"contact": source.support_contact, "ids": list(source.support_ids)}}


def _entry_doc(entry: Entry) -> dict[str, object]:
    doc: dict[str, object] = {
        "code": entry.code, "title": entry.title, "meaning": entry.meaning, "symptom": entry.symptom,
        "owner": entry.owner, "normal": entry.normal, "fix": list(entry.fix),
        "escalation": {"when": entry.escalation.when, "to": entry.escalation.to,
                       "include": list(entry.escalation.include)},
    }
    optional = {"aliases": list(entry.aliases), "keywords": list(entry.keywords), "patterns": list(entry.patterns),
                "facets": dict(entry.facets), "related": list(entry.related), "doc_url": entry.doc_url}
    return {**doc, **{k: v for k, v in optional.items() if v}}
