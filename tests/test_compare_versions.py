"""Side-by-side comparison and version differences on the sample clip and generated media.

Expected numbers are the reference's verified worked examples (shared/reference/qwen-vl-pipeline.md
§5.1: 1008x560 vs 1152x640, processor 1280x704, frame indices [0, 15, 31, ...] vs [0, 17, 33, ...]);
the transformers 5.12+ text-resume variant is checked against transformers 5.23 ``get_rope_index``.
"""

from __future__ import annotations

import json

import pytest

from media_factory import media_files  # noqa: F401  (fixture)
from qwenvl_viz import explain
from qwenvl_viz.compare import ROW_KEYS, compare
from qwenvl_viz.versions import VERSION_KEYS, version_differences

CLIP = "assets/sample_clip.mp4"  # 720x1280 (WxH), 30 fps, 249 frames
QVU_INDICES = [0, 17, 33, 50, 66, 83, 99, 116, 132, 149, 165, 182, 198, 215, 231, 248]
HF_QWEN2_INDICES = [0, 15, 31, 46, 62, 77, 93, 108, 124, 140, 155, 171, 186, 202, 217, 233]


@pytest.fixture(scope="module")
def q25():
    return explain(CLIP, model="qwen2.5-vl")


@pytest.fixture(scope="module")
def q3():
    return explain(CLIP, model="qwen3-vl")


def rows(c):
    return {r.key: r for r in c.rows}


def diffs(trace):
    return {d.key: d for d in version_differences(trace)}


# ---- compare ------------------------------------------------------------------------------------

def test_qwen25_vs_qwen3_lists_size_shape_and_time_differences(q25, q3):
    c = compare(q25, q3)
    r = rows(c)
    assert [row.key for row in c.rows] == list(ROW_KEYS)
    assert (r["resized_size"].a, r["resized_size"].b) == ([1008, 560], [1152, 640])
    assert (r["pixel_values_shape"].a, r["pixel_values_shape"].b) == ([23040, 1176], [23040, 1536])
    assert r["grid_thw"].a == r["grid_thw"].b == [8, 72, 40] and not r["grid_thw"].differs
    assert r["vision_tokens"].a == r["vision_tokens"].b == 5760
    assert r["time_ids"].a == [0, 2, 4, 6, 8, 10, 12, 14] and r["time_ids"].b == [0] * 8
    assert r["timestamps"].a is None and r["timestamps"].b[0] == "<0.3 seconds>" and r["timestamps"].b[-1] == "<8.0 seconds>"
    assert r["second_per_grid_ts"].a == pytest.approx(1.0375) and r["second_per_grid_ts"].b is None
    assert {d.key for d in c.differences} >= {"model", "resized_size", "pixel_values_shape", "pixel_values", "time_ids",
                                              "timestamps"}
    assert not {"frame_indices", "nframes", "grid_thw", "media"} & {d.key for d in c.differences}
    assert c.same_media and "Qwen2.5-VL" in c.a_label and "Qwen3-VL" in c.b_label
    json.dumps(c.as_table())  # ready for a table widget


def test_qwen3_vl_vs_qwen3_5_same_pixels_different_ids_and_positions(q3):
    """Exactly the text side differs: ids, the prompt (Qwen3.5 opens a thinking block), positions, rotary."""
    c = compare(q3, explain(CLIP, model="qwen3.5"))
    r = rows(c)
    assert {d.key for d in c.differences} == {"model", "special_ids", "prompt_tokens", "input_ids", "position_ids",
                                              "rope_layout"}
    assert r["pixel_values"].a == r["pixel_values"].b and r["grid_thw"].a == [8, 72, 40]
    assert r["special_ids"].b == [248053, 248054, 248056, 248057]
    assert r["input_ids"].detail == "token 0: 151644 ≠ 248045"  # <|im_start|> in each vocabulary
    assert r["position_ids"].detail == "tokens 0..5835 =; 5836 vs 5838"  # + "<think>\n"
    assert "[11, 11, 10]" in r["rope_layout"].b and "rotary 64/256" in r["rope_layout"].b
    # the MoE sibling differs from Qwen3-VL in its model classes only
    assert [d.key for d in compare(q3, explain(CLIP, model="qwen3-vl-moe")).differences] == ["model"]


def test_pixel_row_differs_where_the_pixels_do(q25, q3):
    r = rows(compare(q25, q3))
    assert r["pixel_values"].differs  # 14 px CLIP-normalized rows vs 16 px rows at 0.5 / 0.5
    assert not rows(compare(q25, explain(CLIP, model="qwen2-vl")))["pixel_values"].differs
    assert rows(compare(q3, explain(CLIP, model="qwen3-vl", fps=4.0)))["pixel_values"].differs


def test_same_settings_have_no_differences(q25):
    c = compare(q25, explain(CLIP, model="qwen2.5-vl", fps=2.0))
    assert c.differences == () and "no differences" in c.explanation


def test_fps_2_vs_4_takes_twice_the_frames(q25):
    c = compare(q25, explain(CLIP, model="qwen2.5-vl", fps=4.0))
    r = rows(c)
    assert (r["nframes"].a, r["nframes"].b) == (16, 32)
    assert r["vision_tokens"].b == 2 * r["vision_tokens"].a and "+5760" in r["vision_tokens"].detail
    assert r["sample_fps"].differs and r["second_per_grid_ts"].b == pytest.approx(2 / (32 / 249 * 30))
    assert "only in a:" in r["frame_indices"].detail


def test_official_vs_processor_frame_indices_follow_each_tool(q25):
    r = rows(compare(q25, explain(CLIP, model="qwen2.5-vl", pipeline="processor")))
    assert r["frame_indices"].a == QVU_INDICES and r["frame_indices"].b == HF_QWEN2_INDICES
    assert r["frame_indices"].detail.startswith("1 in common")
    assert r["resized_size"].b == [1288, 728]  # the Hub per-frame budget does not shrink 720p


def test_image_vs_video_rows_are_not_applicable_for_the_image(q25):
    img = explain("assets/sample_image.jpg", model="qwen2.5-vl")
    r = rows(compare(img, q25))
    assert r["nframes"].a is None and r["frame_indices"].a is None and r["time_ids"].a is None
    assert not compare(img, q25).same_media


# ---- version differences ------------------------------------------------------------------------

def test_applicable_differences_per_family_and_media(q25, q3):
    assert list(diffs(q25)) == ["text_resume", "int_cast_time_ids", "second_per_grid_ts_source", "video_budget",
                                "frame_indices", "video_backend"]
    assert list(diffs(q3)) == ["text_resume", "qwen3_outer_wrapper", "video_budget", "frame_indices", "video_backend"]
    img = explain("assets/sample_image.jpg", model="qwen2-vl")
    assert list(diffs(img)) == ["text_resume", "image_budget"]
    for d in version_differences(q25) + version_differences(q3):
        assert d.key in VERSION_KEYS and sum(v.shown for v in d.variants) <= 1
        json.dumps([v.value for v in d.variants])


def test_text_resume_agrees_on_the_sample_clip(q25):
    d = diffs(q25)["text_resume"]
    assert not d.differs  # time ids 0..14 stay within the 36 x 20 merged grid
    assert d.variants[0].value == d.variants[1].value == {"next_text_position": 15 + 36, "rope_deltas": -5724}
    assert d.variants[0].shown


def test_text_resume_differs_when_time_outruns_space_and_matches_transformers(media_files):
    from test_rope import oracle_positions

    clip = media_files.video("mp4", width=64, height=48, fps=10, frames=40, gop=10)
    trace = explain(clip, model="qwen2.5-vl", min_pixels=3136, max_pixels=3136)  # 56x56: merged 2x2
    assert trace.patchify.grid_thw == (4, 4, 4) and trace.prompt.second_per_grid_ts == pytest.approx(1.0)
    d = diffs(trace)["text_resume"]
    assert d.differs
    release, new = (v.value for v in d.variants)
    s = trace.rope.runs[0].start_position
    assert release["next_text_position"] == s + 6 + 1  # time ids 0, 2, 4, 6: max + 1
    assert new["next_text_position"] == s + 4 // 2  # s + max(h, w) / merge
    pos, delta = oracle_positions("qwen2.5-vl", trace.input_ids, trace.prompt.mm_token_type_ids,
                                  video_grids=[list(trace.patchify.grid_thw)], spg=[trace.prompt.second_per_grid_ts])
    assert new == {"next_text_position": int(pos[0, trace.prompt.runs[-1].end]), "rope_deltas": delta}


def test_int_cast_time_ids_collapse_below_one_second_per_group():
    trace = explain(CLIP, model="qwen2.5-vl", fps=4.0)  # second_per_grid_t = 2 / (32/249*30) = 0.51875
    d = diffs(trace)["int_cast_time_ids"]
    assert d.differs and "every group gets time id 0" in d.explanation
    floats, casted = (v.value for v in d.variants)
    assert floats == list(range(16)) and casted == [0] * 16  # long(k * 0.51875 * 2) vs k * int(0.51875) * 2
    assert "4.5x" in d.variants[1].versions and "5.23" in d.variants[0].versions


def test_int_cast_is_harmless_at_2_fps(q25):
    d = diffs(q25)["int_cast_time_ids"]
    assert not d.differs and d.variants[0].value == d.variants[1].value == [0, 2, 4, 6, 8, 10, 12, 14]


def test_second_per_grid_ts_without_metadata_falls_back_to_24_fps(q25):
    d = diffs(q25)["second_per_grid_ts_source"]
    good, fallback = (v.value for v in d.variants)
    assert good["second_per_grid_ts"] == pytest.approx(1.0375) and fallback["second_per_grid_ts"] == pytest.approx(2 / 24)
    assert fallback["time_ids"] == [0, 0, 0, 0, 0, 0, 1, 1]  # long(k * 2/24 * 2)


def test_qwen3_outer_wrapper_adds_two_tokens(q3):
    d = diffs(q3)["qwen3_outer_wrapper"]
    release, kept = (v.value for v in d.variants)
    assert kept["prompt_tokens"] - release["prompt_tokens"] == 2 and release["prompt_tokens"] == q3.prompt.num_tokens
    assert d.variants[0].shown and not d.variants[1].shown and "5.12" in d.variants[1].versions
    other = explain(CLIP, model="qwen3-vl", qwen3_outer_wrapper=True)
    assert [v.shown for v in diffs(other)["qwen3_outer_wrapper"].variants] == [False, True]


def test_qwen3_budget_per_frame_vs_whole_clip(q3):
    d = diffs(q3)["video_budget"]
    official, processor, capped = (v.value for v in d.variants)
    assert official["resized"] == [1152, 640] and official["grid_thw"] == [8, 72, 40]
    assert processor["resized"] == [1280, 704] and processor["grid_thw"] == [8, 80, 44]  # 22.5 -> 22 tokens wide
    assert capped["resized"] == [1152, 640]
    assert d.differs and "whole clip" in d.title
    shown = explain(CLIP, model="qwen3-vl", pipeline="processor", cap_pixels_per_frame=True)
    assert [v.shown for v in diffs(shown)["video_budget"].variants] == [False, False, True]


def test_frame_indices_qvu_vs_processor(q25, q3):
    a, b = (v.value for v in diffs(q25)["frame_indices"].variants)
    assert a["indices"] == QVU_INDICES and b["indices"] == HF_QWEN2_INDICES
    assert not diffs(q3)["frame_indices"].differs  # Qwen3's sample_frames picks the same 16 here


def test_trimmed_clip_has_no_processor_variant():
    trace = explain(CLIP, model="qwen3-vl", video_start=1.0)
    d = diffs(trace)["frame_indices"]
    assert d.variants[1].value.startswith("not available: video_start / video_end")
    assert d.differs
