#!/usr/bin/env bash
# Set up a fresh machine and run the whole test suite (the README's test command; .ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: chromium + CJK fonts for the browser tests, ffmpeg to write rotated test clips.
need=()
command -v chromium >/dev/null || need+=(chromium)
fc-list 2>/dev/null | grep -qi "noto sans cjk" || need+=(fonts-noto-cjk)
command -v ffmpeg >/dev/null || need+=(ffmpeg)
# torchcodec 0.13.0 (a test oracle) loads the system FFmpeg 5.1 libraries
for lib in libavcodec59 libavformat59 libavutil57 libswscale6 libswresample4 libavdevice59 libavfilter8; do
  dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "note: missing ${need[*]} (run as root to install); browser/rotation tests will be skipped" >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
pip_install() { .venv/bin/pip install -q "$@" 2> >(grep -v "WARNING: Location" >&2); }
pip_install -r requirements-test.txt
pip_install --no-deps -r requirements-nodeps.txt
exec .venv/bin/python -m pytest "$@"
