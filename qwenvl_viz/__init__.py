"""qwenvl-viz: how Qwen2-VL, Qwen2.5-VL and Qwen3-VL turn an image or a video into vision tokens.

>>> import qwenvl_viz
>>> trace = qwenvl_viz.explain("assets/sample_clip.mp4", model="qwen2.5-vl", fps=2.0)  # doctest: +SKIP
"""

from .errors import VizError
from .profiles import PROFILES, Family, ModelProfile, Pipeline, get_profile

__all__ = [
    "explain",
    "Trace",
    "Params",
    "Budget",
    "VizError",
    "ModelProfile",
    "Family",
    "Pipeline",
    "PROFILES",
    "get_profile",
]


def __getattr__(name: str):
    if name == "Budget":
        from .params import Budget

        return Budget
    # The stages import torch / PyAV; keep `import qwenvl_viz` (profiles, errors) light.
    if name in ("explain", "Trace", "Params"):
        from . import trace

        return getattr(trace, name)
    raise AttributeError(f"module 'qwenvl_viz' has no attribute {name!r}")
