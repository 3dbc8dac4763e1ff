"""Engine errors: all are LivevisErrors, so the CLI shows them as one line and fallbacks can catch them."""

from __future__ import annotations

from livevis.errors import LivevisError


class BackendUnavailable(LivevisError):
    """The backend cannot run here (package missing, no CUDA, precision unsupported)."""


class BuildError(LivevisError):
    """The backend failed to export/compile the module (the traceback goes to the debug log)."""


class ParityError(LivevisError):
    """The built engine's outputs differ from eager beyond the precision's tolerance."""


class UnsafeCacheError(LivevisError):
    """The engine cache could run someone else's code (shared or writable folder, entry changed under us)."""


class EngineCacheWarning(UserWarning):
    """A cache entry was corrupt or incompatible and is being rebuilt."""


def first_line(exc: BaseException) -> str:
    """`Type: first line of the message`, for one-line reports of foreign exceptions."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")
