"""video: sound-guided latent trajectories (Lee et al. 2022 sec. 3) for a frozen generator and CLIP.

Trains the inversion encoder E_a (sound encoder: embedding + W+ offsets), the recurrent blocks, and
the image and video discriminators D_I, D_V. For each clip of T steps (step rate from the audio front
end, 10 Hz by default) it does what the live path (livevis.pipeline.latent.LatentDriver) does:

    ws[-1] = w = mapping(z, truncation)           the anchor; live: the seed's (or prompt's) latent
    offsets[t] = E_a(log-mel of the window ending at step t's boundary)     (Eq. 4: audio every step)
    ws[t] = recurrent.step(ws[t-1], hidden, offsets[t])                      (RecurrentBlocks.forward)
    frame[t] = G.synthesis(ws[t])                                             real frame: the one on
                                                                              screen at that boundary
The anchor is the plain mapped w (no E_a(x^0) added, unlike Eq. 1): live playback starts from a
seed's latent the same way, so training and playback see the same trajectories.

Losses of E_a and the recurrent blocks (weights in config "loss", saved with the run):
    w_clip_av * (1 - cos(E_a embedding, CLIP(frame)))          CLIP(a <-> v)
    w_clip_at * (1 - cos(CLIP(frame), CLIP(caption)))           CLIP(a <-> t)
    lambda_b * mean (ws - w_avg)^2                              Eq. 3: stay near the average latent
    w_spread * mean (ws - mean over layers of ws)^2             stay in W: the mapping gives every layer
                                                                the same w, and W+ latents far from
                                                                that draw colours no real frame has
    w_adv_image * adversarial(D_I(frames)) + w_adv_video * adversarial(D_V(clip))   Eq. 7-9
    w_sync * (1 - corr_t(|frame[t] - frame[t-1]|, onset strength[t]))
    w_clip_vv * (1 - cos(CLIP(frame), CLIP(real frame)))        the clip's own picture at that step
    w_frame * mean |pool(frame) - pool(real frame)|              its coarse layout and light (frame_pool^2)
    w_latent * mean (ws - w_target(real frame))^2                the same picture, asked of the latent:
                                                                w_target is the mean w of the frozen
                                                                generator's own samples that look most
                                                                like the real frame (training/latent_bank.py)
The two real-frame terms use what the paired dataset offers beyond the class: the real video of the
same instant, in CLIP space (what it shows) and at frame_pool x frame_pool pixels (where it is bright,
when the lightning flashes), never the fine detail a frozen generator cannot copy.
w_sync is the livevis addition "motion follows dynamics": per clip, how much the picture changes
from step to step should rise and fall with the audio's onset strength over that step (librosa-style
spectral flux of the same log-mel, so it works for any video, not only the synthetic set).
E_a hears each clip's audio through one draw of the recording chain of training/augment_audio.py
(config "audio_augment": room, background, microphone, EQ, compression, codec, gain), while the
onset strength of the sync target comes from the clean audio; metric "audio_augmented" is the
fraction of clips the chain changed.
Discriminators: hinge or non-saturating loss, optional lazy R1 on real inputs, flip/translate
augmentation applied alike to real and generated inputs. With image_discriminator "from_generator",
D_I starts as the discriminator saved with a livevis generator bundle (the generator stage's D,
already a judge of these frames) instead of a fresh one.

The run ends with RUN/bundle: generator, sound encoder, recurrent blocks, discriminators, CLIP, audio
front end, class prompts and provenance; `livevis run --model RUN/bundle` plays it.
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import math
import sys
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.bundle import AudioFrontend, Bundle, save_bundle
from livevis.training import augment_audio, latent_bank, losses
from livevis.training.augment import augment_frames
from livevis.training.clip_spec import bundle_clip_spec, load_clip
from livevis.training.data import ClipDataset
from livevis.training.loop import batch_indices, seed_everything, train_loop
from livevis.training.stages import common
from livevis.training.stages.audio import ENCODER_RECORD, ENCODER_WEIGHTS, FrozenEmbeddings, frame_at

_LOSS = {"w_clip_av": 1.0, "w_clip_at": 1.0, "lambda_b": 0.05, "w_adv_image": 0.1, "w_adv_video": 0.1,
         "w_sync": 0.5, "w_clip_vv": 1.0, "w_frame": 1.0, "frame_pool": 8, "w_spread": 0.0,
         "w_latent": 10.0, "adversarial": "hinge", "r1_gamma": 1.0, "r1_every": 4, "detach_audio_embedding": False}

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "steps": 30, "batch": 4, "seed": 0, "ckpt_every": 10, "sample_every": 10, "clip_steps": 4,
        "clip": "tiny", "generator": None, "init": None, "fixed_batch": False, "truncation": 0.7, "anchor_leak": 0.02,
        "encoder_trunk": "train",  # or "frozen": the video losses train only the offset head (freeze_trunk)
        "lr": 1e-3, "lr_d": 2e-3, "betas": [0.0, 0.99],
        "audio": AudioFrontend().to_dict(),
        "encoder": {"stem_width": 8, "widths": [8, 16, 32], "blocks": [1, 1, 1], "offset_init_scale": 0.01},
        "recurrent": {"input_dim": 32, "hidden_dim": 32, "update_scale": 0.1, "update_init_scale": 0.01, "linear_path": True},
        "image_discriminator": {"channel_base": 512, "channel_max": 32, "mbstd_group_size": 4},
        "video_discriminator": {"base_channels": 8, "max_channels": 32, "num_layers": 3, "temporal_kernel": 3},
        "loss": dict(_LOSS), "augment": {"flip": True, "translate": 0.125}, "latent_bank": dict(latent_bank.DEFAULTS, size=256),
        "audio_augment": dict(augment_audio.DEFAULTS),  # issue 13: what E_a hears (training/augment_audio.py)
    },
    "default": {
        "steps": 20000, "batch": 8, "seed": 0, "ckpt_every": 1000, "sample_every": 1000, "clip_steps": 8,
        "clip": "ViT-B-32:openai", "generator": None, "init": None, "fixed_batch": False, "truncation": 0.7, "anchor_leak": 0.02,
        "encoder_trunk": "train",  # or "frozen": the video losses train only the offset head (freeze_trunk)
        "lr": 2e-4, "lr_d": 2e-4, "betas": [0.0, 0.99],
        "audio": AudioFrontend().to_dict(),
        "encoder": {"stem_width": 32, "widths": [32, 64, 128, 256], "blocks": [1, 1, 1, 1], "offset_init_scale": 0.01},
        "recurrent": {"input_dim": 128, "hidden_dim": 128, "update_scale": 0.1, "update_init_scale": 0.01, "linear_path": True},
        "image_discriminator": {"channel_base": 16384, "channel_max": 512, "mbstd_group_size": 4},
        "video_discriminator": {"base_channels": 64, "max_channels": 512, "num_layers": 4, "temporal_kernel": 3},
        "loss": dict(_LOSS), "augment": {"flip": True, "translate": 0.125}, "latent_bank": dict(latent_bank.DEFAULTS),
        "audio_augment": dict(augment_audio.DEFAULTS),
    },
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", metavar="RUN", help="start the sound encoder from an `audio` run (its CLIP too, unless --clip)")


def configure(args, config: dict[str, Any]) -> dict[str, Any]:
    """--init RUN: the audio run's front end and encoder sizes, and its CLIP unless --clip was given."""
    if getattr(args, "init", None):
        record = read_init(args.init)
        config["init"] = str(args.init)
        config["audio"] = record["audio"]
        config["encoder"] = {k: record["config"][k] for k in ("stem_width", "widths", "blocks", "offset_init_scale")}
        # input normalisation and the band-statistics branch, when the audio run had them (older runs: not)
        config["encoder"].update({k: record["config"][k] for k in ("input_norm", "stats_width") if k in record["config"]})
        if args.clip is None:
            config["clip"] = f"bundle:{args.init}"
    if not config.get("generator"):
        raise LivevisError("the video stage needs --generator PATH (NVlabs .pkl, rosinality .pt or a livevis bundle)")
    load_frozen_generator(str(config["generator"]))  # a bad --generator fails before the run folder is made
    if config["image_discriminator"] == "from_generator":
        _saved_discriminator(str(config["generator"]))
    if config["loss"]["adversarial"] not in losses.ADVERSARIAL:
        raise LivevisError(f"loss.adversarial must be one of {', '.join(losses.ADVERSARIAL)}")
    if config.get("encoder_trunk", "train") not in ("train", "frozen"):
        raise LivevisError(f"encoder_trunk must be train or frozen, got {config['encoder_trunk']!r}")
    if not 0.0 <= float(config.get("anchor_leak", 0.0)) < 1.0:
        raise LivevisError(f"anchor_leak must be in [0, 1), got {config['anchor_leak']}")
    bank = config.get("latent_bank") or {}
    if float(config["loss"].get("w_latent", 0.0)) > 0 and not (int(bank.get("size", 0)) >= 1 and int(bank.get("k", 0)) >= 1):
        raise LivevisError("loss.w_latent needs latent_bank.size >= 1 and latent_bank.k >= 1")
    if config["clip_steps"] < 2:
        raise LivevisError("clip_steps must be >= 2 (motion needs consecutive steps)")
    return config


def read_init(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / ENCODER_RECORD
    if not path.is_file():
        raise LivevisError(f"--init {run_dir}: no {ENCODER_RECORD} (is it a finished `livevis train audio` run?)")
    try:
        record = json.loads(path.read_text())
        AudioFrontend.from_dict(record["audio"])
        record["config"]["stem_width"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LivevisError(f"{path}: unreadable or incomplete ({exc})") from None
    return record


@functools.lru_cache(maxsize=1)
def load_frozen_generator(path: str):
    """The generator at `path`, frozen (cached: configure checks it, train uses the same object)."""
    from livevis.models import load_generator

    try:
        generator = load_generator(path)
    except LivevisError as exc:
        raise LivevisError(f"--generator: {exc}") from None
    for attr in ("num_ws", "w_dim", "img_resolution", "z_dim", "mapping", "synthesis"):
        if not hasattr(generator, attr):
            raise LivevisError(f"--generator {path}: the loaded model has no {attr!r}")
    return generator.eval().requires_grad_(False)


@torch.no_grad()
def average_latent(generator, device, count: int = 2000) -> torch.Tensor:
    """w_bar [w_dim]: the mapping's tracked average when it has one, else a seeded estimate."""
    w_avg = getattr(generator.mapping, "w_avg", None)
    if isinstance(w_avg, torch.Tensor) and bool(w_avg.abs().sum() > 0):
        return w_avg.detach().clone().to(device)
    g = torch.Generator().manual_seed(0)
    z = torch.randn(count, generator.z_dim, generator=g).to(device)
    return generator.mapping(z)[:, 0].mean(0)                                  # [w_dim]


def build_models(cfg: dict[str, Any], generator, embed_dim: int, fe: AudioFrontend, device):
    R, num_ws, w_dim = int(generator.img_resolution), int(generator.num_ws), int(generator.w_dim)
    enc_cfg = dict(cfg["encoder"], n_mels=fe.n_mels, num_frames=fe.frames, embed_dim=embed_dim, num_ws=num_ws, w_dim=w_dim)
    encoder = factory.build("sound_encoder", enc_cfg)
    recurrent = factory.build("recurrent", dict(cfg["recurrent"], num_ws=num_ws, w_dim=w_dim, groups=None))
    if cfg["image_discriminator"] == "from_generator":
        d_image = generator_discriminator(str(cfg["generator"]))
    else:
        d_image = factory.build("image_discriminator", dict(cfg["image_discriminator"], img_resolution=R))
    d_video = factory.build("video_discriminator", dict(cfg["video_discriminator"], img_resolution=R))
    if cfg.get("init"):
        load_init_weights(encoder, Path(cfg["init"]))
    return [m.to(device) for m in (encoder, recurrent, d_image, d_video)]


@functools.lru_cache(maxsize=1)
def _saved_discriminator(path: str):
    """The image discriminator saved with the livevis generator bundle at `path` (cached: configure
    checks it, build_models copies it)."""
    from livevis.models.bundle import load_bundle

    if not Path(path).is_dir():
        raise LivevisError(f"image_discriminator=from_generator needs a livevis generator bundle, not {path}")
    d_image = load_bundle(path).image_discriminator
    if d_image is None:
        raise LivevisError(f"image_discriminator=from_generator: {path} holds no image discriminator")
    return d_image


def generator_discriminator(path: str):
    """A trainable copy of the image discriminator saved with the livevis generator bundle at `path`."""
    return copy.deepcopy(_saved_discriminator(path)).float().train().requires_grad_(True)


def freeze_trunk(encoder) -> None:
    """encoder_trunk=frozen: only the W+ offset head learns here. The trunk and the embedding head keep
    what the audio stage taught them (real recordings included); fine-tuning them on the video losses
    cost the embedding a third of its zero-shot accuracy on the validation recordings (51.9% -> 33.3%).
    Frozen BatchNorm layers stay in eval mode, so their running statistics do not drift either."""
    for name, module in encoder.named_children():
        if name != "offset_head":
            module.requires_grad_(False).eval()


def load_init_weights(encoder, run_dir: Path) -> None:
    """Copy the audio run's encoder in; its offset head is kept only when the ws layout matches."""
    from safetensors.torch import load_file

    file = run_dir / ENCODER_WEIGHTS
    try:
        found = load_file(str(file))
    except Exception as exc:  # missing or damaged: safetensors raises its own types
        raise LivevisError(f"--init {run_dir}: cannot read {ENCODER_WEIGHTS} ({exc})") from None
    state = encoder.state_dict()
    for key, ref in state.items():
        got = found.get(key)
        if got is None or tuple(got.shape) != tuple(ref.shape):
            if key.startswith("offset_head."):
                continue  # another generator's ws layout: start this head fresh
            raise LivevisError(f"--init {run_dir}: encoder tensor {key!r} does not fit (different CLIP or front end?)")
        state[key] = got.to(ref.dtype)
    encoder.load_state_dict(state)


def onset_strength(mel: torch.Tensor, frames: int) -> torch.Tensor:
    """Spectral flux of the last `frames` frames of each window: mel [N, n_mels, F] dB -> [N].
    librosa.onset.onset_strength's definition (mean over bands of the positive dB rise), averaged
    over the frames that fall inside the step."""
    flux = (mel[:, :, 1:] - mel[:, :, :-1]).clamp_min(0).mean(1)               # [N, F-1]
    return flux[:, -frames:].mean(1)


def train(args, run, dist) -> Path:
    cfg, L = run.config, run.config["loss"]
    device = dist.device
    seed_everything(cfg["seed"])
    fe = AudioFrontend.from_dict(cfg["audio"])
    train_set = ClipDataset(cfg["data"], "train")
    generator = load_frozen_generator(str(cfg["generator"])).to(device)
    clip, record, clip_prov = load_clip(cfg["clip"], device)
    encoder, recurrent, d_image, d_video = build_models(cfg, generator, clip.embed_dim, fe, device)
    common.check_frontend(fe, train_set.sample_rate, encoder.config.to_dict())
    step_samples = int(round(fe.sample_rate / fe.step_rate))
    T, B, seed = int(cfg["clip_steps"]), int(cfg["batch"]), int(cfg["seed"])
    clip_steps_available = train_set.samples_per_clip // step_samples
    if clip_steps_available < T:
        raise LivevisError(f"clips of {train_set.clip_seconds:g} s hold {clip_steps_available} steps at "
                           f"{fe.step_rate:g} Hz, fewer than clip_steps={T} (prepare longer clips or --set clip_steps=N)")
    if B % dist.world:
        raise LivevisError(f"--batch {B} must divide by the {dist.world} processes")
    w_bar = average_latent(generator, device)                                  # [w_dim]
    common.broadcast_parameters([encoder, recurrent, d_image, d_video])
    common.use_global_batchnorm(encoder)
    if cfg.get("encoder_trunk", "train") == "frozen":
        freeze_trunk(encoder)
    g_params = [p for m in (encoder, recurrent) for p in m.parameters() if p.requires_grad]
    d_params = [p for m in (d_image, d_video) for p in m.parameters()]
    betas = tuple(cfg["betas"])
    opt_g = torch.optim.Adam(g_params, lr=cfg["lr"], betas=betas)
    opt_d = torch.optim.Adam(d_params, lr=cfg["lr_d"], betas=betas)
    targets = FrozenEmbeddings(clip)
    offset = common.rank_offset(dist, B)
    R = int(generator.img_resolution)
    flux_frames = max(1, math.ceil(step_samples / fe.hop_length))
    anchor_leak = float(cfg.get("anchor_leak", 0.0))  # runs made before the key existed trained without it
    # Terms added after the first runs: configs saved before them train without (resume unchanged).
    w_vv, w_frame, pool = float(L.get("w_clip_vv", 0.0)), float(L.get("w_frame", 0.0)), int(L.get("frame_pool", 8))
    w_spread, w_latent = float(L.get("w_spread", 0.0)), float(L.get("w_latent", 0.0))
    bank = None
    if w_latent > 0:  # same seed on every rank and on resume: the same bank
        bank = latent_bank.build_bank(generator, clip, truncation=cfg["truncation"], pool=pool, device=device,
                                      **cfg["latent_bank"])
    # Audio augmentation (issue 13): None for runs configured before it existed or with p = 0.
    aug = augment_audio.build(cfg.get("audio_augment"), fe.sample_rate, cfg["data"], train_set.classes)

    def batch(step: int):
        """This rank's clips for `step`: mel [b*T, n_mels, F], onset strength [b, T], z [b, z_dim],
        real frames [b, T, 3, R, R], caption embeddings [b, D], and per-sample generators."""
        s = 0 if cfg["fixed_batch"] else step
        idx = batch_indices(s, B, len(train_set), seed, dist.rank, dist.world)
        gens = common.sample_generators(seed, s, len(idx), offset)
        aug_gens = common.sample_generators(seed, s, len(idx), offset, stream=3)
        audio, heard, ends, real, texts, zs, changed = [], [], [], [], [], [], 0
        for i, gen, aug_gen in zip(idx, gens, aug_gens):
            item = train_set[int(i)]
            s0 = int(torch.randint(0, clip_steps_available - T + 1, (1,), generator=gen))
            e = [(s0 + t + 1) * step_samples for t in range(T)]
            k = [frame_at(x, train_set.sample_rate, train_set.fps, item["frames"].shape[0]) for x in e]
            # Issue 13: E_a hears the clip's stretch through one draw of the recording chain (same
            # room, microphone, codec for all T windows, with pre-roll); the sync target below
            # stays the clean audio's onset strength (when things happen, not how they were recorded).
            lo = max(0, e[0] - fe.window_samples - (aug.preroll() if aug else 0))
            aug_audio, hit = augment_audio.augmented_clip(aug, item["audio"], lo, e[-1], aug_gen, item["label"])
            changed += int(hit)
            audio += [item["audio"]] * T
            heard += [aug_audio] * T
            ends += e
            real.append(common.resize(common.frames_to_float(item["frames"][k]), R))   # [T, 3, R, R]
            texts.append(targets.text(item["caption"]))
            zs.append(torch.randn(generator.z_dim, generator=gen))
        mel = common.mel_batch(common.window_batch(audio, ends, fe.window_samples), fe)   # [b*T, n_mels, F] clean
        strength = onset_strength(mel, flux_frames).view(len(idx), T)
        if aug is not None:
            mel = common.mel_batch(common.window_batch(heard, ends, fe.window_samples), fe)   # [b*T, n_mels, F] heard
        return (mel.to(device), strength.to(device), torch.stack(zs).to(device), torch.stack(real).to(device),
                torch.stack(texts).to(device), gens, s, changed)

    def generate(mel, z):
        """-> embedding [b, T, D], ws [b, T, num_ws, w_dim], frames [b, T, 3, R, R]."""
        b = z.shape[0]
        emb, off = encoder(mel)                                                # [b*T, D], [b*T, num_ws, w_dim]
        with torch.no_grad():
            ws0 = generator.mapping(z, truncation_psi=cfg["truncation"])       # [b, num_ws, w_dim]
        ws = recurrent(ws0, off.view(b, T, *off.shape[1:]), anchor_leak)      # [b, T, num_ws, w_dim]
        img = generator.synthesis(ws.flatten(0, 1))                            # [b*T, 3, R, R]
        return emb.view(b, T, -1), ws, img.view(b, T, *img.shape[1:])

    def step_fn(step: int) -> dict[str, float]:
        fault = common.fault_at(step)
        mel, strength, z, real, text, gens, s, changed = batch(step)
        b = z.shape[0]
        aug = dict(cfg["augment"])
        fake_gens = common.sample_generators(seed, s, b, offset, stream=1)
        real_gens = common.sample_generators(seed, s, b, offset, stream=2)

        # ---- sound encoder + recurrent blocks ----
        d_image.requires_grad_(False)
        d_video.requires_grad_(False)
        emb, ws, img = generate(mel, z)
        v = clip.encode_image(img.flatten(0, 1)).view(b, T, -1)               # [b, T, D]
        a = emb.detach() if L["detach_audio_embedding"] else emb
        l_av = losses.cosine_distance(a, v)
        l_at = losses.cosine_distance(v, text[:, None].expand_as(v))
        l_b = losses.latent_regulariser(ws, w_bar)
        l_spread = losses.layer_spread(ws)                                     # ws [b, T, num_ws, w_dim]
        l_vv, l_frame, l_latent = (torch.zeros((), device=device) for _ in range(3))
        if w_vv > 0 or bank is not None:
            with torch.no_grad():
                v_real = clip.encode_image(real.flatten(0, 1)).view(b, T, -1)  # [b, T, D]
            l_vv = losses.cosine_distance(v, v_real)
        if bank is not None:
            w_target = bank.targets(v_real.flatten(0, 1), real.flatten(0, 1)).view(b, T, -1)   # [b, T, w_dim]
            l_latent = latent_bank.latent_target_loss(ws, w_target)
        if w_frame > 0:
            l_frame = (F.adaptive_avg_pool2d(img.flatten(0, 1), pool) - F.adaptive_avg_pool2d(real.flatten(0, 1), pool)).abs().mean()
        fake_aug = augment_frames(img, fake_gens, **aug)                       # [b, T, 3, R, R]
        adv_i = losses.g_loss(d_image(fake_aug.flatten(0, 1)), L["adversarial"])
        adv_v = losses.g_loss(d_video(fake_aug), L["adversarial"])
        motion = (img[:, 1:] - img[:, :-1]).abs().mean((2, 3, 4))              # [b, T-1]
        l_sync = losses.correlation_loss(motion, strength[:, 1:])
        loss_g = (L["w_clip_av"] * l_av + L["w_clip_at"] * l_at + L["lambda_b"] * l_b
                  + L["w_adv_image"] * adv_i + L["w_adv_video"] * adv_v + L["w_sync"] * l_sync
                  + w_vv * l_vv + w_frame * l_frame + w_spread * l_spread + w_latent * l_latent)
        loss_g = common.optimize(loss_g, opt_g, g_params, fault)

        # ---- discriminators ----
        d_image.requires_grad_(True)
        d_video.requires_grad_(True)
        fake_aug = fake_aug.detach()
        real_aug = augment_frames(real, real_gens, **aug)
        do_r1 = L["r1_gamma"] > 0 and L["r1_every"] > 0 and step % L["r1_every"] == 0
        real_aug.requires_grad_(do_r1)
        real_i, real_v = d_image(real_aug.flatten(0, 1)), d_video(real_aug)
        loss_di = losses.d_loss(real_i, d_image(fake_aug.flatten(0, 1)), L["adversarial"])
        loss_dv = losses.d_loss(real_v, d_video(fake_aug), L["adversarial"])
        loss_d = loss_di + loss_dv
        r1 = torch.zeros((), device=device)
        if do_r1:  # lazy R1: every r1_every steps, scaled up to keep its average weight
            r1 = losses.r1_penalty(real_i.sum() + real_v.sum(), real_aug)
            loss_d = loss_d + 0.5 * L["r1_gamma"] * L["r1_every"] * r1
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        common.average_gradients(d_params)
        opt_d.step()
        out = {"loss_g": loss_g.item(), "clip_av": l_av.item(), "clip_at": l_at.item(), "latent_reg": l_b.item(), "spread": l_spread.item(), "clip_vv": l_vv.item(), "frame": l_frame.item(), "latent": l_latent.item(),
               "adv_image": adv_i.item(), "adv_video": adv_v.item(), "sync": l_sync.item(),
               "loss_d_image": loss_di.item(), "loss_d_video": loss_dv.item(), "r1": r1.item()}
        if aug is not None:  # fraction of the global batch's clips whose audio the chain changed
            out["audio_augmented"] = common.gather(torch.tensor([float(changed)], device=device)).sum().item() / B
        return out

    sample_set = _sample_set(cfg["data"])

    @torch.no_grad()
    def sample_fn(step: int) -> None:
        save_samples(run, f"step{step + 1:07d}", sample_set, encoder, recurrent, generator, fe, cfg)

    models = {"sound_encoder": encoder, "recurrent": recurrent, "image_discriminator": d_image, "video_discriminator": d_video}
    train_loop(run, step_fn=step_fn, total_steps=cfg["steps"], ckpt_every=cfg["ckpt_every"], models=models,
               optimizers={"g": opt_g, "d": opt_d}, sample_every=cfg["sample_every"] if dist.is_main else None,
               sample_fn=sample_fn)
    common.dump_for_test(models, dist.rank)
    if not dist.is_main:
        return run.dir / "bundle"
    return write_bundle(run, generator, encoder, recurrent, d_image, d_video, clip, record, clip_prov, fe, train_set.classes)


def _sample_set(data: str) -> ClipDataset:
    try:
        return ClipDataset(data, "val")
    except LivevisError:
        return ClipDataset(data, "train")


@torch.no_grad()
def save_samples(run, name: str, dataset: ClipDataset, encoder, recurrent, generator, fe: AudioFrontend, cfg, clips: int = 2) -> None:
    """A grid (real over generated, every other step) and an mp4 with its audio, for the first clips
    of the held-out split, from fixed latents. Leaves the training RNG and BN statistics alone."""
    modes = [(m, m.training) for m in encoder.modules()]  # a frozen trunk stays in eval mode afterwards
    encoder.eval()
    step_samples = int(round(fe.sample_rate / fe.step_rate))
    R = int(generator.img_resolution)
    rows, video = [], []
    for c in range(min(clips, len(dataset))):
        item = dataset[c]
        T = item["audio"].shape[0] // step_samples
        ends = [(t + 1) * step_samples for t in range(T)]
        mel = common.mel_batch(common.window_batch([item["audio"]] * T, ends, fe.window_samples), fe).to(encoder.offset_head.weight.device)
        _, off = encoder(mel)                                                   # [T, num_ws, w_dim]
        z = torch.randn(1, generator.z_dim, generator=torch.Generator().manual_seed(c)).to(off.device)
        ws0 = generator.mapping(z, truncation_psi=cfg["truncation"])           # [1, num_ws, w_dim]
        ws = recurrent(ws0, off[None], cfg.get("anchor_leak", 0.0))[0]         # [T, num_ws, w_dim]
        fake = generator.synthesis(ws).clamp(-1, 1).cpu()                       # [T, 3, R, R]
        k = [frame_at(e, dataset.sample_rate, dataset.fps, item["frames"].shape[0]) for e in ends]
        real = common.resize(common.frames_to_float(item["frames"][k]), R)
        rows += [real[::2], fake[::2]]
        if c == 0:
            video = fake
            audio = item["audio"][: T * step_samples]
    for m, training in modes:
        m.train(training)
    run.save_grid(name, torch.cat(rows), nrow=rows[0].shape[0])
    run.save_clip(name, video, fps=max(1, int(round(fe.step_rate))), audio=audio, sample_rate=dataset.sample_rate)


def write_bundle(run, generator, encoder, recurrent, d_image, d_video, clip, record, clip_prov, fe, classes) -> Path:
    """RUN/bundle: everything `livevis run --model` needs, plus the discriminators and provenance."""
    cfg = run.config
    for m in encoder.modules():  # plain BatchNorm2d again (GlobalBatchNorm2d is a training-time class)
        if isinstance(m, common.GlobalBatchNorm2d):
            m.__class__ = torch.nn.BatchNorm2d
    inputs = {"data": common.dataset_sha256(cfg["data"]), "generator": common.path_sha256(cfg["generator"])}
    if cfg.get("init"):
        inputs["init"] = common.path_sha256(Path(cfg["init"]) / ENCODER_WEIGHTS)
    if clip_prov.get("clip_sha256"):
        inputs["clip"] = clip_prov["clip_sha256"]
    provenance = {"stand_in": False, "inputs": inputs, "clip": cfg["clip"],
                  "recipe": f"livevis train video (preset {cfg['preset']}, {cfg['steps']} steps)",
                  "command": " ".join(["livevis", *sys.argv[1:]]), "loss": copy.deepcopy(cfg["loss"]),
                  "run": str(run.dir)}
    bundle = Bundle.new(
        generator, name=f"{Path(run.dir).name}", description=f"sound-guided model trained by livevis on {Path(cfg['data']).name}",
        sound_encoder=encoder.eval(), recurrent=recurrent.eval(), clip=clip, clip_spec=bundle_clip_spec(record),
        image_discriminator=d_image.eval(), video_discriminator=d_video.eval(), audio=fe,
        classes=common.class_prompts(classes), provenance=provenance,
    )
    return save_bundle(bundle, run.dir / "bundle")
