"""Per-module CPU latency of the live path's audio side (live presets: num_ws 14, w_dim 512, 80 mels x 59).

    OMP_NUM_THREADS=1 .venv/bin/python -m pytest tests/models/test_models_bench.py -q \
        --benchmark-columns=median,iqr,min,rounds --benchmark-sort=name

Eager runs with torch's default threads; the ONNX Runtime rows use one intra-op thread without
spinning, as the live pipeline configures it.
"""

import numpy as np
import pytest
import torch

from livevis.models import factory
from tests.models.export_check import CallMethod

pytest.importorskip("pytest_benchmark")


def _live_modules():
    torch.manual_seed(0)
    enc = factory.build(*factory.load_preset("sound_encoder-live")).eval()
    rec = factory.build(*factory.load_preset("recurrent-live")).eval()
    mel = torch.randn(1, 80, 59) * 20 - 40      # [1, n_mels, frames]
    ws = torch.randn(1, 14, 512)                # [1, num_ws, w_dim]
    hidden = rec.init_hidden(1)                 # [1, G, H]
    offset = torch.randn(1, 14, 512) * 0.1      # [1, num_ws, w_dim]
    return enc, rec, mel, ws, hidden, offset


def _ort_session(module, inputs, path):
    import onnxruntime as ort

    with torch.no_grad():
        torch.onnx.export(module, inputs, str(path), dynamo=True, opset_version=18, external_data=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs)}
    return sess, feeds


def test_bench_encoder_eager(benchmark):
    enc, _, mel, *_ = _live_modules()
    with torch.inference_mode():
        emb, off = benchmark.pedantic(enc, args=(mel,), rounds=100, warmup_rounds=10)
    assert emb.shape == (1, 512) and off.shape == (1, 14, 512)


def test_bench_recurrent_step_eager(benchmark):
    _, rec, _, ws, hidden, offset = _live_modules()
    with torch.inference_mode():
        ws_next, h_next = benchmark.pedantic(rec.step, args=(ws, hidden, offset), rounds=200, warmup_rounds=20)
    assert ws_next.shape == ws.shape and h_next.shape == hidden.shape


def test_bench_encoder_onnxruntime(benchmark, tmp_path):
    enc, _, mel, *_ = _live_modules()
    sess, feeds = _ort_session(enc, (mel,), tmp_path / "enc.onnx")
    emb, off = benchmark.pedantic(sess.run, args=(None, feeds), rounds=200, warmup_rounds=20)
    assert np.abs(off - enc(mel)[1].detach().numpy()).max() < 1e-4


def test_bench_recurrent_step_onnxruntime(benchmark, tmp_path):
    _, rec, _, ws, hidden, offset = _live_modules()
    sess, feeds = _ort_session(CallMethod(rec, "step").eval(), (ws, hidden, offset), tmp_path / "step.onnx")
    ws_next, _ = benchmark.pedantic(sess.run, args=(None, feeds), rounds=300, warmup_rounds=30)
    assert np.abs(ws_next - rec.step(ws, hidden, offset)[0].detach().numpy()).max() < 1e-4
