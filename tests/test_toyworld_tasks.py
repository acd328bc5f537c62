"""The toy world's task family: answers, strata, pools, students, the benchmark registry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis import schemas
from analysis.benchmarks import load_benchmark
from analysis.grading import grade_exact
from analysis.toyworld import tasks
from analysis.toyworld.config import Strategy, TaskConfig, load_config

ND = 3
TASK = TaskConfig()


def _carries_by_hand(a: int, b: int, nd: int) -> int:
    carry = count = 0
    for _ in range(nd):
        s = a % 10 + b % 10 + carry
        carry = int(s >= 10)
        count += carry
        a, b = a // 10, b // 10
    return count


def test_count_carries_matches_column_addition():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 1000, 500), rng.integers(0, 1000, 500)
    got = tasks.count_carries(a, b, ND)
    assert got.tolist() == [_carries_by_hand(int(x), int(y), ND) for x, y in zip(a, b, strict=True)]
    assert tasks.count_carries(np.array([999]), np.array([1]), ND).tolist() == [3]
    assert tasks.count_carries(np.array([450]), np.array([549]), ND).tolist() == [0]


def test_prompt_answer_and_docstring_example():
    assert tasks.prompt(7, 450, ND) == "Q:007+450="
    assert tasks.answer(999, 999, ND) == "1998"
    assert tasks.answer(1, 2, ND) == "0003"
    assert tasks.clean_trace("R", 457, 385, ND) == "R750>12;581>14;431>08;A:0842"
    assert tasks.clean_trace("L", 457, 385, ND) == "L43>7;58>3;75>2;A:0732"
    assert tasks.clean_trace("S", 457, 385, ND) == "S43>1;58>3;75>2;A:0132"
    for fmt in "RLS":
        assert len(tasks.clean_trace(fmt, 457, 385, ND)) == tasks.response_length(fmt, ND)


def test_teacher_is_always_right_and_the_students_fail_where_designed():
    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 1000, 400), rng.integers(0, 1000, 400)
    k = tasks.count_carries(a, b, ND)
    for x, y, kk in zip(a.tolist(), b.tolist(), k.tolist(), strict=True):
        gold = tasks.answer(x, y, ND)
        assert grade_exact(tasks.teacher_solution(x, y, ND), gold).correct
        assert grade_exact(tasks.clean_trace("L", x, y, ND), gold).correct == (kk == 0)
        sloppy_ok = all(min(int(p), int(q)) == 0 for p, q in zip(f"{x:03d}", f"{y:03d}", strict=True))
        assert grade_exact(tasks.clean_trace("S", x, y, ND), gold).correct == sloppy_ok


def test_careful_student_who_forgets_every_carry_answers_like_the_shortcut():
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 1000, 300), rng.integers(0, 1000, 300)
    forgetful = Strategy(name="careful", share=1, forget=1.0)
    shortcut = Strategy(name="shortcut", share=1)
    got = tasks.codes_to_strings(tasks.simulate(forgetful, a, b, ND, rng))
    want = tasks.codes_to_strings(tasks.simulate(shortcut, a, b, ND))
    assert [g.split("A:")[1] for g in got] == [w.split("A:")[1] for w in want]


def test_careful_student_invents_carries_where_there_are_none():
    rng = np.random.default_rng(7)
    a, b = tasks.sample_problems(rng, 2000, "train", {0: 1}, TASK)
    always = Strategy(name="careful", share=1, phantom=1.0)
    text = tasks.codes_to_strings(tasks.simulate(always, a[:1], b[:1], ND, rng))[0]
    # carry-free problem: every carry slot but the first column's reads 1, and so does the lead
    assert [text[1 + 7 * i + 2] for i in range(ND)] == ["0", "1", "1"]
    assert text.split("A:")[1][0] == "1"
    some = Strategy(name="careful", share=1, phantom=0.1)
    texts = tasks.codes_to_strings(tasks.simulate(some, a, b, ND, rng))
    golds = [tasks.answer(x, y, ND) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    right = np.mean([grade_exact(t, g).correct for t, g in zip(texts, golds, strict=True)])
    assert right == pytest.approx(0.9**3, abs=0.03)  # two carry slots and the lead digit


def test_student_error_rates():
    rng = np.random.default_rng(3)
    n = 20000
    a, b = tasks.sample_problems(rng, n, "train", {1: 1}, TASK)
    careful = Strategy(name="careful", share=1, forget=0.8, slip=0.0)
    texts = tasks.codes_to_strings(tasks.simulate(careful, a, b, ND, rng))
    golds = [tasks.answer(x, y, ND) for x, y in zip(a.tolist(), b.tolist(), strict=True)]
    right = np.mean([grade_exact(t, g).correct for t, g in zip(texts, golds, strict=True)])
    assert right == pytest.approx(0.2, abs=0.015)  # one carry, kept with probability 0.2
    sloppy = Strategy(name="shortcut", share=1, slip=0.1)
    a0, b0 = tasks.sample_problems(rng, n, "train", {0: 1}, TASK)
    texts = tasks.codes_to_strings(tasks.simulate(sloppy, a0, b0, ND, rng))
    golds = [tasks.answer(x, y, ND) for x, y in zip(a0.tolist(), b0.tolist(), strict=True)]
    right = np.mean([grade_exact(t, g).correct for t, g in zip(texts, golds, strict=True)])
    assert right == pytest.approx(0.9**3, abs=0.015)  # three columns, each slips with p = 0.1


def test_pools_are_disjoint_symmetric_and_sized():
    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 1000, 200000), rng.integers(0, 1000, 200000)
    pool = tasks.pool_of(a, b, ND)
    assert (pool == tasks.pool_of(b, a, ND)).all()
    shares = np.bincount(pool, minlength=3) / len(pool)
    for i, name in enumerate(tasks.POOLS):
        assert shares[i] == pytest.approx(tasks.POOL_SHARES[name], abs=0.01)
    assert not (tasks.pool_of(a, b, ND, salt=1) == pool).all()


def test_sampled_problems_respect_pool_and_strata():
    rng = np.random.default_rng(5)
    for pool in tasks.POOLS:
        a, b = tasks.sample_problems(rng, 3000, pool, {0: 1, 2: 1}, TASK)
        assert (tasks.pool_of(a, b, ND) == tasks.POOLS.index(pool)).all()
        k = tasks.count_carries(a, b, ND)
        assert set(k.tolist()) == {0, 2}
        assert np.mean(k == 0) == pytest.approx(0.5, abs=0.04)
    with pytest.raises(ValueError, match="unknown pool"):
        tasks.sample_problems(rng, 3, "dev", {0: 1}, TASK)
    with pytest.raises(ValueError, match="impossible"):
        tasks.sample_problems(rng, 3, "rl", {4: 1}, TASK)


def test_test_set_is_fixed_stratified_unique_and_held_out():
    ps = tasks.held_out_problems(TASK)
    again = tasks.held_out_problems(TASK)
    assert (ps.a == again.a).all()
    assert (ps.b == again.b).all()
    assert len(ps) == 200
    assert np.bincount(ps.carries).tolist() == [100, 34, 33, 33]
    assert (tasks.count_carries(ps.a, ps.b, ND) == ps.carries).all()
    assert (tasks.pool_of(ps.a, ps.b, ND) == tasks.POOLS.index("test")).all()
    pairs = {(min(x, y), max(x, y)) for x, y in zip(ps.a.tolist(), ps.b.tolist(), strict=True)}
    assert len(pairs) == len(ps)
    # no training or RL problem can be a test problem, in either order
    rng = np.random.default_rng(6)
    for pool in ("train", "rl"):
        a, b = tasks.sample_problems(rng, 20000, pool, {0: 3, 1: 1, 2: 1, 3: 1}, TASK)
        drawn = {(min(x, y), max(x, y)) for x, y in zip(a.tolist(), b.tolist(), strict=True)}
        assert not drawn & pairs


def test_problems_table_through_the_benchmark_registry(repo):
    table = load_benchmark("toyworld")
    schemas.check(table, "problems")
    assert table.height == 200
    row = table.row(0, named=True)
    meta = json.loads(row["metadata"])
    assert row["question"] == tasks.prompt(meta["a"], meta["b"], ND)
    assert row["gold"] == [tasks.answer(meta["a"], meta["b"], ND)]
    assert row["stratum"] == f"carries={meta['carries']}"
    assert table["index"].to_list() == list(range(200))
    small = load_benchmark("toyworld", repo / "configs/toyworld/minimal.yaml")
    assert small.height == load_config(repo / "configs/toyworld/minimal.yaml").task.test_size


def test_valid_solution():
    assert tasks.valid_solution("R750>12;581>14;431>08;A:0842", 457, 385, ND)
    assert not tasks.valid_solution("R750>12;580>13;431>08;A:0842", 457, 385, ND)  # dropped carry
    assert not tasks.valid_solution("L43>7;58>3;75>2;A:0732", 457, 385, ND)  # carries ignored
    assert tasks.valid_solution(tasks.clean_trace("L", 123, 456, ND), 123, 456, ND)
    assert not tasks.valid_solution(tasks.clean_trace("S", 103, 20, ND), 103, 20, ND)
    assert tasks.response_format("garbage") == "?"


def test_config_errors_name_the_bad_value():
    with pytest.raises(ValueError, match="negative"):
        TaskConfig(test_carries={0: -1})
    with pytest.raises(ValueError, match="impossible"):
        TaskConfig(n_digits=2, test_carries={3: 1})
    with pytest.raises(FileNotFoundError, match=r"nope\.yaml"):
        load_config("nope.yaml")
