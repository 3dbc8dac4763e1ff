"""NDI sink: send through livevis and receive with the library on this machine.

Runs in a child process so the NDI runtime starts with a config that lists 127.0.0.1 as a place to
look for sources: CI containers run no mDNS daemon (avahi), which NDI discovery uses otherwise.
Skipped where the `ndi` extra (cyndilib, bundling the proprietary NDI runtime) is not installed.
"""

import json
import subprocess
import sys

import pytest

pytest.importorskip("cyndilib", reason="the ndi extra (cyndilib) is not installed")

_ROUNDTRIP = r"""
import json, sys, time
import numpy as np
from cyndilib.finder import Finder
from cyndilib.receiver import Receiver, ReceiveFrameType
from cyndilib.video_frame import VideoRecvFrame
from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat
from livevis.render.sinks import parse_output

W, H, NAME = 96, 64, sys.argv[1]
rgb = np.zeros((H, W, 3), np.uint8)
rgb[..., 0] = 200
rgb[:, :, 1] = (np.arange(W) * 2)[None, :]
rgb[H // 2 :, :, 2] = 150
sink = parse_output(f"ndi:{NAME}").open(W, H, 30)
finder = Finder()
finder.open()
source, deadline = None, time.monotonic() + 20
while source is None and time.monotonic() < deadline:
    sink.send(rgb)
    finder.wait_for_sources(0.2)
    names = [n for n in finder.get_source_names() if f"({NAME})" in n]
    source = finder.get_source(names[0]) if names else None
receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA, bandwidth=RecvBandwidth.highest)
frame = VideoRecvFrame()
receiver.set_video_frame(frame)
got = None
if source is not None:
    receiver.set_source(source)
    while got is None and time.monotonic() < deadline:
        sink.send(rgb)
        if receiver.receive(ReceiveFrameType.recv_video, 100) & ReceiveFrameType.recv_video:
            data = np.empty(frame.get_data_size(), np.uint8)
            frame.fill_p_data(data)
            got = data.reshape(frame.yres, frame.xres, 4)
sink.close()
finder.close()
result = {"found": source is not None, "received": got is not None, "stats": list(sink.stats.__dict__.values())}
if got is not None:
    result["shape"] = list(got.shape)
    result["max_error"] = int(np.abs(got[..., :3].astype(int) - rgb).max())
    result["alpha"] = int(got[..., 3].min())
print(json.dumps(result))
"""


def test_ndi_send_and_receive_on_this_machine(tmp_path):
    (tmp_path / "ndi-config.v1.json").write_text(json.dumps({"ndi": {"networks": {"ips": "127.0.0.1"}}}))
    env = {**__import__("os").environ, "NDI_CONFIG_DIR": str(tmp_path)}
    proc = subprocess.run([sys.executable, "-c", _ROUNDTRIP, "livevis-test"], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["found"], "the NDI finder did not see the livevis source"
    assert result["received"], result
    assert result["shape"] == [64, 96, 4] and result["alpha"] == 255
    assert result["max_error"] <= 16, result  # NDI's codec is lossy but close
    assert result["stats"][2] is None  # no error on the sink


def test_ndi_name_required():
    from livevis.errors import LivevisError
    from livevis.render.sinks import parse_output

    with pytest.raises(LivevisError, match="needs a target"):
        parse_output("ndi:")
