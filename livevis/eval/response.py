"""Response delay as a viewer sees it: from an onset in the sound to the picture's motion.

Not the processing latency (audio arrival -> buffer swap, a few ms): this is the delay the latent
path adds on top, measured on the frames themselves. A click track is rendered through the same
path as `livevis render` (SceneDriver + synthesis, deterministic), the frame-to-frame change is
averaged over windows aligned on the clicks, and the delay is read off that average response: to
half of its rise above the baseline and to its peak. Frame k is shown at k / fps.
"""

from __future__ import annotations

import math

import numpy as np

CLICK_SECONDS = 0.004


def click_track(seconds: float, sample_rate: int, bpm: float = 120.0, *, first: float = 0.75, seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(audio float32 [N], hit times [H] in s): sharp broadband clicks over a quiet noise floor. The
    hits drift against any frame grid (period not a multiple of common frame periods) so the
    average covers sub-frame offsets."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    audio = (rng.standard_normal(n) * 1e-3).astype(np.float32)
    period = 60.0 / bpm + 0.0037
    hits = np.arange(first, seconds - 0.6, period)
    k = max(1, int(CLICK_SECONDS * sample_rate))
    env = np.exp(-np.arange(k) / (k / 4.0)).astype(np.float32)
    for t in hits:
        i = int(round(t * sample_rate))
        audio[i:i + k] += 0.8 * env[: n - i] * rng.standard_normal(min(k, n - i)).astype(np.float32)
    return audio, hits


def frame_change(frames: np.ndarray) -> np.ndarray:
    """frames [T, H, W, C] (any numeric type) -> change [T]: mean |frame_k - frame_{k-1}|, 0 for k = 0."""
    f = frames.astype(np.float32)
    out = np.zeros(f.shape[0], dtype=np.float64)
    out[1:] = np.abs(f[1:] - f[:-1]).reshape(f.shape[0] - 1, -1).mean(1)
    return out


def response_delay(change: np.ndarray, fps: float, hits: np.ndarray, *, pre: float = 0.15, post: float = 0.4) -> dict:
    """change [T] per frame (change[k]: from frame k-1 to frame k), hit times [H] in s ->
    {"half": ms, "peak": ms, "curve": [..]}: the mean response over the hits; delays from the hit to
    the first frame whose mean change reaches half of the peak's rise over the pre-hit baseline, and
    to the peak frame."""
    change = np.asarray(change, dtype=np.float64)
    n_pre, n_post = int(math.ceil(pre * fps)), int(math.ceil(post * fps))
    rows, offsets = [], []
    for t in np.asarray(hits, dtype=np.float64):
        k0 = int(math.ceil(t * fps - 1e-9))  # first frame shown at or after the hit
        if k0 - n_pre < 1 or k0 + n_post >= change.shape[0]:
            continue
        rows.append(change[k0 - n_pre:k0 + n_post + 1])
        offsets.append(k0 / fps - t)
    if not rows:
        raise ValueError("no hit has a full response window inside the frames")
    curve = np.mean(rows, axis=0)  # [n_pre + 1 + n_post], index n_pre = frame k0
    base = float(np.median(curve[:n_pre])) if n_pre else 0.0
    after = curve[n_pre:]
    j_peak = int(np.argmax(after))
    rise = after[j_peak] - base
    j_half = int(np.argmax(after - base >= 0.5 * rise)) if rise > 0 else j_peak
    lead = float(np.mean(offsets))
    return {"half": 1e3 * (j_half / fps + lead), "peak": 1e3 * (j_peak / fps + lead), "rise": float(rise),
            "baseline": base, "hits": len(rows), "curve": [float(c) for c in curve]}


def measure_response(modules, params, *, fps: float = 60.0, seconds: float = 8.0, bank=None, text_embed=None) -> dict:
    """Render a click track through the show's path at `fps` and measure the response delay of the
    synthesised frames (before the post effect: the image itself must move)."""
    import torch

    from livevis.pipeline.offline import scene_frames

    audio, hits = click_track(seconds, modules.sample_rate)
    prev = None
    change = []
    with torch.inference_mode():
        for _k, _index, ws in scene_frames(modules, audio, fps=fps, params=params, bank=bank, text_embed=text_embed):
            img = modules.synthesis(ws).float().clamp(-1, 1)[0]  # [3, H, W]
            change.append(0.0 if prev is None else float((img - prev).abs().mean()) * 127.5)
            prev = img.clone()
    return response_delay(np.asarray(change), fps, hits)


def onset_per_frame(audio: np.ndarray, sample_rate: int, fps: float, frames: int) -> np.ndarray:
    """Onset strength (mel spectral flux, livevis.eval.metrics.onset_envelope) per rendered frame:
    the mean over the envelope values that became known in ((k-1)/fps, k/fps] -> [frames]."""
    from livevis.eval.metrics import onset_envelope

    strength, ends = onset_envelope(audio, sample_rate)
    frame_of = np.ceil(ends / sample_rate * fps - 1e-9).astype(np.int64)  # first frame that sees each value
    out = np.zeros(frames, dtype=np.float64)
    count = np.zeros(frames, dtype=np.float64)
    ok = frame_of < frames
    np.add.at(out, frame_of[ok], strength[ok])
    np.add.at(count, frame_of[ok], 1.0)
    return out / np.maximum(count, 1.0)


def music_sync(modules, params, audio: np.ndarray, *, fps: float = 30.0, bank=None, text_embed=None) -> dict:
    """Pearson r between the onset strength and the frame-to-frame change, per rendered frame, for
    `audio` through the show's path; and the same r for a random latent walk with the same mean step
    (the baseline: motion that ignores the sound). frame_change: how much the picture moves (mean
    |frame change| per frame, pixels in [-1, 1]), since a still picture that twitches on the hits
    correlates too."""
    import torch

    from livevis.eval.metrics import pearson
    from livevis.pipeline.offline import scene_frames

    ws_all, change = [], []
    prev = None
    with torch.inference_mode():
        for _k, _index, ws in scene_frames(modules, audio, fps=fps, params=params, bank=bank, text_embed=text_embed):
            ws_all.append(ws[0].clone())
            img = modules.synthesis(ws).float().clamp(-1, 1)[0]  # [3, H, W]
            change.append(0.0 if prev is None else float((img - prev).abs().mean()))
            prev = img.clone()
        strength = onset_per_frame(audio, modules.sample_rate, fps, len(change))
        r = pearson(np.asarray(change[1:]), strength[1:])
        # Baseline: a random walk in W+ from the same start, same mean step per frame (constant noise).
        if modules.noise_gains is not None:
            modules.noise_gains.fill_(1.0)
        seq = torch.stack(ws_all)  # [T, num_ws, w_dim]
        step = float((seq[1:] - seq[:-1]).flatten(1).norm(dim=1).mean())
        g = torch.Generator().manual_seed(4321)
        cur = seq[0].clone()
        walk_change, prev = [0.0], modules.synthesis(cur[None]).float().clamp(-1, 1)[0]
        for _ in range(seq.shape[0] - 1):
            d = torch.randn(cur.shape, generator=g).to(cur)
            cur = cur + d * (step / float(d.norm()))
            img = modules.synthesis(cur[None]).float().clamp(-1, 1)[0]
            walk_change.append(float((img - prev).abs().mean()))
            prev = img
    r_walk = pearson(np.asarray(walk_change[1:]), strength[1:])
    return {"sync_r": r, "walk_sync_r": r_walk, "frames": len(change),
            "frame_change": float(np.mean(change[1:])) if len(change) > 1 else 0.0}
