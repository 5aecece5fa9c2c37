"""A SentencePiece tokenizer in Llama's layout, learned on a corpus."""

import io

import keras_hub
import sentencepiece


def learn_sentencepiece(texts, vocabulary_size=400):
    """A `keras_hub.models.LlamaTokenizer` learned on `texts`.

    For a language model trained from scratch (Shapes has no pretrained
    one). Llama's layout: `<unk>` 0, `<s>` 1 (start), `</s>` 2 (end);
    unigram pieces with Llama's byte fallback: a character the corpus never
    had (a capital, a digit, Chinese) becomes its UTF-8 bytes, never
    `<unk>`. Learned on captions alone, a tokenizer without it turned the
    later stage's "2" and POPE's "Is" into `<unk>`. The 256 byte pieces
    count in `vocabulary_size`; SentencePiece lowers the rest to what the
    corpus supports (`hard_vocab_limit=False`).

    Args:
        texts: an iterable of strings.
        vocabulary_size: the most pieces.

    Returns:
        A `LlamaTokenizer` holding the learned model proto (saved with a
        preset as its `vocabulary.spm` asset).

    Example:
    >>> tokenizer = learn_sentencepiece(["a red circle", "a blue square"] * 5, 300)
    >>> tokenizer.detokenize(tokenizer("Is there a red square? 2"))
    'Is there a red square? 2'
    >>> 0 in tokenizer("图 9").tolist()  # <unk> is 0
    False
    """
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=proto,
        vocab_size=vocabulary_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        byte_fallback=True,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return keras_hub.models.LlamaTokenizer(proto=proto.getvalue())
