"""A bank of the generator's own samples described in CLIP space: W latents whose pictures are
nearest a sound's (or a text's) CLIP embedding.

The retrieve mode glides the scene toward the mean w of the bank samples nearest the sound
encoder's embedding; prompt switching does the same with a text embedding. The training stage's
latent targets (training/latent_bank.py) draw their bank with `draw_samples` too. Banks are cached
per generator + CLIP (safetensors, written atomically) because drawing one costs a synthesis and a
CLIP pass per sample.

A bundle whose sound class model holds W+ scenes (fitted to real frames, training/stages/sound_classes)
adds them to its bank: they draw pictures its generator's mapping rarely reaches (the 128 px default
never samples wind), so a prompt or a sound can still land there. The bank then stores W+ latents and
averages only entries of the nearest one's kind: a fitted scene blended with mapping samples loses
its picture (validation, BENCHMARKS.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from livevis.errors import LivevisError

BANK_SIZE = 1024
BANK_K = 8
BANK_SEED = 1


@dataclass
class SampleBank:
    ws: torch.Tensor  # [N, w_dim] mapping outputs, or [N, num_ws, w_dim] with W+ entries
    clip: torch.Tensor  # [N, D] unit CLIP image embeddings of their pictures
    k: int = BANK_K
    scene: torch.Tensor | None = None  # [N] bool: a class scene (W+) rather than a mapping sample; None: none

    @torch.inference_mode()
    def nearest(self, embedding: torch.Tensor) -> torch.Tensor:
        """embedding [1, D] (any norm) -> w [w_dim] (W+ bank: [num_ws, w_dim]): the mean of the k most
        similar entries, of those the same kind as the most similar (class scene or mapping sample)."""
        assert embedding.ndim == 2 and embedding.shape[1] == self.clip.shape[1], \
            f"embedding must be [1, {self.clip.shape[1]}], got {tuple(embedding.shape)}"
        e = F.normalize(embedding.float().to(self.clip.device), dim=-1)
        idx = (e @ self.clip.T)[0].topk(min(self.k, self.ws.shape[0])).indices  # [k], most similar first
        if self.scene is not None:
            kind = self.scene.to(idx.device)[idx]
            idx = idx[kind == kind[0]]
        return self.ws[idx].mean(0)


@torch.no_grad()
def draw_samples(generator, clip, *, size: int, seed: int, truncation: float, device, pool: int | None = None,
                 batch: int = 128):
    """`size` seeded samples: (ws [N, w_dim], unit CLIP embeddings [N, D], pooled pixels [N, 3 pool^2] or None)."""
    if size < 1:
        raise ValueError(f"bank size must be positive, got {size}")
    g = torch.Generator().manual_seed(int(seed))
    ws, embs, pooled = [], [], []
    for start in range(0, size, batch):
        z = torch.randn(min(batch, size - start), generator.z_dim, generator=g).to(device)  # [b, z_dim]
        w = generator.mapping(z, truncation_psi=truncation)  # [b, num_ws, w_dim]
        img = generator.synthesis(w).float().clamp(-1, 1)  # [b, 3, R, R]
        ws.append(w[:, 0].float())
        embs.append(F.normalize(clip.encode_image(img).float(), dim=-1))
        if pool:
            pooled.append(F.adaptive_avg_pool2d(img, pool).flatten(1))
    return torch.cat(ws), torch.cat(embs), (torch.cat(pooled) if pool else None)


@torch.no_grad()
def class_scene_entries(bundle, *, device, batch: int = 32):
    """The sound class model's W+ scenes as bank entries: (ws [S, num_ws, w_dim], unit CLIP embeddings
    [S, D]), or None when the bundle has no such scenes (none, or single-w ones)."""
    sc = getattr(bundle, "sound_classes", None)
    if sc is None or not sc.config.num_ws:
        return None
    ws = sc.scenes.float().reshape(-1, sc.config.num_ws, sc.config.w_dim).to(device)  # [K * P, num_ws, w_dim]
    embs = []
    for start in range(0, ws.shape[0], batch):
        img = bundle.generator.synthesis(ws[start:start + batch]).float().clamp(-1, 1)  # [b, 3, R, R]
        embs.append(F.normalize(bundle.clip.encode_image(img).float(), dim=-1))
    return ws, torch.cat(embs)


def with_class_scenes(ws: torch.Tensor, emb: torch.Tensor, scenes) -> SampleBank:
    """W samples ws [N, w_dim] (unit CLIP embeddings emb [N, D]) + W+ scenes (class_scene_entries) ->
    one bank; a W+ one ([N + S, num_ws, w_dim]) when there are scenes."""
    if scenes is None:
        return SampleBank(ws, emb)
    sws, semb = scenes
    scene = torch.cat([torch.zeros(ws.shape[0], dtype=torch.bool), torch.ones(sws.shape[0], dtype=torch.bool)])
    return SampleBank(torch.cat([ws[:, None].expand(-1, sws.shape[1], -1).to(sws), sws]), torch.cat([emb.to(semb), semb]),
                      scene=scene.to(sws.device))


def bank_key(weights_sha256: str, size: int, seed: int, truncation: float) -> str:
    text = f"{weights_sha256}:{size}:{seed}:{truncation:.4f}:v2"  # v2: W+ class scenes and their kind
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def cached_sample_bank(bundle, *, device, truncation: float = 0.7, size: int = BANK_SIZE, seed: int = BANK_SEED,
                       progress=None) -> SampleBank:
    """The bundle's bank, from the cache when it was drawn before (keyed by the bundle's weights)."""
    from safetensors.torch import load_file, save_file

    from livevis.models.bundle import bundle_sha256
    from livevis.paths import cache_dir
    from livevis.util.atomic import atomic_path

    if bundle.clip is None:
        raise LivevisError("this bundle has no CLIP model: the retrieve mode and prompts need one")
    weights = bundle_sha256(bundle.path) if getattr(bundle, "path", None) else None
    file = None
    if weights is not None:
        file = cache_dir("banks") / f"{bank_key(weights, size, seed, truncation)}.safetensors"
        if file.is_file():
            try:
                t = load_file(str(file), device=str(device))
                n = t["ws"].shape[0]
                if n >= size and t["clip"].shape[0] == n and ("scene" not in t or t["scene"].shape == (n,)):
                    return SampleBank(t["ws"], t["clip"], scene=t["scene"].bool() if "scene" in t else None)
            except Exception:  # a corrupt cache entry is drawn again
                pass
    if progress:
        progress(f"drawing a bank of {size} generator samples for retrieval (once per model)")
    ws, emb, _ = draw_samples(bundle.generator, bundle.clip, size=size, seed=seed, truncation=truncation, device=device)
    bank = with_class_scenes(ws, emb, class_scene_entries(bundle, device=device))
    if file is not None:
        tensors = {"ws": bank.ws.contiguous().cpu(), "clip": bank.clip.contiguous().cpu()}
        if bank.scene is not None:
            tensors["scene"] = bank.scene.to(torch.uint8).cpu()
        with atomic_path(file) as tmp:
            save_file(tensors, str(tmp))
    return bank

