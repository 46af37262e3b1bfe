"""Still images: probing one with Pillow, and loading it as RGB the way a reference loader does."""

from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import VizError
from ..words import say
from .info import MediaInfo

EXIF_ORIENTATION_TAG = 0x0112
# Formats Pillow recognises by a signature: a load failure there means a broken image, not a video.
IMAGE_FORMATS_WITH_MAGIC = frozenset({"PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF"})


def _probe_image(path: str, content_hash: str) -> MediaInfo | None:
    """MediaInfo for a still image; None when Pillow does not recognise it or it is animated GIF."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Image.DecompressionBombWarning)
        try:
            img = Image.open(path)
        except Image.DecompressionBombError:
            img = None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
            return None
    if img is None or any(issubclass(w.category, Image.DecompressionBombWarning) for w in caught):
        w, h = _image_header_size(path)
        limit = 2 * Image.MAX_IMAGE_PIXELS
        if img is None or w * h > limit:
            if img is not None:
                img.close()
            raise VizError(
                f"image is {w}x{h} = {w * h:,} pixels, over Pillow's decompression-bomb limit of "
                f"{limit:,} pixels, which the reference loaders refuse too; downscale it first"
            )
    with img:
        notes: list[str] = []
        if w_bomb := [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]:
            notes.append(f"very large image ({img.width}x{img.height}); Pillow warns: {w_bomb[0].message}")
        n_frames = getattr(img, "n_frames", 1)
        if img.format == "MPEG":
            return None  # Pillow only identifies MPEG streams; FFmpeg decodes them
        if img.format == "GIF" and n_frames > 1:
            return None  # animated GIF: a video (PyAV decodes it, fps from frame durations)
        if n_frames > 1:
            notes.append(f"{img.format} with {n_frames} frames: only the first is used, as the references do")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                img.load()  # catches truncated / corrupt data now, not in the middle of the pipeline
        except (OSError, SyntaxError, ValueError) as e:
            if img.format not in IMAGE_FORMATS_WITH_MAGIC:
                return None  # Pillow's guess (e.g. TGA, which has no signature) was wrong: try FFmpeg
            raise VizError(
                f"image file {os.path.basename(path)!r} ({img.format} {img.width}x{img.height}) is corrupt "
                f"or truncated: {e}; re-export or re-download it"
            ) from None
        orientation = _exif_orientation(img)
        if orientation is not None and orientation not in range(1, 9):
            notes.append(say("md_exif_bad", o=orientation))
            orientation = None
        if orientation not in (None, 1):
            notes.append(say("md_exif", o=orientation))
        has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info
        key = _transparency_key(img)
        notes.extend(_mode_notes(img.mode, has_alpha, key))
        return MediaInfo(
            kind="image",
            path=path,
            content_hash=content_hash,
            container=img.format or "image",
            width=img.width,
            height=img.height,
            coded_width=img.width,
            coded_height=img.height,
            rotation=0,
            fps=None,
            frames=1,
            frames_header=None,
            duration=None,
            exif_orientation=orientation,
            mode=img.mode,
            has_alpha=has_alpha,
            notes=tuple(notes),
            transparency_key=key,
        )


def _transparency_key(img: Image.Image) -> tuple[int, int, int] | None:
    """The colour key both loaders hand on in ``info["transparency"]`` of their RGB image.

    Pillow's ``convert("RGB")`` of a P / L / RGB image with a tRNS colour key keeps the key as an
    RGB tuple in ``info`` (resize keeps ``info`` too); RGBA goes through qwen-vl-utils' paste,
    which drops it. Both references then meet transformers' ``convert_to_rgb``.
    """
    if img.mode == "RGBA" or img.info.get("transparency") is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        key = img.convert("RGB").info.get("transparency")
    if isinstance(key, tuple) and len(key) == 3 and all(isinstance(v, int) for v in key):
        return (int(key[0]), int(key[1]), int(key[2]))
    return None


def whiten_transparency_key(rgb: np.ndarray, key: tuple[int, int, int] | None) -> np.ndarray:
    """transformers' ``convert_to_rgb`` for an RGB image carrying a colour key: pixels exactly
    equal to ``key`` become white (alpha 0 composited on white), all others are unchanged.

    The reference applies it after qwen-vl-utils' resize (official pipeline) and before the
    processor's own resize (processor pipeline), so call it on the matching array.
    """
    if key is None:
        return rgb
    out = np.array(rgb)
    out[(rgb == np.asarray(key, np.uint8)).all(axis=-1)] = 255
    return out


def _mode_notes(mode: str, has_alpha: bool, key: tuple[int, int, int] | None) -> list[str]:
    """What the two reference conversions do to this mode (both end in 8-bit RGB)."""
    if mode == "RGBA":
        return [say("md_rgba")]
    notes = [] if mode == "RGB" else [say("md_mode", mode=mode)]
    if key is not None:
        notes.append(say("md_key", key=key))
    elif has_alpha:
        notes.append(say("md_alpha", mode=mode))
    if mode.startswith("I") or mode == "F":
        notes.append(say("md_clip", mode=mode))
    return notes


def _image_header_size(path: str) -> tuple[int, int]:
    """Width and height of an image that Pillow refuses to open as a decompression bomb."""
    saved = Image.MAX_IMAGE_PIXELS
    try:  # the size is in the header; reading it with the check off decodes nothing
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as img:
            return img.size
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _exif_orientation(img: Image.Image) -> int | None:
    # Image.getexif is what ImageOps.exif_transpose reads (EXIF, or XMP tiff:Orientation).
    try:
        value = img.getexif().get(EXIF_ORIENTATION_TAG)
    except Exception:  # malformed EXIF blocks: exif_transpose would ignore the tag too
        return None
    return int(value) if isinstance(value, int) else None


def load_image(info: MediaInfo, *, apply_exif: bool) -> np.ndarray:
    """The image as uint8 ``[H, W, 3]`` RGB, converted exactly as a reference loader does.

    ``apply_exif=False``: qwen-vl-utils 0.0.14 ``fetch_image`` before its resize (``to_rgb``: RGBA
    composited on white with the alpha as paste mask; LA, P (also with transparency), I;16, CMYK,
    L through Pillow's ``convert("RGB")``, which drops alpha). ``apply_exif=True``: transformers
    ``load_image`` (``ImageOps.exif_transpose`` then ``convert("RGB")``; alpha dropped everywhere).
    """
    if info.kind != "image":
        raise VizError(f"load_image needs an image; {os.path.basename(info.path)!r} is a {info.kind}")
    try:
        with Image.open(info.path) as img, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's "palette with transparency" advice
            if apply_exif:
                rgb = ImageOps.exif_transpose(img).convert("RGB")
            elif img.mode == "RGBA":
                rgb = Image.new("RGB", img.size, (255, 255, 255))
                rgb.paste(img, mask=img.split()[3])
            else:
                rgb = img.convert("RGB")
            return np.array(rgb)  # a writable copy
    except (OSError, SyntaxError, ValueError) as e:
        raise VizError(f"image file {os.path.basename(info.path)!r} cannot be read: {e}") from None


def exif_size(info: MediaInfo) -> tuple[int, int]:
    """(height, width) after the EXIF orientation is applied (orientations 5..8 swap the sides)."""
    if info.exif_orientation in (5, 6, 7, 8):
        return info.width, info.height
    return info.height, info.width
