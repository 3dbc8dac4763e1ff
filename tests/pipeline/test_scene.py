"""SceneDriver: every mode is causal and deterministic; seeds crossfade; modes a model lacks are refused."""

import numpy as np
import pytest
import torch

from livevis.control import live_params
from livevis.errors import LivevisError
from livevis.eval.response import click_track, measure_response
from livevis.models.bundle import load_bundle
from livevis.pipeline.modules import build_live_modules
from livevis.pipeline.offline import scene_frames
from livevis.pipeline.scene import check_mode, default_mode
from tests.rigs.tiny_bundle import tiny_bundle  # noqa: F401 - fixture
from tests.rigs.tiny_parts import tiny_bundle as parts_bundle

FPS = 30.0


@pytest.fixture(scope="module")
def modules(tiny_bundle):
    return build_live_modules(load_bundle(tiny_bundle), backend="eager")


@pytest.fixture(scope="module")
def generator_only():
    return build_live_modules(parts_bundle(generator_only=True), backend="eager")


def params(mode, **changes):
    p = live_params()
    p.set_many({"mode": mode, **changes})
    return p


def trajectory(modules, audio, mode, **changes):
    return torch.stack([ws[0].clone() for _k, _i, ws in scene_frames(modules, audio, fps=FPS, params=params(mode, **changes))])


@pytest.mark.parametrize("mode", ["react", "learned"])
def test_causal_and_deterministic(modules, mode):
    audio, _ = click_track(4.0, modules.sample_rate)
    a = trajectory(modules, audio, mode)
    assert torch.equal(a, trajectory(modules, audio, mode))  # same audio, same frames
    cut = int(2.0 * modules.sample_rate)
    changed = audio.copy()
    changed[cut:] = np.random.default_rng(1).standard_normal(changed.shape[0] - cut).astype(np.float32) * 0.5
    b = trajectory(modules, changed, mode)
    k_cut = int(2.0 * FPS)  # frame k sees audio before k / fps only
    assert torch.equal(a[:k_cut + 1], b[:k_cut + 1])
    assert not torch.equal(a[k_cut + 2:], b[k_cut + 2:])


def test_react_runs_on_a_generator_only_model_and_moves_with_the_clicks(generator_only):
    audio, hits = click_track(6.0, generator_only.sample_rate)
    silence = np.zeros_like(audio)
    ws_music = trajectory(generator_only, audio, "react")
    ws_quiet = trajectory(generator_only, silence, "react")
    move = lambda ws: float((ws[1:] - ws[:-1]).norm(dim=(1, 2)).sum())  # noqa: E731
    assert move(ws_music) > 5 * move(ws_quiet)


def test_response_delay_is_within_two_frames_at_60fps(generator_only, modules):
    for m, mode in ((generator_only, "react"), (modules, "learned")):
        r = measure_response(m, params(mode), fps=60.0, seconds=6.0)
        assert r["hits"] >= 8 and r["rise"] > 0
        assert r["half"] <= 35.0 and r["peak"] <= 50.0, (mode, r["half"], r["peak"])


def test_seed_change_crossfades_through_intermediate_latents(generator_only):
    p = params("react", crossfade=0.5, motion_base=0.0)
    audio = np.zeros(int(2.0 * generator_only.sample_rate), dtype=np.float32)
    frames = scene_frames(generator_only, audio, fps=FPS, params=p)
    before = [ws[0].clone() for _k, _i, ws in (next(frames) for _ in range(5))][-1]
    p.set("seed", 99)
    after = [ws[0].clone() for _k, _i, ws in (next(frames) for _ in range(30))]
    target = after[-1]
    d = [float((w - target).norm()) for w in after]
    assert d[0] > 0 and d[-1] == 0.0
    mid = after[7]  # 0.25 s into a 0.5 s fade: between the two scenes
    assert 0.1 * float((before - target).norm()) < float((mid - target).norm()) < 0.9 * float((before - target).norm())
    assert all(d[i] >= d[i + 1] - 1e-6 for i in range(len(d) - 1))


def test_modes_a_model_lacks_are_one_clear_error(generator_only, modules):
    assert default_mode(generator_only) == "react" and default_mode(modules) == "learned"
    with pytest.raises(LivevisError, match="generator only"):
        check_mode("learned", generator_only, has_clip=False)
    with pytest.raises(LivevisError, match="CLIP"):
        check_mode("retrieve", modules, has_clip=False)
    with pytest.raises(LivevisError, match="unknown mode"):
        check_mode("dance", modules, has_clip=True)


def test_retrieve_glides_to_the_bank_sample_nearest_the_sound():
    from livevis.models.sample_bank import SampleBank
    from tests.rigs.tiny_parts import full_bundle

    bundle = full_bundle()
    m = build_live_modules(bundle, backend="eager")
    # A two-sample bank described as the sound's own embedding and its opposite: the sound must
    # lead to the first sample.
    audio = np.random.default_rng(2).standard_normal(int(3.0 * m.sample_rate)).astype(np.float32) * 0.3
    with torch.inference_mode():
        emb = m.encoder(m.mel(torch.from_numpy(audio[-m.window_samples:])))[0]  # [1, D]
    clip = torch.nn.functional.normalize(torch.cat([emb, -emb]), dim=-1)  # [2, D]
    bank = SampleBank(torch.stack([torch.full((m.w_dim,), 3.0), torch.full((m.w_dim,), -3.0)]), clip, k=1)
    want = bank.ws[0]
    p = params("retrieve", glide=0.2, motion_depth=0.0, pulse_gain=0.0)
    ws = [w[0].clone() for _k, _i, w in scene_frames(m, audio, fps=FPS, params=p, bank=bank)]
    start_gap = float((ws[0] - want).abs().mean())
    end_gap = float((ws[-1] - want).abs().mean())
    assert end_gap < 0.2 * start_gap, (start_gap, end_gap)


def test_prompt_switch_crossfades_to_the_texts_bank_sample(generator_only):
    """Live prompt switching: text -> CLIP text embedding -> nearest bank sample -> crossfade there,
    while the sound keeps moving the picture."""
    from livevis.models.sample_bank import SampleBank

    m = generator_only
    rain, fire = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    bank = SampleBank(torch.stack([torch.full((m.w_dim,), 2.0), torch.full((m.w_dim,), -2.0)]),
                      torch.cat([rain, fire]), k=1)
    texts = {"rain": rain, "fire": fire}
    p = params("react", crossfade=0.5, motion_base=0.0, pulse_gain=0.0, prompt="rain")
    audio = np.zeros(int(3.0 * m.sample_rate), dtype=np.float32)
    frames = scene_frames(m, audio, fps=FPS, params=p, bank=bank, text_embed=lambda t: texts[t])
    first = [w[0].clone() for _k, _i, w in (next(frames) for _ in range(3))][-1]
    assert torch.allclose(first[0], bank.ws[0], atol=1e-5)  # the prompt picked the start
    p.set("prompt", "fire")
    after = [w[0].clone() for _k, _i, w in (next(frames) for _ in range(30))]
    gaps = [float((w[0] - bank.ws[1]).abs().mean()) for w in after]
    assert gaps[-1] < 1e-4 and 0.2 < gaps[7] / gaps[0] < 0.9  # through intermediate latents, then there


def test_a_prompt_reaches_a_w_plus_bank_entry_on_every_layer(generator_only):
    """A bank holding W+ class scenes (one w per layer): the prompt's scene is shown layer by layer."""
    from livevis.models.sample_bank import SampleBank

    m = generator_only
    scene = torch.randn(m.num_ws, m.w_dim, generator=torch.Generator().manual_seed(4))  # [num_ws, w_dim]
    bank = SampleBank(torch.stack([scene, torch.zeros(m.num_ws, m.w_dim)]), torch.eye(2), k=1)
    p = params("react", motion_base=0.0, pulse_gain=0.0, prompt="wind")
    audio = np.zeros(int(1.0 * m.sample_rate), dtype=np.float32)
    frames = scene_frames(m, audio, fps=FPS, params=p, bank=bank, text_embed=lambda t: torch.tensor([[1.0, 0.0]]))
    shown = [w[0].clone() for _k, _i, w in (next(frames) for _ in range(3))][-1]  # [num_ws, w_dim]
    assert torch.allclose(shown, scene, atol=1e-5)


def test_tap_tempo_and_fixed_bpm_reach_the_analysis_at_absolute_indices(generator_only):
    from livevis.pipeline.latent import array_window_reader
    from livevis.pipeline.scene import SceneDriver

    m = generator_only
    p = params("react")
    scene = SceneDriver(m, p)
    start = 3 * m.sample_rate  # a live show starts wherever the ring's write head is
    scene.reset(start)
    half = m.sample_rate // 2
    silence = np.zeros(half, dtype=np.float32)
    reader = array_window_reader(np.zeros(m.window_samples, dtype=np.float32), m.window_samples)
    for k in range(5):  # a tap every 0.5 s: 120 BPM
        scene.frame(start + k * half, silence if k else silence[:0], reader)
        scene.tap()
    assert scene.analyzer.features.bpm == pytest.approx(120.0, rel=0.01)
    p.set("bpm", 90.0)
    scene.frame(start + 5 * half, silence, reader)
    assert scene.analyzer.features.bpm == pytest.approx(90.0)


def test_onsets_raise_the_stylegan2_noise_gains(generator_only):
    m = generator_only
    assert m.noise_gains is not None  # a StyleGAN2: its noise inputs are part of the reaction
    audio, hits = click_track(2.0, m.sample_rate)
    p = params("react", noise_amount=2.0)
    seen = []
    for k, _i, _w in scene_frames(m, audio, fps=FPS, params=p):
        seen.append(m.noise_gains.clone())
    first_hit = int(np.ceil(hits[0] * FPS))
    assert torch.all(seen[first_hit - 2] == 1.0)  # before the first click: as trained
    assert float(max(s.max() for s in seen[first_hit:first_hit + 2])) > 1.5


def test_pulse_untimed_scales_the_pushes_only_while_no_tempo_is_found(generator_only):
    """Rain or fire has onsets but no tempo: `pulse_untimed` 0 takes their pushes away (as pulse_gain 0
    does), while music with a tempo (here a fixed bpm) keeps its pushes whatever the knob says."""
    m = generator_only
    noise = (0.3 * np.random.default_rng(5).standard_normal(int(4.0 * m.sample_rate))).astype(np.float32)
    clicks, _ = click_track(4.0, m.sample_rate)
    both = dict(motion_speed=0.0, motion_base=0.0, noise_amount=0.0)  # the pushes alone move the picture
    moves = lambda ws: float((ws[1:] - ws[:-1]).norm(dim=(1, 2)).sum())  # noqa: E731
    untimed = trajectory(m, noise, "react", pulse_untimed=0.0, **both)
    assert torch.equal(untimed, trajectory(m, noise, "react", pulse_gain=0.0, **both))
    full = trajectory(m, noise, "react", **both)
    assert moves(full) > 0.0  # the default keeps them
    half = trajectory(m, noise, "react", pulse_untimed=0.5, **both)
    assert 0.0 < moves(half) < moves(full)
    timed = trajectory(m, clicks, "react", pulse_untimed=0.0, bpm=120.0, **both)
    assert torch.equal(timed, trajectory(m, clicks, "react", bpm=120.0, **both))
    assert moves(timed) > 0.0
