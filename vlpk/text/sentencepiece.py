"""A SentencePiece tokenizer in Llama's layout, learned on a corpus."""

import io

import keras_hub
import sentencepiece


def learn_sentencepiece(texts, vocabulary_size=200):
    """A `keras_hub.models.LlamaTokenizer` learned on `texts`.

    For a language model trained from scratch (Shapes has no pretrained
    one). Llama's layout: `<unk>` 0, `<s>` 1 (start), `</s>` 2 (end);
    unigram pieces. SentencePiece lowers `vocabulary_size` to what the
    corpus supports (`hard_vocab_limit=False`), so a small corpus still
    trains.

    Args:
        texts: an iterable of strings.
        vocabulary_size: the most pieces.

    Returns:
        A `LlamaTokenizer` holding the learned model proto (saved with a
        preset as its `vocabulary.spm` asset).

    Example:
    >>> tokenizer = learn_sentencepiece(["a red circle", "a blue square"] * 5, 30)
    >>> tokenizer.detokenize(tokenizer("a red square"))
    'a red square'
    """
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(list(texts)),
        model_writer=proto,
        vocab_size=vocabulary_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return keras_hub.models.LlamaTokenizer(proto=proto.getvalue())
