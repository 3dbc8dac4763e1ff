"""Build the embedded default bundle livevis/data/default: an honest, UNTRAINED stand-in.

What it is: a seeded-random StyleGAN2 (256x256) driven by a seeded-random sound encoder and
recurrent blocks. Nothing here was trained; the pictures are abstract patterns. It exists so that
`livevis run` works out of the box and visibly reacts to sound until the trained default (issue 7)
replaces it.

What is done to random weights so it reacts (deterministic, no data involved):
  * encoder: residual branches are switched on (unit BN scales instead of the zero init), the
    offset head gets full He-scale weights, and its bias is set so that digital silence
    maps to a zero offset; `offset_scale` then turns loudness/timbre changes into large W+ offsets.
  * recurrent blocks: GRU and projection biases are zeroed and the projection of (ws + offset) is
    scaled down, so a still input (silence) leaves the hidden state near zero and the latent near
    still, while the large offsets of sound move it clearly.
  * generator: ToRGB weights and their style sensitivity are scaled down, so images are not mostly
    clipped and moving latents recolour the picture instead of saturating it.
`--check` measures that: mean frame-to-frame image change under noise bursts vs under silence.

Usage:  python scripts/make_standin_bundle.py [--out livevis/data/default] [--check]
Reproducible: same livevis + torch version -> same weights (fixed seeds, CPU, fp32 then fp16);
with SOURCE_DATE_EPOCH set, config.json is byte-identical too.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import AudioFrontend, Bundle, bundle_sha256, load_bundle, save_bundle

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "livevis" / "data" / "default"
SEED = 20220811  # one fixed seed per part: SEED, SEED + 1, SEED + 2

DESCRIPTION = (
    "untrained stand-in: random StyleGAN2 weights driven by an untrained sound encoder; "
    "replaced by the trained default (issue 7)"
)

# Used only when the named preset is not in livevis/models/configs (recorded in provenance).
FALLBACK = {
    "stylegan2-256-live": {
        "img_resolution": 256, "channel_base": 2048, "channel_max": 256, "w_dim": 256, "z_dim": 256, "mapping_layers": 2,
    },
    "sound_encoder-live": {},
    "recurrent-live": {},
}

# Reactivity knobs (see module docstring); tuned with --check.
OFFSET_TARGET = 30.0  # encoder: mean |offset| on the reference noise bursts (ws themselves are about 0.7)
PROJECT_SCALE = 0.1  # recurrent: shrink of the (ws + offset) projection, so ws alone barely drives the GRU
UPDATE_SCALE = 0.1  # recurrent: gain on each block's residual update (bounds the drift under sound)
RGB_GAIN = 0.5  # generator: ToRGB weights scale (image contrast)
RGB_STYLE_SCALE = 0.5  # generator: ToRGB style sensitivity to w

CLASSES = [
    ("thunderstorm", "a photo of a thunderstorm over a landscape"),
    ("rain", "a photo of rain falling on a landscape"),
    ("waterfall", "a photo of a waterfall"),
    ("fire_crackling", "a photo of a crackling fire"),
    ("wind", "a photo of wind blowing over a landscape"),
    ("underwater_bubbling", "a photo of bubbles underwater"),
    ("volcano", "a photo of an erupting volcano"),
    ("splashing_water", "a photo of splashing water"),
    ("calm", "a photo of a calm, quiet landscape"),
]


def _preset(name: str) -> tuple[dict, str]:
    """(config dict, where it came from)."""
    try:
        arch, config = factory.load_preset(name)
        return dict(config), f"preset {name}"
    except LivevisError:
        return dict(FALLBACK[name]), f"built-in fallback for preset {name} (preset missing)"


def _mel(audio: AudioFrontend, samples: np.ndarray) -> torch.Tensor:
    """samples [window_samples] -> log-mel [1, n_mels, frames], as the live path computes it."""
    from livevis.audio.mel import log_mel

    assert samples.shape == (audio.window_samples,), samples.shape
    return log_mel(torch.from_numpy(samples), audio.sample_rate, audio.n_fft, audio.hop_length, audio.n_mels,
                   audio.fmin, audio.fmax).unsqueeze(0)


@torch.no_grad()
def build(seed: int = SEED) -> tuple[Bundle, dict]:
    audio = AudioFrontend()
    sources = {}

    gen_cfg, sources["generator"] = _preset("stylegan2-256-live")
    torch.manual_seed(seed)
    generator = factory.build("stylegan2", gen_cfg).eval()
    num_ws, w_dim = int(generator.num_ws), int(generator.w_dim)
    # A random StyleGAN2 paints pixels with std ~1 (much of it clipped), and its un-demodulated
    # ToRGB layers brighten with |w|: tone both down so moving latents recolour rather than saturate.
    for name, module in generator.synthesis.named_modules():
        if name.endswith("torgb"):
            module.weight.mul_(RGB_GAIN)
            module.affine.weight.mul_(RGB_STYLE_SCALE)

    enc_cfg, sources["sound_encoder"] = _preset("sound_encoder-live")
    enc_cfg.update(n_mels=audio.n_mels, num_frames=audio.frames, num_ws=num_ws, w_dim=w_dim, offset_init_scale=1.0)
    torch.manual_seed(seed + 1)
    encoder = factory.build("sound_encoder", enc_cfg).eval()
    # The encoder zero-inits each block's last BN scale (identity blocks, good for training); at
    # inference that leaves only the strided 1x1 skips, which see a few frames of the window. Unit
    # scales let the 3x3 convs see it all.
    for module in encoder.modules():
        if hasattr(module, "bn2"):
            module.bn2.weight.fill_(1.0)
    # Silence -> zero offset: centre the offset head on the features of digital silence.
    feat = encoder.features(_mel(audio, np.zeros(audio.window_samples, np.float32)))  # [1, C]
    encoder.offset_head.bias.copy_(-(feat @ encoder.offset_head.weight.T)[0])
    # Gain: the reference noise bursts get mean |offset| == OFFSET_TARGET.
    reference = noise_bursts(audio.window_seconds, audio.sample_rate, seed=seed)[: audio.window_samples]
    _, offset = encoder(_mel(audio, reference))  # [1, num_ws, w_dim]
    offset_scale = OFFSET_TARGET / max(offset.abs().mean().item(), 1e-12)
    encoder.config.offset_scale = offset_scale * encoder.config.offset_scale

    rec_cfg, sources["recurrent"] = _preset("recurrent-live")
    rec_cfg.update(num_ws=num_ws, w_dim=w_dim, update_init_scale=1.0, update_scale=UPDATE_SCALE)
    torch.manual_seed(seed + 2)
    recurrent = factory.build("recurrent", rec_cfg).eval()
    for block in recurrent.blocks:
        block.cell.x_gates.bias.zero_()
        block.cell.h_gates.bias.zero_()
        if isinstance(block.project, torch.nn.Linear):
            block.project.weight.mul_(PROJECT_SCALE)
            block.project.bias.zero_()
        else:  # no projection: scale the GRU's input weights instead
            block.cell.x_gates.weight.mul_(PROJECT_SCALE)

    script = Path(__file__).read_bytes()
    provenance = {
        "stand_in": True,
        "recipe": "python scripts/make_standin_bundle.py (seeded random weights, no training)",
        "inputs": {"scripts/make_standin_bundle.py": hashlib.sha256(script).hexdigest()},
        "seed": seed,
        "torch_version": torch.__version__,
        "config_sources": sources,
        "reactivity": {"offset_target": OFFSET_TARGET, "project_scale": PROJECT_SCALE, "update_scale": UPDATE_SCALE,
                       "rgb_gain": RGB_GAIN, "rgb_style_scale": RGB_STYLE_SCALE},
    }
    if os.environ.get("SOURCE_DATE_EPOCH"):  # reproducible builds: a fixed timestamp gives identical bytes
        stamp = datetime.datetime.fromtimestamp(int(os.environ["SOURCE_DATE_EPOCH"]), datetime.timezone.utc)
        provenance["created"] = stamp.isoformat(timespec="seconds")
    bundle = Bundle.new(
        generator,
        name="default",
        description=DESCRIPTION,
        sound_encoder=encoder,
        recurrent=recurrent,
        audio=audio,
        classes=[{"name": n, "prompt": p} for n, p in CLASSES],
        provenance=provenance,
    )
    return bundle, sources


def noise_bursts(seconds: float, sample_rate: int, seed: int = 0) -> np.ndarray:
    """White-noise bursts (0.3 s on, 0.2 s off) at about -10 dBFS: a stand-in for percussive sound."""
    rng = np.random.default_rng(seed)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    gate = ((t % 0.5) < 0.3).astype(np.float32)
    return (0.3 * rng.standard_normal(n).astype(np.float32) * gate).astype(np.float32)


@torch.no_grad()
def motion(bundle: Bundle, samples: np.ndarray, seed: int = 0, anchor_leak: float = 0.02) -> float:
    """Mean |frame - previous frame| over keyframes, following the live path's latent update."""
    a = bundle.audio
    step = int(round(a.sample_rate / a.step_rate))
    gen, enc, rec = bundle.generator, bundle.sound_encoder, bundle.recurrent
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((1, gen.z_dim)).astype(np.float32))
    anchor = gen.mapping(z)  # [1, num_ws, w_dim]
    ws, hidden = anchor.clone(), rec.init_hidden(1)
    padded = np.concatenate([np.zeros(a.window_samples, np.float32), samples])
    prev, diffs = gen.synthesis(ws, noise_mode="const"), []
    for end in range(a.window_samples + step, padded.shape[0] + 1, step):
        _, offset = enc(_mel(a, padded[end - a.window_samples:end]))  # [1, num_ws, w_dim]
        ws, hidden = rec.step(ws, hidden, offset)
        ws = torch.lerp(ws, anchor, anchor_leak)
        img = gen.synthesis(ws, noise_mode="const")  # [1, 3, H, W]
        diffs.append((img - prev).abs().mean().item())
        prev = img
    return float(np.mean(diffs))


def check(path: Path, seconds: float = 3.0) -> dict:
    bundle = load_bundle(path)
    sr = bundle.audio.sample_rate
    silent = motion(bundle, np.zeros(int(seconds * sr), np.float32))
    loud = motion(bundle, noise_bursts(seconds, sr))
    return {"silence": silent, "noise_bursts": loud, "ratio": loud / max(silent, 1e-12)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="bundle directory to write")
    parser.add_argument("--check", action="store_true", help="also measure motion under noise bursts vs silence")
    args = parser.parse_args(argv)

    bundle, sources = build()
    save_bundle(bundle, args.out, weights_dtype=torch.float16)
    size = sum(f.stat().st_size for f in args.out.iterdir())
    print(f"wrote {args.out} ({size / 1e6:.1f} MB, sha256 {bundle_sha256(args.out)})")
    for part, source in sources.items():
        print(f"  {part}: {source}")
    if args.check:
        print(json.dumps(check(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
