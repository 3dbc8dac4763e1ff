"""`livevis generate --text TEXT --out OUT.mp4`: text -> generated sound -> the video that sound drives.

The bundle's text-to-sound Transformer samples sound tokens from the CLIP embedding of the text, the
sound tokenizer decodes them to log-mel and Griffin-Lim makes the waveform; that waveform then goes
through exactly what `livevis render` does (same drivers, same offline renderer), with the text as
the scene prompt, and is muxed into the mp4. Deterministic per --seed.

Timed prompts, "0:rain;4:thunderstorm": each prompt holds from its start time to the next; the
sound is sampled per segment and the scene prompt switches at the same instants.
"""

from __future__ import annotations

import argparse
import re
import sys

from livevis.commands.run import add_model_arguments, load_model, prepare_scene, validate_common
from livevis.errors import LivevisError

_TIMED = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*:(.*)$", re.S)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--text", required=True, metavar="TEXT",
                        help='what the clip should sound and look like, or timed prompts "0:rain;4:thunderstorm" (seconds)')
    parser.add_argument("--seconds", type=float, default=4.0, metavar="S", help="clip length (default 4)")
    parser.add_argument("--out", required=True, metavar="OUT.mp4", help="output video (H.264 + AAC, generated audio muxed)")
    parser.add_argument("--audio-out", default=None, metavar="OUT.wav", help="also write the generated sound as a wav")
    add_model_arguments(parser)
    parser.add_argument("--seed", type=int, default=0, help="seed of the sound sampling and the starting latent")
    parser.add_argument("--fps", type=float, default=30.0, metavar="N", help="frames per second (default 30)")
    parser.add_argument("--size", type=int, default=None, metavar="N", help="square output NxN (same as --out-size NxN)")
    from livevis.commands.render import DEFAULT_OUT_SIZE
    from livevis.render.output_options import add_output_arguments

    add_output_arguments(parser, f"{DEFAULT_OUT_SIZE[0]}x{DEFAULT_OUT_SIZE[1]}")  # --out-size, --fit, --upscaler as render
    parser.add_argument("--temperature", type=float, default=1.0, metavar="T", help="sampling temperature (0: greedy)")
    parser.add_argument("--top-k", type=int, default=32, metavar="K", help="sample among the K likeliest tokens (0: all)")
    parser.add_argument("--guidance", type=float, default=3.0, metavar="G", help="classifier-free guidance scale (1: none)")
    parser.add_argument("--text-match", choices=("nearest", "exact"), default="nearest",
                        help="what the sound model hears of the text: the class wording it was trained on nearest "
                             "the text (default; free prompts sound like their class more often), or the text's own "
                             "embedding")
    parser.add_argument("--no-effects", action="store_true", help="skip the audio-reactive post effect")
    parser.add_argument("--anchor-leak", type=float, default=0.02, metavar="F", help="pull back towards the starting latent per keyframe")


def parse_prompts(text: str | None, seconds: float):
    """--text -> [Segment(start, text)], starts strictly increasing from 0 and below `seconds`."""
    from livevis.models.text_sound import Segment

    if text is None or not text.strip():
        raise LivevisError("--text is empty")
    parts = text.split(";")
    if parts[-1].strip() == "" and len(parts) > 1:
        parts = parts[:-1]  # a trailing ';'
    if len(parts) == 1 and not _TIMED.match(parts[0]):
        return [Segment(0.0, text.strip())]
    segments = []
    for part in parts:
        m = _TIMED.match(part)
        if m is None:
            raise LivevisError(f'--text: {part.strip()!r} is not TIME:TEXT (timed prompts look like "0:rain;4:thunderstorm")')
        if not m[2].strip():
            raise LivevisError(f"--text: no text after '{m[1]}:'")
        segments.append(Segment(float(m[1]), m[2].strip()))
    if segments[0].start != 0.0:
        raise LivevisError(f"--text: the first timed prompt must start at 0, not {segments[0].start:g}")
    for a, b in zip(segments, segments[1:]):
        if b.start <= a.start:
            raise LivevisError(f"--text: prompt times must increase ({a.start:g} then {b.start:g})")
    if segments[-1].start >= seconds:
        raise LivevisError(f"--text: a prompt starts at {segments[-1].start:g} s, past the clip's {seconds:g} s")
    return segments


def prompt_at(segments, t: float) -> str:
    """The text of the segment playing at time t (seconds)."""
    text = segments[0].text
    for seg in segments:
        if seg.start <= t + 1e-9:
            text = seg.text
    return text


def write_wav(path: str, audio, sample_rate: int) -> None:
    import soundfile

    from livevis.util.atomic import atomic_path

    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), audio, sample_rate, format="WAV", subtype="PCM_16")


def _validate(args: argparse.Namespace):
    if args.seconds is None or not args.seconds > 0:
        raise LivevisError(f"--seconds must be positive, got {args.seconds:g}")
    validate_common(args)
    if not str(args.out).lower().endswith((".mp4", ".m4v", ".mov")):
        raise LivevisError(f"--out must be an .mp4 file, got {args.out}")
    if args.audio_out is not None and not str(args.audio_out).lower().endswith(".wav"):
        raise LivevisError(f"--audio-out must be a .wav file, got {args.audio_out}")
    if args.temperature < 0 or args.top_k < 0 or args.guidance < 0:
        raise LivevisError("--temperature, --top-k and --guidance must be >= 0")
    if args.size is not None and args.out_size is not None:
        raise LivevisError("give --out-size or --size, not both")
    if args.size is not None:
        args.out_size = f"{args.size}x{args.size}"
    return parse_prompts(args.text, args.seconds)


def run(args: argparse.Namespace) -> int:
    import torch
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from livevis.commands.render import DEFAULT_OUT_SIZE
    from livevis.models.text_sound import generate_sound
    from livevis.pipeline.offline import render_offline
    from livevis.render.output_options import output_options
    from livevis.render.upscale import plan_upscaler, with_upscaler

    segments = _validate(args)
    output = output_options(args, DEFAULT_OUT_SIZE)
    bundle, device = load_model(args)
    if bundle.text_sound is None or bundle.sound_tokenizer is None:
        raise LivevisError(f"model {bundle.name!r} has no text-to-sound model (attach one with "
                           "`livevis train text-sound ... --bundle BUNDLE`)")
    if bundle.clip is None:
        raise LivevisError(f"model {bundle.name!r} has no CLIP model to read the text with")
    torch.use_deterministic_algorithms(True, warn_only=True)  # same seed -> same clip
    sr = bundle.audio.sample_rate
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeRemainingColumn(), transient=not sys.stderr.isatty(), console=None) as progress:
        sound = progress.add_task("sound tokens", total=None)
        audio, _mel = generate_sound(bundle, segments, args.seconds, seed=args.seed, temperature=args.temperature,
                                     top_k=args.top_k or None, guidance=args.guidance, match=args.text_match,
                                     on_token=lambda k, total: progress.update(sound, completed=k, total=total))
        args.prompt = segments[0].text  # the scene follows the text
        modules, mode, params, bank, text_embed = prepare_scene(args, bundle, device)
        # The output stage exactly as `render` plans it (offline: the learned upscaler when there is one).
        plan = plan_upscaler(output.upscaler, bundle.upscaler, resolution=modules.resolution, out_size=output.out_size,
                             fps=None, device=device)
        modules = with_upscaler(modules, plan)
        video = progress.add_task("rendering", total=None)

        def on_frame(k: int, total: int) -> None:
            progress.update(video, completed=k, total=total)
            text = prompt_at(segments, k / args.fps)  # frame k (shown next) starts at k / fps
            if params["prompt"] != text:
                params.set("prompt", text)

        frames = render_offline(modules, audio, args.out, fps=args.fps, out_size=output.out_size, fit=output.fit,
                                resample=plan.resample, params=params, bank=bank, text_embed=text_embed,
                                effects=not args.no_effects, on_frame=on_frame)
    if args.audio_out:  # after the mp4: a failed render leaves neither file
        write_wav(args.audio_out, audio, sr)
    print(f"livevis: wrote {args.out}: {frames} frames at {args.fps:g} fps, {args.seconds:g} s of generated sound "
          f"({len(segments)} prompt{'s' if len(segments) > 1 else ''}, {mode} mode, seed {args.seed})", file=sys.stderr)
    return 0
