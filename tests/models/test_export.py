"""Export readiness of the live-path modules: torch.export (one graph) and ONNX Runtime parity."""

import pytest
import torch

from livevis.models import factory
from tests.models.export_check import CallMethod, assert_exports, assert_onnx_parity


def _encoder(preset: str):
    torch.manual_seed(0)
    arch, cfg = factory.load_preset(preset)
    enc = factory.build(arch, cfg).eval()
    # Non-trivial BN statistics, so the export must carry them (eval mode folds nothing away).
    for m in enc.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    mel = torch.randn(1, cfg["n_mels"], cfg["num_frames"]) * 20.0 - 40.0  # [1, n_mels, frames] dB
    return enc, (mel,)


def _recurrent(preset: str):
    torch.manual_seed(0)
    arch, cfg = factory.load_preset(preset)
    rec = factory.build(arch, cfg).eval()
    for blk in rec.blocks:
        torch.nn.init.normal_(blk.update.weight, std=0.05)  # trained-sized updates, not the tiny init
    n, d = cfg["num_ws"], cfg["w_dim"]
    ws = torch.randn(1, n, d)                             # [1, num_ws, w_dim]
    hidden = torch.randn(1, rec.num_groups, cfg["hidden_dim"]) * 0.5  # [1, G, H]
    offset = torch.randn(1, n, d) * 0.3                   # [1, num_ws, w_dim]
    return CallMethod(rec, "step").eval(), (ws, hidden, offset)


CASES = {
    "encoder-tiny": lambda: _encoder("sound_encoder-tiny"),
    "encoder-live": lambda: _encoder("sound_encoder-live"),
    "recurrent-step-tiny": lambda: _recurrent("recurrent-tiny"),
    "recurrent-step-live": lambda: _recurrent("recurrent-live"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_torch_export_single_graph(case):
    module, inputs = CASES[case]()
    program = assert_exports(module, inputs)
    # A GRU from Linear ops: no recurrent aten op for TensorRT to choke on.
    targets = {str(n.target) for n in program.graph.nodes if n.op == "call_function"}
    assert not any("gru" in t or "rnn" in t or "lstm" in t for t in targets), targets


@pytest.mark.parametrize("preset,shape", [("image_discriminator-tiny", (4, 3, 32, 32)),
                                          ("video_discriminator-tiny", (2, 6, 3, 32, 32))])
def test_discriminators_export(preset, shape):
    """Not on the live path, but compiled training steps want one graph too."""
    torch.manual_seed(0)
    d = factory.build(*factory.load_preset(preset)).eval()
    assert_exports(d, (torch.randn(shape),), atol=1e-4)


@pytest.mark.parametrize("case", sorted(CASES))
def test_onnx_runtime_parity(case, tmp_path):
    module, inputs = CASES[case]()
    worst = assert_onnx_parity(module, inputs, tmp_path / f"{case}.onnx", atol=1e-4, opset=18)
    assert worst <= 1e-4


@pytest.mark.parametrize("case", ["encoder-tiny", "recurrent-step-tiny"])
def test_onnx_opset17(case, tmp_path):
    """Opset 17 is what older TensorRT parsers want: no op here forces the exporter to stay at 18."""
    import onnx

    module, inputs = CASES[case]()
    assert_onnx_parity(module, inputs, tmp_path / "m17.onnx", atol=1e-4, opset=17)
    opsets = {o.domain: o.version for o in onnx.load(str(tmp_path / "m17.onnx")).opset_import}
    assert opsets.get("", opsets.get("ai.onnx")) == 17, opsets


def test_parity_helper_catches_a_mismatch(tmp_path):
    """The helper must fail when the exported graph differs from what eager returns now."""

    class Flaky(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.calls = 0

        def forward(self, x):
            self.calls += 1
            return x * (1.0 if self.calls == 1 else 2.0)  # eager reference call vs traced call differ

    with pytest.raises(AssertionError, match="max\\|diff\\|"):
        assert_onnx_parity(Flaky(), (torch.ones(2, 3),), tmp_path / "flaky.onnx")
