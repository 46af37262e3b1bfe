"""Many concurrent visitors: latency percentiles of a page update and the server's memory (prints numbers).

    .venv/bin/python bench/load.py [--sessions 20] [--seconds 60] [--heavy 2] [--think 0]
                                   [--endpoint glance|update] [--url URL]

Starts ``python app.py`` on a free port (or uses ``--url``) and waits until its start-up warm-up is over
(it logs "warm-up finished"), then ``--sessions`` gradio_client sessions each change settings on the bundled clip
(fps, max_pixels, model, pipeline) as fast as the server answers (or after ``--think`` seconds on average,
as a visitor who looks at each answer), for ``--seconds``. Each change asks for what a visitor's page asks
for (``/update_glance``: the first screen; the details tab is painted only while on screen), or with
``--endpoint update`` for every view at once (the API's ``/update``). ``--heavy`` more sessions send
requests past the default budget (patch_size 1 on the processor pipeline), which must be refused without
slowing the others. Prints p50 / p95 / max latency of the light sessions, the refusal latency of the heavy
ones, and the server's RSS (start, peak, end) read from /proc.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.client import Endpoint  # noqa: E402

from qwenvl_viz.ui.handlers import GLANCE_OUTPUTS  # noqa: E402
from qwenvl_viz.ui.wiring import PAINT_NAMES  # noqa: E402
from qwenvl_viz.ui.layout import REQUEST_FIELDS, UPDATE_OUTPUTS, VIEW_FIELDS  # noqa: E402
from qwenvl_viz.ui.state import Request  # noqa: E402
from qwenvl_viz.ui.views import ViewOptions  # noqa: E402

CLIP = str(ROOT / "assets" / "sample_clip.mp4")
CHANGES = [dict(fps=f) for f in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0)] + [
    dict(max_pixels=200704.0), dict(max_pixels=401408.0), dict(model="qwen3-vl"), dict(model="qwen2-vl"),
    dict(pipeline="processor"), dict(model="qwen3-vl", fps=3.0),
]
# past the default token budget (1.8M and 0.47M vision tokens); alternated so each answer is a new banner
HEAVY = [dict(pipeline="processor", patch_size=1.0), dict(pipeline="processor", patch_size=2.0)]


def _defaults() -> dict:
    out: dict = {"lang": "English"}
    for f in dataclasses.fields(Request):
        if f.name in REQUEST_FIELDS and f.name != "media":
            v = f.default_factory() if f.default is dataclasses.MISSING else f.default  # decoder: read at call time
            out[f.name] = (0 if f.type in ("float | None", "int | None") else "") if v is None else v
    view = ViewOptions()
    for name in VIEW_FIELDS:
        v = getattr(view, name, None)
        out[name] = 0 if v is None and name != "selected" else ("" if v is None else v)
    return out


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


WARM = threading.Event()


def _read_log(stream) -> None:
    for line in iter(stream.readline, b""):  # keep draining: a full pipe would block the server
        if b"warm-up finished" in line:
            WARM.set()


def wait_until_warm(limit_s: float = 600.0) -> float:
    """Seconds until the server logs the end of its start-up warm-up (bundled examples traced, drawn and
    encoded for every family): measuring before that would time the warm-up's first-time work."""
    t0 = time.monotonic()
    WARM.wait(limit_s)
    return time.monotonic() - t0


def start_server() -> tuple[str, subprocess.Popen]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    threading.Thread(target=_read_log, args=(proc.stderr,), daemon=True).start()
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            Client(url, verbose=False)
            return url, proc
        except Exception:  # not listening yet
            time.sleep(1.0)
    proc.kill()
    raise SystemExit("the app did not start within 180 s")


_upload = Endpoint._upload_file


def _upload_once(self, f: dict, data_index: int) -> dict:
    """A page uploads its file once and then sends the uploaded file's reference with every change;
    gradio_client would upload it again on every call (per client, so sessions stay apart)."""
    memo = self.client.__dict__.setdefault("_uploaded", {})
    if f["path"] not in memo:
        memo[f["path"]] = _upload(self, f, data_index)
    return dict(memo[f["path"]])


Endpoint._upload_file = _upload_once


# what a visitor's page asks for on a change (the glance; the details tab only while on screen), or every view
ENDPOINTS = {"glance": ("/update_glance", GLANCE_OUTPUTS), "update": ("/update", UPDATE_OUTPUTS)}


def session(url: str, until: float, seed: int, heavy: bool, out: list, errors: list, think: float = 0.0,
            endpoint: str = "glance", fetch: bool = True) -> None:
    rng = random.Random(seed)
    client = Client(url, verbose=False, download_files=fetch)
    media = handle_file(CLIP)
    base = _defaults()
    api, names = ENDPOINTS[endpoint]
    bi = names.index("banner")
    k = 0
    while time.monotonic() < until:
        change = HEAVY[k % 2] if heavy else rng.choice(CHANGES)
        k += 1
        t0 = time.perf_counter()
        try:
            args = {**base, **change, "media": media}
            if endpoint == "update":
                res = client.predict(**args, api_name=api)
            else:  # not in the API docs, so no keywords: the paint's inputs in order (not the session state)
                res = client.predict(*(args[n] for n in PAINT_NAMES if n != "sent"), api_name=api)
        except Exception as e:  # a queue-full or transport error counts, it is not hidden
            errors.append(f"{type(e).__name__}: {e}")
            continue
        dt = time.perf_counter() - t0
        banner = str(res[bi])
        refused = "banner-error" in banner
        out.append((dt, refused, k == 1))  # the first request also uploads the file: reported apart
        if think:  # a visitor looks at the answer before the next change
            time.sleep(rng.uniform(0.5, 1.5) * think)


def _clients(url: str, until: float, plan: list, endpoint: str, fetch: bool, results) -> None:
    """One client process: its share of the sessions, each on a thread (one process for all of them
    would make this client's own GIL the bottleneck)."""
    light: list = []
    heavy: list = []
    errors: list = []
    threads = [threading.Thread(target=session, args=(url, until, seed, is_heavy, heavy if is_heavy else light,
                                                      errors, think, endpoint, fetch))
               for seed, is_heavy, think in plan]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put((light, heavy, errors))


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--heavy", type=int, default=2, help="extra sessions sending over-budget requests")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean seconds a light session waits after an answer (0: the next change at once)")
    ap.add_argument("--endpoint", choices=sorted(ENDPOINTS), default="glance",
                    help="glance: what a visitor's page asks for on a change; update: every view (the API's /update)")
    ap.add_argument("--no-fetch", action="store_true",
                    help="the clients do not download the pictures an answer links to (a browser fetches them on "
                         "its own CPU; here the clients share the server's two cores)")
    ap.add_argument("--procs", type=int, default=4, help="client processes the sessions are spread over")
    ap.add_argument("--url", default=None, help="an app already running (RSS then not measured)")
    args = ap.parse_args()
    proc = None
    url = args.url
    if url is None:
        url, proc = start_server()
        print(f"server warm-up over after {wait_until_warm():.0f} s more", flush=True)
    rss: list[float] = []
    stop = threading.Event()

    def sample() -> None:
        while proc is not None and not stop.is_set():
            rss.append(rss_mb(proc.pid))
            stop.wait(1.0)

    until = time.monotonic() + args.seconds + 5.0  # the client processes start first
    plan = [(i, False, args.think) for i in range(args.sessions)] + [(1000 + i, True, 0.0) for i in range(args.heavy)]
    ctx = multiprocessing.get_context("fork")  # before any thread of ours: the clients inherit a clean state
    results = ctx.Queue()
    procs = [ctx.Process(target=_clients, args=(url, until, plan[k::args.procs], args.endpoint,
                                                           not args.no_fetch, results))
             for k in range(args.procs)]
    for p in procs:
        p.start()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    time.sleep(5.0)
    cpu0 = cpu_seconds(proc.pid) if proc is not None else None
    light: list = []
    heavy: list = []
    errors: list = []
    for _ in procs:
        got_light, got_heavy, got_errors = results.get()
        light += got_light
        heavy += got_heavy
        errors += got_errors
    for p in procs:
        p.join()
    stop.set()
    first = [dt for dt, _, is_first in light if is_first]
    lat = [dt for dt, _, is_first in light if not is_first]
    print(f"{args.sessions} light sessions (think {args.think:g} s, {ENDPOINTS[args.endpoint][0]}) x "
          f"{args.seconds:g} s on {os.cpu_count()} CPUs: {len(lat)} updates, "
          f"{sum(r for _, r, _ in light)} refused, {len(errors)} errors")
    print(f"light update latency: p50 {pct(lat, 0.5):.3f} s  p95 {pct(lat, 0.95):.3f} s  max {max(lat, default=0):.3f} s")
    print(f"each session's first request (upload + first paint, all at once): p50 {pct(first, 0.5):.3f} s  "
          f"max {max(first, default=0):.3f} s")
    if heavy:
        hl = [dt for dt, _, _ in heavy]
        print(f"{args.heavy} heavy sessions: {len(hl)} requests, {sum(r for _, r, _ in heavy)} refused; "
              f"p50 {pct(hl, 0.5):.3f} s  p95 {pct(hl, 0.95):.3f} s (round trip, queue included)")
    if cpu0 is not None and lat:
        print(f"server CPU: {(cpu_seconds(proc.pid) - cpu0) / (len(lat) + len(heavy)):.3f} s per request "
              f"(the rest of a round trip is queueing and this client's own work on the same CPUs)")
    if rss:
        print(f"server RSS: start {rss[0]:.0f} MB  peak {max(rss):.0f} MB  end {rss[-1]:.0f} MB")
    for e in errors[:5]:
        print("error:", e[:200])
    if proc is not None:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
