"""Captioning: fine-tune an image-conditioned decoder, generate, score.

The task model is a `Captioner`: the source's image encoder (pretrained)
and its caption decoder when it has one (a CoCa run), else a new
`CaptionDecoder` sized by the run's config. It trains with teacher forcing
on every caption; generation uses KerasHub samplers (greedy or beam); the
captions are written in the COCO results format and scored with the COCO
caption evaluation (`vlpk.metrics.captioning`).
"""

from vlpk.data.pretraining import pretraining_dataset
from vlpk.evaluation import generate_split_captions
from vlpk.models.captioner import Captioner
from vlpk.recipes import build_caption_decoder


def captioner(source, config, vocabulary_size):
    """A `Captioner` over `source`'s image encoder (and decoder, if any).

    Args:
        source: a `VisionLanguagePretrainer` (or anything with a token
            `image_encoder` and, optionally, a `caption_decoder`).
        config: the run's `PretrainConfig` (decoder sizes).
        vocabulary_size: the tokenizer's vocabulary size.
    """
    decoder = getattr(source, "caption_decoder", None)
    if decoder is None:
        decoder = build_caption_decoder(config, vocabulary_size)
    if getattr(source.image_encoder, "output_mode", "tokens") != "tokens":
        raise ValueError(
            "Captioning attends to image tokens, and this run's image encoder "
            "is pooled (a contrastive-only DualEncoderBackbone). Fine-tune captioning "
            "from a VisionLanguagePretrainer run (e.g. shapes_albef, shapes_coca)."
        )
    return Captioner(source.image_encoder, decoder, name="captioner")


def caption_dataset(
    examples,
    image_preprocessor,
    text_preprocessor,
    batch_size=64,
    shuffle=True,
    seed=0,
    repeat=False,
):
    """(image, caption) batches with next-token targets for a `Captioner`."""
    ds = pretraining_dataset(
        examples,
        image_preprocessor,
        text_preprocessor,
        objectives=("captioning",),
        batch_size=batch_size,
        shuffle=shuffle,
        seed=seed,
        repeat=repeat,
    )
    return ds.map(lambda x, y: (x, {"captioning": y["captioning"]}))


def caption_results(
    model, examples, image_preprocessor, tokenizer, sampler="greedy", **kwargs
):
    """One generated caption per image, in the COCO results format.

    Returns:
        `[{"image_id": int, "caption": str}, ...]`, in example order.
    """
    captions = generate_split_captions(
        model, examples, image_preprocessor, tokenizer, sampler, **kwargs
    )
    return [
        {"image_id": int(e.image_id), "caption": c} for e, c in zip(examples, captions)
    ]
