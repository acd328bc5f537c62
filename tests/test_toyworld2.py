"""Toy world 2: the task family (hand-checked examples), determinism, and the page on the
committed tables."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from analysis.toyworld2 import tasks as T
from analysis.toyworld2.config import ToyWorld2Config


def _final(start: str, program: str) -> str:
    return T.solve(start, program).split("A:")[-1]


@pytest.mark.parametrize(
    ("program", "final"),
    [
        ("a", "493"),  # add 1 to every digit
        ("b", "283"),  # reverse
        ("c", "615"),  # add 3
        ("d", "823"),  # rotate left
        ("e", "617"),  # 9 - d
        ("f", "832"),  # swap first two
        ("g", "946"),  # times 3 mod 10
        ("h", "238"),  # rotate right
        ("i", "059"),  # add 7
        ("j", "328"),  # swap last two
        ("k", "164"),  # times 7 mod 10
        ("l", "728"),  # times 9 mod 10
    ],
)
def test_each_op_on_a_hand_example(program: str, final: str) -> None:
    assert _final("382", program) == final


def test_worked_solution_and_prompt() -> None:
    assert T.solve("382", "cb..") == "c615;b516;A:516"
    p = T.Problems(np.array([[3, 8, 2]]), np.array([[2, 1, -1, -1]]))
    assert p.prompts() == ["Q382:cb..="]
    assert p.answers() == ["516"]
    assert len(p.prompts()[0]) == T.PROMPT_LENGTH
    assert p.rarest_rank().tolist() == [3]


def test_checker() -> None:
    assert T.check("c615;b516;A:516", "516")
    assert not T.check("c615;b516;A:515", "516")
    assert not T.check("c615;b516;", "516")  # no answer
    assert T.check("b283;c516;A:516", "516")  # another valid order, same answer


def test_commute_is_exact() -> None:
    """Every pair that commute() allows to swap gives the same final state from every start."""
    states = np.array(list(itertools.product(range(10), repeat=3)))
    for x, y in itertools.product(range(T.N_OPS), repeat=2):
        xy = T.apply_op(np.full(len(states), y), T.apply_op(np.full(len(states), x), states))
        yx = T.apply_op(np.full(len(states), x), T.apply_op(np.full(len(states), y), states))
        same = bool((xy == yx).all())
        if T.commute(x, y):
            assert same, (T.LETTERS[x], T.LETTERS[y])
    assert not T.commute(4, 6)  # 9 - d and times 3 do not commute


def test_students_reach_the_answer_by_several_routes() -> None:
    rng = np.random.default_rng(0)
    probs = T.draw_problems(rng, 300, "train", T.zipf_weights(1.0), {3: 1, 4: 1})
    perfect = np.ones(T.N_OPS)
    plain = T.simulate(probs, rng, perfect, reorder=0.0)
    assert plain == [
        T.solve("".join(map(str, s)), T.prompt_text(s, p)[5:9]) for s, p in zip(probs.start, probs.program, strict=True)
    ]
    swapped = T.simulate(probs, rng, perfect, reorder=1.0)
    assert all(T.check(r, g) for r, g in zip(swapped, probs.answers(), strict=True))
    assert sum(a != b for a, b in zip(plain, swapped, strict=True)) > 50  # different traces, same answers


def test_unreliable_students_slip_to_the_partner_op() -> None:
    rng = np.random.default_rng(1)
    probs = T.Problems(np.tile([[3, 8, 2]], (2000, 1)), np.tile([[10, -1, -1, -1]], (2000, 1)))  # times 7
    skill = np.full(T.N_OPS, 0.3)
    out = T.simulate(probs, rng, skill, reorder=0.0)
    right = np.mean([r == "k164;A:164" for r in out])
    partner = "k" + _final("382", T.LETTERS[T.PARTNER[10]])
    slipped = np.mean([r.startswith(partner) for r in out])
    assert abs(right - 0.3) < 0.05
    assert right + slipped == pytest.approx(1.0)


def test_skill_levels_fall_with_frequency() -> None:
    level = T.skill_levels(1.0, 0.98, 0.4, 0.05)
    assert level[0] == pytest.approx(0.98)
    assert np.all(np.diff(level) < 0)
    assert T.zipf_weights(0.0) == pytest.approx(np.full(T.N_OPS, 1 / T.N_OPS))


def test_pools_and_test_set_are_deterministic_and_disjoint() -> None:
    w, lengths = T.zipf_weights(0.0), {1: 1, 2: 1, 3: 1, 4: 1}
    a = T.held_out_set(100, 7, w, lengths)
    b = T.held_out_set(100, 7, w, lengths)
    assert np.array_equal(a.start, b.start)
    assert np.array_equal(a.program, b.program)
    assert len(np.unique(T.problem_keys(a.start, a.program))) == 100
    assert (T.pool_of(a.start, a.program) == 2).all()
    rl = T.draw_problems(np.random.default_rng(3), 500, "rl", w, lengths)
    assert (T.pool_of(rl.start, rl.program) == 1).all()
    assert not set(T.problem_keys(rl.start, rl.program)) & set(T.problem_keys(a.start, a.program))


def test_training_is_deterministic() -> None:
    from analysis.toyworld2.train import grpo, pretrain

    torch.set_num_threads(1)
    cfg = ToyWorld2Config.model_validate(
        {
            "model": {"hidden_size": 16, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1, "intermediate_size": 32},
            "pretrain": {"steps": 3, "batch_size": 8, "warmup": 1},
            "rl": {"steps": 2, "prompts_per_step": 2, "group_size": 4},
        }
    )
    m1, _ = pretrain(cfg)
    m2, _ = pretrain(cfg)
    for p, q in zip(m1.parameters(), m2.parameters(), strict=True):
        assert torch.equal(p, q)
    r1, log1 = grpo(m1, cfg, cfg.rl, seed=0)
    r2, log2 = grpo(m1, cfg, cfg.rl, seed=0)
    assert [e["reward"] for e in log1] == [e["reward"] for e in log2]
    assert all(torch.equal(p, q) for p, q in zip(r1.parameters(), r2.parameters(), strict=True))


def test_page_builds_from_the_committed_tables() -> None:
    from analysis.pages.toyworld2 import toyworld2_page
    from analysis.toyworld2.results import RESULTS_DIR

    if not (RESULTS_DIR / "counts.csv").is_file():
        pytest.skip(f"no committed toy-world-2 tables in {RESULTS_DIR}")
    page = toyworld2_page()
    assert page.findings is not None
    assert page.findings.height > 0
    assert page.histogram_table is not None
    assert page.histogram_table.height == 12
    assert page.targets is not None
    assert page.targets.height == 6
    assert "default" in page.answer.data
    page.histogram_chart.to_dict()
    page.curves_chart.to_dict()
    page.rarity_chart.to_dict()
    for chart in page.rarity_charts.values():
        chart.to_dict()


def test_committed_tables_are_current_and_a_changed_version_is_stale() -> None:
    from analysis.toyworld2.results import RESULTS_DIR, Results2, load_results

    found = load_results("findings")
    if found is None:
        pytest.skip(f"no committed toy-world-2 tables in {RESULTS_DIR}")
    assert found.stale_reasons() == []
    older = Results2(found.table, found.meta | {"training_code_version": "000000000000"}, found.path)
    assert older.stale_reasons() == [f"training code 000000000000 → {found.meta['training_code_version']}"]
    assert "Stale" in older.note()


def test_variant_worlds_join_the_page_under_their_labels() -> None:
    from analysis.pages.toyworld2 import VARIANT_WORLDS, toyworld2_page
    from analysis.toyworld2.results import RESULTS_DIR

    present = {
        sub: label for sub, (label, _) in VARIANT_WORLDS.items() if (RESULTS_DIR / sub / "findings.csv").is_file()
    }
    if not present:
        pytest.skip(f"no committed variant worlds in {RESULTS_DIR}")
    page = toyworld2_page()
    conditions = set(page.findings["condition"])
    for label in present.values():
        assert any(c == label or c.startswith(f"{label}, ") for c in conditions)
        assert label in page.by_rarity_worlds
        assert {"condition", "rarest_rank", "pass@n_base", "pass@n_rl"} <= set(page.by_rarity_worlds[label].columns)


def test_committed_variant_worlds_are_current() -> None:
    from analysis.pages.toyworld2 import VARIANT_WORLDS
    from analysis.toyworld2.results import RESULTS_DIR, load_results

    found = {sub: load_results("findings", RESULTS_DIR / sub) for sub in VARIANT_WORLDS}
    if not any(found.values()):
        pytest.skip(f"no committed variant worlds in {RESULTS_DIR}")
    for sub, res in found.items():
        if res is not None:
            assert res.stale_reasons() == [], sub


def test_rarity_by_condition_has_a_block_per_condition() -> None:
    import polars as pl

    from analysis.pages.toyworld2 import rarity_by_condition

    rows = []
    for model, c in (("base", [1, 0]), ("rl-default-s0", [4, 0]), ("rl-cold-s0", [0, 2])):
        for i, ci in enumerate(c):
            rows.append({"model": model, "temperature": 0.6, "rarest_rank": i + 1, "n": 4, "c": ci})
    table = rarity_by_condition(pl.DataFrame(rows))
    assert table["condition"].unique().sort().to_list() == ["cold", "default"]
    cold = table.filter(pl.col("condition") == "cold").sort("rarest_rank")
    assert cold["pass@n_base"].to_list() == [1.0, 0.0]
    assert cold["pass@n_rl"].to_list() == [0.0, 1.0]


def test_a_hyphenated_condition_keeps_its_name() -> None:
    import polars as pl

    from analysis.pages.toyworld2 import rarity_by_condition, rarity_long
    from analysis.toyworld2.experiments import condition_of, rl_model_name

    assert condition_of(rl_model_name("rare-absent", 1)) == "rare-absent"
    assert condition_of("base") is None
    rows = [
        {"model": m, "temperature": 0.6, "rarest_rank": 1, "n": 4, "c": c}
        for m, c in (("base", 1), ("rl-rare-absent-s0", 0), ("rl-rare-absent-s1", 2))
    ]
    table = rarity_by_condition(pl.DataFrame(rows))
    assert table["condition"].to_list() == ["rare-absent"]
    assert table["pass@1_rl"].to_list() == [0.25]  # mean of 0/4 and 2/4 over the two seeds
    long = rarity_long(table)
    assert sorted(set(long["series"])) == ["RL, rare-absent", "base"]
    assert long.filter(pl.col("series") == "base").height == 2  # pass@1 and solved share, once


def test_the_answer_keeps_runs_with_other_rl_prompts_apart() -> None:
    import polars as pl

    from analysis.pages.toyworld2 import answer_text
    from analysis.toyworld2.experiments import IN_DISTRIBUTION

    def row(cond: str, prompts: str, outcome: str, d1_lo: float, dn_lo: float, dn_hi: float) -> dict:
        return {
            "condition": cond, "temperature": 0.6, "outcome": outcome, "Δ pass@1": 0.1, "Δ pass@n": -0.1,
            "Δ pass@1 lo": d1_lo, "Δ pass@n lo": dn_lo, "Δ pass@n hi": dn_hi, "other only (%)": 0.0,
            "rl_beta": 0.0, "rl_steps": 150, "rl_group_size": 8, "rl_temperature": 1.0, "rl_prompts": prompts,
            "seed": 0, "pass@1 base": 0.3, "pass@1 other": 0.5, "pass@n base": 1.0, "pass@n other": 0.9,
            "crossover k": 32, "base only": 7, "rl_rise": 0.4,
        }  # fmt: skip

    findings = pl.DataFrame(
        [
            row("default", IN_DISTRIBUTION, "mixed", 0.05, -0.01, 0.01),
            row("default", IN_DISTRIBUTION, "mixed", 0.05, -0.01, 0.01),
            row("rare-absent", "zipf 3", "sharpening", 0.05, -0.2, -0.1),
        ]
    )
    text = answer_text(findings, pl.DataFrame({"rarest_rank": []}), corpus_zipf=1.0)
    assert "Over all 2 comparisons (runs × temperatures) with RL prompts drawn like the test set" in text
    assert "the base is better at pass@256 (coverage narrowed) in 0" in text
    assert "**Not in-distribution" in text
    assert "1 comparisons whose RL prompts drew skill r with weight 1/r^z instead of evenly (zipf 3;" in text
    assert "rare-absent, seed 0, T = 0.6" in text  # the run where the base won at pass@256, named
    assert "the base is better at pass@256 in 1" in text
    assert "sharpening in 1" in text


def test_the_mechanism_sentence_counts_each_condition_apart() -> None:
    import polars as pl

    from analysis.pages.toyworld2 import mechanism_sentence

    table = pl.DataFrame(
        {
            "condition": ["cold", "cold", "skewed", "skewed"],
            "temperature": [0.6] * 4,
            "rarest_rank": [1, 12, 1, 12],
            "pass@1_base": [0.9, 0.1, 0.9, 0.1],
            "pass@1_rl": [1.0, 0.2, 1.0, 0.0],
            "pass@n_base": [1.0, 0.5, 1.0, 0.5],
            "pass@n_rl": [1.0, 0.6, 1.0, 0.2],
            "problems": [10, 10, 10, 10],
        }
    )
    text = mechanism_sentence("floor", table)
    assert "cold: fell in 0, rose in 1 of 2" in text
    assert "skewed: fell in 1, rose in 0 of 2" in text
    assert "largest fall: rank 12, skewed, T = 0.6: 0.500 → 0.200" in text


def test_the_page_says_whether_the_studys_own_run_reproduced_the_committed_counts(tmp_path) -> None:
    import polars as pl

    from analysis.pages.toyworld2 import reproduction_note
    from analysis.toyworld2.results import Results2

    committed = pl.DataFrame(
        {
            "model": ["base", "base", "rl-default-s0", "rl-default-s0"],
            "temperature": [0.6, 0.6, 0.6, 0.6],
            "problem_id": ["p0", "p1", "p0", "p1"],
            "n": [256] * 4,
            "c": [10, 0, 200, 3],
        }
    )
    meta = {"command": "python -m analysis.toyworld2 --config default.yaml", "checkpoint_training_seconds": 330.0}
    same = reproduction_note(committed, Results2(committed, meta, tmp_path / "counts.csv"))
    assert "5.5 minutes of training" in same
    assert "All 2 checked give exactly the committed counts" in same
    other = committed.with_columns(pl.when(pl.col("problem_id") == "p1").then(4).otherwise(pl.col("c")).alias("c"))
    extra = pl.DataFrame({"model": ["rl-default-s9"], "temperature": [0.6], "problem_id": ["p0"], "n": [256], "c": [1]})
    differ = reproduction_note(committed, Results2(pl.concat([other, extra]), meta, tmp_path / "counts.csv"))
    assert "1 of them are not in the committed table" in differ
    assert "differ from the committed table** on 2 (problem, model, temperature) rows, in 2 of 2 checked" in differ
    assert "base at T = 0.6, rl-default-s0 at T = 0.6" in differ
    assert reproduction_note(committed, None) == ""
    cached = meta | {"seconds": {"training_call": 1.2}}
    assert "came from the checkpoint cache" in reproduction_note(committed, Results2(committed, cached, tmp_path / "c"))
    trained = meta | {"seconds": {"training_call": 330.0}}
    assert "trained in this run" in reproduction_note(committed, Results2(committed, trained, tmp_path / "c"))
