"""Generated test media: images, videos and broken files, made on demand and cached per session.

Plain functions write one file to a path you give; ``MediaFactory`` names files after their
parameters under one folder and makes each only once; the ``media_files`` fixture is a
session-wide ``MediaFactory`` in pytest's tmp dir. Import it into a test module to use it::

    from media_factory import media_files  # noqa: F401  (pytest fixture)

    def test_something(media_files):
        clip = media_files.video("mp4", width=64, height=48, frames=250, gop=30)
        bad = media_files.bad("audio_only")

Every video frame carries its own index as a row of black/white blocks across the top
(``frame_index_of`` reads it back), so a test can tell which frame it got without an oracle.
Everything is deterministic (seeded, single-threaded encoders).
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

__all__ = [
    "frame_pattern",
    "frame_index_of",
    "make_image",
    "make_video",
    "set_rotation",
    "make_audio_only",
    "make_truncated",
    "make_corrupt_data",
    "make_zero_fps_mp4",
    "make_ffmpeg_video",
    "make_packed_avi",
    "CORPUS",
    "CODEC_CORPUS",
    "make_bomb_png",
    "MediaFactory",
    "media_files",
    "BAD_KINDS",
    "IMAGE_MODES",
]

INDEX_BITS = 12  # frame indices up to 4095 are readable from the frame itself
DEFAULT_CODEC = {
    "mp4": "libx264", "mov": "libx264", "mkv": "libx264", "webm": "libvpx-vp9", "avi": "mpeg4", "gif": "gif"
}
# Modes each image format can store (Pillow 12), for parametrised tests.
IMAGE_MODES = {
    "png": ("RGB", "RGBA", "LA", "L", "P", "P+transparency", "I;16", "RGB+tRNS", "L+tRNS"),
    "jpeg": ("RGB", "L", "CMYK"),
    "webp": ("RGB", "RGBA"),
    "bmp": ("RGB", "L", "P"),
    "tiff": ("RGB", "RGBA", "LA", "L", "P", "I;16", "CMYK"),
    "gif": ("P", "P+transparency", "L"),
}


# --- pixels --------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8)
def _gradient(width: int, height: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width]
    img = np.empty((height, width, 3), np.uint8)
    img[..., 0] = (x * 255 // max(width - 1, 1)).astype(np.uint8)
    img[..., 1] = (y * 255 // max(height - 1, 1)).astype(np.uint8)
    img[..., 2] = 0
    img.setflags(write=False)
    return img


def frame_pattern(i: int, width: int, height: int) -> np.ndarray:
    """RGB uint8 [height, width, 3] for frame ``i``: gradient, a moving bar, the index in blocks."""
    img = _gradient(width, height).copy()
    img[..., 2] = (i * 37) % 256
    bar = (i * max(width // 25, 2)) % width
    img[:, bar : bar + max(width // 16, 2)] = (255, 255, 0)
    band = max(height // 6, 8)
    bw = width // INDEX_BITS
    for b in range(INDEX_BITS):
        img[:band, b * bw : (b + 1) * bw] = 255 if (i >> b) & 1 else 0
    return img


def frame_index_of(frame: np.ndarray) -> int:
    """Read back the index ``frame_pattern`` drew (frame in its stored orientation)."""
    height, width = frame.shape[:2]
    band = max(height // 6, 8)
    bw = width // INDEX_BITS
    value = 0
    for b in range(INDEX_BITS):
        block = frame[1 : band - 1, b * bw + 1 : (b + 1) * bw - 1]
        if block.mean() > 127:
            value |= 1 << b
    return value


def _image_pattern(width: int, height: int) -> Image.Image:
    """RGBA test picture: colour gradients, shapes, an alpha ramp from opaque to clear."""
    y, x = np.mgrid[0:height, 0:width]
    rgba = np.empty((height, width, 4), np.uint8)
    rgba[..., 0] = x * 255 // max(width - 1, 1)
    rgba[..., 1] = y * 255 // max(height - 1, 1)
    rgba[..., 2] = ((x // 8 + y // 8) % 2) * 200 + 20
    rgba[..., 3] = 255 - (x * 255 // max(width - 1, 1))
    rgba[height // 4 : height // 2, width // 4 : width // 2, :3] = (10, 200, 30)
    return Image.fromarray(rgba, "RGBA")


# --- images --------------------------------------------------------------------------------------


def make_image(
    path: str | Path,
    *,
    width: int = 84,
    height: int = 56,
    mode: str = "RGB",
    exif_orientation: int | None = None,
    quality: int = 95,
) -> Path:
    """Write an image in ``mode`` ("RGB", "RGBA", "LA", "L", "P", "I;16", "CMYK", or "P+transparency",
    "RGB+tRNS", "L+tRNS": a colour key, the colour of the top-right pixel); the format comes from
    the suffix. ``exif_orientation`` stores EXIF tag 0x0112."""
    path = Path(path)
    base = _image_pattern(width, height)
    if mode == "RGBA":
        img = base
    elif mode == "LA":
        img = base.convert("LA")
    elif mode == "I;16":
        # 0..1023: Pillow's convert("RGB") clips values above 255, so the ramp shows both sides
        ramp = np.arange(width * height, dtype=np.uint32).reshape(height, width) * 1024 // (width * height)
        ramp = ramp.astype(np.uint16)
        img = Image.fromarray(ramp)  # uint16 -> mode "I;16"
    elif mode in ("P", "P+transparency"):
        img = base.convert("RGB").quantize(64, dither=Image.Dither.NONE)
    else:
        img = base.convert(mode.removesuffix("+tRNS"))
    kwargs: dict = {}
    if mode.endswith(("+transparency", "+tRNS")):
        corner = np.asarray(img)[0, -1]  # a palette index, a grey level or an RGB colour
        kwargs["transparency"] = tuple(int(v) for v in corner) if corner.ndim else int(corner)
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif.tobytes()
    if path.suffix.lower() in (".jpg", ".jpeg", ".webp"):
        kwargs["quality"] = quality
    img.save(path, **kwargs)
    return path


def make_bomb_png(path: str | Path, width: int = 20000, height: int = 20000) -> Path:
    """A PNG whose header claims ``width`` x ``height`` grey pixels (the data is one tiny row)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * (width + 1))
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    Path(path).write_bytes(data)
    return Path(path)


# --- videos --------------------------------------------------------------------------------------


def make_video(
    path: str | Path,
    *,
    width: int = 64,
    height: int = 48,
    fps: float = 30,
    frames: int = 10,
    codec: str | None = None,
    pix_fmt: str | None = None,
    gop: int | None = None,
    bframes: int | None = None,
    crf: int = 18,
    preset: str = "veryfast",
    rotation: int | None = None,
    faststart: bool = False,
    threads: int = 1,
) -> Path:
    """Encode ``frames`` frames of ``frame_pattern`` with PyAV; container from the suffix.

    ``gop`` fixes the keyframe interval exactly (x264: keyint = min-keyint = gop, no scene cuts);
    ``rotation`` writes a display matrix, in clockwise degrees as ``MediaInfo.rotation`` reads it.
    ``threads=1`` keeps x264 output byte-identical from run to run; more only speeds up big clips.
    """
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    codec = codec or DEFAULT_CODEC[ext]
    options: dict[str, str] = {}
    if codec == "libx264":
        params = [f"threads={threads}"]
        if gop:
            params += [f"keyint={gop}", f"min-keyint={gop}", "scenecut=0"]
        if bframes is not None:
            params.append(f"bframes={bframes}")
        options = {"crf": str(crf), "preset": preset, "x264-params": ":".join(params)}
    elif codec in ("libvpx", "libvpx-vp9"):
        options = {"crf": str(max(crf, 4)), "b": "0", "threads": "1", "deadline": "realtime", "cpu-used": "8"}
    container_options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), "w", container_options=container_options) as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001), options=options)
        stream.width, stream.height = width, height
        stream.pix_fmt = pix_fmt or ("rgb8" if codec == "gif" else "yuv420p")
        stream.codec_context.thread_count = threads
        if gop and codec != "libx264":
            stream.codec_context.gop_size = gop
        if bframes is not None and codec not in ("libx264", "gif"):
            stream.codec_context.max_b_frames = bframes
        if rotation:
            stream.set_display_rotation(-rotation)  # PyAV takes counterclockwise degrees
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(frame_pattern(i, width, height), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def set_rotation(src: str | Path, dst: str | Path, rotation: int) -> Path:
    """Remux ``src`` (packets untouched) with a display matrix of ``rotation`` clockwise degrees."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        s_out.set_display_rotation(-rotation)
        for pkt in inp.demux(s_in):
            if pkt.dts is None:
                continue
            pkt.stream = s_out
            out.mux(pkt)
    return Path(dst)


def make_audio_only(path: str | Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    """An audio file with no video stream (AAC in .m4a, MP3 in .mp3, ...)."""
    path = Path(path)
    codec = {".mp3": "libmp3lame", ".wav": "pcm_s16le", ".ogg": "libvorbis"}.get(path.suffix.lower(), "aac")
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=rate)
        n = int(seconds * rate)
        t = np.arange(n) / rate
        samples = (np.sin(2 * np.pi * 440 * t) * 0.3).astype(np.float32)
        fmt = "fltp" if codec in ("aac", "libvorbis") else "s16p" if codec == "libmp3lame" else "s16"
        if fmt.startswith("s16"):
            samples = (samples * 32767).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format=fmt, layout="mono")
        frame.sample_rate = rate
        out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


# --- the decoder corpus: codecs and containers as users have them, written with the ffmpeg CLI --------

# name -> (suffix, make_ffmpeg_video kwargs). Small clips (96x64) keep each decode in milliseconds; the
# "texture" ones are busy enough for the MPEG-4 Part 2 / MS-MPEG4 IDCTs of two FFmpeg builds to differ.
CORPUS = {
    "h264_bframes_mp4": ("mp4", dict(frames=90, fps=30, args=["-c:v", "libx264", "-bf", "3", "-g", "250",
                                                              "-threads", "1"])),
    "mpeg4_bframes_avi": ("avi", dict(frames=60, args=["-c:v", "mpeg4", "-bf", "2", "-vtag", "DX50", "-q:v", "4"])),
    "packed_avi": ("avi", dict(frames=60, packed=True)),
    "msmpeg4v3_avi": ("avi", dict(frames=40, args=["-c:v", "msmpeg4", "-q:v", "4"])),
    "cinepak_avi": ("avi", dict(frames=30, args=["-c:v", "cinepak"])),
    "mjpeg_avi": ("avi", dict(frames=30, args=["-c:v", "mjpeg", "-q:v", "3"])),
    "vp9_webm": ("webm", dict(frames=30, args=["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8",
                                               "-b:v", "0", "-crf", "30"])),
    # phone-style VFR: frame gaps of 2, 2 and 3 ticks of 1/30 s
    "vfr_mp4": ("mp4", dict(frames=45, fps=30, vf="setpts='(2*N+floor(N/3))/(30*TB)'",
                            args=["-fps_mode", "passthrough", "-c:v", "libx264", "-threads", "1"])),
    # 20 coded frames in 59 slots of 1/15 s: the AVI header counts the empty (dropped-frame) chunks
    "dropped_avi": ("avi", dict(frames=20, vf="setpts='(3*N+mod(N,2))/(15*TB)'",
                                args=["-fps_mode", "passthrough", "-c:v", "mpeg4", "-q:v", "4", "-r", "15"])),
    "rotated90_mp4": ("mp4", dict(frames=30, fps=30, rotation=90, args=["-c:v", "libx264", "-threads", "1"])),
    "texture_mpeg4_avi": ("avi", dict(frames=20, texture=True, width=320, height=240,
                                      args=["-c:v", "mpeg4", "-q:v", "2", "-bf", "0"])),
    "texture_msmpeg4v3_avi": ("avi", dict(frames=20, texture=True, width=320, height=240,
                                          args=["-c:v", "msmpeg4", "-q:v", "2"])),
}


def _x265(params: str, bframes: int = 3) -> list[str]:
    """ffmpeg arguments for x265 with B-frames, deterministic (one thread), plus ``params``."""
    return ["-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
            f"bframes={bframes}:{params}:pools=none:frame-threads=1:log-level=error"]


# More codecs and timestamp layouts, kept apart from CORPUS so tests that loop over CORPUS keep their set.
# HEVC and AV1 as phones and web video store them; packet timestamps out of presentation order (H.264 and
# HEVC with B-frames in AVI: pts = dts in decode order; MPEG-2 program stream: pts out of order, some dts missing)
# and missing altogether (a raw H.264 elementary stream).
_X265 = _x265("keyint=250")
CODEC_CORPUS = {
    "hevc_bframes_mp4": ("mp4", dict(frames=40, fps=30, args=[*_X265, "-tag:v", "hvc1"])),
    "av1_mp4": ("mp4", dict(frames=30, fps=30, args=["-c:v", "libaom-av1", "-cpu-used", "8", "-row-mt", "0",
                                                     "-threads", "1", "-crf", "40", "-g", "250"])),
    "h264_bframes_avi": ("avi", dict(frames=60, fps=30, args=["-c:v", "libx264", "-bf", "3", "-g", "250",
                                                              "-threads", "1"])),
    # x265's default open GOPs, a keyframe every 20 frames (CRAs after the first, as in a long file). FFmpeg's
    # AVI muxer has no fourcc for HEVC (it writes 0: rawvideo); "hev1", a mov tag its AVI demuxer falls back
    # to, is the one decord's FFmpeg 4.1 reads too ("HEVC" and "H265" came to FFmpeg's AVI demuxer later).
    "hevc_bframes_avi": ("avi", dict(frames=60, fps=30, args=[*_x265("keyint=20:min-keyint=20:scenecut=0"),
                                                              "-tag:v", "hev1"])),
    "mpeg2_bframes_mpg": ("mpg", dict(frames=45, fps=30, args=["-c:v", "mpeg2video", "-bf", "2", "-g", "15",
                                                               "-q:v", "4"])),
    "h264_raw": ("h264", dict(frames=60, fps=30, args=["-c:v", "libx264", "-bf", "3", "-g", "250", "-threads", "1"])),
}


def make_ffmpeg_video(path: str | Path, *, frames: int, fps: float = 15, width: int = 96, height: int = 64,
                      args: list[str] | tuple = (), vf: str | None = None, packed: bool = False,
                      rotation: int | None = None, texture: bool = False) -> Path:
    """``frames`` frames of ``frame_pattern`` piped into the ffmpeg CLI with ``args`` (codec options).

    ``texture`` uses ffmpeg's testsrc2 with per-frame noise instead (no index band). ``packed`` writes
    an MPEG-4 Part 2 AVI with DivX-style packed B-frames (``make_packed_avi``); ``rotation`` remuxes
    with a display matrix (``set_rotation``).
    """
    import subprocess

    path = Path(path)
    if packed:
        plain = path.with_suffix(".unpacked.avi")
        make_ffmpeg_video(plain, frames=frames, fps=fps, width=width, height=height,
                          args=["-c:v", "mpeg4", "-bf", "1", "-g", "30", "-q:v", "4", "-vtag", "DX50"])
        return make_packed_avi(plain, path, fps=fps)
    if rotation:
        plain = path.with_suffix(".plain" + path.suffix)
        make_ffmpeg_video(plain, frames=frames, fps=fps, width=width, height=height, args=args, vf=vf)
        return set_rotation(plain, path, rotation)
    if texture:
        src = ["-f", "lavfi", "-i", f"testsrc2=s={width}x{height}:r={fps}:d={frames / fps}"]
        vf = "noise=alls=30:allf=t"
        data = None
    else:
        src = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
        data = b"".join(frame_pattern(i, width, height).tobytes() for i in range(frames))
    cmd = ["ffmpeg", "-v", "error", "-y", *(["-nostdin"] if data is None else []), *src,
           *(["-vf", vf] if vf else []), *args, "-f", _FFMPEG_FORMAT.get(path.suffix, path.suffix[1:]), str(path)]
    subprocess.run(cmd, input=data, check=True)
    return path


_FFMPEG_FORMAT = {".mkv": "matroska", ".ts": "mpegts", ".mpg": "mpeg", ".h264": "h264", ".hevc": "hevc"}
_VOP = b"\x00\x00\x01\xb6"
# The VOL user data by which DivX 5 marks a packed stream (the final "p"; FFmpeg's mpeg4 decoder reads it).
_DIVX_USER_DATA = b"\x00\x00\x01\xb2DivX503b1393p"


def _vop_type(data: bytes) -> int | None:
    i = data.find(_VOP)
    return data[i + 4] >> 6 if 0 <= i < len(data) - 4 else None  # 0 I, 1 P, 2 B, 3 S


def _n_vop(time_increment: int, bits: int) -> bytes:
    """A not-coded VOP (vop_coded = 0): type P, no modulo_time_base, then stuffing to a byte boundary."""
    s = "01" + "0" + "1" + format(time_increment % (1 << bits), f"0{bits}b") + "1" + "0"
    s += "0" + "1" * ((8 - (len(s) + 1) % 8) % 8)
    return _VOP + bytes(int(s[i : i + 8], 2) for i in range(0, len(s), 8))


def make_packed_avi(src: str | Path, dst: str | Path, fps: float = 15) -> Path:
    """Repack an MPEG-4 Part 2 AVI (one B-frame between references) the DivX 5 way: each P-VOP packet
    also carries the B-VOP shown before it, and the B's own slot holds an N-VOP placeholder; the
    keyframes carry DivX's "...p" user data. ``ffmpeg -bsf:v mpeg4_unpack_bframes`` undoes it."""
    with av.open(str(src)) as inp:
        packets = [bytes(p) for p in inp.demux(inp.streams.video[0]) if p.size]
    types = [_vop_type(p) for p in packets]
    # FFmpeg's encoder: time_increment_bits = av_log2(time_base.den - 1) + 1
    bits = max(int(round(fps)) - 1, 1).bit_length()
    out: list[bytes] = []
    i = 0
    while i < len(packets):
        if i + 1 < len(packets) and types[i] in (0, 1) and types[i + 1] == 2:
            out += [packets[i] + packets[i + 1], _n_vop(i + 1, bits)]
            i += 2
        else:
            out.append(packets[i])
            i += 1
    with av.open(str(src)) as inp, av.open(str(dst), "w", format="avi") as o:
        stream = o.add_stream_from_template(inp.streams.video[0])
        for k, data in enumerate(out):
            key = _vop_type(data) == 0
            pkt = av.Packet(data.replace(_VOP, _DIVX_USER_DATA + _VOP, 1) if key else data)
            pkt.stream = stream
            pkt.pts = pkt.dts = k
            pkt.time_base = Fraction(1, int(round(fps)))
            pkt.is_keyframe = key
            o.mux(pkt)
    return Path(dst)


# --- broken files --------------------------------------------------------------------------------


def make_truncated(src: str | Path, dst: str | Path, keep: float = 0.5) -> Path:
    """The first ``keep`` fraction of ``src``'s bytes."""
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return Path(dst)


def make_corrupt_data(src: str | Path, dst: str | Path, header_bytes: int | None = None, seed: int = 0) -> Path:
    """Keep the container header of a faststart mp4, replace the media data with random bytes."""
    data = Path(src).read_bytes()
    start = header_bytes if header_bytes is not None else data.find(b"mdat") + 4
    noise = np.random.default_rng(seed).integers(0, 256, len(data) - start, dtype=np.uint8).tobytes()
    Path(dst).write_bytes(data[:start] + noise)
    return Path(dst)


def make_zero_fps_mp4(path: str | Path) -> Path:
    """A 2-frame mp4 whose sample durations are all 0: FFmpeg's avg_frame_rate is undefined."""
    path = Path(path)
    make_video(path, frames=2, bframes=0)
    data = bytearray(path.read_bytes())
    at = data.find(b"stts")
    (entries,) = struct.unpack(">I", data[at + 8 : at + 12])
    for e in range(entries):  # each entry: sample_count, sample_delta
        data[at + 16 + 8 * e : at + 20 + 8 * e] = struct.pack(">I", 0)
    path.write_bytes(bytes(data))
    return path


# --- cached factory ------------------------------------------------------------------------------

BAD_KINDS = (
    "missing",
    "empty",
    "text",
    "folder",
    "truncated_mp4",
    "truncated_faststart_mp4",
    "corrupt_data_mp4",
    "audio_only",
    "zero_fps",
    "bomb_png",
    "truncated_png",
)


class MediaFactory:
    """Makes test media under ``root``, each file once, named by its parameters."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, kind: str, ext: str, params: dict) -> Path:
        key = hashlib.blake2b(json.dumps(params, sort_keys=True).encode(), digest_size=6).hexdigest()
        return self.root / f"{kind}-{key}.{ext}"

    def image(self, fmt: str = "png", **kwargs) -> Path:
        """``make_image`` with a cached file; ``fmt`` is the suffix (png, jpg, webp, bmp, tiff, gif)."""
        ext = "jpg" if fmt == "jpeg" else fmt
        path = self._path("image", ext, kwargs)
        if not path.exists():
            make_image(path.with_suffix(".tmp." + ext), **kwargs).rename(path)
        return path

    def video(self, ext: str = "mp4", **kwargs) -> Path:
        """``make_video`` with a cached file; ``ext`` picks the container (mp4, mov, mkv, webm, avi, gif)."""
        path = self._path("video", ext, kwargs)
        if not path.exists():
            make_video(path.with_suffix(".tmp." + ext), **kwargs).rename(path)
        return path

    def rotated(self, rotation: int, **kwargs) -> tuple[Path, Path]:
        """(unrotated mp4, the same packets with a display matrix of ``rotation`` degrees clockwise)."""
        plain = self.video("mp4", **kwargs)
        path = self._path("rotated", "mp4", {"rotation": rotation, **kwargs})
        if not path.exists():
            set_rotation(plain, path.with_suffix(".tmp.mp4"), rotation).rename(path)
        return plain, path

    def corpus(self, name: str) -> Path:
        """The ``CORPUS`` / ``CODEC_CORPUS`` clip ``name`` (needs the ffmpeg CLI; the test is skipped without it)."""
        if shutil.which("ffmpeg") is None:
            pytest.skip("the ffmpeg CLI writes the decoder corpus; not installed")
        ext, kwargs = CORPUS[name] if name in CORPUS else CODEC_CORPUS[name]
        path = self.root / f"corpus-{name}.{ext}"
        if not path.exists():
            tmp = path.with_suffix(".tmp." + ext)
            make_ffmpeg_video(tmp, **kwargs).rename(path)
        return path

    def bad(self, kind: str) -> Path:
        """A broken input of ``kind`` (one of ``BAD_KINDS``)."""
        path = self.root / f"bad-{kind}"
        if kind == "missing":
            return self.root / "no-such-file.mp4"
        if kind == "folder":
            path.mkdir(exist_ok=True)
            return path
        suffix = {"text": ".mp4", "audio_only": ".m4a", "bomb_png": ".png", "truncated_png": ".png"}.get(kind, ".mp4")
        path = path.with_suffix(suffix)
        if path.exists():
            return path
        tmp = path.with_suffix(".tmp" + suffix)
        if kind == "empty":
            tmp.write_bytes(b"")
        elif kind == "text":
            tmp.write_text("this is a text file, not a video\n" * 20)
        elif kind == "truncated_mp4":  # moov box at the end: cut off, nothing indexes the data
            make_truncated(self.video("mp4", width=160, height=120, frames=60), tmp)
        elif kind == "truncated_faststart_mp4":  # index intact, second half of the data missing
            make_truncated(self.video("mp4", width=160, height=120, frames=60, faststart=True), tmp)
        elif kind == "corrupt_data_mp4":
            make_corrupt_data(self.video("mp4", width=160, height=120, frames=20, faststart=True), tmp)
        elif kind == "audio_only":
            make_audio_only(tmp)
        elif kind == "zero_fps":
            make_zero_fps_mp4(tmp)
        elif kind == "bomb_png":
            make_bomb_png(tmp)
        elif kind == "truncated_png":
            make_truncated(self.image("png", width=256, height=256, mode="RGB"), tmp, keep=0.6)
        else:
            raise ValueError(f"unknown bad kind {kind!r}; one of {BAD_KINDS}")
        tmp.rename(path)
        return path

    def copy(self, src: Path, name: str) -> Path:
        """A copy of ``src`` named ``name`` (same bytes, another path)."""
        dst = self.root / name
        shutil.copyfile(src, dst)
        return dst


@pytest.fixture(scope="session")
def media_files(tmp_path_factory) -> MediaFactory:
    """One ``MediaFactory`` per test session, under pytest's tmp dir."""
    return MediaFactory(tmp_path_factory.mktemp("media"))
