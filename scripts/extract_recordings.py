#!/usr/bin/env python3
"""Extract the labelled real recordings of tests/data/recordings from Debian packages, reproducibly.

Each entry below names a Debian package, a file inside it, the file's licence (from the package's
debian/copyright or the game's own credits), the synthetic-set class it is a recording of, and the
excerpt taken (offset and duration in seconds). The script fetches the .deb with `apt-get download`
(into --debs, reused when present), unpacks only that file with dpkg-deb + tar, mixes it to mono,
resamples it to 22050 Hz (librosa, soxr) and writes OUT/<class>/<package>--<name>.flac, then
OUT/MANIFEST.md. Every file is written atomically.

    python scripts/extract_recordings.py [--out tests/data/recordings] [--debs /tmp/livevis-debs]

No class of the synthetic set is missing except `underwater_bubbling`: no free Debian package
examined ships a recording of bubbles under water (widelands' "beerbubble" is a brewing vat).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Source:
    package: str
    path: str          # inside the package's data archive
    licence: str
    label: str         # a class of training/data/synthetic/generate.py
    offset: float      # seconds into the file
    duration: float    # seconds taken (less when the file is shorter)
    origin: str        # author / where the package says it comes from
    use: str = "test"  # tuning | test | not used in training


FG = "usr/share/games/flightgear/Sounds"
RE = "usr/share/games/redeclipse/data/sounds/ambience"
MT = "usr/share/games/minetest/games/minetest_game/mods"
STK = "usr/share/games/supertuxkart/data/sfx"
MG = "usr/share/games/megaglest/tilesets"

SOURCES: list[Source] = [
    Source("flightgear-data-base", f"{FG}/thunder1.wav", "GPL-2+", "thunderstorm", 0.0, 6.0, "FlightGear team"),
    Source("flightgear-data-base", f"{FG}/thunder3.wav", "GPL-2+", "thunderstorm", 0.0, 6.0, "FlightGear team"),
    Source("redeclipse-data", f"{RE}/morph/stormbolts.ogg", "CC-BY-3.0", "thunderstorm", 20.0, 6.0, "Slawek 'Q009' Blauciak"),
    Source("flightgear-data-base", f"{FG}/rain.wav", "GPL-2+", "rain", 0.0, 6.0, "FlightGear team"),
    Source("megaglest-data", f"{MG}/autumn/sounds/rain.ogg", "CC-BY-SA-3.0", "rain", 2.0, 6.0, "Glest / MegaGlest team"),
    Source("redeclipse-data", f"{RE}/morph/rain.ogg", "CC-BY-3.0", "rain", 1.0, 6.0, "Slawek 'Q009' Blauciak"),
    Source("supertuxkart-data", f"{STK}/waterfall_loop_2.ogg", "CC0", "waterfall", 2.0, 6.0,
           "Leonard 'VKProduktion' Graf, freesound 215711"),
    Source("redeclipse-data", f"{RE}/waterfall2.ogg", "CC-BY-SA-3.0", "waterfall", 4.0, 6.0, "Quinton Reeves, Alex Anguix"),
    Source("redeclipse-data", f"{RE}/river.ogg", "CC-BY-SA-3.0", "waterfall", 5.0, 6.0, "Mike 'Acclivity', freesound 13553"),
    Source("minetest-data", f"{MT}/fire/sounds/fire_large.ogg", "CC-BY-3.0", "fire_crackling", 0.0, 6.0,
           "Dynamicell, freesound 17548"),
    Source("minetest-data", f"{MT}/fire/sounds/fire_small.ogg", "CC-BY-3.0", "fire_crackling", 0.0, 6.0,
           "dobroide, freesound 4211"),
    Source("wesnoth-1.16-data", "usr/share/games/wesnoth/1.16/data/core/sounds/ambient/campfire.ogg", "GPL-2+",
           "fire_crackling", 1.0, 6.0, "Battle for Wesnoth team"),
    Source("redeclipse-data", f"{RE}/wind.ogg", "CC-BY-SA-3.0", "wind", 3.0, 6.0, "Batuhan Bozkurt, freesound 17735"),
    Source("megaglest-data", f"{MG}/winter/sounds/wind.ogg", "CC-BY-SA-3.0", "wind", 4.0, 6.0, "Glest / MegaGlest team"),
    Source("flightgear-data-base", f"{FG}/wind1.wav", "GPL-2+", "wind", 0.0, 6.0, "FlightGear team"),
    Source("minetest-data", f"{MT}/env_sounds/sounds/env_sounds_lava.1.ogg", "CC0-1.0", "volcano", 0.0, 6.0,
           "Halion, freesound 17785"),
    Source("redeclipse-data", f"{RE}/lavarumble1.ogg", "CC-BY-SA-3.0", "volcano", 10.0, 6.0, "Quinton Reeves, Alex Anguix"),
    Source("redeclipse-data", f"{RE}/lava1.ogg", "CC-BY-SA-3.0", "volcano", 0.0, 6.0, "Quinton Reeves, Alex Anguix"),
    Source("supertuxkart-data", f"{STK}/splash.ogg", "CC-BY-SA-4.0", "splashing_water", 0.0, 6.0, "The Audio Monkey"),
    Source("minetest-data", f"{MT}/default/sounds/default_water_footstep.1.ogg", "CC-BY-SA-3.0", "splashing_water", 0.0, 6.0,
           "minetest_game default mod (see its README.txt)"),
    Source("minetest-data", f"{MT}/env_sounds/sounds/env_sounds_water.1.ogg", "CC0-1.0", "splashing_water", 0.0, 6.0,
           "Yuval, freesound 197023"),
    Source("redeclipse-data", f"{RE}/forest1.ogg", "CC-BY-SA-3.0", "calm", 2.0, 6.0, "Quinton Reeves, Alex Anguix"),
    Source("redeclipse-data", f"{RE}/nightcrickets.ogg", "CC-BY-SA-3.0", "calm", 1.0, 6.0,
           "Richard 'RHumphries' Humphries, freesound 1056"),
    Source("megaglest-data", f"{MG}/autumn/sounds/sunny_day.ogg", "CC-BY-SA-3.0", "calm", 3.0, 6.0, "Glest / MegaGlest team"),
]

MISSING = {"underwater_bubbling": "no free Debian package examined ships a recording of bubbles under water"}


def output_name(src: Source) -> str:
    return f"{src.package}--{Path(src.path).stem}.flac"


def fetch_deb(package: str, debs: Path) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise SystemExit(f"apt-get download {package} wrote no .deb into {debs}")
    return found[-1]


def unpack(deb: Path, inner: str, into: Path) -> Path:
    """One member of the .deb's data archive -> a file under `into`."""
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # it complains when we stop reading early
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                if member.name.lstrip("./") == inner and member.isfile():
                    data = tar.extractfile(member).read()
                    out = into / Path(inner).name
                    out.write_bytes(data)
                    return out
    finally:
        proc.stdout.close()
        proc.wait()
    raise SystemExit(f"{inner} is not in {deb.name}")


def excerpt(path: Path, offset: float, duration: float) -> np.ndarray:
    """Mono float32 at SAMPLE_RATE: [offset, offset + duration) of the file."""
    import librosa
    import soundfile as sf

    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)      # [N, C]
    mono = audio.mean(axis=1)
    mono = mono[int(round(offset * rate)):int(round((offset + duration) * rate))]
    if rate != SAMPLE_RATE:
        mono = librosa.resample(mono, orig_sr=rate, target_sr=SAMPLE_RATE, res_type="soxr_hq")
    return np.clip(mono, -1.0, 1.0).astype(np.float32)


def write_manifest(out: Path, rows: list[tuple[Source, str, float]]) -> None:
    from livevis.util.atomic import atomic_open

    lines = [
        "# Real recordings for `livevis eval --recordings`",
        "",
        "Written by `scripts/extract_recordings.py` (rerun it to rebuild this folder from the Debian packages).",
        "Excerpts are mono, 22050 Hz FLAC. `used for`: `test` = only measured, never used to train or to",
        "choose any setting.",
        "",
        "| package | file | licence | label | used for | excerpt | seconds | origin |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for src, name, seconds in rows:
        lines.append(f"| {src.package} | /{src.path} | {src.licence} | {src.label} | {src.use} | "
                     f"{src.label}/{name} | {src.offset:g}+{seconds:.2f} | {src.origin} |")
    lines += ["", "Classes without a recording:"]
    lines += [f"- {label}: {why}" for label, why in MISSING.items()]
    with atomic_open(out / "MANIFEST.md", "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    import soundfile as sf

    from livevis.training.data.synthetic import CLASSES
    from livevis.util.atomic import atomic_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "tests" / "data" / "recordings"))
    ap.add_argument("--debs", default="/tmp/livevis-debs", help="where .deb files are downloaded / reused")
    args = ap.parse_args(argv)
    out, debs = Path(args.out), Path(args.debs)
    unknown = sorted({s.label for s in SOURCES} - set(CLASSES))
    if unknown:
        raise SystemExit(f"labels not in the synthetic set: {unknown}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for src in SOURCES:
            raw = unpack(fetch_deb(src.package, debs), src.path, Path(tmp))
            audio = excerpt(raw, src.offset, src.duration)
            dest = out / src.label / output_name(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp_dest:
                sf.write(str(tmp_dest), audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            rows.append((src, output_name(src), audio.shape[0] / SAMPLE_RATE))
            print(f"{src.label:20s} {dest.relative_to(out)}  {audio.shape[0] / SAMPLE_RATE:.2f} s")
    write_manifest(out, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
