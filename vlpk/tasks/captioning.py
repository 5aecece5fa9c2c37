"""Captioning: fine-tune an image-conditioned decoder, generate, score.

The task is an `ImageCaptioner` (built by `vlpk.jobs.recipes.captioner`). It
trains with teacher forcing
on every caption; generation uses KerasHub samplers (greedy or beam); the
captions are written in the COCO results format and scored with the COCO
caption evaluation (`vlpk.metrics.captioning`).
"""

from vlpk.data.pipelines.pretraining import pretraining_dataset
from vlpk.evaluation import generate_split_captions


def caption_dataset(
    examples,
    image_preprocessor,
    text_preprocessor,
    batch_size=64,
    shuffle=True,
    seed=0,
    repeat=False,
):
    """(image, caption) batches with next-token targets for an `ImageCaptioner`."""
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
