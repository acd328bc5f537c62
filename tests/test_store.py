import json
import subprocess
import sys
import textwrap

import polars as pl
import pytest

from analysis import store


def test_stable_hash_ignores_key_order_and_changes_with_content():
    a = store.stable_hash({"n": 4, "model": "m", "seeds": [1, 2]})
    b = store.stable_hash({"seeds": [1, 2], "model": "m", "n": 4})
    assert a == b
    assert len(a) == 16
    assert store.stable_hash({"n": 5, "model": "m", "seeds": [1, 2]}) != a
    assert store.stable_hash({"n": 4, "model": "m", "seeds": [2, 1]}) != a


def test_stable_hash_rejects_unhashable_objects():
    with pytest.raises(TypeError, match="object"):
        store.stable_hash({"x": object()})


def test_atomic_parquet_roundtrip_and_no_temporaries(tmp_path):
    df = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    path = store.atomic_write_parquet(df, tmp_path / "sub" / "t.parquet")
    assert pl.read_parquet(path).equals(df)
    assert [p.name for p in path.parent.iterdir()] == ["t.parquet"]


def test_failed_write_leaves_previous_file_intact(tmp_path):
    path = tmp_path / "t.parquet"
    store.atomic_write_parquet(pl.DataFrame({"a": [1]}), path)

    class Boom(RuntimeError):
        pass

    def explode(_tmp):
        raise Boom

    with pytest.raises(Boom):
        store._atomic_write(path, explode)
    assert pl.read_parquet(path)["a"].to_list() == [1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]


def test_kill_during_write_never_exposes_a_partial_file(tmp_path):
    """A writer killed with SIGKILL mid-write leaves either nothing or a complete file."""
    target = tmp_path / "big.parquet"
    script = textwrap.dedent(
        f"""
        import os, signal, polars as pl
        from analysis import store
        df = pl.DataFrame({{"a": list(range(2_000_000))}})
        real = pl.DataFrame.write_parquet
        def slow(self, file, *a, **k):
            real(self, file, *a, **k)
            os.kill(os.getpid(), signal.SIGKILL)  # die after the bytes hit the temp file
        pl.DataFrame.write_parquet = slow
        store.atomic_write_parquet(df, {str(target)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False)
    assert proc.returncode == -9
    assert not target.exists()
    assert store.remove_stale_temporaries(tmp_path) == 1
    assert list(tmp_path.iterdir()) == []


def test_markers(tmp_path):
    assert not store.is_complete(tmp_path)
    store.mark_complete(tmp_path, {"rows": 3})
    assert store.is_complete(tmp_path)
    assert store.read_marker(tmp_path) == {"rows": 3}
    assert json.loads((tmp_path / store.MARKER_NAME).read_text()) == {"rows": 3}


def test_file_sha256(tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes(b"abc")
    assert store.file_sha256(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert p.stat().st_size == 3
