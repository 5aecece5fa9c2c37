"""Vocabulary, tokenizers and text preprocessing."""

from vlpk.text.preprocessor import TextPreprocessor
from vlpk.text.tokenizer import tokenizer_from_preset, wordpiece_tokenizer
from vlpk.text.vocabulary import (
    SPECIAL_TOKENS,
    learn_vocabulary,
    load_vocabulary,
    save_vocabulary,
)

__all__ = [
    "SPECIAL_TOKENS",
    "TextPreprocessor",
    "learn_vocabulary",
    "load_vocabulary",
    "save_vocabulary",
    "tokenizer_from_preset",
    "wordpiece_tokenizer",
]
