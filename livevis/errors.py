"""Errors that are the user's to fix (bad files, unknown names, missing devices).

The CLI prints these as one line and exits non-zero; anything else is a bug and keeps its traceback.
"""


class LivevisError(Exception):
    """An expected failure with a message meant for the user."""
