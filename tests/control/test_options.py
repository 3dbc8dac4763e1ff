import argparse
import json
import socket

import pytest
from pythonosc.udp_client import SimpleUDPClient
from websockets.sync.client import connect

from livevis.control.options import add_control_arguments, config_dir, parse_listen, parse_target, start_controls
from livevis.errors import LivevisError


def test_parse_listen_binds_loopback_by_default_and_warns_otherwise():
    warnings = []
    assert parse_listen("9000", warn=warnings.append) == ("127.0.0.1", 9000)
    assert parse_listen("localhost:9000", warn=warnings.append) == ("localhost", 9000)
    assert parse_listen("[::1]:9000", warn=warnings.append) == ("::1", 9000)
    assert warnings == []
    assert parse_listen("0.0.0.0:9000", warn=warnings.append) == ("0.0.0.0", 9000)
    assert len(warnings) == 1 and "anyone on that network can drive the show" in warnings[0]
    for bad in ("", "nine", "0.0.0.0:", ":9000", "70000", "::1:9000", "[::1]9000"):
        with pytest.raises(LivevisError) as err:
            parse_listen(bad)
        assert "\n" not in str(err.value)


def test_warning_goes_to_stderr(capsys):
    parse_listen("192.168.1.5:9000", "--web")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--web listens on 192.168.1.5:9000" in err


def test_parse_target():
    assert parse_target("192.168.1.20:9001") == ("192.168.1.20", 9001)
    assert parse_target("9001") == ("127.0.0.1", 9001)
    with pytest.raises(LivevisError, match="1 and 65535"):
        parse_target("host:0")


def test_config_dir_follows_xdg(config_home, monkeypatch, tmp_path):
    assert config_dir("midi.json") == config_home / "livevis" / "midi.json"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert config_dir("presets") == tmp_path / "home" / ".config" / "livevis" / "presets"


def parse(*argv):
    p = argparse.ArgumentParser()
    add_control_arguments(p)
    return p.parse_args(list(argv))


def test_arguments():
    a = parse()
    assert (a.osc, a.osc_out, a.midi, a.web, a.preset) == (None, None, None, None, None)
    assert parse("--midi").midi == "" and parse("--midi", "nano").midi == "nano"
    a = parse("--osc", "9000", "--osc-out", "10.0.0.2:9001", "--web", "8080", "--preset", "sea")
    assert (a.osc, a.osc_out, a.web, a.preset) == ("9000", "10.0.0.2:9001", "8080", "sea")


def test_start_controls_starts_and_stops_everything(hub, registry, capsys):
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    registry.set("gain_bass", 3.0)
    hub.save_preset("start")
    registry.reset()
    args = parse("--osc", "0", "--osc-out", f"127.0.0.1:{rx.getsockname()[1]}", "--web", "0", "--preset", "start")
    with start_controls(args, hub, registry):
        assert registry["gain_bass"] == 3.0  # the preset applied before the show starts
        err = capsys.readouterr().err
        osc_port = int(err.split("OSC in on 127.0.0.1:")[1].split()[0])
        web_url = err.split("control page on ")[1].split()[0]
        SimpleUDPClient("127.0.0.1", osc_port).send_message("/livevis/param/brightness", 0.5)
        with connect(web_url.replace("http", "ws") + "ws") as ws:
            hello = json.loads(ws.recv(timeout=10))
            assert hello["stats"]["osc"] == f"127.0.0.1:{osc_port}" and hello["stats"]["web"] == web_url
        rx.settimeout(5)
        assert rx.recv(65536).startswith(b"/livevis/")
        for _ in range(500):
            if registry["brightness"] == 0.5:
                break
            import time

            time.sleep(0.01)
        assert registry["brightness"] == 0.5
    # stopped: both ports are free again
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", osc_port))
    s.close()


def test_a_failed_start_stops_what_was_started(hub, registry, monkeypatch):
    from livevis.control import osc

    stopped = []
    real_stop = osc.OscServer.stop
    monkeypatch.setattr(osc.OscServer, "stop", lambda self: (stopped.append(self.port), real_stop(self)))
    taken = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    args = parse("--osc", "0", "--web", str(port))
    with pytest.raises(LivevisError, match=f"--web cannot listen on 127.0.0.1:{port}"):
        start_controls(args, hub, registry)
    assert len(stopped) == 1  # the OSC server started first was stopped again
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", stopped[0]))  # and its port is free
    s.close()
    with pytest.raises(LivevisError, match="no preset named"):
        start_controls(parse("--preset", "missing"), hub, registry)
