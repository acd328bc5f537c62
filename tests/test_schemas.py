import polars as pl
import pytest

from analysis import schemas


def test_every_table_has_an_empty_frame_that_passes_its_check():
    for name in schemas.TABLES:
        schemas.check(schemas.empty(name), name)


def test_check_names_missing_and_mistyped_columns():
    df = pl.DataFrame({"model": ["a"], "benchmark": ["b"], "problem_id": ["p"], "n": [4.0]})
    with pytest.raises(schemas.SchemaError) as err:
        schemas.check(df, "counts")
    assert "missing column 'c'" in str(err.value)
    assert "column 'n' is Float64, expected Int64" in str(err.value)


def test_check_works_on_lazy_frames_and_rejects_unknown_tables():
    schemas.check(schemas.empty("samples").lazy(), "samples")
    with pytest.raises(schemas.SchemaError, match="unknown table 'nope'"):
        schemas.check(schemas.empty("samples"), "nope")


def test_conform_casts_and_orders_columns_and_keeps_extras():
    df = pl.DataFrame({"extra": [1], "c": [1], "n": [2], "problem_id": ["p"], "benchmark": ["b"], "model": ["m"]})
    out = schemas.conform(df, "counts")
    assert out.columns == ["model", "benchmark", "problem_id", "n", "c", "extra"]
    assert out.schema["n"] == pl.Int64
