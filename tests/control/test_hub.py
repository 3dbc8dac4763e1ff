import pytest

from livevis.control.hub import ControlHub
from livevis.control.presets import PresetStore
from livevis.errors import LivevisError


def test_set_params_is_one_bundle_and_drops_only_bad_values(hub, registry):
    seen = []
    registry.subscribe(seen.append)
    applied = hub.set_params({"gain_bass": "2", "gain_mid": 9.0, "nope": 1, "blackout": True}, "test")
    assert applied == {"gain_bass": 2.0, "blackout": True}
    assert seen == [{"gain_bass": 2.0, "blackout": True}]
    assert (hub.accepted, hub.ignored) == (2, 2)
    assert hub.ignored_by == {"bad value": 1, "unknown parameter": 1}


def test_shortcuts(hub, registry):
    assert hub.prompt("a forest") and hub.seed(5) and hub.blackout(True) and hub.bpm(90)
    assert (registry["prompt"], registry["seed"], registry["blackout"], registry["bpm"]) == ("a forest", 5, True, 90.0)
    assert not hub.seed(-1) and not hub.prompt("x" * 501) and not hub.bpm("fast")
    assert hub.ignored == 3


def test_ignored_input_is_logged_at_most_once_a_second_per_kind(hub, logs):
    for i in range(100):
        hub.ignore("osc", "bad value", f"value {i}")
    hub.ignore("osc", "malformed", "junk")
    assert hub.ignored == 101
    assert logs == ["livevis: ignored osc input (bad value): value 0", "livevis: ignored osc input (malformed): junk"]
    hub._last_log["bad value"] -= 2  # a second later, the next line says how many were folded
    hub.ignore("osc", "bad value", "value 100")
    assert logs[-1] == "livevis: ignored osc input (bad value): value 100 (+99 more like it)"


def test_actions_never_raise_into_a_listener(registry, logs, tmp_path):
    def broken_tap():
        raise RuntimeError("analyzer gone")

    hub = ControlHub(registry, presets=PresetStore(tmp_path, registry.params), on_tap=broken_tap,
                     state=lambda: 1 / 0, log=logs.append)
    assert not hub.tap("web")
    assert hub.load_preset("missing", source="osc") is None
    assert hub.save_preset("../bad", source="osc") is None
    assert hub.ignored_by == {"failed": 1, "bad preset": 2}
    st = hub.stats()
    assert "division by zero" in st["state_error"] and st["ignored"] == 3
    with pytest.raises(LivevisError):  # from the command line (no source) a bad preset is an error
        hub.load_preset("missing")


def test_stats_merge_show_state_counters_and_controller_status(registry, tmp_path):
    hub = ControlHub(registry, presets=PresetStore(tmp_path, registry.params),
                     state=lambda: {"fps": 30.0, "bpm": 120.0, "device": "running"})
    hub.add_status("midi", lambda: "nanoKONTROL2")
    hub.set_param("brightness", 0.5)
    st = hub.stats()
    assert st["fps"] == 30.0 and st["device"] == "running" and st["midi"] == "nanoKONTROL2"
    assert st["accepted"] == 1 and st["ignored"] == 0 and st["learn"] is None


def test_saved_preset_records_model_and_latent(registry, tmp_path):
    import numpy as np

    got = []
    hub = ControlHub(registry, presets=PresetStore(tmp_path, registry.params), model=lambda: "bundle-x",
                     latent=lambda: np.ones((1, 4, 8), np.float32), on_preset=got.append)
    hub.save_preset("x")
    p = hub.load_preset("x")
    assert p.model == "bundle-x" and p.latent.shape == (1, 4, 8) and got == [p]


def test_controllers_load_saved_presets_by_name_only(hub, registry, tmp_path):
    f = tmp_path / "elsewhere.json"
    f.write_text('{"params": {"brightness": 0.5}}')
    assert hub.load_preset(str(f), source="osc") is None  # a remote controller cannot make the show read files
    assert hub.ignored_by == {"bad preset": 1} and registry["brightness"] == 1.0
    assert hub.load_preset(str(f)).params == {"brightness": 0.5}  # --preset FILE on the command line can
    assert registry["brightness"] == 0.5
