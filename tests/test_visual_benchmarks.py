"""Visual benchmarks: the loaders (hub layout, pinned revisions, multiple choice removed), the image
store and its markers, and the EasyR1 prompt. Files are generated here (tests/visual_fixture.py)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from visual_fixture import image_bytes, mathvision_rows, mathvista_rows, write_benchmarks, write_hub_layout

from analysis import images, prompts, schemas
from analysis.benchmarks import BenchmarkError, known_benchmarks, load_benchmark
from analysis.sampling.identity import problems_hash
from analysis.store import file_sha256
from analysis.visual import VISUAL_BENCHMARKS, load_visual, visual_file


@pytest.fixture
def store(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "images"
    monkeypatch.setenv(images.IMAGE_DIR_ENV, str(root))
    return root


@pytest.fixture
def folder(tmp_path) -> Path:
    return write_benchmarks(tmp_path / "visual", mathvista=8, mathvision=6)


def test_registered_and_loaded_through_the_benchmark_registry(folder, store):
    assert {"mathvista_testmini", "mathvision_testmini"} <= set(known_benchmarks())
    vista = load_benchmark("mathvista_testmini", str(folder))
    schemas.check(vista, "problems")
    # rows 0, 2, 4, 6 are free-form; the multiple-choice ones are gone, row order and source index kept
    assert vista["problem_id"].to_list() == [f"mathvista_testmini/{i}" for i in (1, 3, 5, 7)]
    assert vista["index"].to_list() == [0, 2, 4, 6]
    assert vista["gold"].to_list() == [["0"], ["2"], ["4"], ["6"]]
    assert vista["stratum"].to_list() == ["figure question answering"] * 4
    vision = load_benchmark("mathvision_testmini", str(folder), limit=3)
    assert vision["problem_id"].to_list() == ["mathvision_testmini/1", "mathvision_testmini/2", "mathvision_testmini/4"]
    assert vision["gold"].to_list() == [["2"], ["3"], ["5"]]
    assert vision["stratum"].to_list() == ["level 1", "level 2", "level 4"]


def test_questions_carry_the_image_by_path_and_sha256(folder, store):
    vista = load_visual("mathvista_testmini", folder)
    for row in vista.iter_rows(named=True):
        refs = images.find_images(row["question"])
        assert len(refs) == 1
        ref = refs[0]
        assert row["question"].startswith(ref.marker)  # the image first, then the question
        assert row["question"].removeprefix(ref.marker).startswith("Hint: Please answer")
        assert ref.path == f"{ref.sha256}.{ref.path.rsplit('.', 1)[1]}"  # relative: inside the store
        assert file_sha256(store / ref.path) == ref.sha256
        source_row = mathvista_rows(8)[row["index"]]
        assert (store / ref.path).read_bytes() == source_row["decoded_image"]["bytes"]
        meta = json.loads(row["metadata"])
        assert meta["image"] == {"sha256": ref.sha256, "path": ref.path}
        assert "decoded_image" not in meta
        assert "query" not in meta
        assert meta["question_type"] == "free_form"
    # no image bytes in the table
    assert all(dtype != pl.Binary for dtype in vista.schema.values())
    assert {p.suffix for p in store.iterdir()} == {".png", ".jpg"}


def test_the_problems_do_not_depend_on_where_the_store_is(folder, tmp_path, monkeypatch):
    tables = []
    for where in ("a", "b"):
        monkeypatch.setenv(images.IMAGE_DIR_ENV, str(tmp_path / where))
        tables.append(load_visual("mathvision_testmini", folder))
    assert tables[0].equals(tables[1])
    assert problems_hash(tables[0]) == problems_hash(tables[1])
    # a changed image changes the problems (and so the run hash)
    rows = mathvision_rows(6)
    rows[0]["decoded_image"] = {"bytes": image_bytes(999), "path": None}
    write_hub_layout(folder, "mathvision_testmini", rows)
    changed = load_visual("mathvision_testmini", folder)
    assert problems_hash(changed) != problems_hash(tables[1])


def test_local_files_are_checked_against_sha256sums(folder, store):
    rel = VISUAL_BENCHMARKS["mathvista_testmini"].hub.filename
    path = visual_file("mathvista_testmini", folder)
    (folder / "SHA256SUMS").write_text(f"{file_sha256(path)}  {rel}\n")
    assert load_visual("mathvista_testmini", folder).height == 4
    (folder / "SHA256SUMS").write_text(f"{'0' * 64}  {rel}\n")
    with pytest.raises(BenchmarkError, match=r"mathvista_testmini.*has SHA-256 .* pins 0{64}"):
        load_visual("mathvista_testmini", folder)


def test_missing_source_file_and_fields(tmp_path, store):
    with pytest.raises(BenchmarkError, match="needs a source"):
        load_benchmark("mathvista_testmini")
    with pytest.raises(BenchmarkError, match=r"benchmark file not found: .*testmini-00000-of-00001-725687bf"):
        load_benchmark("mathvista_testmini", str(tmp_path / "empty"))
    rows = mathvision_rows(3)
    rows[1]["decoded_image"] = {"bytes": None, "path": None}
    write_hub_layout(tmp_path / "bad", "mathvision_testmini", rows)
    with pytest.raises(BenchmarkError, match="row 1 has no image bytes"):
        load_visual("mathvision_testmini", tmp_path / "bad")


def test_hub_copies_are_read_at_their_pinned_commits(tmp_path, store, monkeypatch):
    import huggingface_hub

    calls = []
    files = {}

    def fake_download(repo_id, filename, *, repo_type, revision):
        calls.append((repo_id, filename, repo_type, revision))
        return str(files[repo_id])

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    # MathVista testmini: 1,000 rows, the first 460 free-form
    rows = mathvista_rows(1000, free_every=1)
    for i, row in enumerate(rows):
        if i >= 460:
            row.update(question_type="multi_choice", choices=["1", "2"])
        row["decoded_image"] = {"bytes": image_bytes(i % 5), "path": None}
    files["AI4Math/MathVista"] = write_hub_layout(tmp_path / "hub", "mathvista_testmini", rows)
    problems = load_benchmark("mathvista_testmini", "hub")
    assert problems.height == 460
    assert calls == [
        (
            "AI4Math/MathVista",
            "data/testmini-00000-of-00001-725687bf7a18d64b.parquet",
            "dataset",
            "2b6ad69445fbb5695c9b165475e8decdbeb97747",
        )
    ]
    # a hub file with another row count, or another free-form count, is not the pinned one
    files["AI4Math/MathVista"] = write_hub_layout(tmp_path / "hub2", "mathvista_testmini", rows[:999])
    with pytest.raises(BenchmarkError, match="999 rows, but the pinned AI4Math/MathVista file has 1000"):
        load_benchmark("mathvista_testmini", "hub")
    rows[0].update(question_type="multi_choice", choices=["1", "2"])
    files["AI4Math/MathVista"] = write_hub_layout(tmp_path / "hub3", "mathvista_testmini", rows)
    with pytest.raises(BenchmarkError, match=r"459 free-form problems .* expected 460"):
        load_benchmark("mathvista_testmini", "hub")
    files["MathLLMs/MathVision"] = write_hub_layout(tmp_path / "hub4", "mathvision_testmini", mathvision_rows(304))
    assert load_benchmark("mathvision_testmini", "hub").height == 203  # 304 less the 101 with options
    assert calls[-1][3] == "14b5e86a95856c4231a056b82f658584eae2b309"


def test_image_markers_store_and_checks(tmp_path, store):
    data = image_bytes(3)
    ref = images.store_image(data)
    assert ref.path == f"{ref.sha256}.png"
    mtime = (store / ref.path).stat().st_mtime_ns
    assert images.store_image(data) == ref  # written once
    assert (store / ref.path).stat().st_mtime_ns == mtime
    text = f"{ref.marker}What is shown? {ref.marker}"
    assert images.find_images(text) == [ref, ref]
    assert images.has_images(text)
    assert not images.has_images("What is shown? <image>")
    placeholder = "<|vision_start|><|image_pad|><|vision_end|>"
    replaced, refs = images.replace_markers(text, placeholder)
    assert replaced == f"{placeholder}What is shown? {placeholder}"
    assert refs == [ref, ref]
    assert images.load_image(ref).size == (64, 48)
    absolute = images.ImageRef(ref.sha256, str(store / ref.path))
    assert images.check_image(absolute) == store / ref.path
    (store / ref.path).write_bytes(image_bytes(4))
    with pytest.raises(images.ImageError, match=f"has SHA-256 .* but the prompt pins {ref.sha256}"):
        images.load_image(ref)
    with pytest.raises(images.ImageError, match="image file not found"):
        images.check_image(images.ImageRef("a" * 64, "nowhere.png"))
    with pytest.raises(images.ImageError, match="64 lowercase hex"):
        images.ImageRef("ABC", "x.png")
    with pytest.raises(images.ImageError, match="not an image format"):
        images.store_image(b"plain text, not an image")
    assert images.expand_image_tokens("a<p>b<p>c", [2, 3], "<p>") == "a<p><p>b<p><p><p>c"
    with pytest.raises(images.ImageError, match=r"2 image tokens .* but 1 images"):
        images.expand_image_tokens("a<p>b<p>c", [2], "<p>")
    with pytest.raises(images.ImageError, match="model type 'llama' is not a vision-language family"):
        images.placeholder_for("llama")


def test_easyr1_prompt_puts_the_image_first(folder, store):
    question = load_visual("mathvista_testmini", folder)["question"][0]
    text = prompts.render("easyr1", question)
    marker = images.find_images(question)[0].marker
    assert text.startswith("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud.")
    assert "MUST BE enclosed within <think> </think> tags. The final answer MUST BE put in \\boxed{}.<|im_end|>" in text
    assert f"<|im_start|>user\n{marker}Hint: Please answer" in text
    assert text.endswith("<|im_end|>\n<|im_start|>assistant\n")
    assert prompts.stop_strings("easyr1") == prompts.BASE_STOP
