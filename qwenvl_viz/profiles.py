"""Per-family constants, named as the reference names them.

Sources (cited once here; see shared/reference/qwen-vl-pipeline.md for the worked numbers):
- qwen-vl-utils 0.0.14 ``vision_process.py``: IMAGE_MIN/MAX_TOKEN_NUM, VIDEO_MIN/MAX_TOKEN_NUM,
  FPS, FRAME_FACTOR, FPS_MIN/MAX_FRAMES, MODEL_SEQ_LEN, MAX_RATIO.
- Hub ``preprocessor_config.json`` / ``video_preprocessor_config.json`` for the processor budgets
  (Qwen2/2.5 videos fall back to the image config's size: per-frame 3136..12845056 px).
- transformers 5.23 ``image_processing_qwen2_vl.py`` (OPENAI_CLIP_MEAN/STD), Qwen3-VL configs
  (mean/std 0.5, patch 16), Qwen2.5-VL ``tokens_per_second`` = 2 in every Hub config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "Family",
    "Pipeline",
    "Decoder",
    "ModelProfile",
    "PROFILES",
    "get_profile",
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

# Special token ids, identical in all three families' tokenizers.
VISION_START_ID = 151652
VISION_END_ID = 151653
IMAGE_PAD_ID = 151655
VIDEO_PAD_ID = 151656


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
    video_processor_class: str
    llm_head_dim: int = 128

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
        video_processor_class="Qwen2VLVideoProcessor",
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
        video_processor_class="Qwen2VLVideoProcessor",
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
        video_processor_class="Qwen3VLVideoProcessor",
    ),
}


def get_profile(model: str | Family) -> ModelProfile:
    try:
        return PROFILES[Family(model)]
    except ValueError:
        from .errors import VizError

        allowed = ", ".join(f.value for f in Family)
        raise VizError(f"unknown model {model!r}; allowed: {allowed}", field="model") from None
