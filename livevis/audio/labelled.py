"""Folders of labelled recordings: ROOT/<class>/*.wav|ogg|mp3|flac, one folder per class.

The layout `livevis eval --recordings` scores and the training stages' real sounds
(training/real_sounds.py) mix in; both read it through `find_recordings`.
"""

from __future__ import annotations

from pathlib import Path

from livevis.errors import LivevisError

EXTENSIONS = (".wav", ".ogg", ".mp3", ".flac")


def find_recordings(root: str | Path, classes: list[str], *, what: str = "--recordings",
                    owner: str = "the model") -> list[tuple[Path, int]]:
    """(file, class index) of every recording under root/<class>/, sorted; folder names must be classes.
    Errors name the folder as `what` and the class list's `owner`."""
    root = Path(root)
    if not root.is_dir():
        raise LivevisError(f"{what} {root}: no such folder")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    unknown = [p.name for p in folders if p.name not in classes]
    if unknown:
        raise LivevisError(f"{what} {root}: folder(s) {', '.join(unknown)} name no class of {owner} "
                           f"(its classes: {', '.join(classes)})")
    found = [(f, classes.index(d.name)) for d in folders for f in sorted(d.iterdir())
             if f.is_file() and f.suffix.lower() in EXTENSIONS]
    if not found:
        raise LivevisError(f"{what} {root}: no {'/'.join(e[1:] for e in EXTENSIONS)} files in <class>/ folders")
    return found
