"""Training stages of `livevis train STAGE`: a name -> module registry and the contract each module keeps.

A stage module exposes:

    PRESETS: dict[str, dict]
        At least "tiny" (seconds on CPU: tests, smoke runs) and "default". Each is the stage's full,
        JSON-ready config. Keys every preset has, because the command overrides them from flags:
        "steps" (--steps), "batch" (--batch, the global batch over all processes), "seed" (--seed),
        "ckpt_every" (--ckpt-every). Optional keys the command fills from flags when the preset has
        them or the flag is given: "generator" (--generator PATH), "clip" (--clip SPEC).
    add_arguments(parser) -> None                       (optional)
        Stage-only flags, added to the stage's sub-parser after the common ones.
    configure(args, config) -> dict                     (optional)
        Fold stage-only flags into the config before it is saved (and compared on --resume).
    train(args, run, dist) -> Path | None
        Run the stage: `run` is a livevis.training.run.Run whose `.config` is the final config,
        `dist` the livevis.training.distributed.DistInfo of this process. Use training.loop.train_loop
        (per-step batches from loop.batch_indices, RNG in checkpoints) so --resume is exact. Returns
        what the stage produced (a bundle directory, a weights file) or None. Expected failures raise
        LivevisError (one line for the user).

The command (livevis/commands/train.py) builds the config from PRESETS[--preset], adds "stage",
"preset" and "data", applies the flags above and `--set KEY=VALUE` overrides, then calls configure and
train. Stage modules are imported only when named.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from livevis.errors import LivevisError

# name -> module. The order is the order of `livevis train --help`.
STAGES: dict[str, str] = {
    "generator": "livevis.training.stages.generator",
    "clip": "livevis.training.stages.clip",
    "audio": "livevis.training.stages.audio",
    "video": "livevis.training.stages.video",
    "sound-classes": "livevis.training.stages.sound_classes",
    "upscaler": "livevis.training.stages.upscaler",
    "sound-tokens": "livevis.training.stages.sound_tokens",
    "text-sound": "livevis.training.stages.text_sound",
}


def load_stage(name: str) -> ModuleType:
    """The stage module registered as `name`, checked for the contract above."""
    try:
        module_name = STAGES[name]
    except KeyError:
        raise LivevisError(f"unknown stage {name!r} (known: {', '.join(STAGES)})") from None
    module = importlib.import_module(module_name)
    presets = getattr(module, "PRESETS", None)
    if not isinstance(presets, dict) or "tiny" not in presets or not callable(getattr(module, "train", None)):
        raise RuntimeError(f"stage module {module_name} must define PRESETS (with 'tiny') and train(args, run, dist)")
    return module
