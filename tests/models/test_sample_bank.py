"""SampleBank: nearest samples in CLIP space; a bundle's W+ class scenes join its bank so prompts and
sounds can reach pictures the generator's mapping does not draw."""

import torch

from livevis.models import factory
from livevis.models.sample_bank import SampleBank, cached_sample_bank, class_scene_entries
from tests.rigs.tiny_parts import TINY_AUDIO, full_bundle


def w_plus_scenes(bundle, scenes_per_class: int = 2) -> torch.nn.Module:
    """A sound class model whose scenes are distinct W+ latents (one w per layer, far from the mapping's)."""
    g = bundle.generator
    model = factory.build("sound_classes", dict(n_mels=TINY_AUDIO.n_mels, num_frames=TINY_AUDIO.frames, num_classes=2,
                                                hidden=8, w_dim=g.w_dim, scenes_per_class=scenes_per_class,
                                                num_ws=g.num_ws))
    with torch.no_grad():
        model.scenes.copy_(torch.randn(model.scenes.shape, generator=torch.Generator().manual_seed(3)) * 4)
    return model.eval()


def test_nearest_of_a_w_plus_bank_is_a_per_layer_latent():
    ws = torch.randn(3, 5, 4)  # [N, num_ws, w_dim]
    clip = torch.eye(3)
    bank = SampleBank(ws, clip, k=1)
    assert torch.equal(bank.nearest(torch.tensor([[0.0, 2.0, 0.1]])), ws[1])
    assert bank.nearest(torch.ones(1, 3)).shape == (5, 4)


def test_a_w_plus_bank_averages_only_entries_of_the_nearest_ones_kind():
    """A fitted scene blended with mapping samples loses its picture: the mean skips the other kind."""
    ws = torch.stack([torch.full((5, 4), 10.0 ** i) for i in range(4)])  # [4, num_ws, w_dim], 1 10 100 1000
    clip = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.8, 0.2], [0.0, 1.0]]), dim=-1)
    scene = torch.tensor([True, False, True, False])
    bank = SampleBank(ws, clip, k=3, scene=scene)
    assert torch.equal(bank.nearest(torch.tensor([[1.0, 0.0]])), (ws[0] + ws[2]) / 2)  # entries 0, 2 (not 1)
    assert torch.equal(bank.nearest(torch.tensor([[0.85, 0.15]])), ws[1])  # nearest is 1, a sample: alone
    assert torch.equal(SampleBank(ws, clip, k=3).nearest(torch.tensor([[1.0, 0.0]])), ws[:3].mean(0))


def test_single_w_scenes_add_nothing():
    b = full_bundle()  # its sound class model keeps one w per scene
    assert class_scene_entries(b, device="cpu") is None


def test_w_plus_class_scenes_join_the_bank_and_a_prompt_can_reach_them(tmp_path, monkeypatch):
    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))
    b = full_bundle()
    b.sound_classes = w_plus_scenes(b)
    bank = cached_sample_bank(b, device="cpu", size=16)
    scenes = b.sound_classes.scenes.reshape(-1, b.generator.num_ws, b.generator.w_dim)  # [4, num_ws, w_dim]
    assert bank.ws.shape == (16 + 4, b.generator.num_ws, b.generator.w_dim)
    assert torch.allclose(bank.ws[16:], scenes)
    assert bank.scene.tolist() == [False] * 16 + [True] * 4
    # the first 16 are the generator's samples, the same w on every layer
    assert torch.equal(bank.ws[:16], bank.ws[:16, :1].expand(-1, b.generator.num_ws, -1))
    # an embedding equal to a scene's picture's picks that scene
    with torch.no_grad():
        img = b.generator.synthesis(scenes[2:3]).clamp(-1, 1)
        emb = b.clip.encode_image(img).float()
    one = SampleBank(bank.ws, bank.clip, k=1, scene=bank.scene)
    assert torch.allclose(one.nearest(emb), scenes[2])


def test_a_cached_w_plus_bank_keeps_its_kinds(tmp_path, monkeypatch):
    from livevis.models.bundle import load_bundle, save_bundle

    monkeypatch.setenv("LIVEVIS_CACHE_DIR", str(tmp_path / "cache"))
    b = full_bundle()
    b.sound_classes = w_plus_scenes(b)
    save_bundle(b, tmp_path / "b")
    b = load_bundle(tmp_path / "b")
    drawn = cached_sample_bank(b, device="cpu", size=8)
    cached = cached_sample_bank(b, device="cpu", size=8)
    assert len(list((tmp_path / "cache" / "banks").iterdir())) == 1
    assert torch.equal(cached.ws, drawn.ws) and torch.equal(cached.scene, drawn.scene) and int(cached.scene.sum()) == 4
