"""--mode on run, render and bench: imported generators play in react mode (NVlabs .pkl straight to
--model), deterministically; bench reports the response delay; modes a model lacks are one line."""

import json

import numpy as np
import pytest
import torch

from livevis.eval.response import click_track
from livevis.models import factory
from livevis.models.bundle import save_bundle
from tests.audio.media_files import write_audio
from tests.models.nvlabs_standin import nvlabs_kwargs_for, write_network_pickle
from tests.rigs.cli import assert_one_line_error, livevis
from tests.rigs.display import run_env
from tests.rigs.media import decode_video, mean_motion
from tests.rigs.tiny_parts import tiny_bundle as parts_bundle

SR = 16000


def sg2_pickle(path, c_dim=0):
    torch.manual_seed(0)
    G = factory.build("stylegan2", {"z_dim": 16, "w_dim": 16, "c_dim": c_dim, "img_resolution": 16, "channel_base": 128,
                                    "channel_max": 16, "mapping_layers": 2}).eval()
    return write_network_pickle(path, G, nvlabs_kwargs_for(G.config))


def sg3_pickle(path):
    arch, cfg = factory.load_preset("stylegan3-t-tiny")
    torch.manual_seed(0)
    G = factory.build(arch, cfg).eval()
    mapping = {"num_layers": cfg.pop("mapping_layers"), "lr_multiplier": cfg.pop("mapping_lr_multiplier"),
               "w_avg_beta": cfg.pop("w_avg_beta")}
    return write_network_pickle(path, G, dict(cfg, mapping_kwargs=mapping))


@pytest.fixture(scope="module")
def clicks(tmp_path_factory):
    audio, _hits = click_track(3.0, SR)
    return write_audio(tmp_path_factory.mktemp("audio") / "clicks.wav", audio, SR)


@pytest.mark.parametrize("make", [sg2_pickle, pytest.param(sg3_pickle, marks=pytest.mark.slow)])
def test_imported_pickle_renders_deterministically_in_react_mode(make, clicks, tmp_path):
    pkl = make(tmp_path / "g.pkl")
    frames = []
    for name in ("a.mp4", "b.mp4"):
        proc = livevis("render", clicks, "--out", tmp_path / name, "--model", pkl, "--fps", 20, "--no-effects",
                       "--backend", "eager", "--size", 64)  # not a size check (1080p cost 6 s per render)
        assert proc.returncode == 0, proc.stderr
        assert "react mode" in proc.stderr
        frames.append(decode_video(tmp_path / name))
    assert frames[0].shape[0] == 60 and np.array_equal(frames[0], frames[1])
    assert mean_motion(frames[0]) > 0.5  # the clicks move the picture


def test_imported_pickle_plays_headless_in_react_mode(clicks, tmp_path):
    pkl = sg2_pickle(tmp_path / "g.pkl")
    out = tmp_path / "show.mp4"
    proc = livevis("run", "--model", pkl, "--input", clicks, "--headless", "--seconds", "2.5", "--record", out,
                   "--size", "64", "--fps", "20", env=run_env())
    assert proc.returncode == 0, proc.stderr
    assert "react mode" in proc.stderr
    video = decode_video(out)
    assert video.shape[0] >= 20 and mean_motion(video) > 0.5


def test_bench_json_reports_response_delay(tmp_path):
    pkl = sg2_pickle(tmp_path / "g.pkl")
    proc = livevis("bench", "--model", pkl, "--frames", 20, "--warmup", 2, "--json", "--backend", "eager")
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["mode"] == "react" and set(r["response_ms"]) >= {"half", "peak"}
    # Deterministic frames at 60 fps: onsets show within two frames.
    assert 0 <= r["response_ms"]["half"] <= r["response_ms"]["peak"] <= 50.0
    assert r["stages_ms"]["encoder"]["median"] == 0.0  # react mode runs no sound model


def test_modes_a_model_lacks_and_conditional_generators_are_one_line(clicks, tmp_path):
    gen_only = save_bundle(parts_bundle(generator_only=True), tmp_path / "gen.bundle")
    assert_one_line_error(livevis("render", clicks, "--out", tmp_path / "x.mp4", "--model", gen_only, "--mode", "learned"),
                          "generator only")
    assert_one_line_error(livevis("render", clicks, "--out", tmp_path / "x.mp4", "--model", gen_only, "--mode", "retrieve"),
                          "retrieve")
    cond = sg2_pickle(tmp_path / "cond.pkl", c_dim=3)
    assert_one_line_error(livevis("render", clicks, "--out", tmp_path / "x.mp4", "--model", cond), "--class")
    assert_one_line_error(livevis("render", clicks, "--out", tmp_path / "x.mp4", "--model", cond, "--class", "5"), "--class")
    proc = livevis("render", clicks, "--out", tmp_path / "c.mp4", "--model", cond, "--class", "1", "--fps", "10",
                   "--backend", "eager", "--size", 64)
    assert proc.returncode == 0, proc.stderr
    bad = livevis("render", clicks, "--out", tmp_path / "x.mp4", "--mode", "dance")
    assert bad.returncode != 0 and "--mode" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_eval_music_reports_sync_against_the_walk(clicks, tmp_path):
    pkl = sg2_pickle(tmp_path / "g.pkl")
    proc = livevis("eval", "--model", pkl, "--music", clicks, "--json")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)["music"]
    assert m["mode"] == "react" and len(m["tracks"]) == 1
    # Clicks move the react frames; a random walk of the same step length does not follow them.
    assert m["sync_r"] > 0.5 and m["sync_r"] > m["walk_sync_r"] + 0.3, m
    # ... and the picture moves: its mean frame change is the one reported (a still picture reads 0).
    assert 0.0 < m["frame_change"] == m["tracks"][0]["frame_change"] < 2.0, m
    assert_one_line_error(livevis("eval", "--model", pkl, "--music", tmp_path / "nope.wav"), "nope.wav")
