"""ParamRegistry: typed, ranged values; bundles land together; snapshots never change under a reader."""

import pytest

from livevis.control import ParamError, live_params


def test_defaults_types_and_ranges():
    r = live_params()
    for name, spec in r.params.items():
        assert spec.coerce(spec.default) == r[name]
        assert spec.doc and spec.group
    assert r.set("gain_bass", "2.5") == 2.5
    assert r.set("blackout", 1) is True
    assert r.set("jump_beats", 4.0) == 4
    with pytest.raises(ParamError, match="between 0 and 4"):
        r.set("gain_bass", 9)
    with pytest.raises(ParamError, match="unknown parameter"):
        r.set("nope", 1)
    with pytest.raises(ParamError, match="one of"):
        r.set("mode", "dance")
    with pytest.raises(ParamError):
        r.set("jump_beats", 1.5)
    with pytest.raises(ParamError):
        r.set("brightness", float("nan"))


def test_set_many_is_all_or_nothing_and_snapshots_are_stable():
    r = live_params()
    snap = r.snapshot()
    with pytest.raises(ParamError):
        r.set_many({"brightness": 0.5, "gain_mid": -1})
    assert r["brightness"] == 1.0  # nothing applied
    seen = []
    r.subscribe(seen.append)
    r.set_many({"brightness": 0.5, "blackout": True})
    assert snap["brightness"] == 1.0  # a reader's snapshot of this frame is untouched
    assert r.snapshot()["brightness"] == 0.5 and r.snapshot()["blackout"] is True
    assert seen == [{"brightness": 0.5, "blackout": True}]
    r.set("brightness", 0.5)  # no change, no notification
    assert len(seen) == 1
