"""``python -m qwenvl_viz explain``: walkthrough, --json, --save, and one-line errors with exit status 2."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from media_factory import BAD_KINDS, media_files  # noqa: F401  (fixture)
from qwenvl_viz import explain
from qwenvl_viz.cli import main

ROOT = Path(__file__).resolve().parent.parent
CLIP = ROOT / "assets" / "sample_clip.mp4"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_walkthrough_reads_like_the_slide(capsys):
    code, out, _ = run(capsys, "explain", str(CLIP))
    assert code == 0
    for needle in ("[249, 3, 1280, 720]", "= 16", "1.9277", "[16, 3, 1008, 560]", "[23040, 1176]",
                   "[8, 72, 40]", "1.0375", "5760"):
        assert needle in out, needle


def test_json_has_the_documented_keys_and_equals_the_trace(capsys):
    code, out, _ = run(capsys, "explain", str(CLIP), "--model", "qwen3-vl", "--json", "--fps", "1")
    assert code == 0
    d = json.loads(out)
    t = explain(CLIP, model="qwen3-vl", fps=1.0)
    assert d["model"] == "qwen3-vl" and d["pipeline"] == "official"
    assert set(d["media"]) >= {"kind", "width", "height", "frames", "fps", "duration", "rotation"}
    assert d["sampling"]["indices"] == list(t.sampling.indices)
    assert d["sampling"]["nframes"] == t.sampling.nframes and d["sampling"]["sample_fps"] == t.sampling.sample_fps
    assert (d["resize"]["height"], d["resize"]["width"]) == (t.resize.height, t.resize.width)
    assert d["pixel_values_shape"] == list(t.patchify.shape) and d["grid_thw"] == list(t.patchify.grid_thw)
    assert d["num_vision_tokens"] == t.num_vision_tokens
    assert d["timestamps"] == list(t.prompt.timestamps) and d["second_per_grid_ts"] is None


def test_save_writes_the_tensors(capsys, tmp_path):
    out = tmp_path / "t.npz"
    code, _, _ = run(capsys, "explain", str(CLIP), "--nframes", "4", "--min-pixels", "20000", "--max-pixels", "50000", "--save", str(out))
    assert code == 0
    t = explain(CLIP, nframes=4, min_pixels=20000.0, max_pixels=50000.0)
    z = np.load(out)
    assert np.array_equal(z["pixel_values"], t.pixel_values.numpy())
    assert z["grid_thw"].tolist() == [list(t.patchify.grid_thw)]
    assert np.array_equal(z["input_ids"], t.input_ids) and np.array_equal(z["position_ids"], t.position_ids)
    assert z["frame_indices"].tolist() == list(t.sampling.indices)


@pytest.mark.parametrize(
    "args,words",
    [
        (["--fps", "0"], "fps must be a finite number > 0"),
        (["--fps", "2", "--nframes", "8"], "not allowed with"),
        (["--min-pixels", "900000", "--max-pixels", "1000"], "min_pixels"),
        (["--video-start", "5", "--video-end", "2"], "video_start"),
        (["--model", "qwen4-vl"], "invalid choice"),
    ],
)
def test_bad_parameters_exit_2_with_one_line(capsys, args, words):
    code, out, err = run(capsys, "explain", str(CLIP), *args)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_files_exit_2_with_one_line(capsys, media_files, kind):
    code, _, err = run(capsys, "explain", str(media_files.bad(kind)))
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_bad_images_exit_2(capsys, media_files, tmp_path):
    from PIL import Image

    strip = tmp_path / "strip.png"
    Image.new("RGB", (5000, 1)).save(strip)
    code, _, err = run(capsys, "explain", str(strip))
    assert code == 2 and "aspect ratio 5000.0" in err and "exceeds 200" in err
    one = media_files.video("mp4", width=64, height=48, frames=1)
    code, _, err = run(capsys, "explain", str(one))
    assert code == 2 and "1 frame" in err


def test_module_entry_point_runs_in_a_subprocess():
    r = subprocess.run([sys.executable, "-m", "qwenvl_viz", "explain", str(CLIP), "--json", "--nframes", "4"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sampling"]["nframes"] == 4
