"""Make the bundled example media (run once; the outputs are committed).

    python assets/make_assets.py

- ``sample_clip.mp4``: portrait 720x1280, 30 fps, exactly 249 frames (8.3 s), h264 yuv420p,
  GOP 30, crf 30. Every frame shows its index and time in large text ("frame 017",
  "t = 0.567 s") and a ball that moves, so sampled frames are visibly different.
- ``sample_image.jpg``: 1280x853 landscape with gradients, shapes and the text "qwenvl-viz",
  so the resize to the patch grid is visible.

Deterministic: Pillow's built-in scalable font (no system fonts), single-threaded x264.
"""

from __future__ import annotations

import colorsys
import math
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).resolve().parent
CLIP_W, CLIP_H, CLIP_FPS, CLIP_FRAMES, CLIP_GOP, CLIP_CRF = 720, 1280, 30, 249, 30, 30
IMAGE_W, IMAGE_H = 1280, 853


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)  # Pillow >= 10.1 ships a scalable default font


def clip_frame(i: int) -> Image.Image:
    """Frame ``i`` of the sample clip."""
    t = i / CLIP_FPS
    hue = (i / CLIP_FRAMES) * 0.8
    bg = tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.35, 0.95))
    img = Image.new("RGB", (CLIP_W, CLIP_H), bg)
    d = ImageDraw.Draw(img)
    # a ball bouncing across the lower half
    cx = CLIP_W / 2 + (CLIP_W / 2 - 90) * math.sin(2 * math.pi * t / 4.0)
    cy = CLIP_H * 0.72 + 150 * abs(math.sin(2 * math.pi * t / 1.6))
    d.ellipse((cx - 70, cy - 70, cx + 70, cy + 70), fill=(230, 60, 40), outline=(40, 20, 20), width=6)
    # progress bar along the bottom
    d.rectangle((40, CLIP_H - 90, CLIP_W - 40, CLIP_H - 50), outline=(30, 30, 30), width=4)
    d.rectangle((44, CLIP_H - 86, 44 + (CLIP_W - 88) * (i + 1) / CLIP_FRAMES, CLIP_H - 54), fill=(30, 30, 30))
    # the index and time, large
    d.text((CLIP_W / 2, 260), f"frame {i:03d}", font=_font(120), fill=(20, 20, 20), anchor="mm")
    d.text((CLIP_W / 2, 420), f"t = {t:.3f} s", font=_font(84), fill=(20, 20, 20), anchor="mm")
    d.text((CLIP_W / 2, 540), f"{CLIP_FPS} fps  {CLIP_FRAMES} frames", font=_font(44), fill=(60, 60, 60), anchor="mm")
    return img


def make_clip(path: Path) -> None:
    x264 = f"keyint={CLIP_GOP}:min-keyint={CLIP_GOP}:scenecut=0:threads=1"
    options = {"crf": str(CLIP_CRF), "preset": "medium", "x264-params": x264}
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=CLIP_FPS, options=options)
        stream.width, stream.height, stream.pix_fmt = CLIP_W, CLIP_H, "yuv420p"
        stream.codec_context.thread_count = 1
        for i in range(CLIP_FRAMES):
            out.mux(stream.encode(av.VideoFrame.from_image(clip_frame(i))))
        out.mux(stream.encode())


def sample_image() -> Image.Image:
    """A landscape: sky gradient, sun, mountains, a lake, coloured tiles and the title."""
    img = Image.new("RGB", (IMAGE_W, IMAGE_H))
    d = ImageDraw.Draw(img)
    for y in range(IMAGE_H):  # sky to horizon
        f = y / IMAGE_H
        d.line([(0, y), (IMAGE_W, y)], fill=(int(40 + 180 * f), int(90 + 120 * f), int(200 - 60 * f)))
    d.ellipse((1040, 250, 1200, 410), fill=(255, 214, 90))
    ridge = [(0, 600), (220, 330), (420, 560), (640, 250), (900, 590), (1100, 380), (1280, 560), (1280, 853), (0, 853)]
    d.polygon(ridge, fill=(70, 90, 110))
    d.polygon([(560, 340), (640, 250), (720, 345), (680, 330), (640, 360), (600, 330)], fill=(240, 240, 250))
    for y in range(640, IMAGE_H):  # lake
        f = (y - 640) / (IMAGE_H - 640)
        d.line([(0, y), (IMAGE_W, y)], fill=(int(30 + 40 * f), int(110 + 50 * f), int(160 + 40 * f)))
    colors = [(230, 80, 60), (250, 170, 50), (90, 180, 90), (60, 140, 220), (150, 90, 200), (240, 240, 240)]
    for k, c in enumerate(colors):  # tiles, one per 28-px-ish patch scale
        x0 = 60 + k * 90
        d.rectangle((x0, 700, x0 + 70, 770), fill=c, outline=(20, 20, 20), width=3)
    outline = {"fill": (255, 255, 255), "anchor": "mm", "stroke_fill": (30, 30, 50)}
    d.text((IMAGE_W / 2, 140), "qwenvl-viz", font=_font(150), stroke_width=6, **outline)
    d.text((IMAGE_W / 2, 250), f"{IMAGE_W} x {IMAGE_H}", font=_font(54), stroke_width=3, **outline)
    return img


def main() -> None:
    make_clip(HERE / "sample_clip.mp4")
    sample_image().save(HERE / "sample_image.jpg", quality=90, optimize=True)
    for name in ("sample_clip.mp4", "sample_image.jpg"):
        print(f"{name}: {(HERE / name).stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
