import json
import shutil
import socket
import time
import urllib.error
import urllib.request

import pytest
from websockets.sync.client import connect

from livevis.control.hub import ControlHub
from livevis.control.presets import PresetStore
from livevis.control.web import WebControl
from livevis.errors import LivevisError


@pytest.fixture
def show_state():
    return {"fps": 30.0, "response_ms": 117.0, "level": -20.0, "bpm": 120.0, "beat": 0.0, "device": "running"}


@pytest.fixture
def hub(registry, logs, tmp_path, show_state):
    taps = []
    h = ControlHub(registry, presets=PresetStore(tmp_path / "presets", registry.params), on_tap=lambda: taps.append(1),
                   state=lambda: dict(show_state), log=logs.append)
    h.taps = taps
    return h


@pytest.fixture
def web(hub, registry):
    with WebControl(hub, registry, port=0) as w:
        yield w


def recv_until(ws, pred, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        msg = json.loads(ws.recv(timeout=max(0.01, end - time.monotonic())))
        if pred(msg):
            return msg
    raise AssertionError("no such message")


def test_page_and_static_files_are_served(web, hub):
    for path, needle in [("/", b"<title>livevis control</title>"), ("/app.js", b"new WebSocket"), ("/style.css", b".param")]:
        with urllib.request.urlopen(web.url.rstrip("/") + path, timeout=10) as r:
            assert r.status == 200 and needle in r.read()
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(web.url + "../../etc/passwd", timeout=10)
    assert err.value.code == 404
    err.value.close()
    assert hub.ignored_by["bad request"] == 1


def test_websocket_sets_params_pushes_values_and_stats(web, hub, registry, show_state):
    with connect(f"ws://127.0.0.1:{web.port}/ws") as ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello"
        assert {p["name"] for p in hello["params"]} == set(registry.params)
        assert hello["values"]["brightness"] == 1.0 and hello["stats"]["fps"] == 30.0
        ws.send(json.dumps({"type": "set", "values": {"brightness": 0.5, "gain_bass": 2.0}}))
        msg = recv_until(ws, lambda m: m["type"] == "values")
        assert msg["values"] == {"brightness": 0.5, "gain_bass": 2.0}
        assert registry["brightness"] == 0.5 and registry.version == 1  # one bundle
        registry.set("gain_mid", 3.0)  # changes from elsewhere (OSC, MIDI) are pushed too
        assert recv_until(ws, lambda m: m["type"] == "values")["values"] == {"gain_mid": 3.0}
        show_state["fps"] = 29.5
        assert recv_until(ws, lambda m: m["type"] == "stats" and m["stats"]["fps"] == 29.5)["stats"]["accepted"] == 2
        ws.send(json.dumps({"type": "tap"}))
        ws.send(json.dumps({"type": "blackout", "on": True}))
        ws.send(json.dumps({"type": "prompt", "text": "a stormy sea"}))
        ws.send(json.dumps({"type": "seed", "value": 7}))
        ws.send(json.dumps({"type": "save", "name": "sea"}))
        assert recv_until(ws, lambda m: m["type"] == "presets")["presets"] == ["sea"]
        ws.send(json.dumps({"type": "set", "values": {"brightness": 0.1}}))
        ws.send(json.dumps({"type": "preset", "name": "sea"}))
        recv_until(ws, lambda m: m["type"] == "values" and m["values"].get("brightness") == 0.5)
    assert hub.taps == [1]
    assert registry["blackout"] is True and registry["prompt"] == "a stormy sea" and registry["seed"] == 7
    assert hub.ignored == 0


def test_bad_messages_are_counted_answered_and_ignored(web, hub, registry):
    with connect(f"ws://127.0.0.1:{web.port}/ws") as ws:
        json.loads(ws.recv(timeout=10))
        for bad in ["not json", json.dumps([1]), json.dumps({"type": "warp"}),
                    json.dumps({"type": "set", "values": {"brightness": "very"}}),
                    json.dumps({"type": "set", "values": {"nope": 1}}), json.dumps({"type": "preset", "name": "none"}),
                    json.dumps({"type": "save", "name": "../escape"}), json.dumps({"type": "learn", "name": "gain_bass"})]:
            ws.send(bad)
            assert recv_until(ws, lambda m: m["type"] == "error")["message"]
        ws.send(b"\x00binary")
        recv_until(ws, lambda m: m["type"] == "error")
        ws.send(json.dumps({"type": "set", "values": {"brightness": 0.25}}))
        recv_until(ws, lambda m: m["type"] == "values")
    assert registry["brightness"] == 0.25 and hub.ignored == 9
    assert hub.ignored_by["bad message"] == 4 and hub.ignored_by["unavailable"] == 1  # learn without --midi


def test_foreign_origin_is_refused(web, hub):
    with pytest.raises(Exception):
        with connect(f"ws://127.0.0.1:{web.port}/ws", origin="http://evil.example"):
            pass
    assert hub.ignored_by["bad request"] == 1
    with pytest.raises(Exception):  # DNS rebinding: a page of evil.example resolved to 127.0.0.1
        sock = socket.create_connection(("127.0.0.1", web.port))
        with connect(f"ws://evil.example:{web.port}/ws", sock=sock, origin=f"http://evil.example:{web.port}"):
            pass
    assert hub.ignored_by["bad request"] == 2
    with connect(f"ws://127.0.0.1:{web.port}/ws", origin=f"http://127.0.0.1:{web.port}") as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"


def test_port_in_use_is_one_clear_error(web, hub, registry):
    with pytest.raises(LivevisError, match=f"--web cannot listen on 127.0.0.1:{web.port}"):
        WebControl(hub, registry, port=web.port).start()


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


def _browser():
    pytest.importorskip("selenium", reason="pip selenium is not installed")
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("headless browser test needs Debian chromium and chromium-driver (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1200,1600"):
        opts.add_argument(a)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


def test_page_in_headless_chromium_moves_a_slider_and_shows_stats(web, hub, registry, show_state):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser()
    try:
        driver.get(web.url)
        wait = WebDriverWait(driver, 20)
        slider = wait.until(lambda d: d.find_element(By.ID, "p-brightness"))
        wait.until(lambda d: d.find_element(By.ID, "conn").text == "connected")
        for _ in range(50):
            slider.send_keys(Keys.ARROW_LEFT)  # a performer's keyboard moves on the slider
        WebDriverWait(driver, 10).until(lambda d: registry["brightness"] < 0.99)
        wait.until(lambda d: abs(registry["brightness"] - float(slider.get_attribute("value"))) < 1e-6)
        assert registry["brightness"] == pytest.approx(1.0 - 50 * 0.002)  # 50 steps of (hi - lo) / 1000
        # stats pushed from the show appear on the page
        show_state.update(fps=24.5, bpm=128.0, heard="splashing_water", heard_p=0.81)
        wait.until(lambda d: d.find_element(By.ID, "stat-fps").text == "24.5")
        assert driver.find_element(By.ID, "stat-bpm").text == "128.0"
        assert driver.find_element(By.ID, "stat-heard").text == "splashing water 81%"   # what the learned mode hears
        # a change from elsewhere (OSC/MIDI) moves the page's control
        registry.set("gain_bass", 3.0)
        wait.until(lambda d: float(d.find_element(By.ID, "p-gain_bass").get_attribute("value")) == 3.0)
        # buttons: blackout, tap, MIDI learn
        driver.find_element(By.ID, "blackout").click()
        wait.until(lambda d: registry["blackout"] is True)
        driver.find_element(By.ID, "tap").click()
        wait.until(lambda d: hub.taps == [1])
        # MIDI learn: the button arms the parameter and lights up once the show says so
        armed = []
        hub.on_learn = armed.append
        learn = driver.find_element(By.CSS_SELECTOR, 'button[data-learn="gain_mid"]')
        learn.click()
        wait.until(lambda d: "armed" in learn.get_attribute("class"))
        assert armed == ["gain_mid"] and hub.learning == "gain_mid"
        # presets: save from the page, then its button loads it back
        driver.find_element(By.ID, "preset-name").send_keys("page-preset", Keys.ENTER)
        button = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, 'button[data-preset="page-preset"]'))
        saved = registry["brightness"]
        registry.set("brightness", 2.0)
        button.click()
        wait.until(lambda d: registry["brightness"] == saved)
        # the prompt box
        driver.find_element(By.ID, "prompt").send_keys("a field of sunflowers", Keys.ENTER)
        wait.until(lambda d: registry["prompt"] == "a field of sunflowers")
        assert not driver.get_log("browser") or all(e["level"] != "SEVERE" for e in driver.get_log("browser"))
    finally:
        driver.quit()
