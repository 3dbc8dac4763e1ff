#!/usr/bin/env python3
"""Extract the labelled real recordings of tests/data/recordings(-val) from Debian packages, reproducibly.

Three sets, built from different source files:
  test        SOURCES -> tests/data/recordings: only ever measured and reported, never used to train
              or to choose a setting.
  validation  VALIDATION_SOURCES -> tests/data/recordings-val: measured to choose training settings
              (augmentation strength, steps); never reported as a result. No file of the test set is
              used here, nor another file known to come from the same recording (see the notes below).
  train       TRAIN_SOURCES -> build/real-sounds (not committed): the sound model is trained on these.
              No source file of the other two sets, nor one known to be the same recording.

Each entry names a Debian package, a file inside it (and, for 0 A.D., UFO:AI, Nexuiz and OpenArena,
a member of the zip archive that file is; for OpenClonk, of its .ocg group file, which the c4group
tool of the `openclonk` package unpacks), the file's licence (from the package's debian/copyright or
the game's own credits), the synthetic-set class it is a recording of, and the excerpt taken (offset
and duration in seconds). The script fetches the .deb with `apt-get download` (into --debs, reused
when present), unpacks only the files it needs with dpkg-deb + tar, mixes each to mono, resamples it
to 22050 Hz (librosa, soxr) and writes OUT/<class>/<package>--<name>.flac, then OUT/MANIFEST.md. Every file is
written atomically. The validation set unpacks 0 A.D.'s 3.3 GB public.zip into a temporary folder.

    python scripts/extract_recordings.py [--set test|validation|train] [--out DIR] [--debs /tmp/livevis-debs]

The test and validation sets miss only `underwater_bubbling`: the free Debian packages examined ship
two recordings of bubbles under water (UFO:AI's alienbase-bubbles, OpenClonk's DivingLoop1), both in
the training set (widelands' "beerbubble" is a brewing vat; redeclipse's sfx/underwater.ogg is a
muffled rumble with nearly all its energy below 200 Hz and no bubble to be heard in it).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
MIN_RMS = 1e-3  # an excerpt quieter than this (-60 dBFS) is the silence between sounds, not a recording of its class
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
    use: str = "test"  # test | tuning | training
    member: str = ""   # a file inside the zip (or .ocg) archive `path` names ("" when `path` is the sound itself)
    name: str = ""     # output stem when the file's own stem is not unique in its set (megaglest's tilesets)


FG = "usr/share/games/flightgear/Sounds"
RE = "usr/share/games/redeclipse/data/sounds/ambience"
MT = "usr/share/games/minetest/games/minetest_game/mods"
STK = "usr/share/games/supertuxkart/data/sfx"
MG = "usr/share/games/megaglest/tilesets"

SOURCES: list[Source] = [
    Source("flightgear-data-base", f"{FG}/thunder1.wav", "GPL-2+", "thunderstorm", 0.0, 6.0, "FlightGear team"),
    Source("flightgear-data-base", f"{FG}/thunder3.wav", "GPL-2+", "thunderstorm", 0.0, 6.0, "FlightGear team"),
    # From 0 s: at 20 s (the excerpt until 2026-12) the file is silent for 13 s between two storms.
    Source("redeclipse-data", f"{RE}/morph/stormbolts.ogg", "CC-BY-3.0", "thunderstorm", 0.0, 6.0, "Slawek 'Q009' Blauciak"),
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

# ---- validation (tuning) set ------------------------------------------------------------------------
# Other source files than SOURCES, mostly from other packages. Left out although they exist, because
# they share (or may share) a recording with a test file: minetest fire_fire.* (= fire_large,
# freesound 17548), env_sounds_lava.2 / env_sounds_water.2 (the same freesound uploads as .1),
# default_water_footstep.2 (same AGFX pack), redeclipse lavarumble2 / lava2 (waveform correlation
# 1.00 / 0.96 with lavarumble1 / lava1), redeclipse waterfall*.ogg and forest*.ogg / cycadas.ogg (cut
# from the same freesound uploads as waterfall2 / forest1), megaglest winter_forest/wind.ogg
# (correlation 1.00 with winter/wind.ogg) and supertuxkart rain.ogg (a megaglest rain file).
# 0 A.D. rain_12 correlates 0.86 with rain_11 and scorched3d lava1 0.5 with lava2: one of each is taken.
AD = "usr/share/games/0ad/mods/public/public.zip"
S3D = "usr/share/games/scorched3d/data/globalmods/none/data/wav/misc"
STX = "usr/share/games/supertux2/sounds"
WES = "usr/share/games/wesnoth/1.16/data/core/sounds"
WFG = "Wildfire Games (0 A.D.)"
S3D_TEAM = "Gavin Camp, Scorched3D (authors.txt: sounds gathered and adjusted by the team)"
STX_TEAM = "SuperTux Devel Team (sound credits in credits.stxt)"


def _val(package: str, path: str, licence: str, label: str, offset: float, duration: float, origin: str,
         member: str = "") -> Source:
    return Source(package, path, licence, label, offset, duration, origin, "tuning", member)


# Broadband noise compresses least: 0 A.D. rain_11, waterfall_31, river_med_21 and supertuxkart river_loop
# are 5 s excerpts so that the folder stays under 3 MB.
VALIDATION_SOURCES: list[Source] = [
    _val("0ad-data", AD, "CC-BY-SA-3.0", "thunderstorm", 0.0, 6.0, WFG, "audio/ambient/weather/thunder_10.ogg"),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "thunderstorm", 0.0, 6.0, WFG, "audio/ambient/weather/thunder_11.ogg"),
    _val("scorched3d-data", f"{S3D}/thunder2.wav", "GPL-2+", "thunderstorm", 0.0, 6.0, S3D_TEAM),
    _val("supertux-data", f"{STX}/thunder.wav", "GPL-3+", "thunderstorm", 0.0, 6.0, STX_TEAM),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "rain", 10.0, 5.0, WFG, "audio/ambient/weather/rain_11.ogg"),
    _val("scorched3d-data", f"{S3D}/rain.wav", "GPL-2+", "rain", 2.0, 6.0, S3D_TEAM),
    _val("supertux-data", f"{STX}/rain.wav", "GPL-3+", "rain", 8.0, 6.0, STX_TEAM),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "waterfall", 2.0, 5.0, WFG, "audio/ambient/water/waterfall_31.ogg"),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "waterfall", 2.0, 5.0, WFG, "audio/ambient/water/river_med_21.ogg"),
    _val("supertuxkart-data", f"{STK}/river_loop.ogg", "CC0", "waterfall", 2.0, 5.0,
         "Adam Newns (Adam_N), freesound 166310"),
    _val("supertux-data", f"{STX}/waterfall.wav", "GPL-3+", "waterfall", 0.0, 6.0, STX_TEAM),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "fire_crackling", 0.0, 6.0, WFG, "audio/attack/fire/c_11.ogg"),
    _val("lincity-ng-data", "usr/share/games/lincity-ng/sounds/Fire1.wav", "GPL-2+", "fire_crackling", 0.0, 6.0,
         "LinCity-NG team (sounds dual GPL / CC-BY-SA-2.0)"),
    _val("redeclipse-data", f"{RE}/fire.ogg", "CC-BY-SA-3.0", "fire_crackling", 0.0, 6.0, "Quinton Reeves, Alex Anguix"),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "wind", 3.0, 6.0, WFG, "audio/ambient/weather/wind_11.ogg"),
    _val("0ad-data", AD, "CC-BY-SA-3.0", "wind", 3.0, 6.0, WFG, "audio/ambient/weather/windstorm_11.ogg"),
    _val("redeclipse-data", f"{RE}/morph/wind1.ogg", "CC-BY-3.0", "wind", 0.0, 6.0, "Slawek 'Q009' Blauciak"),
    _val("scorched3d-data", f"{S3D}/lava2.wav", "GPL-2+", "volcano", 5.0, 6.0, S3D_TEAM),
    _val("supertux-data", f"{STX}/lava.wav", "GPL-3+", "volcano", 0.0, 6.0, STX_TEAM),
    _val("wesnoth-1.16-data", f"{WES}/rumble.ogg", "GPL-2+", "volcano", 0.0, 6.0, "Battle for Wesnoth team"),
    _val("scorched3d-data", f"{S3D}/splash.wav", "GPL-2+", "splashing_water", 0.0, 6.0, S3D_TEAM),
    _val("supertux-data", f"{STX}/splash.ogg", "GPL-3+", "splashing_water", 0.0, 6.0, STX_TEAM),
    _val("cube2-data", "usr/share/games/cube2/packages/sounds/yo_frankie/watersplash2.ogg", "CC-BY-3.0",
         "splashing_water", 0.0, 6.0, "Yo Frankie! (Apricot project, Blender Foundation)"),
    _val("freeciv-data", "usr/share/games/freeciv/stdsounds/Splash.ogg", "GPL-2+", "splashing_water", 0.0, 6.0,
         "The Freeciv project"),
    _val("scorched3d-data", f"{S3D}/birds1.wav", "GPL-2+", "calm", 0.0, 6.0, S3D_TEAM),
    _val("wesnoth-1.16-data", f"{WES}/ambient/birds2.ogg", "GPL-2+", "calm", 0.0, 6.0, "Battle for Wesnoth team"),
    _val("supertuxkart-data", f"{STK}/exotic-birds.ogg", "CC0", "calm", 0.0, 6.0,
         "James 'swiftoid' Swift, freesound 182501"),
]

VALIDATION_MISSING = {
    "underwater_bubbling": "no free Debian package examined ships a recording of bubbles under water "
                           "(redeclipse sfx/underwater.ogg is a muffled rumble without audible bubbles)",
}


# ---- training set -----------------------------------------------------------------------------------
# Source files of neither set above. Left out besides the exclusions noted for the validation set,
# because they are (or may be) the same recording as a test or validation file: 0 A.D. river_fast_21
# (waveform correlation 0.57 with river_med_21), river_raging_21 (0.79 with waterfall_31), rain_12
# (0.86 with rain_11), windgust_11 (0.31 with wind_11); flightgear thunder2 (0.34 with thunder1);
# scorched3d thunder3 (0.44 with redeclipse stormbolts), lava1 (0.5 with lava2), birds2 (0.27 with
# birds1); wesnoth birds1/birds3 (0.38 with birds2); supertuxkart exotic-birds_2 (0.36 with megaglest
# sunny_day, same uploader as exotic-birds). Unrelated files correlate 0.02-0.2 in the same check.
# Also left out, as poor examples of their class: redeclipse hollowwind (decodes to the same audio as
# blowwind), supertux flame.wav and redeclipse sfx/burnfire (flame whooshes, >90 % of the energy below
# 200 Hz, no crackle), lincity-ng Water1.wav (a low drone, spectral centroid 260 Hz) and 0 A.D.
# day_temperate_gen_01 (-64 dBFS: next to silent).
# Longer excerpts (up to 20 s) than the other sets: training cuts random 1 s windows from them.
TRAIN_EXCLUDED: list[tuple[str, str]] = [
    ("0ad-data", f"/{AD}!audio/ambient/water/river_fast_21.ogg"),
    ("0ad-data", f"/{AD}!audio/ambient/water/river_raging_21.ogg"),
    ("0ad-data", f"/{AD}!audio/ambient/weather/rain_12.ogg"),
    ("0ad-data", f"/{AD}!audio/ambient/weather/windgust_11.ogg"),
    ("flightgear-data-base", f"/{FG}/thunder2.wav"),
    ("scorched3d-data", f"/{S3D}/thunder3.wav"),
    ("scorched3d-data", f"/{S3D}/lava1.wav"),
    ("scorched3d-data", f"/{S3D}/birds2.wav"),
    ("wesnoth-1.16-data", f"/{WES}/ambient/birds1.ogg"),
    ("wesnoth-1.16-data", f"/{WES}/ambient/birds3.ogg"),
    ("supertuxkart-data", f"/{STK}/exotic-birds_2.ogg"),
    ("supertuxkart-data", f"/{STK}/rain.ogg"),
    ("megaglest-data", f"/{MG}/winter_forest/sounds/wind.ogg"),
    ("minetest-data", f"/{MT}/fire/sounds/fire_fire.1.ogg"),
    ("minetest-data", f"/{MT}/env_sounds/sounds/env_sounds_lava.2.ogg"),
    ("minetest-data", f"/{MT}/env_sounds/sounds/env_sounds_water.2.ogg"),
    ("minetest-data", f"/{MT}/default/sounds/default_water_footstep.2.ogg"),
    *(("redeclipse-data", f"/{RE}/{n}.ogg") for n in (
        "lava2", "lavarumble2", "waterfall", "waterfall1", "waterfall3", "waterfall_huge", "waterfall_medium",
        "forest2", "forest3", "cycadas")),
]
RE_SFX = "usr/share/games/redeclipse/data/sounds"
UFO = "usr/share/games/ufoai/base/0snd.pk3"      # zip archives (Quake-style .pk3)
NEX = "usr/share/games/nexuiz/data/data.pk3"
OA = "usr/share/games/openarena/baseoa/pak0.pk3"
UFO_TEAM = "UFO:AI team"
OC = "usr/share/games/openclonk/Sound.ocg"     # an OpenClonk group file (c4group_unpack)
TUX = "usr/share/tuxpaint/stamps"
PTB = "usr/share/games/plee-the-bear/sound"
RE_TEAM = "Red Eclipse team (sounds/readme.txt)"
QB = "Slawek 'Q009' Blauciak"
QA = "Quinton Reeves, Alex Anguix"
MG_TEAM = "Glest / MegaGlest team"
WES_TEAM = "Battle for Wesnoth team"


def _train(package: str, path: str, licence: str, label: str, offset: float, duration: float, origin: str,
           member: str = "", name: str = "") -> Source:
    return Source(package, path, licence, label, offset, duration, origin, "training", member, name)


TRAIN_SOURCES: list[Source] = [
    _train("scorched3d-data", f"{S3D}/thunder.wav", "GPL-2+", "thunderstorm", 0.0, 20.0, S3D_TEAM),
    _train("flightgear-data-base", f"{FG}/thunder.wav", "GPL-2+", "thunderstorm", 0.0, 20.0, "FlightGear team"),
    _train("supertuxkart-data", f"{STK}/thunder.ogg", "CC-BY-3.0", "thunderstorm", 0.0, 20.0,
           "Mike Koenig (soundbible 318), modified by Marianne 'Auria' Gagnon"),
    _train("redeclipse-data", f"{RE}/morph/stormrain.ogg", "CC-BY-3.0", "rain", 0.0, 20.0, QB),
    _train("megaglest-data", f"{MG}/birch_forest/sounds/rain.ogg", "CC-BY-SA-3.0", "rain", 0.0, 20.0, MG_TEAM,
           name="birch_forest-rain"),
    _train("megaglest-data", f"{MG}/desert2/sounds/rain.wav", "CC-BY-SA-3.0", "rain", 0.0, 20.0, MG_TEAM,
           name="desert2-rain"),
    _train("megaglest-data", f"{MG}/dark_forest/sounds/rain.ogg", "CC-BY-SA-3.0", "rain", 0.0, 20.0, MG_TEAM,
           name="dark_forest-rain"),
    _train("0ad-data", AD, "CC-BY-SA-3.0", "waterfall", 0.0, 20.0, WFG, "audio/ambient/water/river_slow_21.ogg"),
    _train("redeclipse-data", f"{RE}/creek.ogg", "CC-BY-SA-3.0", "waterfall", 0.0, 20.0,
           "Richard 'RHumphries' Humphries, freesound 7152"),
    _train("redeclipse-data", f"{RE}/water.ogg", "CC-BY-SA-3.0", "waterfall", 0.0, 20.0,
           "Paul 'ignotus' Hertz, freesound 14779"),
    _train("0ad-data", AD, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, WFG, "audio/attack/fire/sz11.ogg"),
    _train("supertux-data", f"{STX}/fire.ogg", "GPL-3+", "fire_crackling", 0.0, 20.0, STX_TEAM),
    _train("wesnoth-1.16-data", f"{WES}/fire.wav", "GPL-2+", "fire_crackling", 0.0, 20.0, WES_TEAM),
    _train("0ad-data", AD, "CC-BY-SA-3.0", "wind", 3.0, 20.0, WFG, "audio/ambient/weather/snowstorm_11.ogg"),
    _train("redeclipse-data", f"{RE}/blowwind.ogg", "CC-BY-SA-3.0", "wind", 0.0, 20.0, QA),
    _train("redeclipse-data", f"{RE}/wastewind.ogg", "CC-BY-SA-3.0", "wind", 0.0, 20.0, QA),
    _train("redeclipse-data", f"{RE}/morph/stormwind.ogg", "CC-BY-3.0", "wind", 0.0, 20.0, QB),
    _train("flightgear-data-base", f"{FG}/wind.wav", "GPL-2+", "wind", 0.0, 20.0, "FlightGear team"),
    _train("flightgear-data-base", f"{FG}/rumble.wav", "GPL-2+", "volcano", 0.0, 20.0, "FlightGear team"),
    _train("scorched3d-data", "usr/share/games/scorched3d/data/globalmods/apoc/data/wav/explosions/quake.wav",
           "GPL-2+", "volcano", 0.0, 20.0, S3D_TEAM),
    _train("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/splash.ogg", "GFDL-1.3", "splashing_water",
           0.0, 20.0, "Andrey Korotaev (Hedgewars)"),
    _train("pingus-data", "usr/share/games/pingus/data/sounds/splash.wav", "GPL-2+", "splashing_water", 0.0, 20.0,
           "Ingo Ruhnke and the Pingus authors"),
    _train("redeclipse-data", f"{RE_SFX}/sfx/splashin.ogg", "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0, RE_TEAM),
    _train("redeclipse-data", f"{RE_SFX}/sfx/splashout.ogg", "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0, RE_TEAM),
    _train("redeclipse-data", f"{RE_SFX}/player/swimstep.ogg", "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0, RE_TEAM),
    _train("supertux-data", f"{STX}/splash.wav", "GPL-3+", "splashing_water", 0.0, 20.0, STX_TEAM),
    _train("0ad-data", AD, "CC-BY-SA-3.0", "calm", 0.0, 20.0, WFG, "audio/ambient/dayscape/day_temperate_11.ogg"),
    _train("0ad-data", AD, "CC-BY-SA-3.0", "calm", 0.0, 20.0, WFG, "audio/ambient/dayscape/day_tropical_10.ogg"),
    _train("wesnoth-1.16-data", f"{WES}/ambient/morning.ogg", "GPL-2+", "calm", 0.0, 20.0, WES_TEAM),
    _train("wesnoth-1.16-data", f"{WES}/ambient/night.ogg", "GPL-2+", "calm", 0.0, 20.0, WES_TEAM),
    _train("widelands-data", "usr/share/games/widelands/data/sound/animals/crickets1_00.ogg", "GPL-2+", "calm",
           0.0, 20.0, "Widelands Development Team"),
    _train("megaglest-data", f"{MG}/fernland/sounds/day.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0, MG_TEAM,
           name="fernland-day"),
    _train("megaglest-data", f"{MG}/spring/sounds/day.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0, MG_TEAM,
           name="spring-day"),
    _train("megaglest-data", f"{MG}/dark_forest/sounds/day.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0, MG_TEAM,
           name="dark_forest-day"),
    # Added 2026-12-01 (issue 13: more and more varied real sounds; ten more packages). Each checked
    # against every test and validation file by peak normalised cross-correlation at 8 kHz: at most 0.31,
    # the highest being short splashes against other classes' files (chance matches).
    # Excluded from this batch, as the same recording as a file in use: ufoai firesoft (= fire1),
    # ufoai water.ogg (nexuiz's), redeclipse alienwind (= dizzywind); as possibly the validation
    # recording's siblings: lincity-ng Fire2/Fire3, redeclipse morph/wind2.
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "thunderstorm", 0.0, 20.0,
           "UFO:AI team (CC-BY-SA block contributors: Marine Baklund, Gren, C. Hoffmann, Slippycurb)",
           "sound/ambience/thunder1.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "thunderstorm", 0.0, 20.0, UFO_TEAM, "sound/ambience/thunder2.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "thunderstorm", 0.0, 20.0, UFO_TEAM, "sound/ambience/thunder3.ogg"),
    _train("tuxpaint-stamps-default", f"{TUX}/naturalforces/lightningbolt.ogg", "GPL-2", "thunderstorm", 0.0, 20.0,
           "Tux Paint stamps team"),
    _train("7kaa-data", "usr/share/games/7kaa/SOUND/RAIN.WAV", "GPL-2+", "rain", 0.0, 20.0,
           "Enlight Software (Seven Kingdoms)"),
    _train("ardentryst", "usr/share/games/ardentryst/Sounds/Rain_Loop.ogg", "CC-BY-SA-3.0", "rain", 0.0, 20.0,
           "Kendra Pietruszewski / Amy Dunwoodie / freesound users (Sounds/*)"),
    _train("nexuiz-data", NEX, "GPL-2+", "rain", 0.0, 20.0, "Alientrap / Nexuiz team", "sound/weather/rain_1.ogg"),
    _train("plee-the-bear-data", f"{PTB}/weather/rain.ogg", "CC-BY-SA-3.0", "rain", 0.0, 20.0,
           "Plee the Bear data team"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "waterfall", 0.0, 20.0, UFO_TEAM, "sound/ambience/water01.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "waterfall", 0.0, 20.0, UFO_TEAM, "sound/ambience/water02.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "waterfall", 0.0, 20.0, UFO_TEAM, "sound/ambience/waterfontain.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, UFO_TEAM, "sound/ambience/fire.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, UFO_TEAM, "sound/ambience/fire03.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, UFO_TEAM, "sound/ambience/fire04.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, UFO_TEAM, "sound/ambience/fire05.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, UFO_TEAM, "sound/ambience/fire06.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "fire_crackling", 0.0, 20.0, UFO_TEAM, "sound/ambience/smallfire.ogg"),
    _train("ufoai-sound", UFO, "GPL-2", "fire_crackling", 0.0, 20.0,
           "OpenArena/Nexuiz GPLed data", "sound/ambience/fire1.ogg"),
    _train("ufoai-sound", UFO, "GPL-2", "fire_crackling", 0.0, 20.0,
           "OpenArena/Nexuiz GPLed data", "sound/ambience/fire2.ogg"),
    _train("freedink-data", "usr/share/games/dink/dink/Sound/fire.wav", "CC-BY-3.0", "fire_crackling", 0.0, 20.0,
           "Berklee College of Music Sampling Archive (archive.org Berklee44v12), edited by FreeDink"),
    _train("7kaa-data", "usr/share/games/7kaa/SOUND/FIRE.WAV", "GPL-2+", "fire_crackling", 0.0, 20.0,
           "Enlight Software"),
    _train("7kaa-data", "usr/share/games/7kaa/SOUND/WIND.WAV", "GPL-2+", "wind", 0.0, 20.0, "Enlight Software"),
    _train("lugaru-data", "usr/share/games/lugaru/Sounds/Wind.ogg", "CC-BY-SA-3.0", "wind", 0.0, 20.0,
           "Wolfire Games"),
    _train("nexuiz-data", NEX, "GPL-2+", "wind", 0.0, 20.0,
           "Alientrap / Nexuiz team (desertfactory map)", "sound/desertfactory/windhowling_loop.ogg"),
    _train("nexuiz-data", NEX, "GPL-2+", "wind", 0.0, 20.0,
           "Alientrap / Nexuiz team (desertfactory map)", "sound/desertfactory/windoutside_loop.wav"),
    _train("openarena-data", OA, "GPL-2+", "wind", 0.0, 20.0, "OpenArena team", "sound/world/wind1.wav"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "wind", 0.0, 20.0, UFO_TEAM, "sound/ambience/arcticwind.ogg"),
    _train("redeclipse-data", f"{RE}/dizzywind.ogg", "CC-BY-SA-3.0", "wind", 0.0, 20.0, QA),
    _train("7kaa-data", "usr/share/games/7kaa/SOUND/QUAKE.WAV", "GPL-2+", "volcano", 0.0, 20.0, "Enlight Software"),
    _train("ardentryst", "usr/share/games/ardentryst/Sounds/quake.ogg", "CC-BY-SA-3.0", "volcano", 0.0, 20.0,
           "Ardentryst Sounds/* contributors"),
    _train("openarena-data", OA, "GPL-2+", "volcano", 0.0, 20.0,
           "OpenArena team", "sound/world/lava_amb_01_quiet.wav"),
    _train("plee-the-bear-data", f"{PTB}/splash.ogg", "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0,
           "Plee the Bear data team"),
    # Added 2026-12-02: running water and lava were the thinnest classes (7 files each). Peak
    # normalised cross-correlation against every test and validation file at most 0.14. Examined and
    # left out: one-shots under a second (minetest-mod-nether lava bubbles, freegish lava, minetest
    # cool_lava, micropolis rumble: the bank loops a short file into a buzz), ocean waves (0 A.D.
    # wave*, scorched3d oceanwaves: no class of ours) and flightgear water-still (a hull lapping).
    # Thunder examined the same day, none taken: searchandrescue thunder_faint and pachi storm (0.76 with
    # the test set's redeclipse stormbolts: the same recording), thunder_moderate (0.44); gl-117 thunder1,
    # hyperrogue storm (claps of 1-2 s, no roll).
    _train("flare-game", "usr/share/games/flare/mods/fantasycore/soundfx/environment/river_loop.ogg",
           "CC-BY-SA-3.0+", "waterfall", 0.0, 20.0, "Clint Bellanger and the Flare contributors"),
    _train("caveexpress-data", "usr/share/games/caveexpress/sounds/tile-waterfall.ogg", "CC-BY-SA-4.0",
           "waterfall", 0.0, 20.0, "Martin Gerhardy (CaveExpress)"),
    _train("flightgear-data-base", "usr/share/games/flightgear/Aircraft/c172p/Sounds/water-fast.wav", "GPL-2+",
           "waterfall", 0.0, 20.0, "FlightGear team (c172p float plane)"),
    _train("nexuiz-data", NEX, "GPL-2+", "waterfall", 0.0, 20.0,
           "Alientrap / Nexuiz team (desertfactory map)", "sound/desertfactory/pipewater_loop.wav"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "waterfall", 0.0, 20.0, UFO_TEAM, "sound/ambience/water03.ogg"),
    _train("nexuiz-data", NEX, "GPL-2+", "volcano", 0.0, 20.0, "Alientrap / Nexuiz team", "sound/player/lava.wav"),
    _train("wordwarvi-sound", "usr/share/wordwarvi/sounds/volcano_eruption.ogg", "CC-BY-SA-3.0", "volcano",
           0.0, 20.0, "Stephen M. Cameron (Word War vi)"),
    _train("nexuiz-data", NEX, "GPL-2+", "splashing_water", 0.0, 20.0,
           "Alientrap / Nexuiz team", "sound/misc/outwater.wav"),
    _train("triplea", "usr/share/games/triplea/assets/sounds/generic/placed_sea/placed_sea_01_splash_and_waves.mp3",
           "GPL-2+", "splashing_water", 0.0, 20.0, "TripleA team"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0, UFO_TEAM, "sound/footsteps/splash1.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0, UFO_TEAM, "sound/footsteps/splash2.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0,
           UFO_TEAM, "sound/footsteps/water_in.ogg"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "splashing_water", 0.0, 20.0,
           UFO_TEAM, "sound/impact/water-impact.ogg"),
    _train("hedgewars-data", "usr/share/games/hedgewars/Data/Sounds/rubberduck_water.ogg", "GFDL-1.3",
           "splashing_water", 0.0, 20.0, "Hedgewars team"),
    _train("megaglest-data", f"{MG}/autumn/sounds/nightime.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0,
           "Elimnator (soundbible.com) per debian/copyright credits", name="autumn-nightime"),
    _train("megaglest-data", f"{MG}/birch_forest/sounds/night.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0,
           "Glest / MegaGlest team", name="birch_forest-night"),
    _train("megaglest-data", f"{MG}/dark_forest/sounds/night.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0,
           "Glest / MegaGlest team", name="dark_forest-night"),
    _train("megaglest-data", f"{MG}/mediterran/sounds/night.ogg", "CC-BY-SA-3.0", "calm", 0.0, 20.0,
           "Glest / MegaGlest team", name="mediterran-night"),
    _train("scorched3d-data", f"{S3D}/frogs.wav", "GPL-2+", "calm", 0.0, 20.0, S3D_TEAM),
    _train("tuxpaint-stamps-default", f"{TUX}/animals/birds/blackbird.ogg", "GPL-2", "calm", 0.0, 20.0,
           "Tux Paint stamps team"),
    _train("tuxpaint-stamps-default", f"{TUX}/animals/insects/grasshopper.ogg", "GPL-2", "calm", 0.0, 20.0,
           "Tux Paint stamps team"),
    _train("ufoai-sound", UFO, "GPL-2+", "calm", 0.0, 20.0,
           "Nexuiz (also nexuiz desertfactory/cricket_loop.wav, corr 0.98)", "sound/ambience/cricket_loop.ogg"),
    _train("widelands-data", "usr/share/games/widelands/data/sound/animals/bird1_00.ogg", "GPL-2+", "calm", 0.0, 20.0,
           "Widelands Development Team"),
    _train("widelands-data", "usr/share/games/widelands/data/sound/animals/frog.ogg", "GPL-2+", "calm", 0.0, 20.0,
           "Widelands Development Team"),
    _train("ufoai-sound", UFO, "CC-BY-SA-3.0", "underwater_bubbling", 0.0, 20.0,
           UFO_TEAM, "sound/ambience/alienbase-bubbles.ogg"),
    # OpenClonk: members of its Sound.ocg group file (licences and authors: Sound.ocg/authors.txt). Left
    # out: Fire.ogg (minetest's fire_small, a test file), Swim1-3 (edits of Splash1-3), EarthquakeEnd.
    _train("openclonk-data", OC, "CC-BY-3.0", "thunderstorm", 0.0, 20.0, "xerana, freesound 199638 (adapted by Maikel)",
           "Environment.ocg/Lightning.ocg/Thunder1.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "thunderstorm", 0.0, 20.0, "infopablo, freesound 21887 (adapted by Maikel)",
           "Environment.ocg/Lightning.ocg/Thunder2.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "thunderstorm", 0.0, 20.0, "nicStage, freesound 64460 (adapted by Maikel)",
           "Environment.ocg/Lightning.ocg/Thunder3.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "thunderstorm", 0.0, 20.0, "jrosin, freesound 329978 (adapted by Maikel)",
           "Environment.ocg/Lightning.ocg/Thunder4.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "thunderstorm", 0.0, 20.0, "shaka9, freesound 160514 (adapted by Maikel)",
           "Environment.ocg/Lightning.ocg/Thunder5.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "rain", 0.0, 20.0, "OpenClonk team (Sound.ocg/authors.txt)",
           "Liquids.ocg/StereoRain.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "waterfall", 0.0, 20.0, "volivieri, freesound 38390",
           "Environment.ocg/Waterfall.ogg"),
    _train("openclonk-data", OC, "CC0-1.0", "volcano", 0.0, 20.0, "prozaciswack, freesound 82722",
           "Environment.ocg/Disasters.ocg/Earthquake.ogg"),
    _train("openclonk-data", OC, "CC0-1.0", "volcano", 0.0, 20.0, "fryzu82, freesound 142333 (the game's lava and acid)",
           "Liquids.ocg/Boiling.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "splashing_water", 0.0, 20.0, "CGEffex, freesound 98335",
           "Liquids.ocg/Splash1.wav"),
    _train("openclonk-data", OC, "CC-BY-3.0", "splashing_water", 0.0, 20.0, "CGEffex, freesound 98335",
           "Liquids.ocg/Splash2.wav"),
    _train("openclonk-data", OC, "CC-BY-3.0", "splashing_water", 0.0, 20.0, "CGEffex, freesound 98335",
           "Liquids.ocg/Splash3.wav"),
    _train("openclonk-data", OC, "CC-BY-3.0", "calm", 0.0, 20.0, "dobroide, freesound 54746",
           "Environment.ocg/BirdsLoop.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "wind", 0.0, 20.0, "ERH, freesound 34338",
           "Environment.ocg/WindLoop.ogg"),
    _train("openclonk-data", OC, "CC-BY-3.0", "underwater_bubbling", 0.0, 20.0, "ala (OpenClonk)",
           "Clonk.ocg/Movement.ocg/DivingLoop1.ogg"),
]

TRAIN_MISSING: dict[str, str] = {}  # every class has training recordings


@dataclass(frozen=True)
class RecordingSet:
    sources: list[Source]
    out: Path              # default --out
    missing: dict[str, str]
    intro: list[str]       # the manifest's opening lines


SETS = {
    "test": RecordingSet(SOURCES, ROOT / "tests" / "data" / "recordings", MISSING, [
        "# Real recordings for `livevis eval --recordings`",
        "",
        "Written by `scripts/extract_recordings.py` (rerun it to rebuild this folder from the Debian packages).",
        "Excerpts are mono, 22050 Hz FLAC. `used for`: `test` = only measured, never used to train or to",
        "choose any setting.",
    ]),
    "validation": RecordingSet(VALIDATION_SOURCES, ROOT / "tests" / "data" / "recordings-val", VALIDATION_MISSING, [
        "# Validation recordings for `livevis eval --recordings` (tuning only)",
        "",
        "Written by `scripts/extract_recordings.py --set validation` (rerun it to rebuild this folder from the",
        "Debian packages). Excerpts are mono, 22050 Hz FLAC. `used for`: `tuning` = measured to choose training",
        "settings (augmentation strength, steps, ...); never used to train and never reported as a result",
        "(report tests/data/recordings, the test set). No source file here is a source file of the test set.",
    ]),
    "train": RecordingSet(TRAIN_SOURCES, ROOT / "build" / "real-sounds", TRAIN_MISSING, [
        "# Training recordings (real sounds the sound model is trained on)",
        "",
        "Written by `scripts/extract_recordings.py --set train` (rerun it to rebuild this folder from the Debian",
        "packages). Excerpts are mono, 22050 Hz FLAC. `used for`: `training` = the sound model is trained on",
        "them. No source file here is a source file of the test set (tests/data/recordings) or of the",
        "validation set (tests/data/recordings-val), nor a file known to be the same recording as one of them.",
    ]),
}


def output_name(src: Source) -> str:
    return f"{src.package}--{src.name or Path(src.member or src.path).stem}.flac"


def source_file(src: Source) -> str:
    """The manifest's `file`: the path in the package, then `!member` for a file inside an archive."""
    return f"/{src.path}" + (f"!{src.member}" if src.member else "")


def shared_sources(a: list[Source], b: list[Source]) -> list[str]:
    """package:file of every source file that both lists use (the sets must share none)."""
    keys = {(s.package, source_file(s)) for s in a}
    return sorted(f"{p}:{f}" for p, f in keys & {(s.package, source_file(s)) for s in b})


def overlaps() -> list[str]:
    """Every source file two sets share, and every training file known to be a test/validation recording."""
    lists = {"test": SOURCES, "validation": VALIDATION_SOURCES, "training": TRAIN_SOURCES}
    names = list(lists)
    found = [f"source files in both the {a} and the {b} set: {shared}"
             for i, a in enumerate(names) for b in names[i + 1:]
             if (shared := shared_sources(lists[a], lists[b]))]
    same = sorted(f"{s.package}:{source_file(s)}" for s in TRAIN_SOURCES if (s.package, source_file(s)) in TRAIN_EXCLUDED)
    if same:
        found.append(f"training files that are the same recording as a test or validation file: {same}")
    return found


def fetch_deb(package: str, debs: Path) -> Path:
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", package], cwd=debs, check=True)
        found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        raise SystemExit(f"apt-get download {package} wrote no .deb into {debs}")
    return found[-1]


def unpack(deb: Path, inners: set[str], into: Path) -> dict[str, Path]:
    """Members of the .deb's data archive -> files under `into` (same relative paths), in one pass."""
    found: dict[str, Path] = {}
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)  # it complains when we stop reading early
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lstrip("./")
                if name in inners and member.isfile():
                    out = into / name
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(member) as src, open(out, "wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)   # 0 A.D.'s archive is 3.3 GB: stream it
                    found[name] = out
                    if len(found) == len(inners):
                        break
    finally:
        proc.stdout.close()
        proc.wait()
    missing = sorted(inners - set(found))
    if missing:
        raise SystemExit(f"{', '.join(missing)} not in {deb.name}")
    return found


def c4group_unpack(archive: Path, debs: Path, into: Path) -> Path:
    """An OpenClonk group file (.ocg: its own archive format, groups nested in groups) unpacked in place
    into a folder, by the c4group tool of the `openclonk` package, run from its unpacked .deb (nothing
    is installed)."""
    tool = into / "c4group-tool" / "usr" / "bin" / "c4group"
    if not tool.is_file():
        subprocess.run(["dpkg-deb", "-x", str(fetch_deb("openclonk", debs)), str(into / "c4group-tool")], check=True)
    subprocess.run([str(tool), str(archive), "-x"], check=True, stdout=subprocess.DEVNULL)
    if not archive.is_dir():
        raise SystemExit(f"c4group did not unpack {archive.name}")
    return archive


def unpack_sources(sources: list[Source], debs: Path, into: Path) -> dict[Source, Path]:
    """Every source's sound file on disk: one pass over each package, zip members read out and the
    (large) archive removed again."""
    by_package: dict[str, list[Source]] = {}
    for src in sources:
        by_package.setdefault(src.package, []).append(src)
    files: dict[Source, Path] = {}
    for package, srcs in by_package.items():
        where = into / package
        unpacked = unpack(fetch_deb(package, debs), {s.path for s in srcs}, where)
        for src in srcs:
            if not src.member:
                files[src] = unpacked[src.path]
        for archive in sorted({s.path for s in srcs if s.member}):
            if archive.endswith(".ocg"):
                folder = c4group_unpack(unpacked[archive], debs, into)
                for src in (s for s in srcs if s.path == archive):
                    if not (folder / src.member).is_file():
                        raise SystemExit(f"{src.member} is not in {archive} of {package}")
                    files[src] = folder / src.member
                continue
            with zipfile.ZipFile(unpacked[archive]) as zf:
                for src in (s for s in srcs if s.path == archive):
                    out = where / "zip" / src.member
                    out.parent.mkdir(parents=True, exist_ok=True)
                    try:
                        out.write_bytes(zf.read(src.member))
                    except KeyError:
                        raise SystemExit(f"{src.member} is not in {archive} of {package}") from None
                    files[src] = out
            unpacked[archive].unlink()
    return files


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


def write_manifest(out: Path, rows: list[tuple[Source, str, float]], recording_set: RecordingSet = SETS["test"]) -> None:
    from livevis.util.atomic import atomic_open

    lines = [
        *recording_set.intro,
        "",
        "| package | file | licence | label | used for | excerpt | seconds | origin |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for src, name, seconds in rows:
        lines.append(f"| {src.package} | {source_file(src)} | {src.licence} | {src.label} | {src.use} | "
                     f"{src.label}/{name} | {src.offset:g}+{seconds:.2f} | {src.origin} |")
    lines += ["", "Classes without a recording:"]
    lines += [f"- {label}: {why}" for label, why in recording_set.missing.items()]
    with atomic_open(out / "MANIFEST.md", "w") as f:
        f.write("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    import soundfile as sf

    from livevis.training.data.synthetic import CLASSES
    from livevis.util.atomic import atomic_path

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", dest="which", choices=sorted(SETS), default="test",
                    help="test (only measured), validation (for choosing settings) or train (trained on)")
    ap.add_argument("--out", default=None, help="default: tests/data/recordings (test), tests/data/recordings-val "
                                                "(validation) or build/real-sounds (train)")
    ap.add_argument("--debs", default="/tmp/livevis-debs", help="where .deb files are downloaded / reused")
    args = ap.parse_args(argv)
    recording_set = SETS[args.which]
    sources = recording_set.sources
    out, debs = Path(args.out or recording_set.out), Path(args.debs)
    unknown = sorted({s.label for s in sources} - set(CLASSES))
    if unknown:
        raise SystemExit(f"labels not in the synthetic set: {unknown}")
    problems = overlaps()
    if problems:
        raise SystemExit("; ".join(problems))
    names = [f"{s.label}/{output_name(s)}" for s in sources]
    if len(set(names)) != len(names):
        raise SystemExit(f"two sources of the {args.which} set would write the same file")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        raws = unpack_sources(sources, debs, Path(tmp))
        for src in sources:
            audio = excerpt(raws[src], src.offset, src.duration)
            rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) if audio.size else 0.0
            if rms < MIN_RMS:
                raise SystemExit(f"{src.package} {source_file(src)}: the excerpt {src.offset:g}+{src.duration:g} s is "
                                 f"silence (RMS {rms:.1e}): take another offset")
            dest = out / src.label / output_name(src)
            dest.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dest) as tmp_dest:
                sf.write(str(tmp_dest), audio, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
            rows.append((src, output_name(src), audio.shape[0] / SAMPLE_RATE))
            print(f"{src.label:20s} {dest.relative_to(out)}  {audio.shape[0] / SAMPLE_RATE:.2f} s")
    write_manifest(out, rows, recording_set)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
