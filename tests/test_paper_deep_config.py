"""configs/paper-deep.yaml, the paper's section 4 at paper scale: it validates and its Snakemake
DAG lists the expected jobs (a dry run; the six RL checkpoints were never released)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from analysis.benchmarks import known_benchmarks
from analysis.config import load_config
from analysis.prompts import get_template

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "paper-deep.yaml"


def test_paper_deep_config_names_the_base_and_six_rl_models():
    cfg = load_config(CONFIG)
    base = [m for m in cfg.models if m.role == "base"]
    rl = [m for m in cfg.models if m.role == "rl"]
    assert [(m.name, m.path) for m in base] == [("qwen2.5-7b", "Qwen/Qwen2.5-7B")]
    assert sorted(m.name for m in rl) == ["dapo", "grpo", "ppo", "reinforce-pp", "remax", "rloo"]
    assert all(m.base == "qwen2.5-7b" for m in rl)
    assert len({m.path for m in rl}) == 6  # each a checkpoint folder of its own
    assert {m.template for m in cfg.models} == {"deepseek-r1"}
    assert "</answer>" in get_template("deepseek-r1").stop  # the R1-style prompt of the VeRL runs
    assert cfg.sampling.n == 256
    assert cfg.analysis.delta_se_k == 256
    # MATH500 out of domain; Omni-MATH-Rule train/test in domain (a clone at ../omni-math-rule, this
    # project's or the user's split: the paper's is unpublished; analysis.omni_math)
    assert [b.name for b in cfg.benchmarks] == ["math500", "omni_math_rule_train", "omni_math_rule_test"]
    assert {b.source for b in cfg.benchmarks if b.name.startswith("omni_math_rule")} == {"../omni-math-rule"}
    assert all(b.name in known_benchmarks() for b in cfg.benchmarks)


def test_paper_deep_dag_lists_the_expected_jobs():
    out = subprocess.run(
        [
            str(Path(sys.executable).with_name("snakemake")),
            "-s",
            "workflow/Snakefile",
            "--nolock",
            "--configfile",
            str(CONFIG.relative_to(REPO)),
            "-n",
            "--quiet",
            "rules",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    block = (out.stdout + out.stderr).split("Job stats:", 1)[1]
    stats = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}
    # 7 models x 3 benchmarks x 1 temperature x 4 seeds; the dry run reads no benchmark file, so it
    # lists the Omni-MATH-Rule jobs whether or not the clone is there (the preflight reports it missing)
    assert stats["sample"] == 84
    assert stats["grade"] == 84
    assert stats["models"] == 1
    assert stats["findings"] == 1
    assert "perplexity_scores" not in stats  # perplexity is off: not part of section 4
    assert stats["book"] == 1
