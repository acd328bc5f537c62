"""Study configs: validation with clear messages, the job plan, the shipped configs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from analysis.config import ConfigError, load_config, parse_config, sampling_jobs

REPO = Path(__file__).resolve().parents[1]

MINIMAL = {
    "name": "mine",
    "title": "t",
    "models": [
        {"name": "b", "role": "base", "path": "/models/b", "template": "qwen-boxed"},
        {"name": "r", "role": "rl", "base": "b", "path": "/models/r", "template": "qwen-boxed"},
    ],
    "benchmarks": [{"name": "math500", "source": "/data"}, {"name": "aime24", "source": "/data", "n": 16}],
    "sampling": {"n": 8, "seeds": [0, 1], "temperatures": [0.6, 1.0], "max_tokens": 64},
}


def _with(**changes):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    for dotted, value in changes.items():
        target = data
        *path, last = dotted.split("__")
        for p in path:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = value
    return data


@pytest.mark.parametrize("name", ["toy.yaml", "toy-mini.yaml", "paper-math.yaml"])
def test_shipped_configs_are_valid(name):
    cfg = load_config(REPO / "configs" / name)
    assert cfg.pairs()
    assert sampling_jobs(cfg)


def test_job_plan_splits_n_over_seeds_and_crosses_everything():
    cfg = parse_config(MINIMAL)
    jobs = sampling_jobs(cfg)
    # 2 models x 2 benchmarks x 2 temperatures x 2 seeds
    assert len(jobs) == 16
    assert {j.n for j in jobs if j.benchmark == "math500"} == {4}
    assert {j.n for j in jobs if j.benchmark == "aime24"} == {8}
    assert len({j.key for j in jobs}) == 16
    assert jobs[0].key == "b__math500__T0.6__s0"
    assert cfg.pairs() == [("b", "r")]


def test_paper_config_matches_the_paper_protocol():
    cfg = load_config(REPO / "configs" / "paper-math.yaml")
    s = cfg.sampling
    assert (s.temperatures, s.top_p, s.max_tokens) == ([0.6], 0.95, 16384)
    assert s.max_model_len >= 16384 + 1024
    n = {b.name: cfg.n_for(b) for b in cfg.benchmarks}
    assert n == {"gsm8k": 128, "math500": 128, "minerva_math": 128, "olympiadbench": 128, "aime24": 1024, "amc23": 1024}
    models = {m.name: m for m in cfg.models}
    assert models["simplerl-zoo-7b"].path == "hkust-nlp/Qwen-2.5-7B-SimpleRL-Zoo"
    assert models["qwen2.5-7b"].revision == "d149729398750b98c0af14eb82c78cfe92750796"
    assert ("qwen2.5-math-7b", "r1-distill-qwen-7b") in cfg.pairs()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"models__1__role": "teacher"}, "models.1.role"),
        ({"models__1__base": "nobody"}, "base 'nobody' is not a model of role 'base'"),
        ({"sampling__n": 7}, "n = 7 is not divisible by the 2 seeds"),
        ({"sampling__n": 0}, "sampling.n"),
        ({"sampling__top_p": 1.5}, "sampling.top_p"),
        ({"sampling__seeds": [1, 1]}, "seeds must be distinct"),
        ({"models__0__name": "has space"}, "models.0.name"),
        ({"surprise": 1}, "surprise"),
        ({"models__1__path": "toyworld:rl"}, "need the 'toyworld' training config"),
    ],
)
def test_bad_configs_name_the_field_and_the_reason(changes, message):
    with pytest.raises(ConfigError) as err:
        parse_config(_with(**changes), "bad.yaml")
    assert message in str(err.value)
    assert str(err.value).startswith("bad.yaml: ")


def test_duplicate_model_names_and_missing_base_role_are_refused():
    data = _with()
    data["models"][1]["name"] = "b"
    with pytest.raises(ConfigError, match="model names must be unique"):
        parse_config(data)
    data = _with(models__0__role="other")
    data["models"][1].pop("base")
    with pytest.raises(ConfigError, match="at least one model must have role 'base'"):
        parse_config(data)


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_hash_changes_with_any_setting():
    a = parse_config(MINIMAL).hash
    assert parse_config(_with(sampling__max_tokens=65)).hash != a
    assert parse_config(yaml.safe_load(yaml.safe_dump(MINIMAL))).hash == a
