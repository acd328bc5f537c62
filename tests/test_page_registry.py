"""The page registry: the one list of the report's pages that the workflow and the book read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from sphinx_external_toc.parsing import parse_toc_yaml

from analysis import page_registry as reg
from analysis.config import load_config
from analysis.study import Study

REPO = Path(__file__).resolve().parents[1]


def test_names_are_unique_and_fields_use_the_known_vocabulary():
    names = [p.name for p in reg.PAGES]
    assert len(names) == len(set(names))
    assert [p for p in reg.PAGES if p.section is None] == [reg.page("overview")]
    for p in reg.PAGES:
        assert p.section is None or p.section in reg.SECTIONS, p
        assert set(p.inputs) <= set(reg.INPUTS), p
        assert set(p.requires) <= set(reg.CONDITIONS), p
        assert p.title.strip(), p
    with pytest.raises(KeyError, match="no page"):
        reg.page("no-such-page")


def test_every_notebook_and_markdown_page_exists_and_every_static_page_is_registered():
    for p in reg.PAGES:
        if p.markdown is None:
            assert (REPO / str(p.notebook)).is_file(), f"{p.name}: {p.notebook} is missing"
    registered = {p.markdown for p in reg.PAGES if p.markdown is not None}
    on_disk = {md.name for md in (REPO / "book").glob("*.md")}
    assert on_disk <= registered, f"book/*.md pages missing from analysis.page_registry: {sorted(on_disk - registered)}"


def test_every_notebook_is_a_registered_page_or_a_stage():
    pages = {Path(str(p.notebook)).stem for p in reg.PAGES if p.notebook is not None}
    for nb in sorted((REPO / "notebooks").glob("*.ipynb")):
        assert nb.stem in pages or nb.stem in reg.STAGE_NOTEBOOKS, (
            f"notebooks/{nb.name} is neither a page in analysis.page_registry.PAGES nor in STAGE_NOTEBOOKS: "
            "the workflow would never run it"
        )


@pytest.mark.parametrize("config", ["configs/toy.yaml", "configs/toy-mini.yaml", "configs/paper-math.yaml"])
def test_conditions_decide_which_pages_a_study_has(config):
    cfg = load_config(REPO / config)
    names = [p.name for p in reg.study_pages(cfg)]
    assert ("perplexity" in names) == cfg.analysis.perplexity.enabled
    assert ("toyworld" in names) == (cfg.toyworld is not None)
    assert ("toyworld-methods" in names) == (cfg.toyworld is not None)
    workflow = reg.workflow_pages(cfg)
    assert set(workflow) == {p.name for p in reg.study_pages(cfg) if p.kind == "page"}
    assert "models" in workflow  # a page like the others: it reads what the models stage wrote
    assert "methods" not in workflow


def test_the_table_of_contents_lists_every_page_once_in_section_order(tmp_path):
    cfg = load_config(REPO / "configs/toy.yaml")
    pages = reg.study_pages(cfg)
    text = reg.toc_yaml(pages)
    path = tmp_path / "_toc.yml"
    path.write_text(text)
    site_map = parse_toc_yaml(path)  # what jupyter-book itself reads
    assert site_map.root.docname == "generated/overview"
    data = yaml.safe_load(text)
    sections = [s for s in reg.SECTIONS if any(p.section == s for p in pages)]
    assert [part["caption"] for part in data["parts"]] == sections
    files = [c["file"] for part in data["parts"] for c in part["chapters"]]
    assert files == [p.docname for p in pages if p.section is not None]
    titles = {c["file"]: c["title"] for part in data["parts"] for c in part["chapters"]}
    assert titles["generated/passk"] == reg.page("passk").title
    assert "toyworld" in files  # book/toyworld.md, the toy world's methods page


def test_a_title_with_quotes_and_colons_survives_the_yaml():
    odd = reg.Page("x", 'Odd: "quoted" \\ title', "Methods", "markdown")
    data = yaml.safe_load(reg.toc_yaml([reg.page("overview"), odd]))
    assert data["parts"][0]["chapters"][0]["title"] == 'Odd: "quoted" \\ title'
    with pytest.raises(ValueError, match="exactly one root"):
        reg.toc_yaml([odd])


def test_workflow_inputs_of_each_page(tmp_path):
    source = yaml.safe_load((REPO / "configs/toy-mini.yaml").read_text())
    source["output_root"] = str(tmp_path / "runs")
    source["toyworld"] = str(REPO / source["toyworld"])
    config = tmp_path / "toy-mini.yaml"
    config.write_text(yaml.safe_dump(source, sort_keys=False))
    study = Study.load(config)
    grades = {study.grades_marker(job) for job in study.jobs}
    assert set(reg.workflow_inputs(study, "histogram")) == grades
    overview = set(reg.workflow_inputs(study, "overview"))
    assert overview == grades | {study.results_dir / "findings.parquet", study.scores_path}
    repro = set(reg.workflow_inputs(study, "reproducibility"))
    executed = study.dir / "notebooks"
    others = {executed / "pages" / f"{n}.ipynb" for n in reg.workflow_pages(study.config) if n != "reproducibility"}
    assert repro == grades | others
    assert executed / "pages" / "models.ipynb" in others  # the models page reads; the models stage writes
    assert set(reg.workflow_inputs(study, "models")) == {study.models_manifest}


def test_the_snakefile_takes_its_pages_from_the_registry():
    text = (REPO / "workflow" / "Snakefile").read_text()
    assert re.search(r"^PAGES\s*=\s*page_registry\.workflow_pages\(", text, re.M)
    # (filtering the registry's list is fine; spelling page names out again is not)
    assert not re.search(r"^PAGES\s*=\s*\[\s*[\"']", text, re.M), "the Snakefile lists the pages again"
    assert "page_registry.workflow_inputs(" in text


def test_no_tracked_table_of_contents():
    assert not (REPO / "book" / "_toc.yml").exists(), "book/_toc.yml is generated into book/_build now"
