"""Small MathVista / MathVision testmini files in the hub datasets' layout, with generated images.

The columns and types are those of the hub parquet files (``AI4Math/MathVista``,
``MathLLMs/MathVision``; ``decoded_image`` is the ``datasets`` Image struct of bytes and path).
Images are drawn with PIL: a coloured shape and a number on a plain background, PNG or JPEG.
"""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl

from analysis.visual import visual_file

IMAGE = pl.Struct({"bytes": pl.Binary, "path": pl.String})
MATHVISTA_META = pl.Struct(
    {
        "category": pl.String,
        "context": pl.String,
        "grade": pl.String,
        "img_height": pl.Int64,
        "img_width": pl.Int64,
        "language": pl.String,
        "skills": pl.List(pl.String),
        "source": pl.String,
        "split": pl.String,
        "task": pl.String,
    }
)
MATHVISTA = pl.Schema(
    {
        "pid": pl.String,
        "question": pl.String,
        "image": pl.String,
        "decoded_image": IMAGE,
        "choices": pl.List(pl.String),
        "unit": pl.String,
        "precision": pl.Float64,
        "answer": pl.String,
        "question_type": pl.String,
        "answer_type": pl.String,
        "metadata": MATHVISTA_META,
        "query": pl.String,
    }
)
MATHVISION = pl.Schema(
    {
        "id": pl.String,
        "question": pl.String,
        "options": pl.List(pl.String),
        "image": pl.String,
        "decoded_image": IMAGE,
        "answer": pl.String,
        "solution": pl.String,
        "level": pl.Int64,
        "subject": pl.String,
    }
)
COLOURS = ((220, 40, 40), (40, 160, 60), (40, 60, 220), (200, 160, 20), (120, 40, 160))


def image_bytes(i: int, fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A distinct small image for index ``i``: a coloured rectangle and the number ``i``."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", size, (255, 255, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((4 + i % 7, 4, size[0] // 2 + i % 11, size[1] - 6), fill=COLOURS[i % len(COLOURS)])
    draw.text((size[0] // 2 + 6, size[1] // 3), str(i), fill=(0, 0, 0))
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


def mathvista_rows(count: int, free_every: int = 2) -> list[dict]:
    """``count`` rows; every ``free_every``-th (from the first) is free-form, the others multiple choice."""
    rows = []
    for i in range(count):
        free = i % free_every == 0
        pid = str(i + 1)
        question = f"What is the value of x{i}?"
        hint = "an integer answer" if free else "the correct option letter"
        rows.append(
            {
                "pid": pid,
                "question": question,
                "image": f"images/{pid}.jpg",
                "decoded_image": {"bytes": image_bytes(i, "JPEG" if i % 3 else "PNG"), "path": None},
                "choices": None if free else ["1", "2", "3", "4"],
                "unit": None,
                "precision": None,
                "answer": str(i % 10) if free else "2",
                "question_type": "free_form" if free else "multi_choice",
                "answer_type": "integer" if free else "text",
                "metadata": {
                    "category": "math-targeted-vqa",
                    "context": "geometry diagram",
                    "grade": "high school",
                    "img_height": 48,
                    "img_width": 64,
                    "language": "english",
                    "skills": ["algebraic reasoning"],
                    "source": "Geometry3K",
                    "split": "testmini",
                    "task": "geometry problem solving" if i % 2 else "figure question answering",
                },
                "query": f"Hint: Please answer the question requiring {hint}.\nQuestion: {question}",
            }
        )
    return rows


def mathvision_rows(count: int) -> list[dict]:
    """``count`` rows; every third has answer options (multiple choice), the others are free-form."""
    rows = []
    for i in range(count):
        choice = i % 3 == 2
        rows.append(
            {
                "id": str(i + 1),
                "question": f"<image1>\nHow many squares are shaded in figure {i}?",
                "options": ["A", "B", "C", "D", "E"] if choice else [],
                "image": f"images/{i + 1}.jpg",
                "decoded_image": {"bytes": image_bytes(100 + i), "path": f"{i + 1}.jpg"},
                "answer": "C" if choice else str(i + 2),
                "solution": None,
                "level": 1 + i % 5,
                "subject": "counting",
            }
        )
    return rows


def write_hub_layout(folder: Path, name: str, rows: list[dict]) -> Path:
    """Write ``rows`` where the hub repository keeps the file, under ``folder``; return the file."""
    schema = MATHVISTA if name == "mathvista_testmini" else MATHVISION
    path = visual_file(name, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(rows, schema=schema).write_parquet(path)
    return path


def write_benchmarks(folder: Path, mathvista: int = 6, mathvision: int = 6) -> Path:
    """Both benchmarks' files (``mathvista`` and ``mathvision`` rows) in one folder; return it."""
    write_hub_layout(folder, "mathvista_testmini", mathvista_rows(mathvista))
    write_hub_layout(folder, "mathvision_testmini", mathvision_rows(mathvision))
    return folder
