#!/usr/bin/env bash
# Set up livevis on a fresh Debian/Ubuntu machine: system libraries (PortAudio, PulseAudio for the
# test microphone rig, Xvfb and Mesa for windows without a screen), a virtual environment in .venv,
# and livevis itself. Safe to run again.
#   usage: bash scripts/setup.sh [dev]     ("dev" also installs the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libportaudio2 pulseaudio pulseaudio-utils xvfb libegl1 libgl1 libgl1-mesa-dri libglfw3 python3-venv
              espeak-ng fluidsynth fluid-soundfont-gm sox)  # the last four: training backgrounds, the test music set
# The test tools: headless Chromium for the web control page, the ALSA sequencer library for MIDI.
DEV_APT_PACKAGES=(chromium chromium-driver libasound2)
[ "${1:-}" = "dev" ] && APT_PACKAGES+=("${DEV_APT_PACKAGES[@]}")

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "livevis setup: installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# PyTorch's x86_64 wheel with its CUDA libraries takes about 6.5 GB in .venv: say so before pip runs out.
free_kb=$(df -Pk . | awk 'NR==2 {print $4}')
if [ ! -x .venv/bin/python ] && [ "${free_kb:-0}" -lt $((7 * 1024 * 1024)) ]; then
  echo "livevis setup: warning: $((free_kb / 1024)) MB free here; the virtual environment needs about 7 GB" >&2
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extra=""
[ "${1:-}" = "dev" ] && extra="[dev,ndi]"  # ndi: the NDI send/receive test (cyndilib; proprietary NDI runtime)
.venv/bin/python -m pip install -q --no-cache-dir --upgrade pip
.venv/bin/python -m pip install -q --no-cache-dir -e ".${extra}"
echo "livevis setup: ready (.venv/bin/livevis)"
