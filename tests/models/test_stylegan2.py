"""StyleGAN2 generator and its pure-PyTorch ops: semantics, parity with the original, export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import torch
from safetensors.torch import load_file, safe_open

from livevis.errors import LivevisError
from livevis.models import factory
from livevis.models.ops.bias_act import bias_act
from livevis.models.ops.conv2d_resample import conv2d_resample
from livevis.models.ops.modulated_conv import modulated_conv2d
from livevis.models.ops.upfirdn2d import parse_padding, parse_scaling, setup_filter, upfirdn2d, upsample2d
from livevis.models.stylegan2 import Generator, StyleGAN2Config, config_from_nvlabs_kwargs
from tests.models.export_check import assert_exports, assert_onnx_parity

GOLDEN = Path(__file__).parent / "golden"


def tiny(**overrides) -> Generator:
    cfg = dict(z_dim=16, w_dim=16, img_resolution=32, channel_base=256, channel_max=16, mapping_layers=2)
    cfg.update(overrides)
    torch.manual_seed(0)
    G = Generator(StyleGAN2Config(**cfg)).eval()
    with torch.no_grad():  # NVlabs init leaves these at zero, which would hide noise / bias bugs
        for name, p in G.named_parameters():
            if "noise_strength" in name or name.endswith(".bias"):
                p.copy_(torch.randn_like(p) * 0.3)
    return G


# ---------------------------------------------------------------- ops


def naive_upfirdn2d(x, f, up, down, pad, flip, gain):
    """Textbook definition with numpy/scipy: zero-insert, pad/crop, full 2D convolution, decimate."""
    x = x.double().numpy()
    f = f.double().numpy()
    if f.ndim == 1:
        f = np.outer(f, f)
    (upx, upy), (dx, dy), (px0, px1, py0, py1) = up, down, pad
    b, c, h, w = x.shape
    u = np.zeros((b, c, h * upy, w * upx))
    u[:, :, ::upy, ::upx] = x
    u = np.pad(u, ((0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))))
    u = u[:, :, max(-py0, 0): u.shape[2] - max(-py1, 0), max(-px0, 0): u.shape[3] - max(-px1, 0)]
    k = f * gain
    if flip:
        k = k[::-1, ::-1]
    out = np.stack([np.stack([scipy.signal.convolve2d(u[i, j], k, mode="valid") for j in range(c)]) for i in range(b)])
    return torch.from_numpy(out[:, :, ::dy, ::dx].copy())


@pytest.mark.parametrize("up,down,pad", [
    (1, 1, 0), (2, 1, (2, 1, 2, 1)), (2, 1, 1), (3, 1, (3, 1, 0, 2)), ((2, 1), 1, 2),
    (1, 2, (1, 2, 1, 2)), (1, (1, 2), 1), (2, 2, (3, -1, 0, 2)), (1, 1, (-1, -1, 1, 3)),
])
@pytest.mark.parametrize("separable", [False, True])
@pytest.mark.parametrize("flip", [False, True])
def test_upfirdn2d_matches_textbook_definition(up, down, pad, separable, flip):
    torch.manual_seed(1)
    f = setup_filter(torch.rand(8) + 0.1) if separable else setup_filter(torch.rand(4) + 0.1) + torch.rand(4, 4) * 0.1
    assert f.ndim == (1 if separable else 2)
    x = torch.randn(2, 3, 9, 11)
    got = upfirdn2d(x, f, up=up, down=down, padding=pad, flip_filter=flip, gain=1.7)
    want = naive_upfirdn2d(x, f, parse_scaling(up), parse_scaling(down), parse_padding(pad), flip, 1.7)
    assert got.shape == want.shape
    assert (got.double() - want).abs().max().item() < 1e-5


def test_setup_filter_normalises_and_upsample_keeps_dc():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and abs(f.sum().item() - 1) < 1e-6
    assert setup_filter([1] * 8).shape == (8,)  # >= 8 taps: separable by default
    x = torch.ones(1, 2, 8, 8)
    y = upsample2d(x, f)
    assert y.shape == (1, 2, 16, 16)
    assert torch.allclose(y[:, :, 2:-2, 2:-2], torch.ones(1, 2, 12, 12), atol=1e-6)  # DC gain 1 away from borders


def test_bias_act_definition():
    x = torch.randn(2, 5, 3, 3)
    b = torch.randn(5)
    y = bias_act(x, b, act="lrelu", clamp=0.5)
    want = (torch.nn.functional.leaky_relu(x + b[None, :, None, None], 0.2) * 2**0.5).clamp(-0.5, 0.5)
    assert torch.allclose(y, want)
    assert torch.equal(bias_act(x), x)
    assert torch.allclose(bias_act(x, torch.ones(3), dim=3, act="relu", gain=2.0), torch.relu(x + 1) * 2)
    assert torch.allclose(bias_act(x, act="lrelu", alpha=0.1, gain=1), torch.nn.functional.leaky_relu(x, 0.1))


@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate", [True, False])
def test_modulated_conv_paths_agree(up, demodulate):
    torch.manual_seed(2)
    x, w, s = torch.randn(3, 6, 8, 8), torch.randn(5, 6, 3, 3), torch.randn(3, 6)
    f = setup_filter([1, 3, 3, 1])
    noise = torch.randn(3, 1, 8 * up, 8 * up)
    kw = dict(up=up, padding=1, resample_filter=f, demodulate=demodulate, flip_weight=up == 1, noise=noise)
    a = modulated_conv2d(x, w, s, fused_modconv=True, **kw)
    b = modulated_conv2d(x, w, s, fused_modconv=False, **kw)
    assert a.shape == (3, 5, 8 * up, 8 * up)
    assert (a - b).abs().max().item() < 1e-4
    # per-sample reference: modulate / demodulate the weight explicitly, one sample at a time
    for i in range(3):
        wi = w * s[i][None, :, None, None]
        if demodulate:
            wi = wi / (wi.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).sqrt()
        ref = conv2d_resample(x[i:i + 1], wi, f=f, up=up, padding=1, flip_weight=up == 1) + noise[i]
        assert (ref - b[i:i + 1]).abs().max().item() < 1e-4


# ---------------------------------------------------------------- generator


def test_shapes_and_contract_attributes():
    G = tiny()
    assert (G.num_ws, G.w_dim, G.z_dim, G.img_resolution, G.img_channels) == (8, 16, 16, 32, 3)
    ws = G.mapping(torch.randn(2, 16), truncation_psi=0.5)
    assert ws.shape == (2, G.num_ws, G.w_dim)
    img = G.synthesis(ws)
    assert img.shape == (2, 3, 32, 32) and img.dtype == torch.float32
    assert torch.equal(G(torch.zeros(1, 16)), G.synthesis(G.mapping(torch.zeros(1, 16))))
    with pytest.raises(AssertionError):
        G.synthesis(ws[:, :-1])


def test_factory_and_state_dict_names():
    G = factory.build("stylegan2", {"z_dim": 8, "w_dim": 8, "img_resolution": 8, "channel_base": 64, "channel_max": 8,
                                    "mapping_layers": 1})
    names = set(G.state_dict())
    for expected in ["mapping.fc0.weight", "mapping.w_avg", "synthesis.b4.const", "synthesis.b4.resample_filter",
                     "synthesis.b4.conv1.affine.weight", "synthesis.b4.conv1.noise_const", "synthesis.b8.conv0.noise_strength",
                     "synthesis.b8.conv0.resample_filter", "synthesis.b8.torgb.weight", "synthesis.b8.torgb.affine.bias"]:
        assert expected in names
    assert G.config.img_resolution == 8


def test_config_validation_is_a_user_error():
    with pytest.raises(LivevisError, match="power of two"):
        StyleGAN2Config(img_resolution=48)
    with pytest.raises(LivevisError, match="unknown key"):
        StyleGAN2Config.from_dict({"img_resolution": 32, "bogus": 1})
    with pytest.raises(LivevisError, match="architecture"):
        StyleGAN2Config(architecture="fancy")
    with pytest.raises(LivevisError, match="not supported"):
        config_from_nvlabs_kwargs(dict(z_dim=1, c_dim=0, w_dim=1, img_resolution=4, img_channels=3, mystery=1))


def test_fused_and_non_fused_generators_agree():
    G = tiny(architecture="resnet")
    ws = G.mapping(torch.randn(2, 16))
    a = G.synthesis(ws, fused_modconv=True)
    b = G.synthesis(ws, fused_modconv=False)
    assert (a - b).abs().max().item() < 1e-4
    G2 = tiny(fused_modconv=True)
    assert G2.synthesis.fused_modconv and not tiny().synthesis.fused_modconv


def test_noise_modes():
    G = tiny()
    ws = G.mapping(torch.randn(1, 16))
    const = G.synthesis(ws)  # the default is 'const': deterministic
    assert torch.equal(const, G.synthesis(ws, noise_mode="const"))
    none = G.synthesis(ws, noise_mode="none")
    assert (const - none).abs().max() > 1e-3
    r1, r2 = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
    assert (r1 - r2).abs().max() > 1e-4
    shapes = G.synthesis.noise_shapes()
    assert len(shapes) == G.synthesis.num_noise == 7
    zeros = [torch.zeros(s) for s in shapes]
    assert torch.allclose(G.synthesis(ws, noise=zeros), none, atol=1e-6)
    stored = []
    for res in G.synthesis.block_resolutions:
        block = getattr(G.synthesis, f"b{res}")
        stored += [getattr(block, n).noise_const[None, None] for n in ("conv0", "conv1") if hasattr(block, n)]
    assert torch.allclose(G.synthesis(ws, noise=stored), const, atol=1e-6)
    with pytest.raises(LivevisError, match="noise tensors"):
        G.synthesis(ws, noise=zeros[:2])
    with pytest.raises(LivevisError, match="noise_mode"):
        G.synthesis(ws, noise_mode="loud")


def test_truncation():
    G = tiny()
    with torch.no_grad():
        G.mapping.w_avg.normal_()
    z = torch.randn(2, 16)
    w = G.mapping(z)
    assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.mapping.w_avg.expand_as(w))
    cut = G.mapping(z, truncation_psi=0.5, truncation_cutoff=3)
    assert torch.allclose(cut[:, 3:], w[:, 3:])
    assert torch.allclose(cut[:, :3], G.mapping.w_avg.lerp(w[:, :3], 0.5))


def test_conditional_mapping_needs_labels():
    G = tiny(c_dim=3)
    assert G.mapping(torch.randn(2, 16), torch.eye(3)[:2]).shape == (2, 8, 16)
    with pytest.raises(LivevisError, match="conditional"):
        G.mapping(torch.randn(2, 16))


# ---------------------------------------------------------------- parity with the original implementation


@pytest.mark.parametrize("name", ["skip32", "skip64", "resnet32_cond"])
def test_matches_nvlabs_golden_output(name):
    """Fixtures produced by NVlabs' networks_stylegan2 (tests/models/make_golden_sg2.py)."""
    path = GOLDEN / f"sg2_{name}.safetensors"
    with safe_open(str(path), "pt") as f:
        init_kwargs = json.loads(f.metadata()["init_kwargs"])
    tensors = load_file(str(path))
    G = Generator(config_from_nvlabs_kwargs(init_kwargs)).eval()
    state = {k[2:]: v for k, v in tensors.items() if k.startswith("G.")}
    G.load_state_dict(state, strict=True)
    c = tensors["c"] if init_kwargs["c_dim"] else None
    with torch.no_grad():
        ws = G.mapping(tensors["z"], c, truncation_psi=0.7)
        assert (ws - tensors["ws"]).abs().max().item() <= 1e-5
        for fused in (False, True):
            img = G.synthesis(tensors["ws"], noise_mode="const", fused_modconv=fused)
            assert (img - tensors["img_const"]).abs().max().item() <= 1e-3
            img = G.synthesis(tensors["ws"], noise_mode="none", fused_modconv=fused)
            assert (img - tensors["img_none"]).abs().max().item() <= 1e-3
    assert tensors["img_const"].abs().max() > 0.1  # the fixture is not degenerate


@pytest.mark.parametrize("config", ["config-f-1024", "ada-paper256"])
def test_tensor_names_cover_real_nvlabs_configs(config):
    doc = json.loads((GOLDEN / "sg2_nvlabs_names.json").read_text())[config]
    cfg = config_from_nvlabs_kwargs(doc["init_kwargs"])
    with torch.device("meta"):
        G = Generator(cfg)
    ours = {k: list(v.shape) for k, v in G.state_dict().items()}
    assert ours == doc["tensors"]


def test_ada_kwargs_layout():
    cfg = config_from_nvlabs_kwargs(dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=256, img_channels=3,
                                         mapping_kwargs={"num_layers": 2},
                                         synthesis_kwargs={"channel_base": 16384, "channel_max": 512, "num_fp16_res": 4}))
    assert (cfg.channel_base, cfg.mapping_layers, cfg.conv_clamp) == (16384, 2, None)  # ada blocks default to no clamp


# ---------------------------------------------------------------- export


def test_synthesis_exports_without_graph_breaks():
    G = tiny()
    ws = G.mapping(torch.randn(1, 16)).detach()
    program = assert_exports(G.synthesis, (ws,))
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("rand" in t for t in targets), "const noise must not draw random numbers"


class _WithNoise(torch.nn.Module):
    """synthesis(ws, noise=[...]) with the noise tensors as graph inputs."""

    def __init__(self, synthesis):
        super().__init__()
        self.synthesis = synthesis

    def forward(self, ws, *noise):
        return self.synthesis(ws, noise=list(noise))


def test_synthesis_exports_with_explicit_noise_inputs():
    G = tiny()
    ws = G.mapping(torch.randn(1, 16)).detach()
    noise = tuple(torch.randn(s) for s in G.synthesis.noise_shapes())
    program = assert_exports(_WithNoise(G.synthesis), (ws, *noise))
    inputs = [n for n in program.graph.nodes if n.op == "placeholder" and n.name.startswith("noise")]
    assert len(inputs) == len(noise)
    other = tuple(torch.randn(s) for s in G.synthesis.noise_shapes())
    with torch.no_grad():
        assert torch.allclose(program.module()(ws, *other), G.synthesis(ws, noise=list(other)), atol=1e-5)


def test_synthesis_onnx_opset17_matches_eager(tmp_path):
    onnx = pytest.importorskip("onnx")
    G = tiny()
    ws = G.mapping(torch.randn(1, 16)).detach()
    worst = assert_onnx_parity(G.synthesis, (ws,), tmp_path / "sg2.onnx", atol=1e-4, opset=17)
    assert worst <= 1e-4
    model = onnx.load(str(tmp_path / "sg2.onnx"))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    ops = {n.op_type for n in model.graph.node}
    assert "Pad" not in ops and not any(op.startswith("Random") for op in ops)


def test_live_preset_builds_and_runs():
    arch, cfg = factory.load_preset("stylegan2-256-live")
    assert arch == "stylegan2"
    G = factory.build(arch, cfg).eval()
    assert G.img_resolution == 256 and not G.config.fused_modconv
    with torch.no_grad():
        img = G.synthesis(G.mapping(torch.randn(1, G.z_dim)))
    assert img.shape == (1, 3, 256, 256) and torch.isfinite(img).all()


def test_demodulation_cache_follows_weight_changes():
    G = tiny()
    ws = G.mapping(torch.randn(1, 16)).detach()
    with torch.no_grad():
        before = G.synthesis(ws)
        layer = G.synthesis.b16.conv0
        assert torch.equal(layer.weight_sq(), layer.weight.square().sum([2, 3]))
        layer.weight.mul_(torch.rand_like(layer.weight) + 0.5)  # in-place edit bumps the version
        assert torch.allclose(layer.weight_sq(), layer.weight.square().sum([2, 3]))
        after = G.synthesis(ws)
        edited = layer.weight.clone()
        G.load_state_dict(tiny(architecture="skip").state_dict())  # back to the original weights
        assert torch.allclose(G.synthesis(ws), before, atol=1e-6)
    fresh = tiny()
    with torch.no_grad():
        fresh.synthesis.b16.conv0.weight.copy_(edited)
        assert torch.allclose(fresh.synthesis(ws, fused_modconv=True), after, atol=1e-4)  # fused path never caches


def test_memory_layout_does_not_change_results():
    a, b = tiny(channels_last=True), tiny(channels_last=False)
    ws = a.mapping(torch.randn(2, 16)).detach()
    with torch.no_grad():
        ia, ib = a.synthesis(ws), b.synthesis(ws)
    assert ia.is_contiguous() and (ia - ib).abs().max().item() < 1e-5


def test_whole_model_half_precision_runs():
    G = tiny()
    ws = G.mapping(torch.randn(1, 16)).detach()
    with torch.no_grad():
        ref = G.synthesis(ws)
        half = tiny().to(torch.float16)
        for fused in (False, True):
            out = half.synthesis(ws, fused_modconv=fused)
            assert out.dtype == torch.float32 and (out - ref).abs().max().item() < 0.05
