#!/usr/bin/env bash
# Regenerate the embedded default bundle (livevis/data/default) end to end with livevis's own
# commands and fixed seeds:
#
#   prepare --synthetic -> train generator -> train clip -> train audio --clip -> train video
#   --generator --clip --init -> train sound-classes (attached to the bundle) -> train sound-tokens
#   -> train text-sound (attached)
#   -> prepare a high-resolution synthetic set -> train upscaler (attached) -> eval -> fp16 copy
#
# Every stage resumes: re-running continues an interrupted stage from its last checkpoint and skips
# finished ones, so the recipe can be spread over several sessions (GPU or background CPU).
#
# Usage: scripts/make_default_bundle.sh [PROFILE]
#   PROFILE names scripts/default-bundle-PROFILE.env, knob settings read first (the environment still
#   overrides them). `cpu128` is the shipped default: 128 px, sized for a 2-core CPU (about five hours,
#   over several sessions); `cpu` made the first one (64 px, about an hour and a half).
#
# Knobs (environment variables; empty = the stage preset's value):
#   WORK=build/default-bundle   where the dataset and runs go
#   OUT=livevis/data/default    where the fp16 bundle is written (replaced whole)
#   PRESET=default              stage presets (tiny: seconds on CPU, for smoke runs)
#   SEED=0                      dataset and run seed
#   CLIPS=900 SIZE=256 FPS=10 CLIP_SECONDS=2 WORKERS=2     the synthetic set
#   GEN_STEPS CLIP_STEPS AUDIO_STEPS VIDEO_STEPS TOKENS_STEPS TEXT_SOUND_STEPS   optimisation steps per stage
#   GEN_BATCH CLIP_BATCH AUDIO_BATCH VIDEO_BATCH TOKENS_BATCH TEXT_SOUND_BATCH   global batch per stage
#   GEN_SET CLIP_SET AUDIO_SET VIDEO_SET TOKENS_SET TEXT_SOUND_SET               extra `--set K=V ...` per stage
#   DEVICE=                     cpu | cuda (default: cuda when available)
#   EVAL_CLIPS=                 held-out clips measured by `livevis eval` (default: all)
#   LIVEVIS=livevis             the livevis command (e.g. ".venv/bin/livevis")
#   DESCRIPTION=                the bundle's description (default: built from its size, hardware,
#                               training time and eval figures)
#   UP_CLIPS=90 UP_SIZE=4*SIZE  the upscaler's high-resolution synthetic set (real frames at the
#                               output size the x4 upscaler learns to reach)
#   UP_STEPS UP_BATCH UP_SET    the upscaler stage's steps, batch, `--set` items
#   GEN_BUNDLE=                 build on this generator (a livevis bundle directory, NVlabs .pkl or
#                               rosinality .pt) instead of training one: the generator stage is skipped
#   BASE_BUNDLE=                re-make only the sound class model on a finished bundle (e.g.
#                               livevis/data/default): its generator, CLIP, sound and video models,
#                               text-to-sound pair and upscaler are kept and their stages skipped (a
#                               new machine keeps no WORK, and they took hours); a copy of it becomes
#                               the video stage's bundle, the sound-classes stage runs on it, then eval
#                               and the fp16 bundle as usual, its stage times carried over
#   REAL_SOUNDS=                labelled real recordings the audio and video stages mix in (issue 13):
#                               a DIR/<class>/*.flac folder, or `debian` to extract the training set of
#                               scripts/extract_recordings.py (--set train: files from Debian packages,
#                               none of them in the test or validation sets) into WORK/real_sounds
#   REAL_AUDIO_P=0.5 REAL_VIDEO_P=0.3   fraction of windows (audio) / clips (video) that hear one
#   SC_STEPS SC_BATCH SC_SET    the sound-classes stage's steps, batch, `--set` items (it hears the
#                               REAL_SOUNDS recordings too: a real_windows share of its batch)
#   VAL_RECORDINGS=tests/data/recordings-val   labelled real recordings the sound-classes stage
#                               reports window accuracy on (validation only; empty: none)
#   UNTIL=                      stop after this stage (prepare, generator, clip, audio, video,
#                               sound-classes, sound-tokens, text-sound or upscaler)
#
# Smoke run (a minute on CPU):
#   WORK=/tmp/dflt OUT=/tmp/dflt/default PRESET=tiny CLIPS=18 SIZE=32 CLIP_SECONDS=1.5 \
#   GEN_STEPS=4 CLIP_STEPS=4 AUDIO_STEPS=2 VIDEO_STEPS=2 EVAL_CLIPS=3 scripts/make_default_bundle.sh
set -euo pipefail

if [[ $# -gt 1 ]]; then
    echo "usage: scripts/make_default_bundle.sh [PROFILE]" >&2
    exit 2
fi
if [[ $# -eq 1 ]]; then
    profile="$(dirname "$0")/default-bundle-$1.env"
    if [[ ! -f "$profile" ]]; then
        echo "make_default_bundle.sh: no profile '$1' ($profile)" >&2
        exit 2
    fi
    # KEY=VALUE lines; a variable already set in the environment wins
    while IFS= read -r line; do
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        key=${line%%=*}
        value=${line#*=}
        [[ -z "${!key+x}" ]] && export "$key=$value"
    done < "$profile"
fi

WORK=${WORK:-build/default-bundle}
OUT=${OUT:-livevis/data/default}
PRESET=${PRESET:-default}
SEED=${SEED:-0}
CLIPS=${CLIPS:-900}
SIZE=${SIZE:-256}
FPS=${FPS:-10}
CLIP_SECONDS=${CLIP_SECONDS:-2}
WORKERS=${WORKERS:-2}
LIVEVIS=${LIVEVIS:-livevis}
read -r -a LV <<< "$LIVEVIS"

case "${UNTIL:-}" in
    ""|prepare|generator|clip|audio|video|sound-classes|sound-tokens|text-sound|upscaler) ;;
    *) echo "make_default_bundle.sh: UNTIL must be prepare, generator, clip, audio, video, sound-classes, sound-tokens, text-sound or upscaler (got '${UNTIL}')" >&2; exit 2 ;;
esac

DATA="$WORK/data"
GEN_RUN="$WORK/generator"
CLIP_RUN="$WORK/clip"
AUDIO_RUN="$WORK/audio"
VIDEO_RUN="$WORK/video"

say() { printf '\n== %s\n' "$*" >&2; }

# kept NAME: true (and says so) when BASE_BUNDLE provides this stage's part, so the stage is skipped
kept() {
    [[ -n "${BASE_BUNDLE:-}" ]] || return 1
    say "$1: kept from $BASE_BUNDLE (BASE_BUNDLE)"
}

# common_flags STEPS BATCH SETS -> the flags every stage takes (into the array FLAGS)
common_flags() {
    FLAGS=(--preset "$PRESET" --seed "$SEED")
    [[ -n "$1" ]] && FLAGS+=(--steps "$1")
    [[ -n "$2" ]] && FLAGS+=(--batch "$2")
    [[ -n "${DEVICE:-}" ]] && FLAGS+=(--device "$DEVICE")
    local item
    for item in $3; do FLAGS+=(--set "$item"); done
    return 0
}

# stage NAME RUN PRODUCT STEPS BATCH SETS [stage flags...]: train unless PRODUCT exists; resume a started run.
stage() {
    local name=$1 run=$2 product=$3 steps=$4 batch=$5 sets=$6
    shift 6
    if [[ -e "$product" ]]; then
        say "$name: done already ($product)"
        return
    fi
    common_flags "$steps" "$batch" "$sets"
    local resume=()
    [[ -f "$run/config.json" ]] && resume=(--resume)
    say "$name -> $run ${resume[*]}"
    local t0=$SECONDS
    "${LV[@]}" train "$name" --data "$DATA" --out "$run" "${FLAGS[@]}" "${resume[@]}" "$@"
    echo "$name: $((SECONDS - t0)) s" >> "$WORK/times.txt"
}

# until NAME: exit here when UNTIL names this stage (the rest resumes on the next run)
until_done() {
    if [[ "${UNTIL:-}" == "$1" ]]; then
        say "stopping after $1 (UNTIL=$1)"
        exit 0
    fi
}

mkdir -p "$WORK"
say "dataset: $CLIPS synthetic clips, ${SIZE} px, $FPS fps, ${CLIP_SECONDS} s, seed $SEED"
"${LV[@]}" prepare --synthetic "$CLIPS" --out "$DATA" --seed "$SEED" --size "$SIZE" --fps "$FPS" \
    --clip-seconds "$CLIP_SECONDS" --workers "$WORKERS"
until_done prepare

if [[ -n "${BASE_BUNDLE:-}" ]]; then
    [[ -f "$BASE_BUNDLE/config.json" ]] || { echo "make_default_bundle.sh: BASE_BUNDLE=$BASE_BUNDLE is not a bundle directory" >&2; exit 2; }
    if [[ ! -e "$VIDEO_RUN/bundle" ]]; then
        mkdir -p "$VIDEO_RUN"
        rm -rf "$VIDEO_RUN/bundle.tmp"
        cp -r "$BASE_BUNDLE" "$VIDEO_RUN/bundle.tmp"
        mv "$VIDEO_RUN/bundle.tmp" "$VIDEO_RUN/bundle"
    fi
fi

if kept generator; then
    :
elif [[ -n "${GEN_BUNDLE:-}" ]]; then
    [[ -e "$GEN_BUNDLE" ]] || { echo "make_default_bundle.sh: GEN_BUNDLE=$GEN_BUNDLE does not exist" >&2; exit 2; }
    say "generator: building on $GEN_BUNDLE (GEN_BUNDLE; no generator training)"
    GENERATOR="$GEN_BUNDLE"
else
    stage generator "$GEN_RUN" "$GEN_RUN/generator.bundle" "${GEN_STEPS:-}" "${GEN_BATCH:-}" "${GEN_SET:-}"
    GENERATOR="$GEN_RUN/generator.bundle"
fi
until_done generator
if [[ -n "${REAL_SOUNDS:-}" ]]; then
    REAL_DIR="$REAL_SOUNDS"
    if [[ "$REAL_SOUNDS" == debian ]]; then
        REAL_DIR="$WORK/real_sounds"
        if [[ ! -f "$REAL_DIR/MANIFEST.md" ]]; then
            say "real sounds: extracting the training recordings from Debian packages -> $REAL_DIR"
            PYTHON=${PYTHON:-$(dirname "$(command -v "${LV[0]}")")/python}
            [[ -x "$PYTHON" ]] || PYTHON=python3
            "$PYTHON" "$(dirname "$0")/extract_recordings.py" --set train --out "$REAL_DIR"
        fi
    fi
    [[ -d "$REAL_DIR" ]] || { echo "make_default_bundle.sh: REAL_SOUNDS=$REAL_SOUNDS is not a folder" >&2; exit 2; }
    # (beside AUDIO_SET / VIDEO_SET, which the provenance records as given)
    AUDIO_REAL_SET="audio_augment.real=${REAL_AUDIO_P:-0.5} audio_augment.real_dir=$REAL_DIR"
    # the video stage keeps the procedural events audible under the recording (its sync target)
    VIDEO_REAL_SET="audio_augment.real=${REAL_VIDEO_P:-0.3} audio_augment.real_dir=$REAL_DIR audio_augment.real_mix_db=[-12,0]"
    SC_REAL_SET="audio_augment.real=${REAL_AUDIO_P:-0.5} audio_augment.real_dir=$REAL_DIR"
fi

kept clip || stage clip "$CLIP_RUN" "$CLIP_RUN/clip.json" "${CLIP_STEPS:-}" "${CLIP_BATCH:-}" "${CLIP_SET:-}"
until_done clip
kept audio || stage audio "$AUDIO_RUN" "$AUDIO_RUN/sound_encoder.json" "${AUDIO_STEPS:-}" "${AUDIO_BATCH:-}" "${AUDIO_SET:-} ${AUDIO_REAL_SET:-}" \
    --clip "$CLIP_RUN" --generator "$GENERATOR"
until_done audio
kept video || stage video "$VIDEO_RUN" "$VIDEO_RUN/bundle" "${VIDEO_STEPS:-}" "${VIDEO_BATCH:-}" "${VIDEO_SET:-} ${VIDEO_REAL_SET:-}" \
    --generator "$GENERATOR" --clip "$CLIP_RUN" --init "$AUDIO_RUN"
until_done video
# What a sound is (its class, from texture statistics) and each class's scenes in the generator's W:
# the learned mode moves to the heard class's scene (livevis.pipeline.sound_scene).
SC_FLAGS=(--bundle "$VIDEO_RUN/bundle")
VAL_RECORDINGS=${VAL_RECORDINGS-$(dirname "$0")/../tests/data/recordings-val}
[[ -n "$VAL_RECORDINGS" && -d "$VAL_RECORDINGS" ]] && SC_FLAGS+=(--recordings "$VAL_RECORDINGS")
stage sound-classes "$WORK/sound-classes" "$WORK/sound-classes/sound_classes.json" "${SC_STEPS:-}" "${SC_BATCH:-}" \
    "${SC_SET:-} ${SC_REAL_SET:-}" "${SC_FLAGS[@]}"
until_done sound-classes
# Text -> sound (Sounding Video Generator): the tokenizer, then the transformer, which writes both
# parts into the video stage's bundle.
kept sound-tokens || stage sound-tokens "$WORK/sound-tokens" "$WORK/sound-tokens/sound_tokenizer.json" "${TOKENS_STEPS:-}" "${TOKENS_BATCH:-}" \
    "${TOKENS_SET:-}" --clip "$VIDEO_RUN/bundle"
until_done sound-tokens
kept text-sound || stage text-sound "$WORK/text-sound" "$WORK/text-sound/text_sound.json" "${TEXT_SOUND_STEPS:-}" "${TEXT_SOUND_BATCH:-}" \
    "${TEXT_SOUND_SET:-}" --tokens "$WORK/sound-tokens" --bundle "$VIDEO_RUN/bundle"
until_done text-sound
# The output stage's learned upscaler, on frames the procedural renderer draws at 4x the generator's size.
if ! kept upscaler; then
    UP_DATA="$WORK/data-up"
    "${LV[@]}" prepare --synthetic "${UP_CLIPS:-90}" --out "$UP_DATA" --seed "$((SEED + 1))" --size "${UP_SIZE:-$((4 * SIZE))}" \
        --fps "$FPS" --clip-seconds "$CLIP_SECONDS" --workers "$WORKERS"
    DATA_MAIN="$DATA"
    DATA="$UP_DATA"
    stage upscaler "$WORK/upscaler" "$WORK/upscaler/upscaler.json" "${UP_STEPS:-}" "${UP_BATCH:-}" "${UP_SET:-}" \
        --bundle "$VIDEO_RUN/bundle"
    DATA="$DATA_MAIN"
fi
until_done upscaler

say "eval"
EVAL_FLAGS=(--model "$VIDEO_RUN/bundle" --data "$DATA" --seed "$SEED")
[[ -n "${EVAL_CLIPS:-}" ]] && EVAL_FLAGS+=(--clips "$EVAL_CLIPS")
"${LV[@]}" eval "${EVAL_FLAGS[@]}" --json > "$WORK/eval.json.tmp"
mv "$WORK/eval.json.tmp" "$WORK/eval.json"
cat "$WORK/eval.json"
"${LV[@]}" eval --generate --model "$VIDEO_RUN/bundle" --data "$DATA" --seed "$SEED" --json > "$WORK/eval-generate.json.tmp"
mv "$WORK/eval-generate.json.tmp" "$WORK/eval-generate.json"
cat "$WORK/eval-generate.json"

say "fp16 bundle -> $OUT"
PYTHON=${PYTHON:-$(dirname "$(command -v "${LV[0]}")")/python}
[[ -x "$PYTHON" ]] || PYTHON=python3
# The recipe's knobs as run, for the bundle's provenance.
KNOBS=$("$PYTHON" -c 'import json, sys; a = sys.argv[1:]; print(json.dumps(dict(zip(a[::2], a[1::2]))))' \
    PRESET "$PRESET" SEED "$SEED" CLIPS "$CLIPS" SIZE "$SIZE" FPS "$FPS" CLIP_SECONDS "$CLIP_SECONDS" \
    DEVICE "${DEVICE:-}" EVAL_CLIPS "${EVAL_CLIPS:-}" GEN_BUNDLE "${GEN_BUNDLE:-}" BASE_BUNDLE "${BASE_BUNDLE:-}" REAL_SOUNDS "${REAL_SOUNDS:-}" REAL_AUDIO_P "${REAL_AUDIO_P:-}" REAL_VIDEO_P "${REAL_VIDEO_P:-}" \
    GEN_STEPS "${GEN_STEPS:-}" GEN_BATCH "${GEN_BATCH:-}" GEN_SET "${GEN_SET:-}" \
    CLIP_STEPS "${CLIP_STEPS:-}" CLIP_BATCH "${CLIP_BATCH:-}" CLIP_SET "${CLIP_SET:-}" \
    AUDIO_STEPS "${AUDIO_STEPS:-}" AUDIO_BATCH "${AUDIO_BATCH:-}" AUDIO_SET "${AUDIO_SET:-}" \
    VIDEO_STEPS "${VIDEO_STEPS:-}" VIDEO_BATCH "${VIDEO_BATCH:-}" VIDEO_SET "${VIDEO_SET:-}" \
    SC_STEPS "${SC_STEPS:-}" SC_BATCH "${SC_BATCH:-}" SC_SET "${SC_SET:-}" \
    TOKENS_STEPS "${TOKENS_STEPS:-}" TOKENS_BATCH "${TOKENS_BATCH:-}" TOKENS_SET "${TOKENS_SET:-}" \
    TEXT_SOUND_STEPS "${TEXT_SOUND_STEPS:-}" TEXT_SOUND_BATCH "${TEXT_SOUND_BATCH:-}" TEXT_SOUND_SET "${TEXT_SOUND_SET:-}" \
    UP_CLIPS "${UP_CLIPS:-}" UP_SIZE "${UP_SIZE:-}" UP_STEPS "${UP_STEPS:-}" UP_BATCH "${UP_BATCH:-}" UP_SET "${UP_SET:-}")
"$PYTHON" - "$VIDEO_RUN/bundle" "$OUT" "$WORK/eval.json" "$WORK/times.txt" "$KNOBS" "${DESCRIPTION:-}" <<'EOF'
"""Copy the trained bundle into the package: fp16 weights, no discriminators (not needed to play),
the eval figures, stage times, knobs and training hardware in its provenance."""
import json
import os
import sys
from pathlib import Path

import torch

from livevis.engines.cache import cpu_name
from livevis.models.bundle import load_bundle, save_bundle

src, out, eval_path, times_path, knobs, description = sys.argv[1:7]
bundle = load_bundle(src)
bundle.image_discriminator = bundle.video_discriminator = None
prov = bundle.config["provenance"]
result = json.loads(Path(eval_path).read_text())
prov.update(stand_in=False, recipe="scripts/make_default_bundle.sh", knobs=json.loads(knobs), eval=result)
times = Path(times_path)
seconds: dict[str, int] = {}
if times.is_file():
    # one line per invocation of a stage ("NAME: N s"): a stage resumed over several runs adds up
    for line in times.read_text().splitlines():
        if ":" in line:
            name, value = line.split(":", 1)
            seconds[name.strip()] = seconds.get(name.strip(), 0) + int(value.split()[0])
    prov["stage_seconds"] = seconds
base_src = json.loads(knobs).get("BASE_BUNDLE")
if base_src:
    # the kept stages' times come from the bundle they were kept from; this run's own stages replace theirs
    bprov = json.loads((Path(base_src) / "config.json").read_text()).get("provenance", {})
    seconds = {**(bprov.get("stage_seconds") or {}), **seconds}
    prov["stage_seconds"] = seconds
    prov["rebuilt_on"] = {"path": base_src, "remade": ["sound-classes"],
                          "base_recipe": bprov.get("recipe"), "base_knobs": bprov.get("knobs")}
gen_src = json.loads(knobs).get("GEN_BUNDLE")
if gen_src and (Path(gen_src) / "config.json").is_file():
    # built on an earlier bundle's generator: say so, and count the time that generator took to train
    gprov = json.loads((Path(gen_src) / "config.json").read_text()).get("provenance", {})
    gseconds = (gprov.get("stage_seconds") or {}).get("generator")
    prov["generator_from"] = {"path": gen_src, "recipe": gprov.get("recipe"), "seconds": gseconds,
                              "knobs": {k: v for k, v in (gprov.get("knobs") or {}).items() if k.startswith("GEN_")}}
    if gseconds:
        seconds["generator"] = int(gseconds)
        prov["stage_seconds"] = seconds


device = os.environ.get("DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu")
if device.startswith("cuda") and torch.cuda.is_available():
    hardware = torch.cuda.get_device_name(0)
else:
    hardware = f"{os.cpu_count()}-core CPU ({cpu_name()})"
prov["hardware"] = {"device": device, "name": hardware}
prov.pop("created", None)
bundle.config["name"] = "default"
if not description:
    res = int(bundle.generator.img_resolution)
    minutes = round(sum(seconds.values()) / 60) if seconds else None
    took = f" in {minutes} min of training" if minutes is not None else ""
    base = result.get("baseline", {})

    def fmt(x):
        return "n/a" if x is None else f"{x:.2f}"

    description = (f"trained by livevis on its synthetic landscape set (scripts/make_default_bundle.sh) at {res} px "
                   f"on a {hardware}{took}; eval on {result.get('clips')} held-out clips: semantic accuracy "
                   f"{fmt(result.get('semantic_accuracy'))} (random walk {fmt(base.get('semantic_accuracy'))}, "
                   f"chance {fmt(result.get('chance'))}), sync r {fmt(result.get('sync_r'))} "
                   f"(random walk {fmt(base.get('sync_r'))})")
bundle.config["description"] = description
save_bundle(bundle, out, weights_dtype=torch.float16)
size = sum(p.stat().st_size for p in Path(out).iterdir())
print(f"wrote {out} ({size / 1e6:.1f} MB)")
EOF
