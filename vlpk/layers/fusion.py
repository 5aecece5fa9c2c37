"""Calling a fusion layer the same way from a backbone and from a task."""

from vlpk.layers.concat_fusion import ConcatFusion


def fuses_tokens(fusion):
    """Whether `fusion` reads token sequences (`CrossAttentionFusion`).

    False for `ConcatFusion`, which joins pooled vectors, and for no fusion.

    Example:
    >>> fuses_tokens(ConcatFusion(hidden_dims=(8,)))
    False
    """
    return fusion is not None and not isinstance(fusion, ConcatFusion)


def apply_fusion(fusion, image, text, padding_mask=None):
    """`fusion`'s output for (image, text) pairs, with the inputs it reads.

    Args:
        fusion: a `CrossAttentionFusion` or a `ConcatFusion`.
        image: image tokens `[B, N, C]` for a token-level fusion, pooled
            image features `[B, C]` for `ConcatFusion`.
        text: text tokens `[B, T, H]`, or pooled text features `[B, H]`.
        padding_mask: `[B, T]`, 1 for real text tokens; `ConcatFusion` has
            no use for it, so it is not passed.

    Returns:
        The fused text tokens `[B, T, H]`, or a fused vector for
        `ConcatFusion`.

    Example:
    >>> import numpy as np
    >>> fusion = ConcatFusion(hidden_dims=(8,))
    >>> apply_fusion(fusion, np.ones((2, 4)), np.ones((2, 3))).shape
    TensorShape([2, 8])
    """
    inputs = {"image": image, "text": text}
    if padding_mask is not None and fuses_tokens(fusion):
        inputs["padding_mask"] = padding_mask
    return fusion(inputs)
