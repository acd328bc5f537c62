"""Images in prompts: content-addressed files, referenced from the question text by path and SHA-256.

A problem with an image carries a marker in its question, where the image goes::

    <image sha256="<64 hex digits>" path="<path>"/>

``path`` is absolute, or relative to the image store (``image_dir()``: ``$RLVR_IMAGE_DIR``,
default ``~/.cache/rlvr-boundary/images``). Benchmark loaders write each image once into the
store as ``<sha256>.<ext>`` (``store_image``) and reference it relatively. So the problems
table, the prompts table (a rendered prompt keeps the marker) and the run hash (which hashes the
questions) name every image by its content, wherever the store lives, and no image bytes go
into a parquet row. Every use checks the file's SHA-256 (``load_image``).

A backend replaces each marker with its model family's image placeholder (``placeholder_for``)
and hands the images to the model (``analysis.sampling.backends``: vLLM multimodal prompts;
the ``hf`` backend for the Qwen2-VL family). A text-only model or backend refuses prompts with
markers rather than read the marker as text. Importing this module imports neither polars nor
PIL (the backends import it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMAGE_DIR_ENV = "RLVR_IMAGE_DIR"
DEFAULT_IMAGE_DIR = Path("~/.cache/rlvr-boundary/images")
_MARKER = re.compile(r'<image sha256="([0-9a-f]{64})" path="([^"<>\n]+)"/>')

# Where the model's own chat template puts an image, per model family (config.json model_type).
# The image token in it (``IMAGE_TOKEN``) is expanded to one token per merged patch group.
_QWEN_VL = "<|vision_start|><|image_pad|><|vision_end|>"
PLACEHOLDERS: dict[str, str] = {"qwen2_vl": _QWEN_VL, "qwen2_5_vl": _QWEN_VL}
IMAGE_TOKEN: dict[str, str] = {"qwen2_vl": "<|image_pad|>", "qwen2_5_vl": "<|image_pad|>"}

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)


class ImageError(ValueError):
    """A missing or altered image file, a malformed marker, or a model that cannot take images."""


@dataclass(frozen=True)
class ImageRef:
    """One image of a prompt: its SHA-256 and where the file is (relative: inside the store)."""

    sha256: str
    path: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            msg = f"image sha256 {self.sha256!r} is not 64 lowercase hex digits"
            raise ImageError(msg)
        if not self.path or any(c in self.path for c in '"<>\n'):
            msg = f'image path {self.path!r} is empty or holds a character a marker cannot (" < > newline)'
            raise ImageError(msg)

    @property
    def marker(self) -> str:
        """The text that stands for this image in a question or prompt."""
        return f'<image sha256="{self.sha256}" path="{self.path}"/>'

    def resolve(self, root: str | os.PathLike[str] | None = None) -> Path:
        """The file: ``path`` itself if absolute, else ``path`` inside the store."""
        p = Path(self.path).expanduser()
        return p if p.is_absolute() else Path(root or image_dir()) / p


def image_dir() -> Path:
    """The image store: ``$RLVR_IMAGE_DIR`` or ``~/.cache/rlvr-boundary/images``."""
    return Path(os.environ.get(IMAGE_DIR_ENV) or DEFAULT_IMAGE_DIR).expanduser()


def sniff_extension(data: bytes) -> str:
    """The file extension of an image's bytes (png, jpg, gif, bmp, webp), from its magic number."""
    for magic, ext in _MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    msg = f"not an image format this store knows (first bytes {data[:12]!r})"
    raise ImageError(msg)


def store_image(data: bytes, root: str | os.PathLike[str] | None = None) -> ImageRef:
    """Write ``data`` into the store as ``<sha256>.<ext>`` (once; atomically) and return its reference."""
    import hashlib

    from analysis.store import atomic_write_bytes

    digest = hashlib.sha256(data).hexdigest()
    ref = ImageRef(digest, f"{digest}.{sniff_extension(data)}")
    path = ref.resolve(root)
    if not (path.is_file() and path.stat().st_size == len(data)):
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(data, path)
    return ref


def find_images(text: str) -> list[ImageRef]:
    """The images a question or prompt refers to, in order."""
    return [ImageRef(sha, path) for sha, path in _MARKER.findall(text)]


def has_images(text: str | None) -> bool:
    """Whether ``text`` holds an image marker."""
    return bool(text) and _MARKER.search(text) is not None


def replace_markers(text: str, placeholder: str) -> tuple[str, list[ImageRef]]:
    """``text`` with every marker replaced by ``placeholder``, and the images in order."""
    return _MARKER.sub(lambda _m: placeholder, text), find_images(text)


def check_image(ref: ImageRef, root: str | os.PathLike[str] | None = None) -> Path:
    """The image's file, after checking that it exists and has the pinned SHA-256."""
    from analysis.store import file_sha256

    path = ref.resolve(root)
    if not path.is_file():
        msg = f"image file not found: {path} (sha256 {ref.sha256}; store {root or image_dir()}, ${IMAGE_DIR_ENV})"
        raise ImageError(msg)
    actual = file_sha256(path)
    if actual != ref.sha256:
        msg = f"image {path} has SHA-256 {actual}, but the prompt pins {ref.sha256}"
        raise ImageError(msg)
    return path


def load_image(ref: ImageRef, root: str | os.PathLike[str] | None = None) -> Any:
    """The image as an RGB ``PIL.Image`` (its SHA-256 checked first)."""
    from PIL import Image

    path = check_image(ref, root)
    with Image.open(path) as img:
        return img.convert("RGB")


def placeholder_for(model_type: str | None) -> str:
    """The image placeholder of a model family; ``ImageError`` for a family that takes no images here."""
    if model_type not in PLACEHOLDERS:
        msg = (
            f"the prompt holds images, but model type {model_type!r} is not a vision-language family this "
            f"project knows how to give images to (known: {', '.join(sorted(PLACEHOLDERS))})"
        )
        raise ImageError(msg)
    return PLACEHOLDERS[model_type]


def image_token_counts(grid_thw: Any, merge_size: int) -> list[int]:
    """Tokens each image becomes in the Qwen2-VL family: patches (t x h x w) over ``merge_size``²."""
    return [int(t) * int(h) * int(w) // (merge_size * merge_size) for t, h, w in grid_thw.tolist()]


def expand_image_tokens(text: str, counts: Sequence[int], image_token: str) -> str:
    """``text`` with its k-th ``image_token`` repeated ``counts[k]`` times (what the model's processor does)."""
    pieces = text.split(image_token)
    if len(pieces) - 1 != len(counts):
        msg = f"the prompt has {len(pieces) - 1} image tokens {image_token!r} but {len(counts)} images"
        raise ImageError(msg)
    out = [pieces[0]]
    for count, piece in zip(counts, pieces[1:], strict=True):
        out.append(image_token * count + piece)
    return "".join(out)
