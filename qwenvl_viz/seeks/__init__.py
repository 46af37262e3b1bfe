"""Which picture torchcodec 0.13.0 and decord 0.6.0 return for frame ``k`` of a video with B-frames."""

from .decord import *  # noqa: F403
from .decord import B_VOP, H264_DRAIN_PICTURES, NAL_UNKNOWN, REF, REF_PACKED_B, SLOT, __all__  # noqa: F401
