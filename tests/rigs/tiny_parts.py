"""Tiny, fast bundles for format and CLI tests (16x16 StyleGAN2, small encoder and recurrent blocks)."""

from __future__ import annotations

import torch

from livevis.models import factory
from livevis.models.bundle import AudioFrontend, Bundle

# 8 kHz, 0.5 s windows: 1 + (4000 - 256) // 128 = 30 mel frames.
TINY_AUDIO = AudioFrontend(sample_rate=8000, n_fft=256, hop_length=128, n_mels=16, window_seconds=0.5, step_rate=8.0)
TINY_GENERATOR = dict(img_resolution=16, channel_base=256, channel_max=32, w_dim=32, z_dim=32, mapping_layers=2)


def tiny_generator(seed: int = 0) -> torch.nn.Module:
    torch.manual_seed(seed)
    return factory.build("stylegan2", TINY_GENERATOR).eval()


def tiny_bundle(seed: int = 0, generator_only: bool = False) -> Bundle:
    generator = tiny_generator(seed)
    encoder = recurrent = None
    if not generator_only:
        encoder = factory.build(
            "sound_encoder",
            dict(n_mels=TINY_AUDIO.n_mels, num_frames=TINY_AUDIO.frames, stem_width=8, widths=[8, 16], blocks=[1, 1],
                 embed_dim=16, num_ws=generator.num_ws, w_dim=generator.w_dim, offset_init_scale=1.0),
        ).eval()
        recurrent = factory.build(
            "recurrent", dict(num_ws=generator.num_ws, w_dim=generator.w_dim, input_dim=16, hidden_dim=16, update_init_scale=1.0)
        ).eval()
    return Bundle.new(
        generator,
        name="tiny",
        description="tiny test bundle",
        sound_encoder=encoder,
        recurrent=recurrent,
        audio=TINY_AUDIO,
        classes=[{"name": "rain", "prompt": "a photo of rain"}, {"name": "fire", "prompt": "a photo of fire"}],
        provenance={"recipe": "tests/rigs/tiny_bundle.py", "stand_in": True},
    )


@torch.no_grad()
def run_parts(bundle: Bundle, seed: int = 1) -> dict[str, torch.Tensor]:
    """Outputs of every present part on fixed inputs, for before/after comparisons."""
    g = torch.Generator().manual_seed(seed)
    gen = bundle.generator
    z = torch.randn(2, gen.z_dim, generator=g)  # [B, z_dim]
    ws = gen.mapping(z)  # [B, num_ws, w_dim]
    out = {"ws": ws, "img": gen.synthesis(ws, noise_mode="const")}
    if bundle.sound_encoder is not None:
        a = bundle.audio
        mel = torch.randn(2, a.n_mels, a.frames, generator=g) * 20 - 40  # [B, n_mels, frames] in dB
        emb, offset = bundle.sound_encoder(mel)
        out["embedding"], out["offset"] = emb, offset
        ws_next, hidden = bundle.recurrent.step(ws, bundle.recurrent.init_hidden(2), offset)
        out["ws_next"], out["hidden"] = ws_next, hidden
    return out


def full_bundle(seed: int = 0) -> Bundle:
    """Every part a bundle can hold: tiny bundle + tiny CLIP (weights stored) + both discriminators."""
    from livevis.models.clip import ClipSpace, tiny_clip_config

    b = tiny_bundle(seed)
    torch.manual_seed(seed + 1)
    b.clip = ClipSpace.from_config(tiny_clip_config(embed_dim=16, image_size=32))
    b.config["clip"] = {"kind": "open_clip_config"}
    for part in ("image_discriminator", "video_discriminator"):
        arch, config = factory.load_preset(f"{part}-tiny")
        config["img_resolution"] = TINY_GENERATOR["img_resolution"]
        setattr(b, part, factory.build(arch, config).eval())
    arch, config = factory.load_preset("sound_tokenizer-tiny")
    config["n_mels"] = TINY_AUDIO.n_mels
    b.sound_tokenizer = factory.build(arch, config).eval()
    arch, config = factory.load_preset("text_sound-tiny")
    config.update(vocab=32, text_dim=16)
    b.text_sound = factory.build(arch, config).eval()
    b.upscaler = factory.build(*factory.load_preset("upscaler-tiny")).eval()
    b.sound_classes = tiny_sound_classes(b.generator)
    return b


def tiny_sound_classes(generator, seed: int = 0, scenes_per_class: int = 2) -> torch.nn.Module:
    """A sound class model for TINY_AUDIO and the bundle's two classes, with random scene latents."""
    torch.manual_seed(seed)
    model = factory.build("sound_classes", dict(n_mels=TINY_AUDIO.n_mels, num_frames=TINY_AUDIO.frames, num_classes=2,
                                                hidden=8, w_dim=generator.w_dim, scenes_per_class=scenes_per_class))
    with torch.no_grad():
        model.scenes.copy_(generator.mapping(torch.randn(2 * scenes_per_class, generator.z_dim))[:, 0]
                           .reshape(2, scenes_per_class, -1))
    return model.eval()
