"""The preflight: context limits from model configs, benchmark hashes, the plan table.

The five paper models are stood in for by local folders holding a ``config.json`` (a tiny Llama
shape declaring the real model's positions: 131,072 for Qwen2.5-7B, SimpleRL-Zoo and
R1-Distill-Qwen-7B, 4,096 for Qwen2.5-Math-7B and Oat-Zero) and a byte-level BPE tokenizer
trained on the benchmark questions (no hub is reachable here). The preflight reads no weights.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
import yaml

from analysis.config import ConfigError, parse_config
from analysis.preflight import (
    DEFAULT_TOKENS_PER_S,
    ModelContext,
    _revision_warning,
    estimate_params_b,
    main,
    model_context,
    preflight,
    tokens_per_s_for,
)

REPO = Path(__file__).resolve().parents[1]
PAPER = yaml.safe_load((REPO / "configs" / "paper-math.yaml").read_text())
QUESTION_FIELDS = {
    "aime24": "problem",
    "amc23": "question",
    "gsm8k": "question",
    "math500": "problem",
    "minerva_math": "problem",
    "olympiadbench": "question",
}
POSITIONS = {
    "qwen2.5-7b": 131072,
    "simplerl-zoo-7b": 131072,
    "qwen2.5-math-7b": 4096,
    "oat-zero-7b": 4096,
    "r1-distill-qwen-7b": 131072,
}


def bpe_tokenizer(texts: list[str]):
    """A byte-level BPE (16k merges budget) trained on ``texts``, with Qwen's chat markers as special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=16000,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def write_standin(folder: Path, positions: int, tokenizer, **extra) -> Path:
    """A model folder with a tiny Llama ``config.json`` declaring ``positions`` and ``tokenizer``."""
    from transformers import LlamaConfig

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=positions,
    )
    folder.mkdir(parents=True, exist_ok=True)
    config.save_pretrained(folder)
    if extra:
        data = json.loads((folder / "config.json").read_text())
        data.update(extra)
        (folder / "config.json").write_text(json.dumps(data))
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tokenizer(benchmarks_dir):
    texts = [
        json.loads(line)[field]
        for name, field in QUESTION_FIELDS.items()
        for line in (benchmarks_dir / name / "test.jsonl").read_text().splitlines()
    ]
    return bpe_tokenizer(texts)


@pytest.fixture(scope="module")
def standins(tmp_path_factory, tokenizer) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("standins")
    return {name: write_standin(root / name, positions, tokenizer) for name, positions in POSITIONS.items()}


def paper_config(
    standins: dict[str, Path], benchmarks_dir: Path, only: tuple[str, ...] = (), **model_changes: dict
) -> dict:
    """paper-math.yaml with every model path rewritten to its local stand-in.

    ``only``: keep these models and only OlympiadBench (the longest prompts) and AIME24, to keep
    the failure tests short; a kept model's base is kept too.
    """
    data = copy.deepcopy(PAPER)
    if only:
        keep = set(only) | {m.get("base") for m in data["models"] if m["name"] in only}
        data["models"] = [m for m in data["models"] if m["name"] in keep]
        data["benchmarks"] = [b for b in data["benchmarks"] if b["name"] in ("olympiadbench", "aime24")]
    for m in data["models"]:
        m["path"] = str(standins[m["name"]])
        m["revision"] = None
        for key, value in model_changes.get(m["name"], {}).items():
            if value is None:
                m.pop(key, None)
            else:
                m[key] = value
    for b in data["benchmarks"]:
        b["source"] = str(benchmarks_dir)
    return data


@pytest.fixture(scope="module")
def paper_result(standins, benchmarks_dir):
    return preflight(parse_config(paper_config(standins, benchmarks_dir)))


def test_paper_math_passes_with_local_standins(paper_result, benchmarks_dir):
    result = paper_result
    assert result.ok, result.report()
    assert result.warnings == []  # local folders need no revision; the files are the paper's
    models = {r["model"]: r for r in result.models.iter_rows(named=True)}
    assert list(models) == list(POSITIONS)
    per_model = (1319 + 500 + 272 + 675) * 128 + (30 + 40) * 1024
    for name, row in models.items():
        assert row["jobs"] == 6 * 4
        assert row["samples"] == per_model
        assert row["positions"] == POSITIONS[name]
    assert models["qwen2.5-math-7b"]["max_model_len"] == 4096
    assert models["qwen2.5-math-7b"]["max_tokens"] == 4096
    assert [name for name, row in models.items() if row["fit_to_context"]] == ["qwen2.5-math-7b", "oat-zero-7b"]
    assert models["qwen2.5-7b"]["max_model_len"] == 32768
    # estimated tokens: the role's mean, capped at max_tokens; the distilled model writes longer
    assert models["qwen2.5-7b"]["est_tokens_M"] == round(per_model * 700 / 1e6, 3)
    assert models["r1-distill-qwen-7b"]["est_tokens_M"] == round(per_model * 4000 / 1e6, 3)
    assert models["qwen2.5-7b"]["GPU_h"] == round(per_model * 700 / models["qwen2.5-7b"]["tok_s_per_GPU"] / 3600, 2)
    bench = {r["benchmark"]: r for r in result.benchmarks.iter_rows(named=True)}
    assert bench["olympiadbench"]["problems"] == 675
    expected = hashlib.sha256((benchmarks_dir / "olympiadbench" / "test.jsonl").read_bytes()).hexdigest()
    assert bench["olympiadbench"]["sha256"] == expected
    assert {r["pinned"] for r in bench.values()} == {"config"}
    assert expected in result.report()
    assert "qwen2.5-math-7b" in result.report()
    longest = {(r["model"], r["benchmark"]): r for r in result.prompts}
    assert len(longest) == 5 * 6
    olympiad = longest[("qwen2.5-math-7b", "olympiadbench")]
    assert olympiad["counted_by"] == "tokenizer"
    assert olympiad["longest_prompt"] == max(r["longest_prompt"] for r in result.prompts)
    # fit_to_context: every sample is capped at 4096 - its prompt, so the headroom over
    # max_tokens = 4096 is minus the prompt, and the preflight says what the cap is instead of failing
    assert olympiad["fit_to_context"]
    assert olympiad["headroom"] == -olympiad["longest_prompt"]
    assert not longest[("qwen2.5-7b", "olympiadbench")]["fit_to_context"]
    left = 4096 - olympiad["longest_prompt"]
    assert 2000 < left < 4096
    notes = {name: n for n in result.notes for name in POSITIONS if f"model '{name}'" in n}
    assert sorted(notes) == ["oat-zero-7b", "qwen2.5-math-7b"]
    assert "at most min(max_tokens=4096, max_model_len=4096 - its prompt tokens)" in notes["qwen2.5-math-7b"]
    assert f"{olympiad['longest_prompt']} tokens) leaves {left}" in notes["qwen2.5-math-7b"]
    assert f"note: {notes['oat-zero-7b']}" in result.report()


def test_a_4096_position_model_with_16384_new_tokens_fails_naming_model_and_field(standins, benchmarks_dir):
    changes = {"qwen2.5-math-7b": {"max_model_len": None, "max_tokens": 16384, "fit_to_context": None}}
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-math-7b", "r1-distill-qwen-7b"), **changes)
    del data["sampling"]["max_model_len"]  # every model's context: what its config allows
    result = preflight(parse_config(data))
    assert not result.ok
    errors = [e for e in result.errors if "qwen2.5-math-7b" in e]
    assert len(errors) == len(result.errors) == 2  # one per benchmark, none for the other model
    assert "more than max_model_len=4096" in errors[0]
    assert "max_tokens=16384" in errors[0]
    assert "config.json max_position_embeddings=4096" in errors[0]
    assert "models[qwen2.5-math-7b].max_tokens" in errors[0]
    assert "models[qwen2.5-math-7b].fit_to_context" in errors[0]
    assert result.notes == []


def test_fit_to_context_caps_instead_of_failing(standins, benchmarks_dir):
    """The same 4,096-position model and 16,384 max_tokens with the opt-in: the cap applies."""
    changes = {"qwen2.5-math-7b": {"max_model_len": None, "max_tokens": 16384, "fit_to_context": True}}
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-math-7b",), **changes)
    del data["sampling"]["max_model_len"]
    result = preflight(parse_config(data))
    assert result.ok, result.report()
    row = result.models.row(0, named=True)
    assert (row["max_model_len"], row["max_tokens"], row["fit_to_context"]) == (4096, 16384, True)
    (note,) = result.notes
    longest = max(r["longest_prompt"] for r in result.prompts)
    assert "min(max_tokens=16384, max_model_len=4096 - its prompt tokens)" in note
    assert note.endswith(f", {longest} tokens) leaves {4096 - longest}")


def test_fit_to_context_still_refuses_a_context_above_the_positions(standins, benchmarks_dir):
    changes = {"qwen2.5-math-7b": {"max_model_len": 8192, "max_tokens": 16384, "fit_to_context": True}}
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-math-7b",), **changes)
    errors = preflight(parse_config(data)).errors
    assert len(errors) == 1, errors
    assert "model 'qwen2.5-math-7b'" in errors[0]
    assert "max_model_len=8192 exceeds the 4096 positions" in errors[0]


def test_fit_to_context_refuses_a_prompt_that_leaves_no_room(standins, benchmarks_dir):
    changes = {"qwen2.5-math-7b": {"max_model_len": 64, "max_tokens": 16, "fit_to_context": True}}
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-math-7b",), **changes)
    result = preflight(parse_config(data))
    longest = {r["benchmark"]: r["longest_prompt"] for r in result.prompts}
    assert min(longest.values()) >= 64  # both benchmarks' longest prompts exceed a 64-token context
    assert len(result.errors) == 2, result.errors
    for bench, error in zip(("olympiadbench", "aime24"), result.errors, strict=True):
        assert error.startswith("model 'qwen2.5-math-7b'")
        assert f"the longest {bench} prompt ({longest[bench]} tokens" in error
        assert "leaves no room for a generated token in max_model_len=64 (fit_to_context)" in error


def test_an_explicit_max_model_len_above_the_positions_fails(standins, benchmarks_dir):
    changes = {"oat-zero-7b": {"max_model_len": 32768, "max_tokens": 2560}}
    data = paper_config(standins, benchmarks_dir, ("oat-zero-7b",), **changes)
    result = preflight(parse_config(data))
    assert any("'oat-zero-7b'" in e and "max_model_len=32768 exceeds the 4096 positions" in e for e in result.errors), (
        result.errors
    )


def test_rope_scaling_extends_the_positions(tmp_path, tokenizer, benchmarks_dir, standins):
    yarn = {"rope_scaling": {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 4096}}
    scaled = write_standin(tmp_path / "scaled", 4096, tokenizer, **yarn)
    changes = {"qwen2.5-math-7b": {"max_model_len": 16384, "max_tokens": 8192}}
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-math-7b",), **changes)
    data["models"][0]["path"] = str(scaled)
    result = preflight(parse_config(data))
    assert result.ok, result.report()
    assert result.models.row(0, named=True)["positions"] == 16384


def test_model_context_follows_vllms_rules():
    assert model_context({"max_position_embeddings": 4096}) == ModelContext(
        4096, "max_position_embeddings", 4096, None, None
    )
    linear = model_context({"max_position_embeddings": 4096, "rope_scaling": {"type": "linear", "factor": 2.0}})
    assert (linear.positions, linear.rope) == (8192, "linear x2 of 4096")
    yarn = {"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
    assert model_context({"max_position_embeddings": 32768, "rope_scaling": yarn}).positions == 131072
    llama3 = {"rope_type": "llama3", "factor": 8.0, "original_max_position_embeddings": 8192}
    assert model_context({"max_position_embeddings": 131072, "rope_scaling": llama3}).positions == 131072
    assert (
        model_context({"max_position_embeddings": 4096, "rope_parameters": {"rope_type": "default"}}).positions == 4096
    )
    assert model_context({"n_positions": 2048, "max_position_embeddings": 4096}).positions == 2048  # smallest key
    assert model_context({"text_config": {"max_position_embeddings": 128000}}).positions == 128000
    with pytest.raises(ValueError, match="declares none of"):
        model_context({"hidden_size": 8})


def test_parameter_estimate_and_default_throughput():
    qwen7b = {
        "hidden_size": 3584,
        "num_hidden_layers": 28,
        "vocab_size": 152064,
        "intermediate_size": 18944,
        "num_attention_heads": 28,
        "num_key_value_heads": 4,
    }
    assert estimate_params_b(qwen7b) == pytest.approx(7.6, abs=0.1)  # Qwen2.5-7B: 7.61 B
    assert estimate_params_b({"hidden_size": 8}) is None
    assert tokens_per_s_for(7.6) == dict(DEFAULT_TOKENS_PER_S)[10.0]
    assert tokens_per_s_for(1.5) > tokens_per_s_for(7.6) > tokens_per_s_for(32.0)


def test_benchmark_hash_differing_from_its_pin_fails(tmp_path, standins, benchmarks_dir):
    folder = tmp_path / "bench"
    (folder / "gsm8k").mkdir(parents=True)
    (folder / "gsm8k" / "test.jsonl").write_text(json.dumps({"question": "1+1?", "answer": "#### 2"}) + "\n")
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-7b",))
    data["benchmarks"] = [{"name": "gsm8k", "source": str(folder), "sha256": "0" * 64}]
    result = preflight(parse_config(data))
    assert len(result.errors) == 1
    assert "benchmark 'gsm8k'" in result.errors[0]
    assert "pins " + "0" * 64 in result.errors[0]
    # without a pin, the file passes but is flagged as not the paper's
    del data["benchmarks"][0]["sha256"]
    result = preflight(parse_config(data))
    assert result.ok
    assert any("is not the paper's file" in w for w in result.warnings)
    # a folder's own SHA256SUMS is checked too
    (folder / "SHA256SUMS").write_text(f"{'1' * 64}  gsm8k/test.jsonl\n")
    result = preflight(parse_config(data))
    assert "SHA256SUMS pins " + "1" * 64 in result.errors[0]


def test_relative_sources_resolve_from_the_root(standins, benchmarks_dir):
    data = paper_config(standins, benchmarks_dir, ("qwen2.5-7b",))
    data["benchmarks"] = [{"name": "aime24", "source": benchmarks_dir.name, "n": 1024}]
    assert preflight(parse_config(data), root=benchmarks_dir.parent).ok
    missing = preflight(parse_config(data), root=benchmarks_dir)
    assert "benchmark file not found" in missing.errors[0]


def test_unpinned_revisions_warn():
    cfg = parse_config(PAPER)
    warnings = [w for m in cfg.models if (w := _revision_warning(m))]
    assert len(warnings) == 1
    assert "'oat-zero-7b'" in warnings[0]
    assert "'main' is not pinned" in warnings[0]
    unset = cfg.models[0].model_copy(update={"revision": None})
    assert "revision is not set" in _revision_warning(unset)


def test_per_model_limits_are_validated():
    data = copy.deepcopy(PAPER)
    del data["models"][2]["fit_to_context"]  # without the opt-in, max_tokens must leave room for a prompt
    with pytest.raises(ConfigError, match=r"'qwen2\.5-math-7b': max_model_len=4096 leaves no room"):
        parse_config(data)
    data["sampling"]["fit_to_context"] = True  # the study-wide default applies where a model sets none
    assert parse_config(data).fit_to_context_for(parse_config(data).models[2])
    cfg = parse_config(PAPER)
    assert [cfg.max_tokens_for(m) for m in cfg.models] == [16384, 16384, 4096, 4096, 16384]
    assert [cfg.fit_to_context_for(m) for m in cfg.models] == [False, False, True, True, False]
    data = copy.deepcopy(PAPER)
    data["sampling"]["backend"] = "openai"
    data["sampling"]["api_base"] = "http://127.0.0.1:8000/v1"
    with pytest.raises(ConfigError, match=r"'qwen2\.5-math-7b': fit_to_context works with the hf and vllm"):
        parse_config(data)


def test_cli_exit_status_and_report(standins, benchmarks_dir, tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(paper_config(standins, benchmarks_dir, ("qwen2.5-math-7b",))))
    assert main([str(good), "--tokens-per-s", "1000"]) == 0
    out = capsys.readouterr().out
    for part in ("Per model:", "Benchmark files:", "GPU-hours", "qwen2.5-math-7b"):
        assert part in out
    bad = tmp_path / "bad.yaml"
    changes = {"oat-zero-7b": {"max_model_len": None, "max_tokens": 16384, "fit_to_context": None}}
    bad.write_text(yaml.safe_dump(paper_config(standins, benchmarks_dir, ("oat-zero-7b",), **changes)))
    assert main([str(bad)]) == 1
    out = capsys.readouterr().out
    assert "ERROR: model 'oat-zero-7b'" in out
    assert "preflight FAILED" in out


def test_toy_config_passes_without_model_folders():
    result = preflight(REPO / "configs" / "toy-mini.yaml", root=REPO)
    assert result.ok, result.report()
    assert result.models["jobs"].sum() > 0


def test_a_run_records_the_benchmark_file_it_read(tmp_path):
    from analysis.benchmarks import BenchmarkError
    from analysis.sampling import SamplingConfig, read_run_config, run_sampling
    from analysis.tinymodel import build_tiny_model

    folder = tmp_path / "bench"
    (folder / "gsm8k").mkdir(parents=True)
    rows = [{"question": f"{i}+1?", "answer": f"#### {i + 1}"} for i in range(2)]
    (folder / "gsm8k" / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    digest = hashlib.sha256((folder / "gsm8k" / "test.jsonl").read_bytes()).hexdigest()
    model = build_tiny_model(tmp_path / "tiny")
    settings = {
        "backend": "hf",
        "model": str(model),
        "benchmark": "gsm8k",
        "benchmark_source": str(folder),
        "template": "plain",
        "n": 1,
        "max_tokens": 4,
        "device": "cpu",
    }
    run_dir = run_sampling(SamplingConfig(**settings, benchmark_sha256=digest), tmp_path / "runs", progress=False)
    record = read_run_config(run_dir)["benchmark_file"]
    assert record == {"file": str((folder / "gsm8k" / "test.jsonl").resolve()), "sha256": digest, "paper_file": False}
    with pytest.raises(BenchmarkError, match="pins " + "0" * 64):
        run_sampling(SamplingConfig(**settings, benchmark_sha256="0" * 64), tmp_path / "other", progress=False)
    assert not (tmp_path / "other").exists()


def test_import_study_checks_files_only():
    config = REPO / "configs" / "import-example.yaml"
    if not config.is_file():
        pytest.skip("no import-study example config in this checkout")
    result = preflight(config, root=REPO)
    assert result.ok, result.report()
    assert result.models["jobs"].sum() == 0
    assert any("import study" in w for w in result.warnings)
