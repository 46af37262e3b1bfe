"""qwenvl-viz web app: ``python app.py`` serves http://127.0.0.1:7860 (the Hugging Face Space's app_file).

    python app.py --host 127.0.0.1 --port 7860 [--share] [--checkpoint DIR|OWNER/NAME] [--max-upload-mb 200]
                  [--max-duration-s 600] [--max-vision-tokens N] [--max-pixel-bytes N] ...

``GRADIO_SERVER_PORT`` / ``GRADIO_SERVER_NAME`` are honoured when --port / --host are not given.
Importing this module launches nothing: ``build_demo()`` returns the Blocks (``app.demo`` builds one
with the defaults on first access), so tests can drive it.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading

from qwenvl_viz.params import add_budget_arguments, budget_from_args
from qwenvl_viz.ui.handlers import all_families
from qwenvl_viz.ui.layout import AppConfig, build_demo, launch_kwargs, warm_up
from qwenvl_viz.ui.state import set_budget

__all__ = ["build_demo", "main", "parse_args", "launch", "warm_up", "AppConfig", "DEFAULT_PORT", "QUEUE_SIZE"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
QUEUE_SIZE = 64  # waiting events beyond this get "queue full" instead of piling up


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="qwenvl-viz: how Qwen-VL turns an image or video into vision tokens")
    p.add_argument("--host", default=None, help=f"address to bind (default: $GRADIO_SERVER_NAME or {DEFAULT_HOST})")
    p.add_argument("--port", type=int, default=None, help=f"port (default: $GRADIO_SERVER_PORT or {DEFAULT_PORT})")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--checkpoint", default=None, metavar="DIR|OWNER/NAME[@REV]",
                   help="real encoder weights: a local checkpoint folder, or a Hub repo id whose vision tensors "
                        "alone are fetched on first use (default: the tower picker's choice)")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest accepted upload in MB (default 200)")
    p.add_argument("--max-duration-s", type=float, default=600.0,
                   help="longest accepted video in seconds (default 600)")
    p.add_argument("--concurrency", type=int, default=4, help="preprocessing requests served at once (default 4)")
    add_budget_arguments(p)  # --max-vision-tokens, --max-sampled-frames, --max-pixel-bytes
    return p.parse_args(argv)


def launch(demo, *, host: str | None = None, port: int | None = None, share: bool = False,
           max_upload_mb: float = 200.0, **kwargs):
    """Queue (concurrency-limited) and serve ``demo``; kwargs go to ``Blocks.launch``."""
    host = host or os.environ.get("GRADIO_SERVER_NAME") or DEFAULT_HOST
    port = port or int(os.environ.get("GRADIO_SERVER_PORT") or DEFAULT_PORT)
    demo.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=f"{max_upload_mb:g}mb",
                       show_error=False, **launch_kwargs(), **kwargs)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    cfg = AppConfig(checkpoint=args.checkpoint, max_duration_s=args.max_duration_s,
                    max_upload_mb=args.max_upload_mb, concurrency=args.concurrency)
    set_budget(budget_from_args(args))
    demo = build_demo(cfg)
    # decode and render the bundled examples while the server starts: the first page paints at once
    # the page's default family first (its first paint), then the others (their heatmaps when picked)
    families = all_families()
    threading.Thread(target=warm_up, kwargs=dict(checkpoint=args.checkpoint, families=families), name="warm-up",
                     daemon=True).start()
    launch(demo, host=args.host, port=args.port, share=args.share, max_upload_mb=args.max_upload_mb)


def __getattr__(name: str):
    if name == "demo":  # `import app; app.demo` (gradio's reload mode, notebooks): built on first use
        globals()["demo"] = build_demo()
        return globals()["demo"]
    raise AttributeError(f"module 'app' has no attribute {name!r}")


if __name__ == "__main__":
    main()
