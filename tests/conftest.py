"""Test setup. The torchvision shim must run before anything imports transformers / qwen_vl_utils.

The on-disk torchvision 0.28.0 is a CUDA build; beside CPU torch 2.13.0 its C++ ops never register
and ``import torchvision`` fails on ``register_fake("torchvision::nms")``. Declaring the two op
schemas first lets the pure-torch parts (transforms) import; see shared/reference/environment.md.
"""

import atexit
import os
import shutil
import sys
import tempfile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("FORCE_QWENVL_VIDEO_READER", "decord")
if "QWENVL_VIZ_CACHE_DIR" not in os.environ:  # this session's own start-up cache (qwenvl_viz.disk_cache)
    os.environ["QWENVL_VIZ_CACHE_DIR"] = tempfile.mkdtemp(prefix="qwenvl_viz_cache_")
    atexit.register(shutil.rmtree, os.environ["QWENVL_VIZ_CACHE_DIR"], True)

import torch  # noqa: E402

try:
    import torchvision  # noqa: F401
except RuntimeError:
    for _m in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[_m]
    _lib = torch.library.Library("torchvision", "DEF")
    _lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    import torchvision  # noqa: F401
except ImportError:
    pass
