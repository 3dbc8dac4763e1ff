#!/usr/bin/env bash
# Set up livevis (system packages, .venv) and run the visualizer on the embedded default model.
#   With a screen: a window reacting to the microphone (or to a test signal when there is none).
#   Without a screen: renders 10 s headless through EGL and records out/demo.mp4 at 1920x1080.
# Extra arguments go to `livevis run` (e.g. --input song.mp3, --fullscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
LV=.venv/bin/livevis

input=(--input mic)
if ! "$LV" devices >/dev/null 2>&1; then
  echo "livevis demo: no microphone found, playing a music track (tests/data/music/hiphop_90.flac)."
  echo "              with a mic:  $LV run --input mic   (pick one with --device, see: $LV devices)"
  input=(--input tests/data/music/hiphop_90.flac)
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "livevis demo: opening the window (q/Esc quit, f fullscreen, space new seed, s stats, e effect)"
  exec "$LV" run "${input[@]}" "$@"
fi
mkdir -p out
echo "livevis demo: no display: rendering 10 s headless to out/demo.mp4 (1920x1080, the input's own sound)"
# Full HD through the output stage (the model's upscaler); a small offscreen preview beside it.
"$LV" run "${input[@]}" --headless --seconds 10 --out-size 1920x1080 --size 480 --record out/demo.mp4 "$@"
echo "livevis demo: wrote out/demo.mp4 (play it with any video player)"
