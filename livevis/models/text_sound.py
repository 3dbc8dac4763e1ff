"""Text-to-sound Transformer: decoder-only over the sound tokenizer's codes, conditioned on a CLIP text
embedding (Sounding Video Generator's token Transformer, audio stream).

    input  [cond, t_0, ..., t_{n-2}]   cond = Linear(CLIP text embedding) or a learnt null token
    output logits for [t_0, ..., t_{n-1}]  [B, n, vocab]

The condition is one prefix token, so any prompt CLIP can embed works. Training drops it to the
null token with probability `cond_drop` (classifier-free guidance: at sampling, logits =
uncond + guidance * (cond - uncond)). Sampling is temperature / top-k with a torch.Generator, so the
same seed gives the same tokens; temperature 0 is greedy. Sequences longer than the context slide:
each new token sees the newest `max_len - 1` tokens (positions counted from the window's start).
`generate_sound` runs the whole text -> tokens -> log-mel -> Griffin-Lim chain of a bundle.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from livevis.errors import LivevisError
from livevis.models.config import StrictConfig


@dataclasses.dataclass
class TextSoundConfig(StrictConfig):
    vocab: int = 64  # the tokenizer's codebook size
    text_dim: int = 64  # CLIP embedding width
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    ff_mult: int = 4
    max_len: int = 64  # context in tokens, the condition token included
    dropout: float = 0.1
    cond_drop: float = 0.1  # classifier-free guidance: probability of training unconditioned

    def __post_init__(self):
        for name in ("vocab", "text_dim", "d_model", "layers", "heads", "ff_mult"):
            if int(getattr(self, name)) < 1:
                raise LivevisError(f"TextSoundConfig: {name} must be >= 1, got {getattr(self, name)}")
        if self.max_len < 2 or self.d_model % self.heads:
            raise LivevisError("TextSoundConfig: need max_len >= 2 and d_model divisible by heads")
        if not 0.0 <= self.dropout < 1.0 or not 0.0 <= self.cond_drop < 1.0:
            raise LivevisError("TextSoundConfig: dropout and cond_drop must be in [0, 1)")


class TextSound(nn.Module):
    def __init__(self, config: TextSoundConfig):
        super().__init__()
        self.config = c = config
        self.cond = nn.Linear(c.text_dim, c.d_model)
        self.null = nn.Parameter(torch.zeros(c.d_model))
        self.tok = nn.Embedding(c.vocab, c.d_model)
        self.pos = nn.Parameter(torch.randn(c.max_len, c.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(c.d_model, c.heads, c.d_model * c.ff_mult, c.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, c.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(c.d_model)
        self.head = nn.Linear(c.d_model, c.vocab)

    def condition(self, text: torch.Tensor | None, batch: int, drop: torch.Tensor | None = None) -> torch.Tensor:
        """text [B, text_dim] (None: unconditioned) -> cond token [B, 1, d_model]; drop [B] bool -> null."""
        null = self.null.expand(batch, -1)
        if text is None:
            return null[:, None]
        cond = self.cond(text.float())
        if drop is not None:
            cond = torch.where(drop[:, None], null, cond)
        return cond[:, None]

    def logits(self, cond: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """cond [B, 1, d], tokens [B, n] (n <= max_len - 1) -> next-token logits [B, n + 1, vocab]."""
        n = tokens.shape[1] + 1
        if n > self.config.max_len:
            raise LivevisError(f"text-to-sound context is {self.config.max_len - 1} tokens, got {n - 1}")
        x = torch.cat([cond, self.tok(tokens)], 1) + self.pos[:n]           # [B, n, d]
        mask = torch.triu(torch.full((n, n), float("-inf"), device=x.device), 1)
        return self.head(self.norm(self.blocks(x, mask=mask, is_causal=True)))

    def forward(self, text: torch.Tensor | None, tokens: torch.Tensor, drop: torch.Tensor | None = None) -> torch.Tensor:
        """Teacher forcing: text [B, text_dim], tokens [B, n] -> logits [B, n, vocab] for tokens[:, k]."""
        cond = self.condition(text, tokens.shape[0], drop)
        return self.logits(cond, tokens[:, :-1])

    @torch.no_grad()
    def sample(self, text: torch.Tensor, length: int, *, temperature: float = 1.0, top_k: int | None = None,
               guidance: float = 3.0, generator: torch.Generator | None = None,
               on_token: Callable[[int], None] | None = None) -> torch.Tensor:
        """text [1, text_dim] -> tokens [1, length]; guidance 1 = conditional only, 0 = unconditioned."""
        if length < 1:
            raise LivevisError("need at least one token to generate")
        if temperature < 0:
            raise LivevisError(f"temperature must be >= 0, got {temperature:g}")
        cond = torch.cat([self.condition(text, 1), self.condition(None, 1)])   # [2, 1, d]: cond, uncond
        ctx = self.config.max_len - 1
        out = torch.zeros(1, 0, dtype=torch.long, device=text.device)
        for i in range(length):
            window = out[:, -ctx:] if ctx > 0 else out[:, :0]
            last = self.logits(cond, window.expand(2, -1))[:, -1].float()   # [2, vocab]
            logit = last[1] + guidance * (last[0] - last[1]) if guidance != 1.0 else last[0]
            if temperature == 0:
                nxt = logit.argmax()[None]
            else:
                logit = logit / temperature
                if top_k is not None and 0 < top_k < logit.shape[-1]:
                    kth = torch.topk(logit, top_k).values[-1]
                    logit = logit.masked_fill(logit < kth, float("-inf"))
                probs = F.softmax(logit, -1).cpu()
                nxt = torch.multinomial(probs, 1, generator=generator).to(text.device)
            out = torch.cat([out, nxt.view(1, 1)], 1)
            if on_token is not None:
                on_token(i + 1)
        return out


# ---- text -> condition --------------------------------------------------------------------------------
# Wordings of a class the text-sound stage trains on ({name}: the class name with spaces); index 0
# means a training clip's own caption.
TEMPLATES = ("{caption}", "{name}", "the sound of {name}", "{name} sounds", "a video of {name}",
             "a recording of {name}", "heavy {name}", "soft {name}", "{name} at night", "{name} nearby",
             "loud {name} outside", "listen to the {name}")
TEXT_MATCH = ("nearest", "exact")


def wording(template: str, name: str, caption: str) -> str:
    """One of TEMPLATES filled for class `name` (a training clip's `caption` for "{caption}")."""
    return caption if template == "{caption}" else template.format(name=name.replace("_", " "))


def known_wordings(class_names: list[str]) -> list[str]:
    """Every wording of every class the model was trained on, captions aside (TEMPLATES)."""
    return [wording(t, n, "") for n in class_names for t in TEMPLATES[1:]]


class SoundCondition:
    """A prompt -> the text embedding [1, D] the text-to-sound model is conditioned on.

    "exact": the prompt's own CLIP embedding. "nearest": the embedding of the known wording (the
    class wordings it was trained on) nearest the prompt's. The model has learned its few training
    embeddings, not the space between them: on free validation prompts the eval's audio classifier
    named the prompt's class in 59% of generated sounds with "nearest" against 54% with "exact"
    (BENCHMARKS.md, "Free prompts"). A known wording (a class prompt) is its own embedding, exactly."""

    def __init__(self, clip, class_names: list[str], match: str = "nearest"):
        if match not in TEXT_MATCH:
            raise LivevisError(f"text match must be one of {', '.join(TEXT_MATCH)}, got {match!r}")
        self.clip, self.match = clip, match
        self.wordings = known_wordings(class_names) if match == "nearest" else []
        self._known: torch.Tensor | None = None                            # [W, D] as encoded
        self._unit: torch.Tensor | None = None                             # [W, D] unit norm

    @torch.no_grad()
    def __call__(self, text: str) -> torch.Tensor:
        emb = self.clip.encode_text([text]).float()                        # [1, D]
        if self.match == "exact" or not self.wordings or text in self.wordings:
            return emb                                                     # (a known wording: itself)
        if self._known is None:
            self._known = self.clip.encode_text(self.wordings).float()
            self._unit = F.normalize(self._known, dim=-1)
        sims = (F.normalize(emb, dim=-1) @ self._unit.T)[0]               # [W]
        best = int(sims.argmax())
        if float(sims[best]) >= 1.0 - 1e-6:
            return emb                                                     # the same text, spelled otherwise
        return self._known[best:best + 1].to(emb)


# ---- text -> waveform ---------------------------------------------------------------------------------
@dataclasses.dataclass
class Segment:
    start: float  # seconds
    text: str


@torch.no_grad()
def generate_sound(bundle, segments: list[Segment], seconds: float, *, seed: int = 0, temperature: float = 1.0,
                   top_k: int | None = 32, guidance: float = 3.0, griffin_lim_iters: int = 32, match: str = "nearest",
                   on_token: Callable[[int, int], None] | None = None) -> tuple[np.ndarray, torch.Tensor]:
    """Sound for `segments` (each prompt from its start to the next start / `seconds`) ->
    (float32 [round(seconds * rate)] at the bundle's rate, log-mel dB [n_mels, T]).

    Each segment's tokens are sampled afresh from its own prompt (so the sound switches at the
    segment's start), then all tokens are decoded together (the decoder's context smooths the seam)
    and inverted with Griffin-Lim. Deterministic per seed. `match`: how a prompt becomes the model's
    condition (SoundCondition).
    """
    from livevis.models.sound_tokenizer import mel_frames_for, mel_to_waveform

    tok, ts, clip = bundle.sound_tokenizer, bundle.text_sound, bundle.clip
    if tok is None or ts is None:
        raise LivevisError(f"model {bundle.name!r} has no text-to-sound model (attach one with "
                           "`livevis train text-sound ... --bundle BUNDLE`)")
    if clip is None:
        raise LivevisError(f"model {bundle.name!r} has no CLIP model to read the text with")
    fe = bundle.audio
    samples = int(round(seconds * fe.sample_rate))
    frames = mel_frames_for(samples, fe.hop_length)
    total = tok.tokens_for(frames)
    device = next(ts.parameters()).device
    condition = SoundCondition(clip, [c.name for c in bundle.classes], match)
    gen = torch.Generator().manual_seed(int(seed))
    # Token k covers mel frames [k * factor, (k + 1) * factor): a segment owns the tokens that start in it.
    tokens_per_second = fe.sample_rate / fe.hop_length / tok.factor
    bounds = [min(total, int(round(s.start * tokens_per_second))) for s in segments[1:]] + [total]
    parts, start, done = [], 0, 0
    for seg, end in zip(segments, bounds):
        if end <= start:
            continue
        text = condition(seg.text).to(device)                              # [1, D]

        def tick(i: int, base=done) -> None:
            if on_token is not None:
                on_token(base + i, total)

        parts.append(ts.sample(text, end - start, temperature=temperature, top_k=top_k, guidance=guidance,
                               generator=gen, on_token=tick))
        done += end - start
        start = end
    codes = torch.cat(parts, 1)                                            # [1, total]
    mel = tok.decode_tokens(codes.to(next(tok.parameters()).device))[0, :, :frames].float()  # [n_mels, T]
    audio = mel_to_waveform(mel, fe, samples, n_iter=griffin_lim_iters, seed=seed)
    return audio, mel.cpu()
