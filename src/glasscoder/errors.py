"""Errors that reach the person running glasscoder, each with its exit code.

Anything raised as a ``UserFacingError`` is printed as one sentence (no traceback) and the
process exits with ``exit_code``.
"""


class UserFacingError(Exception):
    exit_code = 1


class UsageError(UserFacingError):
    """Bad flags, bad config, unknown session: the person must change the command."""

    exit_code = 2


class ModelUnavailable(UserFacingError):
    """The model endpoint cannot be reached or keeps failing."""

    exit_code = 3
