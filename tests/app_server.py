"""One app server for the whole test session (gradio_client tests and browser tests share it).

``running_app()`` builds the demo, launches it on a free local port in this process, and returns its URL;
later calls return the same server. It is closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_STATE: dict = {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def running_app() -> tuple[str, object]:
    """``(url, demo)`` of the shared server, started on first use."""
    if "url" not in _STATE:
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import app  # the real entry point: same queue, limits and launch arguments as `python app.py`

        demo = app.build_demo(app.AppConfig(max_duration_s=600.0))
        port = free_port()
        app.launch(demo, host="127.0.0.1", port=port, max_upload_mb=20, prevent_thread_lock=True, quiet=True)
        app.warm_up()  # as `python app.py` does while it starts: the examples are traced and drawn once
        _STATE.update(url=f"http://127.0.0.1:{port}/", demo=demo)
        atexit.register(demo.close)
    return _STATE["url"], _STATE["demo"]
