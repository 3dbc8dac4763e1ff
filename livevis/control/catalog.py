"""Every live parameter of a show, declared once. Keys, OSC (/livevis/param/<name>), MIDI, the web
page and presets write these; the reactive layer, latent drivers, post effects and outputs read
them each frame. Add a parameter here and every controller gets it."""

from __future__ import annotations

from livevis.control.params import Param, ParamRegistry

MODES = ("learned", "react", "retrieve")

PARAMS: tuple[Param, ...] = (
    # -- reaction to the music (the reactive layer; all modes)
    Param("gain_bass", "float", 1.0, "reactivity of the bass band: moves the coarse layers, pushes on kicks", 0.0, 4.0, group="reaction"),
    Param("gain_mid", "float", 1.0, "reactivity of the mid band: moves the middle layers, pushes on snares and chords", 0.0, 4.0, group="reaction"),
    Param("gain_high", "float", 1.0, "reactivity of the high band: moves the fine layers, pushes on hats", 0.0, 4.0, group="reaction"),
    Param("energy_smoothing", "float", 0.1, "smoothing time of the band energies that set the motion speed", 0.0, 2.0, "s", group="reaction"),
    Param("motion_speed", "float", 0.15, "speed through the keyframe latents at full band energy", 0.0, 4.0, "keyframes/s", group="reaction"),
    Param("motion_base", "float", 0.02, "speed through the keyframe latents in silence", 0.0, 1.0, "keyframes/s", group="reaction"),
    Param("motion_depth", "float", 0.5, "learned/retrieve: how far the motion swings around the scene latent", 0.0, 2.0, group="reaction"),
    Param("pulse_gain", "float", 1.0, "how far an onset pushes the latent (in standard deviations of W)", 0.0, 4.0, group="reaction"),
    Param("pulse_flux", "float", 0.0, "push by the spectral flux between onsets (strums, dense chords), as a share of pulse_gain", 0.0, 4.0, group="reaction"),
    Param("pulse_coarse", "float", 1.0, "share of the onset pushes on the coarse layers (layout, colours)", 0.0, 1.0, group="reaction"),
    Param("pulse_decay", "float", 0.6, "time constant of an onset push's decay", 0.01, 2.0, "s", group="reaction"),
    Param("pulse_untimed", "float", 1.0, "share of the onset reaction (pushes, noise, learned catch-up) while no tempo is "
          "found (rain, fire, speech, ambient pads): lower keeps the scene steadier there, music keeps its own", 0.0, 1.0, group="reaction"),
    Param("orbit", "float", 0.0, "radius of the sphere the middle and fine layers wander over as the sound's attacks come "
          "(in standard deviations of W; 0: off): each attack moves the picture by its strength, in a new direction, and "
          "nothing moves it back", 0.0, 4.0, group="reaction"),
    Param("orbit_speed", "float", 1.0, "how far the orbit moves per second of onset strength 1 (radians of its sphere)",
          0.0, 64.0, "rad/s", group="reaction"),
    Param("noise_amount", "float", 1.0, "StyleGAN2 noise inputs scaled up by onsets (0: as trained)", 0.0, 4.0, group="reaction"),
    Param("chroma_amount", "float", 0.0, "blend toward 12 pitch-class latents by the music's chroma (0: off)", 0.0, 2.0, group="reaction"),
    Param("jump_beats", "int", 0, "jump to the next keyframe every N beats (0: off)", 0, 64, "beats", group="reaction"),
    Param("keyframes", "int", 6, "react: number of keyframe latents on the motion path", 2, 32, group="reaction"),
    # -- the scene latent
    Param("mode", "choice", "react", "what drives the scene: learned (sound model), react (music only), retrieve (sound -> sample bank)",
          choices=MODES, group="scene"),
    Param("prompt", "str", "", "text that picks the scene (bundles with CLIP); empty: the seed's scene", group="scene"),
    Param("seed", "int", 0, "seed of the starting latent and of the react keyframes", 0, 2**31 - 1, group="scene"),
    Param("truncation", "float", 0.7, "truncation psi of new latents (lower: tamer, higher: wilder)", 0.0, 1.5, group="scene"),
    Param("anchor_leash", "float", 0.02, "learned: pull per step back toward the starting latent (keeps long shows on the manifold)", 0.0, 0.5, group="scene"),
    Param("learned_smoothing", "float", 0.04, "learned: causal smoothing toward the newest keyframe", 0.0, 1.0, "s", group="scene"),
    Param("sound_scene", "float", 1.0, "learned, bundles with a sound class model: how far the scene moves to the heard "
          "class's pictures (0: the seed's or prompt's scene stays)", 0.0, 1.0, group="scene"),
    Param("sound_scene_smoothing", "float", 0.25, "learned: time over which the heard class is averaged", 0.0, 10.0, "s", group="scene"),
    Param("sound_scene_motion", "float", 3.0, "learned: depth of the sound model's own (fast) motion around the heard class's scene",
          0.0, 4.0, group="scene"),
    Param("sound_scene_motion_layers", "choice", "fine", "learned: the layers that motion moves: fine (texture; the scene's "
          "layout and colours stay), mid+fine, or all", choices=("fine", "mid+fine", "all"), group="scene"),
    Param("learned_onset_catchup", "float", 0.0, "learned: how much faster the scene catches up with the sound model on onsets", 0.0, 32.0, group="scene"),
    Param("glide", "float", 1.0, "retrieve and prompt changes: time to glide to the new scene latent", 0.05, 10.0, "s", group="scene"),
    Param("crossfade", "float", 2.0, "crossfade time of presets, seeds and prompts", 0.0, 64.0, group="scene"),
    Param("crossfade_unit", "choice", "seconds", "unit of crossfade", choices=("seconds", "beats"), group="scene"),
    # -- picture
    Param("effects", "bool", True, "the audio-reactive post effect on or off", group="picture"),
    Param("effect_amount", "float", 1.0, "strength of the post effect", 0.0, 2.0, group="picture"),
    Param("brightness", "float", 1.0, "master brightness", 0.0, 2.0, group="picture"),
    Param("blackout", "bool", False, "black output (the show keeps running)", group="picture"),
    # -- tempo
    Param("bpm", "float", 0.0, "fixed tempo; 0 follows the music (tap tempo also sets it)", 0.0, 300.0, "BPM", group="tempo"),
)


# Where a mode wants other starting values than the defaults above (chosen on the validation music
# tracks and validation synthetic sets, see BENCHMARKS.md): the learned sound model moves the scene
# in 10 Hz steps, so its approach is smoothed and lands on the onsets; its reaction is the orbit
# alone (motion on the attacks, none after them). No pushes and none of the sound model's own motion:
# both follow the band onsets and flux rather than the attacks one hears in textures, and cost a
# `livevis generate` clip (30 fps) most of its sync with its sound; a faster orbit keeps the music's.
# The orbit's radius 1.0 was chosen for the 128 px default on the validation sets (1.5, the 64 px
# default's, took 9 points of picture-follows-text and 5 of the validation recordings for +0.04 music sync).
MODE_DEFAULTS: dict[str, dict] = {
    "learned": {"pulse_gain": 0.0, "pulse_decay": 0.12, "learned_smoothing": 0.5, "learned_onset_catchup": 16.0,
                "sound_scene_motion": 0.0, "sound_scene_motion_layers": "all", "orbit": 1.0, "orbit_speed": 48.0},
    "react": {},
    "retrieve": {},
}


def live_params(mode: str | None = None) -> ParamRegistry:
    """A fresh registry holding every live parameter at its default (and `mode` with its defaults)."""
    registry = ParamRegistry(PARAMS)
    if mode is not None:
        registry.set_many({"mode": mode, **MODE_DEFAULTS.get(mode, {})})
    return registry
