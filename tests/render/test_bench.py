import json

import numpy as np

from livevis.render import bench
from livevis.render.synthetic import pattern
from tests.rigs.display import egl_ctx  # noqa: F401  (fixture: skips without EGL)


def test_bench_reports_upload_and_draw(egl_ctx, capsys):
    assert bench.main(["--size", "32", "--frames", "5", "--viewport", "64x48", "--overlay", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["size"] == 32 and result["viewport"] == [64, 48] and result["frames"] == 5
    for stage in ("upload", "draw"):
        summary = result["stages_ms"][stage]
        assert 0 < summary["median"] <= summary["p95"]


def test_bench_bad_viewport_is_one_line(capsys):
    assert bench.main(["--viewport", "wide"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_synthetic_pattern_moves():
    a, b = pattern(64, 48, 0.0), pattern(64, 48, 0.5)
    assert a.shape == (48, 64, 4) and a.dtype == np.uint8
    assert (a[..., 3] == 255).all() and a[..., :3].std() > 30
    assert np.abs(a.astype(int) - b).mean() > 10
