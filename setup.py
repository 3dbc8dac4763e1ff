"""Package layout only (everything else is in pyproject.toml).

training/, engines/ and shaders/ live at the top of the repo but install inside `livevis`
(livevis.training, livevis.engines, livevis.shaders), so nothing generic lands in site-packages.
"""
from setuptools import find_namespace_packages, setup

MAPPED = {"livevis": "livevis", "livevis.training": "training", "livevis.engines": "engines", "livevis.shaders": "shaders"}


def _packages(prefix: str, where: str) -> list[str]:
    # Data folders (livevis/data, models/configs) are listed too: setuptools ships package data per package.
    found = find_namespace_packages(where, exclude=["*__pycache__*", "*.egg-info*"])
    return [prefix] + [f"{prefix}.{name}" for name in found]


packages = sorted({p for prefix, where in MAPPED.items() for p in _packages(prefix, where)})
setup(packages=packages, package_dir=MAPPED)
