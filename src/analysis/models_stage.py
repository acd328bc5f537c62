"""The models stage, one model at a time: train (toy world) or resolve each model of a study,
write one record per model, and gather the records into ``models.json``.

The workflow runs it as separate jobs so that its scheduler can use every core: the toy world's
base first (``train_toyworld_base``), then one job per model (``write_model_record``: an RL run
or the distilled model trains here, on one torch thread), and sampling a model starts as soon as
its own record exists, while the other models still train. ``gather_models`` writes
``models.json`` from the records. A record is ``{"path", "revision", "role"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from analysis.store import atomic_write_json
from analysis.study import Study
from analysis.toyworld.config import BASE as TOYWORLD_BASE


def _toyworld_config(study: Study) -> Path:
    if study.config.toyworld is None:
        msg = f"study {study.config.name!r} has no toy world (config key 'toyworld')"
        raise ValueError(msg)
    return study.resolve(study.config.toyworld)


def train_toyworld_base(study: Study, progress: bool = True) -> Path:
    """Train (or reuse) the toy world's base; write its marker; return the checkpoint folder."""
    from analysis.toyworld.train import train_one

    folder = train_one(_toyworld_config(study), TOYWORLD_BASE, study.toyworld_root, progress=progress)
    write_toyworld_base_marker(study, folder)
    return folder


def write_toyworld_base_marker(study: Study, folder: Path) -> None:
    """Say that the toy world's base is trained, in ``folder`` (the other toy-world models wait for it)."""
    atomic_write_json({"path": str(folder)}, study.toyworld_base_marker)


def model_record(study: Study, name: str, trained: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """The record of model ``name``: a toy-world model is trained (or reused) first, unless its
    folder is given as ``trained``; a local folder is made absolute; a hub ID stays as it is."""
    m = study.config.model(name)
    if m.toyworld_key is not None:
        if trained is None:
            from analysis.toyworld.train import train_one

            trained = train_one(_toyworld_config(study), m.toyworld_key, study.toyworld_root, progress=progress)
        return {"path": str(trained), "revision": None, "role": m.role}
    local = study.resolve(m.path)  # a relative local folder; a hub ID stays as it is
    path = str(local) if not Path(m.path).is_absolute() and local.exists() else m.path
    return {"path": path, "revision": m.revision, "role": m.role}


def write_model_record(study: Study, name: str, trained: Path | None = None, progress: bool = True) -> dict[str, Any]:
    """Write model ``name``'s record (``Study.model_record_path``) and return it."""
    record = model_record(study, name, trained, progress)
    atomic_write_json(record, study.model_record_path(name))
    return record


def gather_models(study: Study) -> dict[str, dict[str, Any]]:
    """Write ``models.json`` from the records of every model of the study; return it."""
    manifest = {}
    for m in study.config.models:
        path = study.model_record_path(m.name)
        if not path.is_file():
            msg = f"model {m.name!r} has no record yet ({path}): run the models stage first"
            raise FileNotFoundError(msg)
        manifest[m.name] = json.loads(path.read_text(encoding="utf-8"))
    atomic_write_json(manifest, study.models_manifest)
    return manifest
