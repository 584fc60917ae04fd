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
    """The engine cache stores the index's state; the search must not depend on anything left out of it.
    (Equal scores are compared as a set: they keep the order of a set of entries, and unpickled synonym sets
    may iterate in another order, as they always could.)"""
    copy = pickle.loads(pickle.dumps(vast, protocol=pickle.HIGHEST_PROTOCOL))
    for got, want in zip(_answers(copy, QUESTIONS), _answers(vast, QUESTIONS), strict=True):
        assert sorted((-score, key) for key, score, _ in got) == sorted((-score, key) for key, score, _ in want)


def test_answers_of_a_single_search_are_scored(vast: SymptomIndex) -> None:
    results = vast.search(normalize("caller hears silence after transfer"))
    assert results and all(isinstance(r, Scored) for r in results)
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


def test_candidates_keep_the_order_of_the_set_they_were_collected_in(vast: SymptomIndex, base: Catalog,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Equal scores keep candidate order: read without collecting a vast list, it must still be that order."""
    orders: list[bool] = []
    in_order = symptoms._Candidates.in_order

    def checking(self: symptoms._Candidates, scores: dict[int, float]) -> dict[int, float]:
        found = in_order(self, scores)
        collected = set()
        for users in self.users:
            collected.update(users.keys())
        assert list(found) == [i for i in collected if i in scores]
        orders.append(self.ordered)
        return found

    monkeypatch.setattr(symptoms._Candidates, "in_order", checking)
    questions = [*QUESTIONS, *_eval_questions()]
    _answers(vast, questions)
    monkeypatch.setattr(symptoms, "SHORTLIST", 5)
    _answers(SymptomIndex(base), questions)
    assert True in orders and False in orders


@pytest.mark.parametrize("largest", [7, 398, 4_999, 99_999, 300_000])
def test_sets_of_entry_ids_iterate_in_ascending_order_from_the_size_given(largest: int) -> None:
    """What `_ascending_from` says of this interpreter's sets, and that one int fewer is not enough."""
    rng = random.Random(largest)
    enough = symptoms._ascending_from(largest)
    for count in {enough, enough + 1, min(largest + 1, enough * 3)}:
        collected: set[int] = set()
        collected.update(rng.sample(range(largest + 1), min(count, largest + 1)))
        assert list(collected) == sorted(collected)
    if enough:
        assert list(_crowded(enough, largest)) == sorted(_crowded(enough, largest))
        assert list(_crowded(enough - 1, largest)) != sorted(_crowded(enough - 1, largest))


def _crowded(count: int, largest: int) -> set[int]:
    """`count` ints, the first two of them bound for one slot unless the table has outgrown `largest`."""
    shared = largest & (_table_size(count) - 1)
    collected = {largest, shared} if shared != largest else {largest}
    collected.update([i for i in range(largest) if i != shared][:count - len(collected)])
    assert len(collected) == count
    return collected


def _table_size(count: int) -> int:
    """The slots of a set filled with `count` ints, one at a time (as CPython grows it)."""
    size = 8
    for filled in range(1, count + 1):
        if filled * 5 >= (size - 1) * 3:
            while size <= filled * (2 if filled > 50_000 else 4):
                size <<= 1
    return size


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
