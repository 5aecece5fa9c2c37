"""Errors a user can act on.

The CLI exits with code 2 for these (bad input) and 1 for anything else (an
internal error, shown with its traceback).
"""


class InputError(ValueError):
    """Bad input from the user: a missing file, a malformed field, a bad flag."""


def list_ids(ids, limit=5):
    """The first `limit` ids for an error message, then a count of the rest.

    Example:
    >>> list_ids([3, 4, 5, 6, 7, 8, 9])
    '3, 4, 5, 6, 7 and 2 more'
    """
    ids = list(ids)
    listed = ", ".join(repr(i) for i in ids[:limit])
    rest = len(ids) - limit
    return f"{listed} and {rest} more" if rest > 0 else listed
