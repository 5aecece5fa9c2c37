"""Errors a user can act on.

The CLI exits with code 2 for these (bad input) and 1 for anything else (an
internal error, shown with its traceback).
"""


class InputError(ValueError):
    """Bad input from the user: a missing file, a malformed field, a bad flag."""
