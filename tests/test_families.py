"""Families as data: the stages read the profile's fields, not the family's identity."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from qwenvl_viz.profiles import PROFILES, Family, Pipeline, get_profile
from qwenvl_viz.prompt import VisionInput, build_prompt
from qwenvl_viz.resize import plan_resize
from qwenvl_viz.sampling import sample_frames

STAGES = ("sampling.py", "resize.py", "rope.py", "prompt.py", "reproduce.py", "versions.py")


def test_stages_do_not_branch_on_family_identity():
    root = Path(__file__).resolve().parents[1] / "qwenvl_viz"
    for name in STAGES:
        hits = [ln for ln in (root / name).read_text().splitlines() if re.search(r"Family\.QWEN", ln)]
        assert hits == [], (name, hits)


def test_no_module_outside_the_profiles_names_a_family():
    """Every module reads profile fields; the tower registry is keyed by model_type, whose family is the
    profile that lists it (ModelProfile.model_types)."""
    root = Path(__file__).resolve().parents[1] / "qwenvl_viz"
    hits = {}
    for path in root.rglob("*.py"):
        rel = path.relative_to(root).as_posix()
        lines = [ln for ln in path.read_text().splitlines() if re.search(r"Family\.QWEN", ln)]
        if lines and rel != "profiles.py":
            hits[rel] = lines
    assert hits == {}, hits


def test_every_registry_model_type_belongs_to_one_family_and_every_family_has_a_tower():
    from qwenvl_viz.encoder.config import FAMILY_OF_TYPE, TOWER_KINDS, tower_kind
    from qwenvl_viz.profiles import PROFILES

    types = [t for p in PROFILES.values() for t in p.model_types]
    assert len(types) == len(set(types))  # one family per model_type
    assert {t.removesuffix("_vision") for t in TOWER_KINDS} == set(types) == set(FAMILY_OF_TYPE)
    for p in PROFILES.values():
        assert tower_kind(p.family) is TOWER_KINDS[p.model_types[0]]


def test_tower_sizes_are_profile_data_read_by_the_presets_and_the_picker():
    from qwenvl_viz.encoder import DEFAULT_PRESET, PRESETS
    from qwenvl_viz.ui.towers import HUB_TOWERS

    names = [t.preset for p in PROFILES.values() for t in p.towers]
    assert list(PRESETS) == names and len(set(names)) == len(names)
    for p in PROFILES.values():
        assert DEFAULT_PRESET[p.family] == p.default_tower in {t.preset for t in p.towers}
        assert HUB_TOWERS[p.family] == p.checkpoints
        for t in p.towers:
            c = PRESETS[t.preset]
            assert c.family is p.family and (c.depth, c.hidden_size, c.intermediate_size, c.num_heads,
                                             c.out_hidden_size) == (t.depth, t.hidden_size, t.intermediate_size,
                                                                    t.num_heads, t.out_hidden_size)
            assert c.pixel_format == p.pixel_format  # a family's own towers read its pixels
    repos = [r for p in PROFILES.values() for r, _ in p.checkpoints]
    assert len(set(repos)) == len(repos) and all(r.startswith("Qwen/") for r in repos)


def test_default_system_turn_is_the_profile_field():
    q25 = get_profile("qwen2.5-vl")
    custom = dataclasses.replace(q25, default_system="Be brief.")
    text = build_prompt(custom, [VisionInput("image", (1, 4, 4))], "Hi").template_text
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n")
    none = dataclasses.replace(q25, default_system=None)
    assert build_prompt(none, [VisionInput("image", (1, 4, 4))], "Hi").template_text.startswith("<|im_start|>user")


def test_timestamps_field_drives_the_video_layout():
    q3 = get_profile("qwen3-vl")
    item = VisionInput("video", (2, 4, 4), frame_indices=(0, 10, 20, 30), video_fps=10.0, sample_fps=2.0)
    on = build_prompt(q3, [item], "Hi")
    off = build_prompt(dataclasses.replace(q3, timestamps=False), [item], "Hi")
    assert on.timestamp_strings == ("<0.5 seconds>", "<2.5 seconds>")
    assert off.timestamp_strings is None and len(off.runs) == 1 and len(on.runs) == 2


def test_sampling_rule_field_picks_the_video_processor_rule():
    q2 = get_profile("qwen2-vl")
    as_q3 = dataclasses.replace(q2, sampling_rule="qwen3")
    args = dict(total_frames=100, video_fps=25.0)
    assert "Qwen2VLVideoProcessor" in sample_frames(q2, Pipeline.PROCESSOR, **args).rule
    got = sample_frames(as_q3, Pipeline.PROCESSOR, **args)
    assert "Qwen3VLVideoProcessor" in got.rule
    assert got.indices == sample_frames(get_profile("qwen3-vl"), Pipeline.PROCESSOR, **args).indices


def test_budget_and_resize_rules_are_profile_fields():
    q3 = get_profile("qwen3-vl")
    assert not q3.official_processor_resize and q3.processor_video_budget_whole_clip
    q2 = PROFILES[Family.QWEN2_VL]
    off = plan_resize(q2, Pipeline.OFFICIAL, "image", 480, 640)
    no_re = plan_resize(dataclasses.replace(q2, official_processor_resize=False), Pipeline.OFFICIAL, "image", 480, 640)
    assert len(off.steps) == len(no_re.steps) + 1


def test_reproduce_snippet_names_the_profile_classes():
    for profile in PROFILES.values():
        proc, cfg, module, model = profile.hf_classes
        assert proc.endswith("Processor") and cfg.endswith("Config") and model.endswith("Model")
        assert module.split(".")[1] == "modeling_" + module.split(".")[0]
        assert profile.video_processor_class.endswith("VideoProcessor")
