import json
import time

import mido
import pytest

from livevis.control.hub import ControlHub
from livevis.control.midi import (MidiInput, Mapping, MidiMapper, alsa_sequencer_missing, load_mappings,
                                  mappings_path, pick_port, save_mappings)
from livevis.control.presets import PresetStore
from livevis.errors import LivevisError


def cc(control, value, channel=0):
    return mido.Message("control_change", control=control, value=value, channel=channel)


def note(n, velocity=100, channel=0, on=True):
    return mido.Message("note_on" if on else "note_off", note=n, velocity=velocity, channel=channel)


@pytest.fixture
def mapper(hub, tmp_path):
    return MidiMapper(hub, tmp_path / "midi.json")


def test_absolute_cc_spreads_over_the_range_and_a_narrowed_one(mapper, registry):
    mapper.mappings = [Mapping("gain_bass", "cc", 7, channel=0),
                       Mapping("brightness", "cc", 8, channel=None, lo=0.5, hi=1.5),
                       Mapping("keyframes", "cc", 9), Mapping("mode", "cc", 10)]
    mapper.feed(cc(7, 127))
    mapper.feed(cc(7, 64, channel=3))  # other channel: not this mapping
    mapper.feed(cc(8, 0, channel=5))  # any channel
    mapper.feed(cc(9, 127))
    mapper.feed(cc(10, 127))
    assert registry["gain_bass"] == 4.0 and registry["brightness"] == 0.5
    assert registry["keyframes"] == 32 and registry["mode"] == "retrieve"
    mapper.feed(cc(7, 0))
    assert registry["gain_bass"] == 0.0
    mapper.feed(mido.Message("clock"))  # not ours, not an error
    assert mapper.hub.ignored == 0


def test_toggle_and_momentary(mapper, registry):
    mapper.mappings = [Mapping("blackout", "note", 36, mode="toggle"),
                       Mapping("effects", "cc", 20, mode="momentary"),
                       Mapping("brightness", "note", 37, mode="momentary", lo=0.2, hi=1.8)]
    mapper.feed(note(36))
    assert registry["blackout"] is True
    mapper.feed(note(36, on=False))
    assert registry["blackout"] is True  # a toggle ignores the release
    mapper.feed(note(36, velocity=0))  # note_on velocity 0 is a release too
    mapper.feed(note(36))
    assert registry["blackout"] is False
    mapper.feed(cc(20, 127))
    assert registry["effects"] is True
    mapper.feed(cc(20, 0))
    assert registry["effects"] is False
    mapper.feed(note(37))
    assert registry["brightness"] == 1.8
    mapper.feed(note(37, on=False))
    assert registry["brightness"] == 0.2


def test_14_bit_cc_pairs(mapper, registry):
    mapper.mappings = [Mapping("effect_amount", "cc", 1, hires=True)]
    full = 12000  # of 16383
    mapper.feed(cc(1, full >> 7))
    mapper.feed(cc(33, full & 127))
    assert registry["effect_amount"] == pytest.approx(2.0 * full / 16383)
    mapper.feed(cc(1, 127))
    mapper.feed(cc(33, 127))
    assert registry["effect_amount"] == 2.0


def test_learn_binds_the_next_control_and_saves_it(hub, registry, tmp_path):
    path = tmp_path / "midi.json"
    mapper = MidiMapper(hub, path)
    hub.on_learn = mapper.arm
    assert hub.learn("gain_mid")
    assert hub.stats()["learn"] == "gain_mid"
    mapper.feed(cc(21, 0))  # a control resting at 0 is not a move
    mapper.feed(cc(22, 90, channel=2))
    assert hub.learning is None and mapper.armed is None
    mapper.feed(cc(22, 127, channel=2))
    assert registry["gain_mid"] == 4.0
    # 14-bit: the LSB right after the learnt MSB makes it a hires mapping
    hub.learn("effect_amount")
    mapper.feed(cc(5, 64))
    mapper.feed(cc(37, 0))
    mapper.feed(cc(5, 127))
    mapper.feed(cc(37, 127))
    assert registry["effect_amount"] == 2.0
    # a note for a switch: toggle; relearning moves the parameter to the new control
    hub.learn("blackout")
    mapper.feed(note(40))  # binds only
    mapper.feed(note(40, on=False))
    assert registry["blackout"] is False
    mapper.feed(note(40))
    assert registry["blackout"] is True
    hub.learn("blackout")
    mapper.feed(note(41))
    saved = load_mappings(path, registry)
    assert saved == mapper.mappings
    by_target = {m.target: m for m in saved}
    assert by_target["gain_mid"] == Mapping("gain_mid", "cc", 22, channel=2, mode="absolute")
    assert by_target["effect_amount"].hires and by_target["effect_amount"].number == 5
    assert (by_target["blackout"].kind, by_target["blackout"].number, by_target["blackout"].mode) == ("note", 41, "toggle")
    assert len(saved) == 3
    # loaded next time
    again = MidiMapper(hub, path)
    again.feed(cc(22, 0, channel=2))
    assert registry["gain_mid"] == 0.0


def test_learn_tap_and_refusals(registry, logs, tmp_path):
    taps = []
    hub = ControlHub(registry, presets=PresetStore(tmp_path, registry.params), on_tap=lambda: taps.append(1),
                     log=logs.append)
    assert not hub.learn("gain_bass")  # no MIDI input: nothing to arm
    mapper = MidiMapper(hub, tmp_path / "midi.json")
    hub.on_learn = mapper.arm
    assert not hub.learn("prompt") and not hub.learn("nope")
    assert hub.ignored_by == {"unavailable": 1, "bad value": 1, "unknown parameter": 1}
    assert hub.learn("tap")
    mapper.feed(note(50))
    mapper.feed(note(50, on=False))
    mapper.feed(note(50))
    mapper.feed(note(50, on=False))
    mapper.feed(note(50))
    assert taps == [1, 1]


def test_mapping_file_round_trip_and_bad_files(registry, config_home):
    path = mappings_path()
    assert path == config_home / "livevis" / "midi.json"
    ms = [Mapping("gain_bass", "cc", 7, channel=0, lo=0.5, hi=2.0), Mapping("tap", "note", 36, mode="momentary"),
          Mapping("effect_amount", "cc", 1, hires=True)]
    save_mappings(path, ms)
    assert load_mappings(path, registry) == ms
    assert json.loads(path.read_text())["mappings"][0]["target"] == "gain_bass"
    for bad, needle in [('{"mappings": [{"target": "nope", "kind": "cc", "number": 1}]}', "no such parameter"),
                        ('{"mappings": [{"target": "gain_bass", "kind": "cc", "number": 200}]}', "0..127"),
                        ('{"mappings": [{"target": "gain_bass", "kind": "cc", "number": 1, "lo": 9}]}', "lo/hi"),
                        ('{"mappings": [{"target": "gain_bass", "kind": "cc", "number": 40, "hires": true}]}', "14-bit"),
                        ('{"mappings": 3}', "mappings"), ("{", "cannot read")]:
        path.write_text(bad)
        with pytest.raises(LivevisError, match=needle) as err:
            load_mappings(path, registry)
        assert "\n" not in str(err.value)


def test_port_choice():
    assert pick_port(["Launch Control XL:0", "nanoKONTROL2:0"], None) == "Launch Control XL:0"
    assert pick_port(["Launch Control XL:0", "nanoKONTROL2:0"], "nano") == "nanoKONTROL2:0"
    with pytest.raises(LivevisError, match="no MIDI input port matches"):
        pick_port(["nanoKONTROL2:0"], "apc")
    with pytest.raises(LivevisError, match="no MIDI input ports"):
        pick_port([], None)


needs_seq = pytest.mark.skipif(alsa_sequencer_missing() is not None,
                               reason=f"no rtmidi virtual ports: {alsa_sequencer_missing()}")


@needs_seq
def test_virtual_port_end_to_end(hub, registry, tmp_path):
    with MidiInput(hub, "livevis-test", path=tmp_path / "midi.json", virtual=True) as midi:
        midi.mapper.mappings = [Mapping("gain_high", "cc", 7)]
        with mido.open_output("livevis-test") as out:
            out.send(cc(7, 127))
            end = time.monotonic() + 5
            while registry["gain_high"] != 4.0 and time.monotonic() < end:
                time.sleep(0.01)
    assert registry["gain_high"] == 4.0


@pytest.mark.skipif(alsa_sequencer_missing() is None, reason="the ALSA sequencer exists here")
def test_without_the_alsa_sequencer_midi_says_so_in_one_line(hub):
    with pytest.raises(LivevisError, match="ALSA sequencer") as err:
        MidiInput(hub, None).start()
    assert "\n" not in str(err.value)


def test_midi_input_wires_a_port_to_the_mapper_and_learn(hub, registry, tmp_path, monkeypatch):
    """The port plumbing without a sequencer: mido.open_input is replaced by a port that records the
    callback; the messages a device would send go through it."""
    import livevis.control.midi as midi_mod

    opened = {}

    class FakePort:
        def close(self):
            opened["closed"] = True

    def open_input(name, virtual=False, callback=None):
        opened.update(name=name, callback=callback)
        return FakePort()

    monkeypatch.setattr(midi_mod, "input_names", lambda: ["Through:0", "nanoKONTROL2:0"])
    monkeypatch.setattr(mido, "open_input", open_input)
    with MidiInput(hub, "nano", path=tmp_path / "midi.json") as midi:
        assert opened["name"] == "nanoKONTROL2:0" and midi.port_name == "nanoKONTROL2:0"
        assert hub.stats()["midi"] == "nanoKONTROL2:0"
        assert hub.learn("pulse_gain")  # hub.on_learn is the mapper's arm
        opened["callback"](cc(14, 100))
        opened["callback"](cc(14, 127))
        assert registry["pulse_gain"] == 4.0
    assert opened["closed"] and hub.on_learn is None
    assert load_mappings(tmp_path / "midi.json", registry) == [Mapping("pulse_gain", "cc", 14, channel=0)]
