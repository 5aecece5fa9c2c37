"""Caption hygiene for converted datasets: UTF-8, whitespace, length.

Web captions arrive as bytes in unknown encodings, empty, or thousands of
words long. `clean_caption` turns one raw caption into zero-risk text: valid
UTF-8 with single spaces, cut (or split) to a bounded length. Scripts written
without spaces (Chinese, Japanese, Thai) are bounded by characters as well.
"""

from vlpk.errors import InputError


def clean_caption(text, max_words=128, split_long=False, max_chars=None):
    """Validates and bounds one caption.

    Args:
        text: the caption, `str` or UTF-8 `bytes`.
        max_words: the most whitespace-separated words kept per caption.
        split_long: split a long caption into consecutive segments of at most
            `max_words` words (and `max_chars` characters) instead of cutting
            it.
        max_chars: the most characters per caption; default `16 * max_words`,
            which bounds captions in scripts that do not use spaces.

    Returns:
        A list of captions: one, or several when `split_long` splits it.

    Raises:
        InputError: `"caption is not valid UTF-8"`, `"caption is not text"`
            or `"empty caption"`.

    Example:
    >>> clean_caption("  a red   circle ")
    ['a red circle']
    >>> clean_caption("one two three", max_words=2, split_long=True)
    ['one two', 'three']
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("caption is not valid UTF-8") from None
    if not isinstance(text, str):
        raise InputError("caption is not text")
    if "\ufffd" in text:
        raise InputError("caption is not valid UTF-8")
    words = text.split()
    if not words:
        raise InputError("empty caption")
    max_chars = max_chars or 16 * max_words
    segments = []
    for start in range(0, len(words), max_words):
        segment = " ".join(words[start : start + max_words])
        for offset in range(0, len(segment), max_chars):
            segments.append(segment[offset : offset + max_chars].strip())
            if not split_long:
                return segments[:1]
    return [s for s in segments if s]
