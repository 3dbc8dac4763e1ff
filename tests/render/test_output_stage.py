"""The output stage: frame -> program frame at the output size, fitted (contain / cover / stretch),
resampled by Lanczos-3 or bilinear; the learned upscaler before it (livevis.render.upscale)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from livevis.errors import LivevisError
from livevis.render.frame import Frame
from livevis.render.offscreen import Offscreen
from livevis.render.output_stage import fit_geometry, parse_size
from livevis.render.renderer import Renderer
from tests.rigs.display import egl_ctx, quadrant_frame  # noqa: F401  (fixture)


def _program(ctx, rgba, out_size, fit="contain", resample="lanczos", effects_on=False, post=None):
    h, w = rgba.shape[:2]
    target = Offscreen(*out_size, ctx=ctx)
    renderer = Renderer(ctx, w, h, out_size=out_size, fit=fit, resample=resample)
    try:
        renderer.upload(Frame(rgba=rgba))
        target.use()
        renderer.draw(target.framebuffer_size, post=post, effects_on=effects_on)
        return renderer.read_pixels(), target.read_screen()
    finally:
        renderer.release()
        target.close()


def test_parse_size_accepts_wxh_and_refuses_bad_ones_in_one_line():
    assert parse_size("1920x1080") == (1920, 1080) and parse_size(" 64X48 ") == (64, 48)
    for bad, needle in (("0x0", "between 16"), ("13x7", "between 16"), ("1921x1080", "even"), ("1280*720", "WIDTHxHEIGHT"),
                        ("big", "WIDTHxHEIGHT"), ("99999x16", "between 16")):
        with pytest.raises(LivevisError, match=needle) as info:
            parse_size(bad)
        assert "\n" not in str(info.value)


def test_fit_geometry():
    # contain: whole frame, bars; cover: output filled, source cropped centrally; stretch: both whole.
    g = fit_geometry((64, 64), (1280, 720), "contain")
    assert g.crop == (0.0, 0.0, 64.0, 64.0) and g.dest == (280, 0, 720, 720)
    g = fit_geometry((64, 64), (1280, 720), "cover")
    assert g.dest == (0, 0, 1280, 720) and g.crop == pytest.approx((0.0, 14.0, 64.0, 36.0))
    g = fit_geometry((64, 64), (720, 1280), "cover")
    assert g.crop == pytest.approx((14.0, 0.0, 36.0, 64.0))
    g = fit_geometry((64, 32), (100, 100), "contain")
    assert g.dest == (0, 25, 100, 50)
    assert fit_geometry((64, 64), (1280, 720), "stretch").dest == (0, 0, 1280, 720)
    with pytest.raises(LivevisError, match="--fit"):
        fit_geometry((64, 64), (64, 64), "bogus")


@pytest.mark.parametrize("resample", ["lanczos", "bilinear"])
@pytest.mark.parametrize("fit", ["contain", "cover", "stretch"])
def test_a_constant_frame_stays_constant(egl_ctx, resample, fit):
    rgba = np.full((48, 48, 4), 255, np.uint8)
    rgba[..., :3] = (200, 37, 90)
    pixels, _ = _program(egl_ctx, rgba, (160, 90), fit=fit, resample=resample)
    assert pixels.shape == (90, 160, 3)
    inside = pixels[:, 35:125] if fit == "contain" else pixels  # contain: 90x90 picture between the bars
    assert np.array_equal(np.unique(inside.reshape(-1, 3), axis=0), [[200, 37, 90]])
    if fit == "contain":
        assert pixels[:, :35].max() == 0 and pixels[:, 125:].max() == 0  # black bars


@pytest.mark.parametrize("fit", ["contain", "cover", "stretch"])
def test_fit_modes_put_the_quadrants_where_they_belong(egl_ctx, fit):
    # quadrant_frame: red top-left, green top-right, blue bottom-left, white bottom-right.
    pixels, _ = _program(egl_ctx, quadrant_frame(64, 64), (320, 180), fit=fit)
    left, right = (70 + 20, 250 - 20) if fit == "contain" else (40, 280)  # contain: picture at x 70..250
    assert np.abs(pixels[40, left].astype(int) - (255, 0, 0)).max() <= 3
    assert np.abs(pixels[40, right].astype(int) - (0, 255, 0)).max() <= 3
    assert np.abs(pixels[140, left].astype(int) - (0, 0, 255)).max() <= 3
    assert np.abs(pixels[140, right].astype(int) - (255, 255, 255)).max() <= 3
    if fit == "contain":
        assert pixels[:, :70].max() == 0 and pixels[:, 250:].max() == 0
    else:
        assert pixels[:, :4].max(axis=2).min() > 0  # filled to the edges: no black pixel


def test_lanczos_is_sharper_than_bilinear_and_close_to_the_reference(egl_ctx):
    """A smooth-ish pattern upscaled x4: the GL Lanczos-3 matches PIL's Lanczos closely, and bilinear less."""
    from PIL import Image

    rng = np.random.default_rng(0)
    small = rng.integers(0, 256, (16, 16, 3)).astype(np.uint8)
    small = np.array(Image.fromarray(small).resize((32, 32), Image.BICUBIC))  # [32, 32, 3]
    rgba = np.concatenate([small, np.full((32, 32, 1), 255, np.uint8)], axis=2)
    reference = np.array(Image.fromarray(small).resize((128, 128), Image.LANCZOS)).astype(float)
    errors = {}
    for resample in ("lanczos", "bilinear"):
        pixels, _ = _program(egl_ctx, rgba, (128, 128), fit="stretch", resample=resample)
        errors[resample] = np.abs(pixels.astype(float) - reference)[8:-8, 8:-8].mean()
    assert errors["lanczos"] < 1.5 and errors["lanczos"] < 0.5 * errors["bilinear"], errors


def test_window_of_another_aspect_letterboxes_the_program_frame(egl_ctx):
    """The program frame (16:9) shown in a square window: bars top and bottom, the picture in between."""
    rgba = np.full((32, 32, 4), 255, np.uint8)
    target = Offscreen(200, 200, ctx=egl_ctx)
    renderer = Renderer(egl_ctx, 32, 32, out_size=(320, 180), fit="cover")
    try:
        renderer.upload(Frame(rgba=rgba))
        target.use()
        renderer.draw(target.framebuffer_size, effects_on=False)
        screen = target.read_screen()
        assert screen[:40].max() == 0 and screen[-40:].max() == 0 and screen[60:140].min() == 255
        assert renderer.read_pixels().shape == (180, 320, 3)
    finally:
        renderer.release()
        target.close()


def test_blackout_reaches_the_program_frame(egl_ctx):
    rgba = np.full((32, 32, 4), 255, np.uint8)
    for effects in (False, True):
        pixels, _ = _program(egl_ctx, rgba, (64, 36), fit="cover", effects_on=effects, post={"blackout": True})
        assert pixels.max() == 0
        pixels, _ = _program(egl_ctx, rgba, (64, 36), fit="cover", effects_on=effects, post={"brightness": 0.5})
        assert abs(int(pixels.mean()) - 128) <= 2


def test_learned_upscaler_keeps_a_constant_frame_constant():
    """Whatever its weights, the learned upscaler leaves a flat field flat (its residual sees only detail)."""
    from livevis.models.upscaler import Upscaler, UpscalerConfig
    from livevis.render.upscale import UpscalePlan, UpscaledSynthesis

    torch.manual_seed(0)
    model = Upscaler(UpscalerConfig(scale=4, channels=8, num_conv=2)).eval()
    for p in model.parameters():
        torch.nn.init.normal_(p)  # arbitrary, non-zero weights
    flat = torch.full((1, 3, 16, 16), 0.25)
    flat[:, 1] = -0.5
    up = UpscaledSynthesis(lambda ws: flat, model)
    out = up(None)
    assert out.shape == (1, 3, 64, 64)
    assert torch.allclose(out, torch.nn.functional.interpolate(flat, scale_factor=4), atol=1e-5)
    textured = torch.rand(1, 3, 16, 16)
    assert not torch.allclose(UpscaledSynthesis(lambda ws: textured, model)(None),
                              torch.nn.functional.interpolate(textured, scale_factor=4, mode="bilinear"), atol=1e-3)
    assert UpscalePlan("learned", "lanczos", model).describe() == "upscaler learned"
