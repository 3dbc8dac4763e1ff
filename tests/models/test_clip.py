"""ClipSpace over open_clip with tiny random-init configs: no downloads anywhere."""

import json

import pytest
import torch

from livevis.errors import LivevisError
from livevis.models.clip import CLIP_MEAN, CLIP_STD, ClipSpace, small_clip_config, tiny_clip_config


@pytest.fixture(scope="module")
def clip():
    torch.manual_seed(0)
    return ClipSpace.from_config(tiny_clip_config(embed_dim=32, image_size=32))


def test_image_embeddings_unit_norm_any_input_size(clip):
    assert clip.embed_dim == 32 and clip.image_size == 32
    for size in (32, 48, 17):
        emb = clip.encode_image(torch.rand(3, 3, size, size) * 2 - 1)
        assert emb.shape == (3, 32)
        torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)


def test_text_embeddings_unit_norm_and_distinct(clip):
    emb = clip.encode_text(["a forest in fog", "waves crashing at night", "a forest in fog"])
    assert emb.shape == (3, 32)
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(emb[0], emb[2])
    assert (emb[0] - emb[1]).abs().max() > 1e-4
    with pytest.raises(LivevisError, match="list of strings"):
        clip.encode_text("a bare string")


def test_gradient_flows_through_encode_image(clip):
    img = (torch.rand(2, 3, 64, 64) * 2 - 1).requires_grad_()
    text = clip.encode_text(["sunset over mountains"]).detach()
    loss = 1 - (clip.encode_image(img) @ text.T).mean()
    loss.backward()
    assert img.grad is not None and img.grad.abs().sum() > 0


def test_preprocess_applies_clip_normalisation(clip):
    grey = torch.zeros(1, 3, 32, 32)  # 0 in [-1, 1] is 0.5 in [0, 1]
    x = clip.preprocess(grey)
    want = (0.5 - torch.tensor(CLIP_MEAN)) / torch.tensor(CLIP_STD)
    torch.testing.assert_close(x[0, :, 5, 5], want)
    with pytest.raises(LivevisError, match=r"\[B, 3, H, W\]"):
        clip.preprocess(torch.zeros(1, 4, 32, 32))


def test_from_config_round_trip_via_state_dict(clip):
    again = ClipSpace.from_config(clip.model_cfg, clip.model.state_dict())
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(again.encode_image(img), clip.encode_image(img))
    torch.testing.assert_close(again.encode_text(["x"]), clip.encode_text(["x"]))
    assert again.model_cfg == tiny_clip_config(embed_dim=32, image_size=32)


def test_from_config_errors(clip):
    sd = clip.model.state_dict()
    sd.pop("text_projection")
    with pytest.raises(LivevisError, match="missing.*text_projection"):
        ClipSpace.from_config(clip.model_cfg, sd)
    with pytest.raises(LivevisError, match="bad CLIP architecture"):
        ClipSpace.from_config({**clip.model_cfg, "bogus": 1})
    wrong = clip.model.state_dict()
    wrong["text_projection"] = torch.zeros(3, 3)
    with pytest.raises(LivevisError, match="size mismatch.*text_projection"):
        ClipSpace.from_config(clip.model_cfg, wrong)


def test_hf_tokenizer_clips_refused():
    with pytest.raises(LivevisError, match="Hugging Face tokenizer"):
        ClipSpace.from_open_clip("ViT-B-16-SigLIP")


def test_from_open_clip_offline_paths(tmp_path):
    with pytest.raises(LivevisError, match="unknown open_clip model"):
        ClipSpace.from_open_clip("No-Such-Model")
    with pytest.raises(LivevisError, match="cannot load CLIP"):
        ClipSpace.from_open_clip("RN50", str(tmp_path / "missing.safetensors"))


def test_from_open_clip_local_weights_file(tmp_path):
    """A local checkpoint path loads offline (what users do with a downloaded file)."""
    import open_clip
    from safetensors.torch import save_file

    cfg = tiny_clip_config(embed_dim=16, image_size=32)
    cfg_path = tmp_path / "livevis-tiny-test.json"
    cfg_path.write_text(json.dumps(cfg))
    open_clip.add_model_config(cfg_path)
    src = ClipSpace.from_config(cfg)
    weights = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in src.model.state_dict().items()}, str(weights))
    loaded = ClipSpace.from_open_clip("livevis-tiny-test", str(weights))
    assert loaded.model_cfg["embed_dim"] == 16 and loaded.embed_dim == 16
    img = torch.rand(1, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(loaded.encode_image(img), src.encode_image(img))


def test_small_clip_config_builds():
    cfg = small_clip_config()
    c = ClipSpace.from_config(cfg)
    assert c.embed_dim == cfg["embed_dim"] and c.image_size == cfg["vision_cfg"]["image_size"]
    assert c.encode_image(torch.zeros(1, 3, 128, 128)).shape == (1, cfg["embed_dim"])


def test_non_square_images_are_centre_cropped(clip):
    img = torch.rand(1, 3, 32, 32) * 2 - 1
    padded = torch.cat([torch.ones(1, 3, 32, 8), img, -torch.ones(1, 3, 32, 8)], dim=3)  # [1, 3, 32, 48]
    torch.testing.assert_close(clip.preprocess(padded), clip.preprocess(img))
