"""Plain words in a vast catalog: the shortlist search finds exactly what scoring every candidate finds.

In a catalog of many thousands of entries `SymptomIndex.search` scores only the entries that can still make
its shortlist (a branch and bound over weight classes). Its answers must be those of scoring every candidate:
the same entries, scores and order, ties included. Each test compares the two on the same index.
"""
from __future__ import annotations

import pickle
import random

import pytest
import yaml

from bench.queries import SYMPTOM, TYPO
from bench.synthetic import synthetic_catalog
from bot import symptoms
from bot.catalog import Catalog, load
from bot.symptoms import Scored, SymptomIndex
from bot.text import normalize
from conftest import ROOT, SHARED

QUESTIONS = (*SYMPTOM, *TYPO, "our openai account ran out of quota mid call", "dead air after the transfer",
             "the caller never heard the assistant and hung up", "text call reasons node happened rtp crashed",
             "rate limited by the voxifi api", "deepgram api key is wrong", "lunch order for friday")


def _eval_questions() -> list[str]:
    """The project's own question sets, and the shared development set where this checkout has it."""
    sets = [ROOT / "tests" / "eval" / "extra.yaml", ROOT / "tests" / "eval" / "blind.yaml", SHARED / "eval" / "dev.yaml"]
    return [case["q"] for path in sets if path.exists() for case in yaml.safe_load(path.read_text())]


def _every_candidate(self: symptoms._Contest) -> dict[int, float]:
    return self.score(self.everyone.members)


def _answers(index: SymptomIndex, questions: list[str] | tuple[str, ...], limit: int = 10**6,
             floor: float = 0.0) -> list[list[tuple[str, float, dict]]]:
    return [[(s.entry.key, s.score, s.facets) for s in index.search(normalize(q), limit=limit, floor=floor)]
            for q in questions]


def _same(found: list[list[tuple[str, float, dict]]], expected: list[list[tuple[str, float, dict]]]) -> None:
    for got, want in zip(found, expected, strict=True):
        assert [(key, facets) for key, _, facets in got] == [(key, facets) for key, _, facets in want]
        assert [score for _, score, _ in got] == pytest.approx([score for _, score, _ in want], abs=1e-9)


@pytest.fixture(scope="module")
def base() -> Catalog:
    return load()


@pytest.fixture(scope="module")
def vast(base: Catalog) -> SymptomIndex:
    return SymptomIndex(synthetic_catalog(base, 5_000))


@pytest.mark.parametrize("limit, floor", [(10**6, 0.0), (8, 0.0), (8, 75.0), (1, 0.0)])
def test_vast_catalog_answers_as_scoring_every_candidate(vast: SymptomIndex, monkeypatch: pytest.MonkeyPatch,
                                                          limit: int, floor: float) -> None:
    questions = [*QUESTIONS, *_eval_questions()[::3]]
    found = _answers(vast, questions, limit, floor)
    monkeypatch.setattr(symptoms._Contest, "run", _every_candidate)
    _same(found, _answers(vast, questions, limit, floor))


@pytest.mark.parametrize("settings", [
    {"SHORTLIST": 5}, {"SHORTLIST": 1}, {"SHORTLIST": 20, "SMALL_BRANCH": 1, "SMALL_CLASS": 1},
    {"SHORTLIST": 20, "LOOKUP_COST": 0}, {"SHORTLIST": 20, "LOOKUP_COST": 10**6}, {"SHORTLIST": 20, "WORK_BUDGET": 0},
])
def test_real_catalog_with_a_short_shortlist(base: Catalog, monkeypatch: pytest.MonkeyPatch, settings: dict) -> None:
    """A shortlist far smaller than the real catalog puts every path of the search to work on real entries."""
    for name, value in settings.items():
        monkeypatch.setattr(symptoms, name, value)
    index = SymptomIndex(base)
    questions = [*QUESTIONS, *_eval_questions()]
    found = _answers(index, questions)
    monkeypatch.setattr(symptoms._Contest, "run", _every_candidate)
    _same(found, _answers(index, questions))


def test_vast_catalog_scores_a_fraction_of_the_candidates(vast: SymptomIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """Why it is fast: most candidates are ruled out in groups, never scored one by one."""
    scored: list[int] = []
    score_all = symptoms._Scorer.__call__

    def counting(self, ids):  # type: ignore[no-untyped-def]
        ids = list(ids)
        scored.append(len(ids))
        return score_all(self, ids)

    monkeypatch.setattr(symptoms._Scorer, "__call__", counting)
    candidates: list[int] = []
    find = SymptomIndex._candidates
    monkeypatch.setattr(SymptomIndex, "_candidates",
                        lambda self, *a: candidates.append(len((c := find(self, *a)).members)) or c)
    vast.search(normalize("openai api key is wrong"))
    assert candidates[0] > 1_000 and sum(scored) < candidates[0] / 2


def test_index_survives_pickling(vast: SymptomIndex) -> None:
    """The engine cache stores the index's state; the search must not depend on anything left out of it."""
    copy = pickle.loads(pickle.dumps(vast, protocol=pickle.HIGHEST_PROTOCOL))
    _same(_answers(copy, QUESTIONS), _answers(vast, QUESTIONS))


def test_unpickled_index_holds_the_same_maps_on_shared_objects(vast: SymptomIndex) -> None:
    """Packed for pickling, the index comes back equal, each entry id one object, shared maps still shared."""
    copy = pickle.loads(pickle.dumps(vast, protocol=pickle.HIGHEST_PROTOCOL))
    for name in ("postings", "synonym_users", "classes", "synonym_classes", "phrases", "idf"):
        assert getattr(copy, name) == getattr(vast, name), name
    ids: dict[int, int] = {}
    for users in (*copy.postings.values(), *(m for c in copy.classes.values() for _, m in c.listed)):
        assert all(ids.setdefault(i, i) is i for i in users)
    shared = [key for key, users in vast.synonym_users.items() if any(users is p for p in vast.postings.values())]
    assert shared and all(any(copy.synonym_users[k] is p for p in copy.postings.values()) for k in shared)


def test_answers_of_a_single_search_are_scored(vast: SymptomIndex) -> None:
    results = vast.search(normalize("caller hears silence after transfer"))
    assert results and all(isinstance(r, Scored) for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_equal_scores_come_in_catalog_order(vast: SymptomIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ties rank by entry id, also where they decide who makes a cut-off (the first `limit`, the shortlist)."""
    position = {entry.key: i for i, entry in enumerate(vast.catalog.entries)}
    questions = [*QUESTIONS, *_eval_questions()]
    ties = 0
    for shortlist in (symptoms.SHORTLIST, 7):
        monkeypatch.setattr(symptoms, "SHORTLIST", shortlist)
        everything = _answers(vast, questions)
        for answer, first in zip(everything, _answers(vast, questions, limit=3), strict=True):
            assert first == answer[:3]
            ranks = [(-score, position[key]) for key, score, _ in answer]
            assert ranks == sorted(ranks)
            ties += sum(a[0] == b[0] for a, b in zip(ranks, ranks[1:]))
    assert ties > 100


def test_a_word_groups_entries_by_their_weight(vast: SymptomIndex) -> None:
    """`_Word.weights` (set operations) gives each entry the weight of looking it up: own, else best synonym."""
    rng = random.Random(5)
    for _, alternatives, key in vast.synonyms[:40]:
        for term in sorted(alternatives)[:2]:
            word = symptoms._Word(vast.postings.get(term, {}), (vast.synonym_users[key],), 2.0, True)
            members = frozenset(rng.sample(range(len(vast.catalog.entries)), 3_000)) | set(word.postings)
            expected: dict[float, set[int]] = {}
            for i in members:
                w = word.postings.get(i, 0.0) or vast.synonym_users[key].get(i, 0.0) * symptoms.SYNONYM_WEIGHT
                expected.setdefault(w, set()).add(i)
            assert dict(word.weights(members)) == expected
