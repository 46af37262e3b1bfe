"""Make the edge-case gallery media into assets/gallery/ (run once; the outputs are committed, ~40 kB in all).

    python assets/make_gallery.py

Each file is the smallest that shows its case; what the reference does with it is shown live by the app
(``qwenvl_viz.gallery`` names the settings each case is opened with):

- ``tiny_20x12.png``: an image below the factor (28 px): smart_resize rounds it UP to 28x28.
- ``strip_2000x10.png``: a 200:1 strip, the largest aspect smart_resize accepts (> 200 raises).
- ``odd_9_frames.mp4``: 9 frames at 10 fps; at fps 10 the official recipe rounds nframes to a multiple of 2:
  8 of the 9 frames are taken.
- ``fast_120fps.mp4``: 1 s at 120 fps; on Qwen2.5-VL at fps 8 the time ids of neighbouring groups collide.
- ``short_1_frame.mp4``: a single frame, fewer than the two frames one temporal group needs: an error.
- ``exif_rotated.jpg``: stored 64x40 landscape with EXIF Orientation 6 (shown portrait by viewers).
- ``logo_rgba.png``: an RGBA logo with a transparent background (converted to RGB on load).
"""

from __future__ import annotations

from pathlib import Path

import av
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "gallery"


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _clip(path: Path, frames: int, fps: int, w: int = 64, h: int = 64) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps, options={"crf": "35", "preset": "medium",
                                                             "x264-params": "threads=1"})
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.thread_count = 1
        for i in range(frames):
            img = Image.new("RGB", (w, h), (40 + (200 * i) // max(frames - 1, 1), 120, 200))
            ImageDraw.Draw(img).text((w // 2, h // 2), str(i), font=_font(28), fill="white", anchor="mm")
            out.mux(stream.encode(av.VideoFrame.from_image(img)))
        out.mux(stream.encode())


def main() -> None:
    OUT.mkdir(exist_ok=True)
    img = Image.new("RGB", (20, 12), (230, 120, 40))
    ImageDraw.Draw(img).rectangle((4, 3, 15, 8), fill=(40, 40, 160))
    img.save(OUT / "tiny_20x12.png")

    strip = Image.new("RGB", (2000, 10))
    d = ImageDraw.Draw(strip)
    for x in range(0, 2000, 50):
        d.rectangle((x, 0, x + 24, 9), fill=(60 + x % 190, 140, 220 - x % 180))
    strip.save(OUT / "strip_2000x10.png")

    _clip(OUT / "odd_9_frames.mp4", frames=9, fps=10)
    _clip(OUT / "fast_120fps.mp4", frames=120, fps=120)
    _clip(OUT / "short_1_frame.mp4", frames=1, fps=30)

    photo = Image.new("RGB", (64, 40), (90, 160, 90))
    d = ImageDraw.Draw(photo)
    d.polygon([(4, 36), (20, 6), (36, 36)], fill=(240, 240, 240))
    d.text((50, 20), "↑", font=_font(24), fill="black", anchor="mm")
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    photo.save(OUT / "exif_rotated.jpg", quality=85, exif=exif.tobytes())

    logo = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    d = ImageDraw.Draw(logo)
    d.ellipse((8, 8, 88, 88), fill=(230, 0, 126, 255))
    d.text((48, 48), "VL", font=_font(36), fill=(255, 255, 255, 255), anchor="mm")
    logo.save(OUT / "logo_rgba.png")


if __name__ == "__main__":
    main()
