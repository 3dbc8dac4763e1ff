"""SoundScene: the heard class's scene replaces the anchor, the posterior is smoothed causally, silence
is skipped, only the fast part of the sound model's drift rides on the scene; LatentDriver shows the
scene without feeding it back into the recurrent blocks; the live `sound_scene` param turns it off."""

import numpy as np
import pytest
import torch

from livevis.control import live_params
from livevis.models.sound_classes import SoundClasses, SoundClassesConfig
from livevis.pipeline.latent import LatentDriver, array_window_reader
from livevis.pipeline.modules import build_live_modules
from livevis.pipeline.offline import scene_frames
from livevis.pipeline.sound_scene import MOTION_LAYERS, SILENCE_DB, SoundScene, motion_slice
from tests.rigs.tiny_parts import tiny_bundle, tiny_sound_classes

N_MELS, FRAMES, K, P, NUM_WS, W_DIM = 8, 12, 3, 2, 4, 6


def force_class(model: SoundClasses, c: int, logit: float = 60.0) -> None:
    """Logits independent of the input: `logit` on class c, 0 elsewhere (softmax ~ one-hot)."""
    last = model.net[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
        last.bias[c] = logit


def make_model(c: int = 0) -> SoundClasses:
    torch.manual_seed(0)
    model = SoundClasses(SoundClassesConfig(n_mels=N_MELS, num_frames=FRAMES, num_classes=K, hidden=8, w_dim=W_DIM,
                                            scenes_per_class=P)).eval()
    with torch.no_grad():
        model.scenes.copy_(torch.randn(K, P, W_DIM) * 3)
    force_class(model, c)
    return model


def loud(seed: int = 0) -> torch.Tensor:
    return torch.randn(1, N_MELS, FRAMES, generator=torch.Generator().manual_seed(seed)) * 10 - 40  # [1, M, T] dB


SILENT = torch.full((1, N_MELS, FRAMES), -100.0)
ANCHOR = torch.randn(1, NUM_WS, W_DIM, generator=torch.Generator().manual_seed(5))


def make_scene(model, pick: int = 0, **kw) -> SoundScene:
    scene = SoundScene(model, NUM_WS, **kw)
    scene.reset(ANCHOR, pick)
    return scene


@pytest.mark.parametrize("pick", [0, 1, 3])
def test_shown_latent_is_the_heard_classes_scene_without_motion(pick):
    model = make_model(c=2)
    scene = make_scene(model, pick, strength=1.0, motion=0.0, smoothing=0.0)
    state = ANCHOR + torch.randn(1, NUM_WS, W_DIM)  # the recurrent path has drifted off its anchor
    shown = state + scene.update(loud(), 0.1, state)
    want = model.scenes[2, pick % P].expand(1, NUM_WS, W_DIM)
    assert torch.allclose(shown, want, atol=1e-5), (shown - want).abs().max()


def test_w_plus_scenes_are_shown_layer_by_layer():
    """Scenes fitted in W+ (one w per layer, `sound-classes` with scenes.project_steps): the shown latent
    is the heard class's scene on every layer, not one w broadcast."""
    torch.manual_seed(0)
    model = SoundClasses(SoundClassesConfig(n_mels=N_MELS, num_frames=FRAMES, num_classes=K, hidden=8, w_dim=W_DIM,
                                            scenes_per_class=P, num_ws=NUM_WS)).eval()
    with torch.no_grad():
        model.scenes.copy_(torch.randn(K, P, NUM_WS, W_DIM) * 3)
    force_class(model, 1)
    scene = make_scene(model, 1, strength=1.0, motion=0.0, smoothing=0.0)
    state = ANCHOR + torch.randn(1, NUM_WS, W_DIM)
    shown = state + scene.update(loud(), 0.1, state)
    assert torch.allclose(shown[0], model.scenes[1, 1], atol=1e-5), (shown[0] - model.scenes[1, 1]).abs().max()


def test_half_strength_goes_half_way_and_zero_strength_leaves_the_path():
    model = make_model(c=1)
    state = ANCHOR + 0.5
    full = make_scene(model, strength=1.0, motion=0.0).update(loud(), 0.1, state).clone()
    half = make_scene(model, strength=0.5, motion=0.0).update(loud(), 0.1, state).clone()
    assert full.abs().max() > 1.0
    assert torch.allclose(half, full / 2, atol=1e-5)
    zero = make_scene(model, strength=0.0).update(loud(), 0.1, state)
    assert torch.count_nonzero(zero) == 0


def test_silence_before_any_sound_holds_the_seeds_scene_and_makes_no_posterior():
    """Before a class is heard the anchor (the seed's scene) stands, as it does under a prompt: the
    sound model's slow drift does not show for the first instants and then glide back."""
    model = make_model(c=0)
    scene = make_scene(model, strength=1.0, motion=0.0)
    state = ANCHOR + 0.3
    assert SILENT.max() < SILENCE_DB
    for _ in range(3):
        shown = state + scene.update(SILENT, 0.1, state)
        assert torch.allclose(shown, ANCHOR, atol=1e-5)
        assert scene.posterior is None
    scene.update(loud(), 0.1, state)
    assert scene.posterior is not None and int(scene.posterior.argmax()) == 0
    # Silence after sound: the class heard before stands.
    force_class(model, 1)
    before = scene.posterior.clone()
    shown = state + scene.update(SILENT, 0.1, state)
    assert torch.equal(scene.posterior, before)
    assert torch.allclose(shown, model.scenes[0, 0].expand_as(shown), atol=1e-5)


def test_posterior_moves_gradually_with_smoothing_and_at_once_without():
    model = make_model(c=0)
    slow = make_scene(model, smoothing=0.5, motion=0.0)
    fast = make_scene(model, smoothing=0.0, motion=0.0)
    dt = 0.1
    for s in (slow, fast):
        s.update(loud(), dt, ANCHOR)
    force_class(model, 1)
    heard = []
    for k in range(12):
        slow.update(loud(k), dt, ANCHOR)
        fast.update(loud(k), dt, ANCHOR)
        heard.append(float(slow.posterior[1]))
        assert float(fast.posterior[1]) > 0.999
    a = 1.0 - np.exp(-dt / 0.5)
    want = [1.0 - (1.0 - a) ** (k + 1) for k in range(12)]  # causal exponential average of a one-hot switch
    assert np.allclose(heard, want, atol=1e-4), (heard, want)
    assert heard[0] < 0.25 and heard[-1] > 0.85


def test_fast_drift_rides_on_the_scene_and_slow_drift_is_removed():
    model = make_model(c=0)
    scene_w = model.scenes[0, 0].expand(1, NUM_WS, W_DIM)
    moving = make_scene(model, strength=1.0, motion=1.0, smoothing=0.0, motion_window=0.3, motion_layers="all")
    still = make_scene(model, strength=1.0, motion=0.0, smoothing=0.0, motion_window=0.3, motion_layers="all")
    dt = 0.02
    for _ in range(5):  # on the anchor: nothing to ride on
        shown = ANCHOR + moving.update(loud(), dt, ANCHOR)
        assert torch.allclose(shown, scene_w, atol=1e-5)
    drift = torch.randn(1, NUM_WS, W_DIM, generator=torch.Generator().manual_seed(7))
    state = ANCHOR + drift  # a sudden move of the sound model, then held
    gaps = []
    for k in range(100):
        shown = state + moving.update(loud(), dt, state)
        plain = state + still.update(loud(), dt, state)
        assert torch.allclose(plain, scene_w, atol=1e-5)  # motion 0: the scene alone
        gaps.append(float((shown - scene_w).norm() / drift.norm()))
    assert gaps[0] > 0.9  # the sudden change shows at once
    a = 1.0 - np.exp(-dt / 0.3)
    assert gaps[0] == pytest.approx(1.0 - a, abs=1e-4)
    assert all(g1 < g0 for g0, g1 in zip(gaps, gaps[1:]))  # ... and the held part fades
    assert gaps[-1] < 0.01


@pytest.mark.parametrize("layers, moved", [("fine", slice(3, 4)), ("mid+fine", slice(1, 4)), ("all", slice(0, 4))])
def test_fast_motion_rides_only_on_the_named_layers(layers, moved):
    """The default keeps the scene's layout and colours (coarse, middle ws) the heard class's own."""
    model = make_model(c=1)
    scene = make_scene(model, strength=1.0, motion=2.0, smoothing=0.0, motion_window=0.3, motion_layers=layers)
    scene.update(loud(), 0.02, ANCHOR)
    drift = torch.randn(1, NUM_WS, W_DIM, generator=torch.Generator().manual_seed(3))
    state = ANCHOR + drift
    shown = state + scene.update(loud(), 0.02, state)
    want = model.scenes[1, 0].expand(1, NUM_WS, W_DIM).clone()
    a = 1.0 - np.exp(-0.02 / 0.3)
    want[:, moved] += 2.0 * (1.0 - a) * drift[:, moved]  # the fast part: the drift less its slow average
    assert torch.allclose(shown, want, atol=1e-5), (shown - want).abs().amax(dim=(0, 2))
    still = torch.ones(NUM_WS, dtype=torch.bool)
    still[moved] = False
    assert torch.allclose(shown[:, still], model.scenes[1, 0].expand(1, int(still.sum()), W_DIM), atol=1e-5)


def test_motion_layers_default_to_fine_and_a_bad_name_fails_at_once():
    assert SoundScene(make_model(), NUM_WS).motion_layers == "fine"
    with pytest.raises(ValueError, match="motion layers"):
        SoundScene(make_model(), NUM_WS, motion_layers="coarse")
    assert motion_slice(10, "fine") == slice(7, 10) and motion_slice(10, "mid+fine") == slice(3, 10)


def test_live_params_set_the_motion_layers():
    from livevis.control.catalog import PARAMS
    from livevis.pipeline.scene import apply_sound_scene_params

    (param,) = [p for p in PARAMS if p.name == "sound_scene_motion_layers"]
    assert tuple(param.choices) == MOTION_LAYERS and param.default == "fine"
    scene = make_scene(make_model())
    p = live_params()
    p.set("sound_scene_motion_layers", "mid+fine")
    apply_sound_scene_params(scene, p.snapshot())
    assert scene.motion_layers == "mid+fine" and scene.motion == 3.0
    assert live_params("learned").snapshot()["sound_scene_motion_layers"] == "all"  # the show's learned mode


# -- LatentDriver and SceneDriver on the tiny live parts -------------------------------------------

@pytest.fixture(scope="module")
def live():
    """(modules with a sound class model forced to class 1, the same modules without one)."""
    bundle = tiny_bundle()
    bundle.sound_classes = tiny_sound_classes(bundle.generator)
    force_class(bundle.sound_classes, 1)
    with_scene = build_live_modules(bundle, backend="eager")
    bundle.sound_classes = None
    plain = build_live_modules(bundle, backend="eager")
    assert with_scene.sound_classes is not None and plain.sound_classes is None
    return with_scene, plain


def noise(modules, seconds: float = 3.0) -> np.ndarray:
    return (0.3 * np.random.default_rng(3).standard_normal(int(seconds * modules.sample_rate))).astype(np.float32)


def driver(m, sound_scene=None) -> LatentDriver:
    return LatentDriver(mel=m.mel, encoder=m.encoder, recurrent_step=m.recurrent_step, hidden_init=m.hidden_init,
                        window_samples=m.window_samples, step_samples=m.step_samples, device=m.device,
                        max_catchup=None, smoothing=0.0, sample_rate=m.sample_rate, sound_scene=sound_scene)


def test_latent_driver_shows_the_scene_and_keeps_its_recurrent_state(live):
    m, _plain = live
    audio = noise(m)
    with torch.no_grad():
        anchor = m.mapping(torch.randn(1, m.z_dim, generator=torch.Generator().manual_seed(4))).float()
    pick = 3
    scene_w = m.sound_classes.scenes[1, pick % m.sound_classes.config.scenes_per_class]
    drivers = {"none": driver(m),
               "scene": driver(m, SoundScene(m.sound_classes, m.num_ws, motion=0.0, smoothing=0.0)),
               "moving": driver(m, SoundScene(m.sound_classes, m.num_ws))}
    for d in drivers.values():
        d.reset(anchor, 0, pick=pick)
    reader = array_window_reader(audio, m.window_samples)
    start_gap = float((anchor - scene_w).norm())
    for index in range(m.step_samples, audio.shape[0] + 1, m.step_samples):
        shown = {name: d.advance(index, reader).clone() for name, d in drivers.items()}
        states = {name: shown[name] - (d.sound_scene.shift if d.sound_scene is not None else 0.0)
                  for name, d in drivers.items()}
        # The scene never feeds back: every driver's recurrent latent is the plain driver's.
        for name in ("scene", "moving"):
            assert torch.allclose(states[name], shown["none"], atol=1e-5), name
            assert torch.allclose(drivers[name]._state, shown["none"], atol=1e-5), name
        if index < m.window_samples // 2:  # windows mostly zero padding are silence: the seed's scene holds
            assert torch.allclose(shown["scene"], anchor, atol=1e-5)
        elif index >= m.window_samples:
            assert torch.allclose(shown["scene"], scene_w.expand_as(shown["scene"]), atol=1e-5)
    assert float((shown["none"] - scene_w).norm()) > 0.5 * start_gap  # without the scene it stays near its anchor
    assert float((shown["moving"] - scene_w).norm()) < float((shown["none"] - scene_w).norm())


def test_live_sound_scene_zero_gives_the_plain_learned_path(live):
    m, plain = live
    audio = noise(m, 2.0)
    fps = 30.0

    def params():
        p = live_params()
        p.set_many({"mode": "learned", "learned_smoothing": 0.0})
        return p

    p_scene, p_plain = params(), params()
    frames = scene_frames(m, audio, fps=fps, params=p_scene)
    ref = scene_frames(plain, audio, fps=fps, params=p_plain)
    switch = int(1.5 * fps)
    heard = int(m.window_samples / m.sample_rate * fps) + 1  # from here every window is all sound
    differed = 0
    for (k, _i, ws), (_k, _j, want) in zip(frames, ref):
        if k == switch:
            p_scene.set("sound_scene", 0.0)
        if heard <= k < switch:
            differed += int(not torch.allclose(ws, want, atol=1e-4))
        if k >= switch + int(np.ceil(m.step_samples / m.sample_rate * fps)):  # a keyframe since the change
            assert torch.allclose(ws, want, atol=1e-6), k
    assert differed == switch - heard  # with the scene on, the learned output was another


def test_heard_part_drops_the_padded_start_and_mirrors_the_sound_to_fill_the_window():
    from livevis.pipeline.sound_scene import heard_part

    frames = 40
    mel = torch.full((1, N_MELS, frames), -100.0)
    sound = torch.arange(20, dtype=torch.float32).expand(N_MELS, 20) - 40.0   # a rising level
    mel[0, :, 20:] = sound
    part = heard_part(mel, min_share=0.25, edge=4)
    assert part.shape == mel.shape and part.min() > SILENCE_DB     # no padding left
    tail = sound[:, 4:]                                            # the 4 frames overlapping the padding dropped
    assert torch.equal(part[0, :, :16], tail) and torch.equal(part[0, :, 16:32], tail.flip(-1))
    assert torch.equal(heard_part(loud()), loud())                 # a full window is used as it is
    short = torch.full((1, N_MELS, frames), -100.0)
    short[0, :, -12:] = -40.0                                      # 12 - 4 = 8 frames < 25% of 40
    assert heard_part(short, min_share=0.25, edge=4) is None


def test_pinned_scene_is_the_anchor_whatever_is_heard():
    model = make_model(c=2)
    scene = make_scene(model, strength=1.0, motion=0.0, smoothing=0.0)
    scene.pinned = True
    state = ANCHOR + torch.randn(1, NUM_WS, W_DIM)          # the recurrent path has drifted
    shown = state + scene.update(loud(), 0.1, state)
    assert torch.allclose(shown, ANCHOR, atol=1e-5)         # the prompt's latent, not class 2's scene


def test_a_prompt_pins_the_live_scene(live):
    m, _plain = live
    audio = noise(m, 2.0)

    class Bank:  # the prompt's scene: a fixed latent
        w = m.mapping(torch.randn(1, m.z_dim, generator=torch.Generator().manual_seed(9)))[0, 0].float()

        def nearest(self, _embedding):
            return self.w

    p = live_params()
    p.set_many({"mode": "learned", "learned_smoothing": 0.0, "sound_scene_motion": 0.0, "prompt": "rain",
                "pulse_gain": 0.0})  # no onset pushes on top
    frames = list(scene_frames(m, audio, fps=10.0, params=p, bank=Bank(), text_embed=lambda _t: torch.zeros(1, 4)))
    _k, _i, last = frames[-1]
    assert torch.allclose(last, Bank.w.expand_as(last), atol=1e-4)


def test_heard_names_the_averaged_class_and_the_scene_driver_reports_it(live):
    model = make_model(c=2)
    scene = make_scene(model, smoothing=0.0)
    assert scene.heard is None
    scene.update(SILENT, 0.1, ANCHOR)
    assert scene.heard is None                                   # silence names nothing
    scene.update(loud(), 0.1, ANCHOR)
    assert scene.heard[0] == 2 and scene.heard[1] == pytest.approx(1.0)

    from livevis.pipeline.scene import SceneDriver

    m, _plain = live
    p = live_params()
    p.set_many({"mode": "learned"})
    driver = SceneDriver(m, p, max_catchup=None)
    driver.reset(0)
    assert driver.heard() is None
    audio = noise(m, 2.0)
    reader = array_window_reader(audio, m.window_samples)
    prev = 0
    for index in range(m.step_samples, audio.shape[0], m.step_samples):
        driver.frame(index, audio[prev:index], reader)
        prev = index
    name, prob = driver.heard()
    assert name in m.class_names and 0.0 < prob <= 1.0
    p.set("mode", "react")
    driver.frame(audio.shape[0], audio[prev:], reader)
    assert driver.heard() is None                                # only the learned mode hears classes
