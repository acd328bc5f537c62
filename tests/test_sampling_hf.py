"""Sampling engine with the transformers backend: layout, seeds, chunks, stopping, resume, bad input."""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import torch

from analysis import schemas
from analysis.sampling import (
    SamplingConfig,
    SamplingError,
    load_prompts,
    load_samples,
    open_backend,
    prepare_run,
    read_run_config,
    request_seed,
    run_path,
    run_sampling,
)
from analysis.sampling import fill as fill_module
from analysis.sampling.__main__ import main as cli_main
from analysis.sampling.backends import Completion, GenParams, Request
from analysis.sampling.backends.hf import HFBackend, sampling_probs
from analysis.sampling.plan import group_parts, make_chunks
from analysis.sampling.storage import PART_SCHEMA
from analysis.store import MARKER_NAME
from analysis.tinymodel import build_tiny_model

REPO = Path(__file__).resolve().parents[1]


def toy_problems(count: int, benchmark: str = "toy", seed: int = 0) -> pl.DataFrame:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        a, b = rng.randrange(100, 1000), rng.randrange(100, 1000)
        rows.append((benchmark, f"{benchmark}/{i}", i, f"Q:{a}+{b}=", [str(a + b)], None, "{}"))
    return pl.DataFrame(rows, schema=schemas.PROBLEMS, orient="row")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="module")
def problems() -> pl.DataFrame:
    return toy_problems(3)


def cfg(model: Path, **over) -> SamplingConfig:
    base = {
        "backend": "hf",
        "model": str(model),
        "benchmark": "toy",
        "template": "plain",
        "n": 6,
        "seeds": (0, 1),
        "chunk_size": 4,
        "max_tokens": 16,
        "batch_size": 16,
        "device": "cpu",
    }
    base.update(over)
    return SamplingConfig(**base)


def frame(run_dir: Path) -> pl.DataFrame:
    return load_samples(run_dir).collect().sort("problem_id", "sample_index")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}


@pytest.mark.slow  # a fresh interpreter imports torch and transformers: 5-10 s here
def test_public_names_and_light_imports():
    import analysis.sampling as sampling

    assert sorted(sampling.__all__) == sorted(sampling._EXPORTS)
    code = (
        "import sys, analysis.sampling.backends.hf; "
        "assert 'polars' not in sys.modules and 'pydantic' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})


# --- layout, schema, seeds, chunks -------------------------------------------------------------


def test_run_folder_layout_and_tables(tiny, problems, tmp_path):
    config = cfg(tiny)
    run_dir = run_sampling(config, tmp_path, problems=problems, progress=False)
    assert run_dir.parent == tmp_path
    assert run_dir == run_path(config, tmp_path, problems=problems)
    names = {p.name for p in run_dir.iterdir()}
    assert {"config.json", "prompts.parquet", MARKER_NAME} <= names
    parts = sorted(n for n in names if n.startswith("part-"))
    # chunk sizes 4,2,4,2 per problem, packed greedily into parts of at most 16 sequences
    assert parts == ["part-0000000-0000004.parquet", "part-0000005-0000009.parquet", "part-0000010-0000011.parquet"]

    samples = frame(run_dir)
    assert list(samples.columns) == list(PART_SCHEMA.names())  # the samples table + how each sample ended
    assert samples.select(schemas.SAMPLES.names()).schema == schemas.SAMPLES
    assert samples.schema == PART_SCHEMA
    assert samples.height == 3 * 6 * 2
    assert samples["run_hash"].unique().to_list() == [run_dir.name]
    assert samples["model"].unique().to_list() == ["tiny"]
    assert samples["benchmark"].unique().to_list() == ["toy"]
    for pid, group in samples.group_by("problem_id"):
        assert group["sample_index"].sort().to_list() == list(range(12)), pid
    assert set(samples["finish_reason"].unique()) <= {"stop", "length"}
    assert (samples["finish_reason"] == "length").to_list() == (samples["ended_by"] == "length").to_list()
    assert set(samples["ended_by"].unique()) <= {"eos", "stop_string", "length"}

    prompts = load_prompts(run_dir)
    assert prompts.schema == schemas.PROMPTS
    assert prompts["prompt"].to_list() == problems["question"].to_list()
    assert prompts["n_prompt_tokens"].to_list() == [len(q) for q in problems["question"]]

    saved = read_run_config(run_dir)
    assert saved["run_hash"] == run_dir.name
    assert saved["identity"]["template"]["name"] == "plain"
    assert saved["config"]["n"] == 6
    marker = json.loads((run_dir / MARKER_NAME).read_text())
    assert marker["samples"] == 36
    assert marker["tokens"] == samples["n_tokens"].sum()
    assert marker["truncated_share"] == pytest.approx((samples["finish_reason"] == "length").mean())


def test_chunks_seeds_and_sample_indices(tiny, problems, tmp_path):
    config = cfg(tiny, n=10, seeds=(3, 7), chunk_size=4, batch_size=8)
    samples = frame(run_sampling(config, tmp_path, problems=problems, progress=False))
    assert samples.height == 3 * 20
    for pid in problems["problem_id"]:
        rows = samples.filter(pl.col("problem_id") == pid)
        expected_seeds = []
        for seed in (3, 7):
            for chunk, count in enumerate([4, 4, 2]):
                expected_seeds += [request_seed(seed, pid, chunk)] * count
        assert rows["seed"].to_list() == expected_seeds  # sample_index k*n + c*chunk_size + j
    seeds = [request_seed(s, p, c) for s in (3, 7) for p in problems["problem_id"] for c in range(3)]
    assert len(set(seeds)) == len(seeds)
    assert all(0 <= s < 2**31 for s in seeds)
    # parts hold whole chunks, at most batch_size sequences, in plan order
    chunks = make_chunks(problems["problem_id"].to_list(), 10, (3, 7), 4)
    parts = group_parts(chunks, 8)
    assert all(sum(c.count for c in p) <= 8 for p in parts)
    assert [c for p in parts for c in p] == chunks


def test_same_config_same_table_changed_config_new_run(tiny, problems, tmp_path):
    a = frame(run_sampling(cfg(tiny), tmp_path / "a", problems=problems, progress=False))
    b = frame(run_sampling(cfg(tiny), tmp_path / "b", problems=problems, progress=False))
    assert a.equals(b)
    hotter = run_sampling(cfg(tiny, temperature=1.0), tmp_path / "a", problems=problems, progress=False)
    assert hotter.name != a["run_hash"][0]
    c = frame(hotter)
    assert c["text"].to_list() != a["text"].to_list()
    other_seed = frame(run_sampling(cfg(tiny, seeds=(0, 2)), tmp_path / "a", problems=problems, progress=False))
    first_seed = pl.col("sample_index") < 6
    assert other_seed.filter(first_seed)["text"].equals(a.filter(first_seed)["text"])  # seed 0 is shared
    assert other_seed.filter(~first_seed)["text"].to_list() != a.filter(~first_seed)["text"].to_list()


# --- the backend itself ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backend(tiny) -> HFBackend:
    return open_backend(cfg(tiny))


def test_a_request_does_not_depend_on_what_ran_before(backend):
    params = GenParams(temperature=1.0, top_p=0.9, max_tokens=12)
    a = Request("Q:123+456=", None, 4, seed=11)
    first = backend.generate([a], params)
    backend.generate([Request("Q:999+1=", None, 8, seed=5)], params)
    torch.manual_seed(1234)  # global RNG state is irrelevant too
    assert backend.generate([a], params) == first
    assert len({c.text for c in first[0]}) > 1  # four different samples


def test_greedy_and_tiny_top_p_agree(backend):
    greedy = backend.generate([Request("Q:1+2=", None, 3, seed=1)], GenParams(0.0, 1.0, 20))[0]
    assert len({c.text for c in greedy}) == 1
    nucleus = backend.generate([Request("Q:1+2=", None, 3, seed=2)], GenParams(0.7, 1e-6, 20))[0]
    assert [c.text for c in nucleus] == [c.text for c in greedy]


def test_stop_strings_cut_the_text_and_count_tokens(backend):
    prompt = Request("Q:41+27=", None, 1, seed=0)
    (free,) = backend.generate([prompt], GenParams(0.0, 1.0, 24))[0]
    assert free.finish_reason == "length"
    assert free.n_tokens == 24
    assert len(free.text) == 24  # one character per token, no special tokens
    stop = free.text[6:9]  # a three-token stop string
    at = free.text.find(stop)
    (cut,) = backend.generate([prompt], GenParams(0.0, 1.0, 24, stop=("@never@", stop)))[0]
    assert cut.text == free.text[:at]
    assert cut.finish_reason == "stop"
    assert cut.n_tokens == at + len(stop)


def test_finish_reasons_and_token_counts(backend):
    params = GenParams(temperature=1.0, top_p=1.0, max_tokens=12, stop=("a", "b"))
    out = [c for cs in backend.generate([Request("Q:5+5=", None, 64, seed=3)], params) for c in cs]
    eos_or_stop = [c for c in out if c.finish_reason == "stop"]
    truncated = [c for c in out if c.finish_reason == "length"]
    assert eos_or_stop
    assert truncated
    assert all("a" not in c.text and "b" not in c.text for c in out)
    assert all(c.n_tokens == 12 for c in truncated)
    assert all(len(c.text) < c.n_tokens <= 12 for c in eos_or_stop)


def test_finish_logic_on_crafted_tokens(backend):
    tok = backend.tokenizer
    ids = lambda s: tok.convert_tokens_to_ids(list(s))  # noqa: E731
    eos = tok.eos_token_id
    params = GenParams(1.0, 1.0, 8, stop=("cd",))
    stops = {eos}
    assert backend._finish([*ids("ab"), eos, 0, 0], stops, params, None) == Completion("ab", 3, "stop")
    assert backend._finish(ids("abcdefgh"), stops, params, 4) == Completion("ab", 4, "stop")
    assert backend._finish(ids("xycdab"), stops, params, None) == Completion("xy", 4, "stop")  # found afterwards
    assert backend._finish(ids("abababab"), stops, params, None) == Completion("abababab", 8, "length")
    assert backend._finish([*ids("ab"), eos], stops, GenParams(1.0, 1.0, 8), None) == Completion("ab", 3, "stop")


def test_sampling_probs_follow_vllm_top_p():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]]))
    assert torch.allclose(sampling_probs(logits, 1.0, 1.0), torch.tensor([[0.5, 0.3, 0.2]]))
    assert torch.allclose(sampling_probs(logits, 1.0, 0.6), torch.tensor([[0.5, 0.3, 0.0]]))
    assert torch.allclose(sampling_probs(logits, 1.0, 0.5), torch.tensor([[0.5, 0.0, 0.0]]))
    sharp = sampling_probs(logits, 0.5, 1.0)
    assert torch.allclose(sharp, torch.softmax(logits / 0.5, dim=-1))


# --- finished runs, reuse, loading -------------------------------------------------------------------


def test_finished_run_returns_without_loading_anything(tiny, problems, tmp_path, monkeypatch):
    run_dir = run_sampling(cfg(tiny), tmp_path, problems=problems, progress=False)
    before = snapshot(run_dir)

    def forbidden(*args, **kwargs):
        raise AssertionError("a finished run must not load a tokenizer or a model")

    monkeypatch.setattr(fill_module, "load_tokenizer", forbidden)
    monkeypatch.setattr(fill_module, "open_backend", forbidden)
    assert run_sampling(cfg(tiny), tmp_path, problems=problems, progress=False) == run_dir
    assert snapshot(run_dir) == before


def test_one_open_backend_serves_several_runs(tiny, problems, tmp_path, backend, monkeypatch):
    fresh = frame(run_sampling(cfg(tiny), tmp_path / "fresh", problems=problems, progress=False))
    monkeypatch.setattr(fill_module, "open_backend", lambda config: pytest.fail("should reuse the backend"))
    a = run_sampling(cfg(tiny), tmp_path, problems=problems, backend=backend, progress=False)
    b = run_sampling(cfg(tiny, template="simplerl-abel"), tmp_path, problems=problems, backend=backend, progress=False)
    assert a != b
    assert frame(a).equals(fresh)
    with pytest.raises(SamplingError, match="another model or engine setting"):
        run_sampling(cfg(tiny, dtype="bfloat16"), tmp_path, problems=problems, backend=backend, progress=False)


def test_load_samples_pools_runs_and_refuses_unfinished(tiny, problems, tmp_path):
    a = run_sampling(cfg(tiny), tmp_path, problems=problems, progress=False)
    b = run_sampling(cfg(tiny, temperature=1.0), tmp_path, problems=problems, progress=False)
    pooled = load_samples([a, b]).collect()
    assert pooled.height == 72
    assert pooled["run_hash"].n_unique() == 2
    unfinished = tmp_path / "copy" / a.name
    shutil.copytree(a, unfinished)
    (unfinished / MARKER_NAME).unlink()
    with pytest.raises(SamplingError, match="not a finished run"):
        load_samples(unfinished)
    assert load_samples(unfinished, require_complete=False).collect().height == 36
    with pytest.raises(SamplingError, match="not a sampling run folder"):
        load_samples(tmp_path)


def test_chat_template_prompts(tmp_path, problems):
    model = build_tiny_model(tmp_path / "chatty")
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    tok.chat_template = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}<assistant>"
    tok.save_pretrained(model)
    run_dir = run_sampling(cfg(model, chat_template=True, n=2, seeds=(0,)), tmp_path / "runs", problems=problems)
    prompts = load_prompts(run_dir)
    assert prompts["prompt"].to_list() == [f"<user>{q}<assistant>" for q in problems["question"]]
    plain = run_path(cfg(model, n=2, seeds=(0,)), tmp_path / "runs", problems=problems)
    assert plain != run_dir


# --- what the run hash covers ------------------------------------------------------------------------


def test_run_hash_follows_content_not_location(tiny, problems, tmp_path):
    moved = tmp_path / "elsewhere" / "tiny"
    shutil.copytree(tiny, moved)
    assert prepare_run(cfg(tiny), problems).run_hash == prepare_run(cfg(moved), problems).run_hash
    retrained = build_tiny_model(tmp_path / "other" / "tiny", seed=1)
    assert prepare_run(cfg(retrained), problems).run_hash != prepare_run(cfg(tiny), problems).run_hash
    edited = problems.with_columns(pl.col("question").str.replace("Q:", "Q: "))
    assert prepare_run(cfg(tiny), edited).run_hash != prepare_run(cfg(tiny), problems).run_hash
    relabelled = problems.with_columns(pl.col("gold").list.eval(pl.element() + "0"))  # gold does not matter
    assert prepare_run(cfg(tiny), relabelled).run_hash == prepare_run(cfg(tiny), problems).run_hash
    # execution-only knobs do not change a run; its hf numerics knobs do
    assert prepare_run(cfg(tiny, batch_size=32), problems).run_hash != prepare_run(cfg(tiny), problems).run_hash
    vllm = {"backend": "vllm", "max_model_len": 256}
    assert (
        prepare_run(cfg(tiny, **vllm, gpu_memory_utilization=0.5), problems).run_hash
        == prepare_run(cfg(tiny, **vllm), problems).run_hash
    )


def test_hub_models_need_a_pinned_revision(problems):
    with pytest.raises(SamplingError, match="pinned revision"):
        prepare_run(cfg(Path("Qwen/Qwen2.5-7B")), problems)
    rev = "d149729398750b98c0af14eb82c78cfe92750796"
    spec = prepare_run(cfg(Path("Qwen/Qwen2.5-7B"), revision=rev), problems)  # nothing is downloaded
    assert spec.identity["model"] == {"kind": "hub", "id": "Qwen/Qwen2.5-7B", "revision": rev}
    assert spec.model_name == "Qwen/Qwen2.5-7B"


# --- bad input --------------------------------------------------------------------------------------


@pytest.fixture
def finished(tiny, problems, tmp_path) -> Path:
    return run_sampling(cfg(tiny), tmp_path / "runs", problems=problems, progress=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": "/no/such/model"}, "model folder not found: /no/such/model"),
        ({"model": "models/missing/tiny"}, "model folder not found"),
        ({"benchmark": "no-such-benchmark", "use_problems": False}, "unknown benchmark 'no-such-benchmark'"),
        ({"template": "qwen-boxd"}, "unknown template 'qwen-boxd'"),
        ({"n": 0}, "n\n  Input should be greater than or equal to 1"),
        ({"max_model_len": 20}, r"max_model_len=20 is too small: problem 'toy/\d' has a 10-token prompt"),
        ({"max_model_len": 16}, "max_model_len=16 leaves no room for a prompt"),
        ({"max_model_len": 10, "fit_to_context": True}, r"has a 10-token prompt, which leaves no room for a generated"),
        ({"fit_to_context": True}, "fit_to_context caps each sample at max_model_len - its prompt tokens"),
        ({"backend": "openai", "base_url": "http://127.0.0.1:1/v1", "fit_to_context": True}, "the hf and vllm"),
        ({"backend": "vllm"}, "vllm backend needs max_model_len"),
        ({"backend": "openai"}, "openai backend needs base_url"),
        ({"seeds": (1, 1)}, "seeds repeat"),
        ({"batch_size": 2}, "smaller than one chunk"),
        ({"benchmark": "other"}, "the problems table holds benchmark"),
    ],
)
def test_bad_input_fails_before_loading_and_touches_nothing(tiny, problems, finished, monkeypatch, change, message):
    monkeypatch.setattr(fill_module, "open_backend", lambda config: pytest.fail("model loaded"))
    before = snapshot(finished.parent)
    change = dict(change)
    use_problems = change.pop("use_problems", True)
    model = Path(change.pop("model", tiny))
    with pytest.raises(ValueError, match=message):
        run_sampling(cfg(model, **change), finished.parent, problems=problems if use_problems else None, progress=False)
    assert snapshot(finished.parent) == before


def test_folder_holding_another_configs_run_is_refused(tiny, problems, finished, monkeypatch):
    monkeypatch.setattr(fill_module, "open_backend", lambda config: pytest.fail("model loaded"))
    other = cfg(tiny, temperature=0.9)
    target = run_path(other, finished.parent, problems=problems)
    shutil.copytree(finished, target)  # a folder named for `other` that holds the first run
    before = snapshot(finished.parent)
    with pytest.raises(SamplingError, match=r"holds another config's run \(differs in: temperature\)"):
        run_sampling(other, finished.parent, problems=problems, progress=False)
    with pytest.raises(SamplingError, match="is itself a run folder"):
        run_sampling(other, finished, problems=problems, progress=False)
    stray = finished.parent / run_path(cfg(tiny, temperature=0.8), finished.parent, problems=problems).name
    stray.mkdir()
    (stray / "notes.txt").write_text("mine")
    with pytest.raises(SamplingError, match="not a sampling run folder"):
        run_sampling(cfg(tiny, temperature=0.8), finished.parent, problems=problems, progress=False)
    assert snapshot(finished.parent) == {**before, **snapshot_rel(finished.parent, stray)}


def snapshot_rel(root: Path, folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in [folder, *folder.rglob("*")]}


def test_unknown_benchmark_from_the_registry(tiny, tmp_path):
    with pytest.raises(ValueError, match="unknown benchmark 'nope'"):
        run_sampling(cfg(tiny, benchmark="nope"), tmp_path, progress=False)
    assert not any(tmp_path.iterdir())


# --- resume -----------------------------------------------------------------------------------------


def test_resume_rewrites_exactly_the_missing_parts(tiny, problems, tmp_path):
    config = cfg(tiny, n=10, chunk_size=3, batch_size=7)
    reference = frame(run_sampling(config, tmp_path / "ref", problems=problems, progress=False))
    run_dir = run_sampling(config, tmp_path / "cut", problems=problems, progress=False)
    parts = sorted(run_dir.glob("part-*.parquet"))
    kept = {p.name: p.stat().st_mtime_ns for p in parts[::2]}
    for p in parts[1::2]:
        p.unlink()
    (run_dir / MARKER_NAME).unlink()
    (run_dir / ".part-0000001-0000002.parquet.abc.tmp").write_bytes(b"half a file")  # a write killed midway
    run_sampling(config, tmp_path / "cut", problems=problems, progress=False)
    assert frame(run_dir).equals(reference)
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.glob("part-*.parquet") if p.name in kept} == kept
    assert not list(run_dir.glob(".*.tmp"))
    marker = json.loads((run_dir / MARKER_NAME).read_text())
    assert marker["new_samples"] == reference.height - sum(pl.read_parquet(run_dir / n).height for n in kept)


def _cli_args(model: Path, problems_file: Path, out: Path) -> list[str]:
    return [
        "--backend=hf",
        f"--model={model}",
        "--benchmark=toy",
        "--template=plain",
        "--n=24",
        "--seeds",
        "0",
        "1",
        "--chunk-size=8",
        "--batch-size=16",
        "--max-tokens=40",
        "--stop",
        "zz",
        "--device=cpu",
        f"--problems={problems_file}",
        f"--out={out}",
    ]


def test_cli_runs_and_reports_bad_input(tiny, problems, tmp_path, capsys):
    problems_file = tmp_path / "problems.parquet"
    problems.write_parquet(problems_file)
    args = _cli_args(tiny, problems_file, tmp_path / "runs")
    assert cli_main([*args, "--no-progress"]) == 0
    run_dir = Path(capsys.readouterr().out.strip())
    assert load_samples(run_dir).collect().height == 3 * 48
    assert read_run_config(run_dir)["config"]["stop"] == ["zz"]
    assert cli_main([*args, "--n=0"]) == 2
    assert "greater than or equal to 1" in capsys.readouterr().err
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text(f"backend: hf\nmodel: {tiny}\nbenchmark: toy\ntemplate: plain\nn: 2\nmax_tokens: 4\n")
    assert cli_main(["--config", str(yaml_file), "--seeds", "5", f"--problems={problems_file}", "--no-progress",
                     f"--out={tmp_path / 'runs'}"]) == 0  # fmt: skip
    assert read_run_config(Path(capsys.readouterr().out.strip()))["config"]["seeds"] == [5]


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_gives_the_uninterrupted_table(tiny, tmp_path):
    problems = toy_problems(8)
    problems_file = tmp_path / "problems.parquet"
    problems.write_parquet(problems_file)
    out = tmp_path / "killed"
    args = _cli_args(tiny, problems_file, out)
    config = cfg(tiny, n=24, seeds=(0, 1), chunk_size=8, batch_size=16, max_tokens=40, stop=("zz",))
    run_dir = run_path(config, out, problems=problems)
    n_parts = math.ceil(8 * 2 * 24 / 16)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    rng = random.Random()
    kill_seed = rng.randrange(10**6)
    rng.seed(kill_seed)
    kills = 0
    for _ in range(3):
        have = len(list(run_dir.glob("part-*.parquet")))
        if have >= n_parts - 1:
            break
        target = rng.randint(have + 1, min(have + 3, n_parts - 1))
        proc = subprocess.Popen(
            [sys.executable, "-m", "analysis.sampling", *args, "--no-progress"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while len(list(run_dir.glob("part-*.parquet"))) < target and proc.poll() is None:
            assert time.monotonic() < deadline, "the sampling process made no progress"
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.08))  # sometimes lands in the middle of writing a part
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += proc.returncode == -signal.SIGKILL and not (run_dir / MARKER_NAME).exists()
    assert kills >= 2, f"only {kills} kills landed before the run finished (kill seed {kill_seed})"
    resumed = run_sampling(config, out, problems=problems, progress=False)
    reference = run_sampling(config, tmp_path / "reference", problems=problems, progress=False)
    got, want = frame(resumed), frame(reference)
    assert got.height == want.height == 8 * 48
    assert got.select("problem_id", "sample_index").is_unique().all()
    assert got.equals(want), f"resumed table differs (kill seed {kill_seed})"


@pytest.mark.shared
def test_math500_prompts_through_the_benchmark_loader(tiny, benchmarks_dir, tmp_path):
    config = cfg(
        tiny,
        benchmark="math500",
        benchmark_source=str(benchmarks_dir),
        limit=2,
        template="qwen-boxed",
        n=1,
        seeds=(0,),
        max_tokens=4,
    )
    run_dir = run_sampling(config, tmp_path, progress=False)
    first = json.loads((benchmarks_dir / "math500" / "test.jsonl").read_text().splitlines()[0])
    prompt = load_prompts(run_dir)["prompt"][0]
    assert prompt == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        + first["problem"].strip()
        + "\nPlease reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert load_samples(run_dir).collect()["problem_id"].to_list() == ["math500/0", "math500/1"]
