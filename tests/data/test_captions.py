"""`clean_caption`: UTF-8, whitespace, word and character bounds."""

import pytest

from vlpk.data.formats.captions import clean_caption
from vlpk.errors import InputError

CHINESE = "一只红色的圆形在蓝色方块的左边"  # 15 characters, no spaces


def test_whitespace_is_stripped_and_collapsed():
    assert clean_caption("  a  red\tcircle\n\u3000on blue ") == ["a red circle on blue"]


def test_utf8_bytes_are_decoded():
    assert clean_caption("café  au lait".encode()) == ["café au lait"]
    assert clean_caption(CHINESE.encode()) == [CHINESE]


@pytest.mark.parametrize("bad", [b"\xff\xfe", b"caf\xe9", "lossy \ufffd text"])
def test_invalid_utf8_is_rejected(bad):
    with pytest.raises(InputError, match="^caption is not valid UTF-8$"):
        clean_caption(bad)


@pytest.mark.parametrize("empty", ["", " \n\t ", b"  ", "\u3000"])
def test_empty_captions_are_rejected(empty):
    with pytest.raises(InputError, match="^empty caption$"):
        clean_caption(empty)


def test_non_text_is_rejected():
    with pytest.raises(InputError, match="caption is not text"):
        clean_caption(None)


def test_long_captions_are_truncated_by_words():
    words = [f"w{i}" for i in range(300)]
    assert clean_caption(" ".join(words)) == [" ".join(words[:128])]
    assert clean_caption(" ".join(words), max_words=5) == ["w0 w1 w2 w3 w4"]
    # Exactly max_words is kept whole.
    assert clean_caption(" ".join(words[:128])) == [" ".join(words[:128])]


def test_long_captions_are_split_into_consecutive_segments():
    words = [f"w{i}" for i in range(300)]
    parts = clean_caption(" ".join(words), split_long=True)
    assert parts == [
        " ".join(words[:128]),
        " ".join(words[128:256]),
        " ".join(words[256:]),
    ]
    assert clean_caption("a b c d e", max_words=2, split_long=True) == [
        "a b",
        "c d",
        "e",
    ]
    assert clean_caption("a b", max_words=2, split_long=True) == ["a b"]


def test_text_without_spaces_is_bounded_by_characters():
    text = CHINESE * 334  # 5,010 characters, one whitespace "word"
    (kept,) = clean_caption(text)  # max_chars defaults to 16 * 128 = 2048
    assert kept == text[:2048]
    assert clean_caption(text, max_words=8) == [text[:128]]
    parts = clean_caption(text, split_long=True)
    assert [len(p) for p in parts] == [2048, 2048, 914]
    assert "".join(parts) == text  # nothing lost, order kept
    assert clean_caption(CHINESE, max_chars=4) == [CHINESE[:4]]
    # Short CJK captions survive untouched.
    assert clean_caption(f" {CHINESE} ") == [CHINESE]


def test_characters_also_bound_latin_segments():
    text = "abcdef ghijkl"
    assert clean_caption(text, max_words=2, max_chars=5) == ["abcde"]
    assert clean_caption(text, max_words=2, max_chars=5, split_long=True) == [
        "abcde",
        "f ghi",
        "jkl",
    ]


@pytest.mark.parametrize("kwargs", [{"max_words": 0}, {"max_chars": 0}])
def test_bounds_must_be_positive(kwargs):
    with pytest.raises(ValueError, match="must be positive"):
        clean_caption("a caption", **kwargs)
