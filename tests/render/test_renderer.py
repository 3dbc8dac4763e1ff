import numpy as np
import pytest

from livevis.render.frame import Frame
from livevis.render.offscreen import Offscreen
from livevis.render.renderer import Renderer, letterbox_scale
from tests.rigs.display import egl_ctx, quadrant_frame  # noqa: F401  (fixture)

RED, GREEN, BLUE, WHITE, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255), (0, 0, 0)


def _setup(ctx, viewport, frame_size=(64, 64)):
    target = Offscreen(*viewport, ctx=ctx)
    renderer = Renderer(ctx, *frame_size)
    renderer.upload(Frame(rgba=quadrant_frame(*frame_size)))
    return target, renderer


def _draw(target, renderer, **kwargs):
    target.use()
    renderer.draw(target.framebuffer_size, **kwargs)
    return target.read_screen()


def _close(target, renderer):
    renderer.release()
    target.close()  # the shared fixture context stays


def _near(pixel, colour, tol=3):
    return bool(np.all(np.abs(pixel.astype(int) - np.array(colour)) <= tol))


def test_letterbox_scale_keeps_aspect():
    assert letterbox_scale((64, 64), (320, 160)) == (0.5, 1.0)
    assert letterbox_scale((64, 64), (160, 320)) == (1.0, 0.5)
    assert letterbox_scale((128, 64), (128, 64)) == (1.0, 1.0)


def test_wide_viewport_gets_black_bars_left_and_right(egl_ctx):
    target, renderer = _setup(egl_ctx, (320, 160))
    try:
        shot = _draw(target, renderer, effects_on=False)  # [160, 320, 3]
        assert shot.shape == (160, 320, 3)
        # bars: x in [0, 80) and [240, 320) are black over the full height
        assert not shot[:, :78].any() and not shot[:, 242:].any()
        # content: a 160x160 square centred, quadrants the right way up
        assert _near(shot[40, 120], RED) and _near(shot[40, 200], GREEN)
        assert _near(shot[120, 120], BLUE) and _near(shot[120, 200], WHITE)
        assert _near(shot[2, 82], RED) and _near(shot[157, 237], WHITE)  # content reaches the edges
    finally:
        _close(target, renderer)


def test_tall_viewport_gets_black_bars_top_and_bottom(egl_ctx):
    target, renderer = _setup(egl_ctx, (100, 300), frame_size=(64, 32))
    try:
        shot = _draw(target, renderer, effects_on=False)  # [300, 100, 3]; content 100x50 centred
        assert not shot[:123].any() and not shot[177:].any()
        assert _near(shot[137, 25], RED) and _near(shot[137, 75], GREEN)
        assert _near(shot[163, 25], BLUE) and _near(shot[163, 75], WHITE)
    finally:
        _close(target, renderer)


def test_read_pixels_is_the_frame_top_row_first(egl_ctx):
    target, renderer = _setup(egl_ctx, (320, 160))
    try:
        frame = np.random.default_rng(0).integers(0, 256, (64, 64, 4), dtype=np.uint8)
        renderer.upload(Frame(rgba=frame))
        _draw(target, renderer, effects_on=False)
        pixels = renderer.read_pixels()
        assert pixels.shape == (64, 64, 3) and pixels.dtype == np.uint8
        assert np.array_equal(pixels, frame[..., :3])  # 1:1 copy, no filtering, no flip
        out = np.zeros_like(pixels)
        assert renderer.read_pixels(out) is out and np.array_equal(out, pixels)
    finally:
        _close(target, renderer)


def test_post_effect_reacts_to_onset_and_toggles_off(egl_ctx):
    from livevis.render.synthetic import pattern

    target, renderer = _setup(egl_ctx, (64, 64))
    try:
        renderer.upload(Frame(rgba=pattern(64, 64, 0.3)))  # mid-range colours: a flash can show
        plain = _draw(target, renderer, effects_on=False)
        silent = _draw(target, renderer, post={"level": 0.0, "onset": 0.0, "time": 1.0}, effects_on=True)
        assert np.abs(silent.astype(int) - plain).max() <= 2  # no sound: the frame itself
        hit = _draw(target, renderer, post={"level": 0.0, "onset": 1.0, "time": 1.0}, effects_on=True)
        changed = np.abs(hit.astype(int) - plain).max(axis=2) > 20
        assert changed.mean() > 0.3  # zoom pulse + RGB split + flash move a visible share of pixels
        assert np.array_equal(renderer.read_pixels(), hit)  # what is recorded is what is shown
        off = _draw(target, renderer, post={"level": 1.0, "onset": 1.0, "time": 1.0}, effects_on=False)
        assert np.array_equal(off, plain)
    finally:
        _close(target, renderer)


def test_feedback_trails_follow_the_level(egl_ctx):
    target, renderer = _setup(egl_ctx, (64, 64))
    try:
        renderer.upload(Frame(rgba=np.full((64, 64, 4), 255, np.uint8)))
        _draw(target, renderer, effects_on=True)
        black = np.zeros((64, 64, 4), np.uint8)
        black[..., 3] = 255
        renderer.upload(Frame(rgba=black))
        quiet = _draw(target, renderer, post={"level": 0.0}, effects_on=True)
        assert quiet.max() <= 2  # no trails without sound
        renderer.upload(Frame(rgba=np.full((64, 64, 4), 255, np.uint8)))
        _draw(target, renderer, effects_on=True)
        renderer.upload(Frame(rgba=black))
        loud = _draw(target, renderer, post={"level": 1.0}, effects_on=True)
        assert loud[32, 32].min() > 150  # the previous white frame lingers
    finally:
        _close(target, renderer)


def test_overlay_draws_text_where_expected(egl_ctx):
    target, renderer = _setup(egl_ctx, (320, 160))
    try:
        grey = np.full((64, 64, 4), 128, np.uint8)
        renderer.upload(Frame(rgba=grey))
        without = _draw(target, renderer, effects_on=False)
        with_text = _draw(target, renderer, effects_on=False, overlay_lines=["fps 60.0", "latency 42 ms"])
        diff = np.abs(with_text.astype(int) - without).max(axis=2) > 30  # [160, 320]
        assert diff.any()
        ys, xs = np.nonzero(diff)
        assert ys.max() < 60 and xs.max() < 200  # top-left corner only
        bright = with_text[diff].max(axis=1)
        assert (bright > 200).any()  # white glyph pixels, not only the dark box
        assert np.abs(renderer.read_pixels().astype(int) - 128).max() == 0  # not in the program frame by default
        recorded = renderer.read_pixels(overlay=True)
        assert np.abs(recorded.astype(int) - 128).max() > 30  # in the recording when asked (--record-overlay)
    finally:
        _close(target, renderer)


def test_upload_rejects_a_frame_of_the_wrong_size(egl_ctx):
    target, renderer = _setup(egl_ctx, (64, 64))
    try:
        with pytest.raises(AssertionError, match="renderer expects"):
            renderer.upload(Frame(rgba=np.zeros((32, 64, 4), np.uint8)))
    finally:
        _close(target, renderer)


def test_cuda_frame_without_cuda_python_is_a_clear_error(egl_ctx):
    torch = pytest.importorskip("torch")
    from livevis.errors import LivevisError
    from livevis.render import cuda_gl

    if cuda_gl.available():
        pytest.skip("cuda-python and a GPU are present: covered by test_cuda_gl")
    target, renderer = _setup(egl_ctx, (64, 64))

    class FakeCudaTensor:  # what Renderer looks at before handing over to cuda_gl
        shape = (64, 64, 4)
        dtype = torch.uint8
        is_cuda = True

    try:
        with pytest.raises(LivevisError, match="CUDA"):
            renderer.upload(Frame(rgba=FakeCudaTensor()))
    finally:
        _close(target, renderer)


def test_hot_reload_reaches_the_renderer(egl_ctx, tmp_path):
    import os
    import re
    import shutil

    from livevis.render.shaders import ShaderLibrary, shader_dir

    for path in shader_dir().glob("*.glsl"):
        shutil.copy(path, tmp_path / path.name)
    target = Offscreen(64, 64, ctx=egl_ctx)
    renderer = Renderer(egl_ctx, 64, 64, shaders=ShaderLibrary(egl_ctx, directory=tmp_path, hot_reload=True))
    try:
        renderer.upload(Frame(rgba=quadrant_frame(64, 64)))
        before = _draw(target, renderer, effects_on=True)
        assert _near(before[10, 10], RED)
        post = tmp_path / "post.glsl"
        mtime = post.stat().st_mtime
        text = post.read_text()
        edited = re.sub(r"f_color = vec4\(max\(.*\), 1\.0\);", "f_color = vec4(0.0, 0.0, 1.0, 1.0);", text)
        assert edited != text
        post.write_text(edited)
        os.utime(post, (mtime + 5, mtime + 5))
        after = _draw(target, renderer, effects_on=True)
        assert _near(after[10, 10], BLUE) and _near(after[50, 50], BLUE)
    finally:
        _close(target, renderer)
