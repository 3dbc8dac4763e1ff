"""The learned mode's scene from what the sound is (the bundle's "sound_classes" part).

Every keyframe, the sound class model names the window's class; the posterior is averaged causally
over `smoothing` seconds (a sound's kind changes over seconds, its rhythm over milliseconds),
sharpened by `focus` (p^focus, renormalised: a mix of several classes' latents draws none of them)
and mixes the classes' scene latents (livevis.models.sound_classes). The recurrent blocks keep
stepping their own latent `state` around its anchor; what is shown is

    drift   = state - anchor
    desired = scene(posterior) + motion * (drift - slow(drift))[layers]   slow: causal average over motion_window
    shown   = lerp(state, desired, strength)

`layers` (`motion_layers`) are the ws the fast motion rides on: the fine ones by default, so the
scene's layout and colours (coarse and middle ws) stay the heard class's while the texture moves with
the sound. On all layers, the motion that gives the picture its sync also took it off the scene:
on a validation synthetic set, fine layers at depth 3 against all layers at depth 1 moved frames
judged right from 66.8% to 73.5% and sync r from 0.35 to 0.49 (BENCHMARKS.md).

With a prompt (`pinned`), the prompt's latent is the scene whatever is heard. At strength 1 the heard
class's scene replaces the anchor and only the fast part of the sound model's
motion rides on it: its slow part steers the scene towards what the encoder makes of a sound, which
for real recordings is mostly the wrong scene (validation recordings: the whole drift at half depth
took frames judged right from 58% to 26%; its fast part at full depth kept 63%). At strength 0 the path is
the paper's alone (w_hat = E_a(x) + w). Defaults were chosen on the validation recordings and a
validation synthetic seed (BENCHMARKS.md).
"""

from __future__ import annotations

import math

import torch

from livevis.pipeline.keyframe_path import layer_groups

SILENCE_DB = -90.0  # a log-mel frame whose loudest band is below this is silence (the front end's floor is -100 dB)
MOTION_LAYERS = ("fine", "mid+fine", "all")  # the ws groups the sound model's fast motion may ride on


def motion_slice(num_ws: int, layers: str) -> slice:
    """The ws (coarse first) that `layers` names: fine = the last third, mid+fine = the last two, all."""
    if layers not in MOTION_LAYERS:
        raise ValueError(f"motion layers must be one of {', '.join(MOTION_LAYERS)}, got {layers!r}")
    _coarse, mid, fine = layer_groups(num_ws)
    return {"fine": fine, "mid+fine": slice(mid.start, num_ws), "all": slice(0, num_ws)}[layers]


def heard_part(mel: torch.Tensor, min_share: float = 0.25, edge: int = 4) -> torch.Tensor | None:
    """The window's sound without the digital silence before it: log-mel [1, n_mels, T] -> the same
    shape, its trailing run of non-silent frames repeated to fill T (a texture repeated is the same
    texture; mirrored copies, so no seam adds a jump; the zero-padded start of a show or file would otherwise be classified as a sound), or
    None when that run is shorter than min_share of the window (a muted input or the first instants:
    the class heard before stands)."""
    loud = mel[0].amax(0) > SILENCE_DB                                     # [T]
    frames = loud.shape[0]
    silent = (~loud).nonzero()
    # `edge` frames after silence still overlap it in their STFT window (n_fft / hop of the front end)
    run = frames if silent.numel() == 0 else frames - 1 - int(silent[-1]) - edge
    if run < max(1, int(min_share * frames)):
        return None
    if run == frames:
        return mel
    tail = mel[..., -run:]
    back_and_forth = torch.cat([tail, tail.flip(-1)], dim=-1)              # mirrored: no jump at the seams
    return back_and_forth.repeat(1, 1, -(-frames // (2 * run)))[..., :frames]


class SoundScene:
    """Posterior over the bundle's classes and the W+ shift it asks of the latent path.

    Args:
        model:     SoundClasses (eval mode), log-mel [1, n_mels, frames] -> logits [1, K]; `scene(probs, pick)`
        num_ws:    ws of the generator
        strength:  0..1, how far the shown latent moves from the path to the heard class's scene
        smoothing: seconds, time constant of the posterior's causal average
        motion:    depth of the sound model's own motion (state - anchor) around the scene
        focus:     exponent sharpening the averaged posterior before it mixes scenes
        motion_layers: fine | mid+fine | all, the ws the fast motion rides on
    """

    def __init__(self, model, num_ws: int, *, strength: float = 1.0, smoothing: float = 0.25, motion: float = 3.0,
                 focus: float = 4.0, motion_window: float = 0.3, motion_layers: str = "fine"):
        self.model = model
        self.num_ws = int(num_ws)
        self.strength = float(strength)
        self.smoothing = float(smoothing)
        self.motion = float(motion)
        self.focus = float(focus)
        self.motion_window = float(motion_window)
        self.motion_layers = motion_layers  # a bad name fails here, not mid-show
        # A prompt pins the scene: the anchor (the prompt's latent) stays the scene whatever is heard,
        # and only the sound model's fast motion moves it.
        self.pinned = False
        # (class index, averaged probability) of the newest window, or None before any was heard:
        # replaced whole each keyframe, so other threads (stats, OSC, the web page) read it safely.
        self.heard: tuple[int, float] | None = None
        self._slow: torch.Tensor | None = None      # [1, num_ws, w_dim] the drift's slow part
        self.posterior: torch.Tensor | None = None  # [K] causal average of the class probabilities
        self.shift: torch.Tensor | None = None      # [1, num_ws, w_dim]
        self._anchor: torch.Tensor | None = None
        self._pick = 0

    @property
    def motion_layers(self) -> str:
        return self._motion_layers

    @motion_layers.setter
    def motion_layers(self, layers: str) -> None:
        # Resolved once when set (live parameters set it), not every keyframe.
        self._motion_ws = motion_slice(self.num_ws, layers)
        self._motion_layers = layers

    def reset(self, anchor: torch.Tensor, pick: int = 0) -> None:
        """anchor ws [1, num_ws, w_dim] of the path; `pick` chooses each class's scene (the seed)."""
        assert anchor.ndim == 3 and anchor.shape[:2] == (1, self.num_ws), f"anchor must be [1, {self.num_ws}, w_dim], got {tuple(anchor.shape)}"
        self._anchor = anchor.detach().float().clone()
        self._pick = int(pick)
        self.posterior = None
        self.heard = None
        self._slow = None
        self.shift = torch.zeros_like(self._anchor)

    def mix(self) -> torch.Tensor:
        """The sharpened posterior [K] that mixes the scenes."""
        assert self.posterior is not None, "no window heard yet"
        p = self.posterior.clamp_min(1e-12).pow(self.focus)
        return p / p.sum()

    @torch.inference_mode()
    def update(self, mel: torch.Tensor, dt: float, state: torch.Tensor) -> torch.Tensor:
        """The newest window's log-mel [1, n_mels, frames], `dt` seconds after the previous one, and the
        recurrent latent `state` [1, num_ws, w_dim] -> shift [1, num_ws, w_dim] to add to the state
        (reused: copy it to keep it)."""
        assert self._anchor is not None, "call reset() first"
        heard = heard_part(mel)
        if heard is not None:
            probs = self.model(heard).float().softmax(-1)[0]                # [K]
            if self.posterior is None:
                self.posterior = probs.clone()
            else:
                a = 1.0 if self.smoothing <= 0 else 1.0 - math.exp(-max(dt, 0.0) / self.smoothing)
                self.posterior.lerp_(probs, a)
            best = int(self.posterior.argmax())
            self.heard = (best, float(self.posterior[best]))
        if self.pinned or self.posterior is None:
            # The prompt's scene holds; before any sound is heard, the seed's does (with no shift, the
            # sound model's drift would show for the first instants, then glide back).
            target = self._anchor
        else:
            target = self.model.scene(self.mix(), self._pick).to(self._anchor).expand_as(self._anchor)
        drift = state.float() - self._anchor                                # [1, num_ws, w_dim]
        # Only the drift's fast part rides on the scene: its slow part is where the sound model
        # steers the scene, which the heard class now decides.
        if self._slow is None:
            self._slow = drift.clone()
        else:
            self._slow.lerp_(drift, 1.0 - math.exp(-max(dt, 0.0) / self.motion_window))
        # shown - state = strength * (scene + motion * (drift - slow)[layers] - state), state = anchor + drift
        torch.sub(target, self._anchor, out=self.shift)
        self.shift.sub_(drift)
        layers = self._motion_ws
        self.shift[:, layers].add_(drift[:, layers] - self._slow[:, layers], alpha=self.motion)
        self.shift.mul_(self.strength)
        return self.shift
