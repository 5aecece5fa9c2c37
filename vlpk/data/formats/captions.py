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
        max_chars: the most characters per caption; `None` (default) means
            `16 * max_words`, which bounds captions in scripts that do not
            use spaces: a 5,000-character Chinese caption is one "word".
            Characters are cut without regard to word boundaries.

    Returns:
        A list of captions: one, or several when `split_long` splits it.

    Raises:
        InputError: `"caption is not valid UTF-8"` (bytes that do not decode,
            or text holding U+FFFD, the mark a lossy decoder leaves),
            `"caption is not text"` or `"empty caption"` (nothing but
            whitespace). The messages are short reasons, for `report`.
        ValueError: when `max_words` or `max_chars` is not positive.

    Example:
    >>> clean_caption("  a red   circle ")
    ['a red circle']
    >>> clean_caption("one two three", max_words=2)
    ['one two']
    >>> clean_caption("one two three", max_words=2, split_long=True)
    ['one two', 'three']
    >>> clean_caption("一二三四五", max_words=1, max_chars=2, split_long=True)
    ['一二', '三四', '五']
    """
    if max_chars is None:
        max_chars = 16 * max_words
    if max_words < 1 or max_chars < 1:
        raise ValueError(
            f"max_words and max_chars must be positive, got {max_words} and "
            f"{max_chars}."
        )
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
    segments = []
    for start in range(0, len(words), max_words):
        segment = " ".join(words[start : start + max_words])
        for offset in range(0, len(segment), max_chars):
            segments.append(segment[offset : offset + max_chars].strip())
            if not split_long:
                return segments[:1]
    return [s for s in segments if s]
