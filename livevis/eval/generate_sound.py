"""`livevis eval --generate`: measure text-guided sounding video (livevis generate) on a dataset's classes.

For every class, `per_class` clips are generated from the class prompt (the bundle's prompt for that
class name, livevis.eval.report.class_texts), each with its own seed, the clip length of the dataset:
    sound_accuracy     an audio classifier trained on the dataset's real TRAIN audio (log-mel band
                       statistics of 1 s windows -> MLP) labels the generated sound; chance 1/classes
    picture_accuracy   the frames the generated sound drives (the `generate` path: the prompt sets the
                       scene, the sound moves it) labelled by the independent judge
                       (livevis.eval.judge), else the eval frame classifier
    sync_r             per clip, Pearson r of the sound's onset strength per frame with the frame
                       change (livevis.eval.response.onset_per_frame); mean over clips
    frame_change       how much the picture moves: mean |frame[t] - frame[t-1]| ([-1, 1] pixels),
                       over frames and clips (sync alone would also reward a still picture that twitches)
    fad                Frechet distance in the audio classifier's hidden features between generated
                       windows and real held-out windows; "griffin_lim_floor": the same for real
                       held-out mels sent through Griffin-Lim (what the vocoder alone costs)
    clip_tv            mean cosine of CLIP(frame) with CLIP(prompt) (Sounding Video Generator Table 3a)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livevis.audio import log_mel
from livevis.errors import LivevisError
from livevis.eval import metrics


# ---- audio classifier --------------------------------------------------------------------------------
def window_features(audio: np.ndarray, fe) -> torch.Tensor:
    """Mono audio [S] at fe.sample_rate -> per 1 s window (hop 0.5 s) log-mel mean and std per band
    [windows, 2 * n_mels]; a clip shorter than a window is one (zero-padded) window."""
    audio = np.asarray(audio, np.float32)
    w, hop = fe.window_samples, fe.window_samples // 2
    if audio.shape[0] < w:
        audio = np.pad(audio, (0, w - audio.shape[0]))
    starts = range(0, audio.shape[0] - w + 1, hop)
    feats = []
    for s in starts:
        mel = torch.from_numpy(log_mel(audio[s:s + w], fe.sample_rate, fe.n_fft, fe.hop_length, fe.n_mels, fe.fmin, fe.fmax))
        mel = mel.clamp_min(-100.0)
        feats.append(torch.cat([mel.mean(1), mel.std(1)]))
    return torch.stack(feats).float()


@dataclass
class AudioClassifier:
    net: nn.Sequential
    mean: torch.Tensor
    std: torch.Tensor
    classes: list[str]

    @torch.no_grad()
    def logits(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net((feats - self.mean) / self.std)

    @torch.no_grad()
    def hidden(self, feats: torch.Tensor) -> torch.Tensor:
        """The penultimate features [N, hidden] (the FAD space)."""
        return self.net[:-1]((feats - self.mean) / self.std)

    def predict_clip(self, feats: torch.Tensor) -> int:
        """One clip's windows [W, F] -> its class (mean log-probability over windows)."""
        return int(F.log_softmax(self.logits(feats), -1).mean(0).argmax())


def fit_audio_classifier(train_set, fe, *, seed: int = 0, hidden: int = 64, steps: int = 400) -> AudioClassifier:
    """Full-batch Adam on the window features of every TRAIN clip's real audio."""
    feats, labels = [], []
    for i in range(len(train_set)):
        item = train_set[i]
        f = window_features(item["audio"].numpy(), fe)
        feats.append(f)
        labels += [item["label"]] * f.shape[0]
    x = torch.cat(feats)
    mean, std = x.mean(0), x.std(0).clamp_min(1e-3)
    y = torch.tensor(labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(x.shape[1], hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                            nn.Linear(hidden, len(train_set.classes)))
        opt = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-3)
        xs = (x - mean) / std
        for _ in range(steps):
            loss = F.cross_entropy(net(xs), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    net.eval()
    return AudioClassifier(net=net, mean=mean, std=std, classes=list(train_set.classes))


def griffin_lim_of(audio: np.ndarray, fe, seed: int = 0) -> np.ndarray:
    """Real audio -> its (centred) log-mel -> Griffin-Lim: the vocoder's own loss, no generation."""
    import librosa

    from livevis.models.sound_tokenizer import mel_to_waveform

    mel = librosa.power_to_db(librosa.feature.melspectrogram(y=np.asarray(audio, np.float32), sr=fe.sample_rate, n_fft=fe.n_fft,
                                                             hop_length=fe.hop_length, n_mels=fe.n_mels, fmin=fe.fmin,
                                                             fmax=fe.fmax), ref=1.0, top_db=None)
    return mel_to_waveform(mel, fe, audio.shape[0], seed=seed)


# ---- the measurement ---------------------------------------------------------------------------------
def evaluate_generate(bundle, data, *, per_class: int = 2, seconds: float | None = None, seed: int = 0,
                      fps: float = 10.0, device: str | torch.device = "cpu", use_judge: bool = True,
                      progress: Callable[[str], None] | None = None, mode: str | None = None) -> dict[str, Any]:
    """Score `bundle`'s text -> sound -> video on the classes of the dataset at `data` (JSON-ready dict).
    mode: what drives the picture, as `livevis generate --mode` (default: the model's default mode)."""
    from livevis.control import live_params
    from livevis.eval.report import class_texts
    from livevis.eval.response import onset_per_frame
    from livevis.models.sample_bank import cached_sample_bank
    from livevis.models.text_sound import Segment, generate_sound
    from livevis.pipeline.modules import build_live_modules
    from livevis.pipeline.offline import scene_frames
    from livevis.pipeline.scene import check_mode, default_mode
    from livevis.training.data import ClipDataset

    say = progress or (lambda _msg: None)
    if bundle.text_sound is None or bundle.sound_tokenizer is None or bundle.clip is None:
        raise LivevisError(f"model {bundle.name!r} has no text-to-sound model (and CLIP) to evaluate")
    if per_class < 1:
        raise LivevisError(f"need at least one clip per class, got {per_class}")
    train_set = ClipDataset(data, "train")
    try:
        held_out = ClipDataset(data, "val")
    except LivevisError:  # no held-out split: the real reference is the training audio
        held_out = train_set
    fe = bundle.audio
    if fe.sample_rate != train_set.sample_rate:
        raise LivevisError(f"the dataset's audio is {train_set.sample_rate} Hz, the model's {fe.sample_rate} Hz")
    seconds = float(seconds or train_set.clip_seconds)
    classes = list(train_set.classes)
    texts = class_texts(bundle, classes)

    say("training the audio classifier on the dataset's real training audio")
    audio_clf = fit_audio_classifier(train_set, fe, seed=seed)
    if use_judge:
        from livevis.eval.judge import trained_judge

        say("training (or loading) the independent frame judge")
        judge, judge_name = trained_judge(train_set), "judge"
    else:
        from livevis.eval import classifier as clf

        frames, labels = clf.sample_frames(train_set, 8)
        judge, judge_name = clf.fit(frames, labels, classes, seed=seed), "classifier"

    modules = build_live_modules(bundle, backend="eager", device=device)
    mode = mode or default_mode(modules)
    check_mode(mode, modules, bundle.clip is not None)
    bank = cached_sample_bank(bundle, device=modules.device)
    clip = bundle.clip

    def text_embed(text: str) -> torch.Tensor:
        with torch.inference_mode():
            return clip.encode_text([text]).float()

    sound_pred, picture_pred, picture_lab, labels, syncs, clip_tv, motion = [], [], [], [], [], [], []
    gen_feats = []
    for c, text in enumerate(texts):
        say(f"generating {per_class} clip(s) of {classes[c]}")
        with torch.inference_mode():
            t_emb = clip.encode_text([text]).float()                             # [1, D]
        for k in range(per_class):
            clip_seed = seed + 1000 * c + k
            audio, _mel = generate_sound(bundle, [Segment(0.0, text)], seconds, seed=clip_seed)
            feats = window_features(audio, fe)
            gen_feats.append(audio_clf.hidden(feats))
            sound_pred.append(audio_clf.predict_clip(feats))
            labels.append(c)
            params = live_params(mode)  # the mode's own defaults, as `livevis generate` sets them
            params.set_many({"seed": clip_seed, "prompt": text})
            imgs = []
            with torch.inference_mode():
                for _k, _index, ws in scene_frames(modules, audio, fps=fps, params=params, bank=bank, text_embed=text_embed):
                    imgs.append(modules.synthesis(ws).float().clamp(-1, 1)[0].cpu())
                frames = torch.stack(imgs)                                      # [T, 3, H, W]
                clip_tv.append(float((clip.encode_image(frames.to(clip.device)) @ t_emb.T.to(clip.device)).mean()))
            picture_pred.append(np.asarray(judge.predict(frames)))
            picture_lab.append(np.full(frames.shape[0], c))
            if frames.shape[0] >= 4:
                change = metrics.frame_change(frames)                           # [T-1]
                strength = onset_per_frame(audio, fe.sample_rate, fps, frames.shape[0])
                syncs.append(metrics.clip_sync(change, strength))
                motion.append(float(change.mean()))

    say("Frechet distances against held-out real audio")
    real_feats, gl_feats, gl_pred, gl_lab = [], [], [], []
    for i in range(len(held_out)):
        item = held_out[i]
        real = item["audio"].numpy()
        real_feats.append(audio_clf.hidden(window_features(real, fe)))
        gl = griffin_lim_of(real, fe, seed=seed)
        f = window_features(gl, fe)
        gl_feats.append(audio_clf.hidden(f))
        gl_pred.append(audio_clf.predict_clip(f))
        gl_lab.append(item["label"])

    from livevis.eval.judge import frechet_distance

    real_all = torch.cat(real_feats).numpy()
    s_acc, s_per = metrics.accuracy(sound_pred, labels, classes)
    p_acc, p_per = metrics.accuracy(np.concatenate(picture_pred), np.concatenate(picture_lab), classes)
    gl_acc, _ = metrics.accuracy(gl_pred, gl_lab, classes)
    return {
        "sound_accuracy": s_acc, "sound_per_class": s_per, "chance": 1.0 / len(classes),
        "picture_accuracy": p_acc, "picture_per_class": p_per, "picture_judge": judge_name,
        "sync_r": _finite(metrics.mean_ignoring_nan(syncs)),
        # How much the picture moves (mean |frame change| in [-1, 1] pixels per frame): a still
        # picture with small twitches on the hits would also correlate.
        "frame_change": _finite(metrics.mean_ignoring_nan(motion)),
        "fad": {"generated": _finite(frechet_distance(torch.cat(gen_feats).numpy(), real_all)),
                "griffin_lim_floor": _finite(frechet_distance(torch.cat(gl_feats).numpy(), real_all))},
        "sound_accuracy_real_griffin_lim": gl_acc,
        "clip_tv": float(np.mean(clip_tv)),
        "clips": len(labels), "seconds": seconds, "fps": fps, "mode": mode,
    }


def _finite(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def render_table(result: dict[str, Any]):
    """A rich Table of evaluate_generate's figures (what `livevis eval --generate` prints without --json)."""
    from rich.table import Table

    def pct(x: float | None) -> str:
        return "-" if x is None or not math.isfinite(x) else f"{100 * x:.1f}%"

    def num(x: float | None) -> str:
        return "-" if x is None or not math.isfinite(x) else f"{x:.3f}"

    table = Table(title=f"text -> sound -> video: {result['clips']} clips of {result['seconds']:g} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("reference", justify="right")
    table.add_row("sound follows text (audio classifier)", pct(result["sound_accuracy"]),
                  f"chance {pct(result['chance'])}, real via Griffin-Lim {pct(result['sound_accuracy_real_griffin_lim'])}")
    table.add_row(f"picture follows text ({result['picture_judge']})", pct(result["picture_accuracy"]), f"chance {pct(result['chance'])}")
    table.add_row("sync r (onsets vs frame change)", num(result["sync_r"]), "")
    table.add_row("motion (mean frame change)", num(result.get("frame_change")), "")
    table.add_row("Frechet distance (audio classifier features)", num(result["fad"]["generated"]),
                  f"Griffin-Lim floor {num(result['fad']['griffin_lim_floor'])}")
    table.add_row("CLIP t<->v", num(result["clip_tv"]), "")
    return table
