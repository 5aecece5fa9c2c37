"""FLOPs of a training step, counted from its XLA HLO, and the device's peak.

`train_step_flops` traces one forward + backward pass (loss and gradients,
no optimizer update) with `jit_compile=True` and reads the unoptimized HLO
that `tf.function.experimental_get_compiler_ir` returns. It sums the
multiply-adds of every `dot` and `convolution` (2 FLOPs each): matmuls,
einsums, attention and convolutions, forward and backward, which is what
"model FLOPs" means in MFU. Elementwise ops, softmax and the optimizer are
left out. A transposed (strided) convolution's zero-dilated input is not
counted (`lhs_dilate`).

`peak_matmul_flops` times large float32 (or bfloat16) matmuls on the same
device in the same process: the rate MFU is a fraction of.
"""

import re
import time

import numpy as np
import tensorflow as tf

_SHAPE = r"[a-z0-9]+\[([0-9,]*)\]"
_DOT = re.compile(rf"= {_SHAPE}\S* dot\({_SHAPE}\S* [^,]+, {_SHAPE}")
_CONV = re.compile(rf"= {_SHAPE}\S* convolution\({_SHAPE}\S* [^,]+, {_SHAPE}")


def _dims(text):
    return [int(d) for d in text.split(",") if d]


def hlo_flops(hlo_text):
    """`(flops, {"dot": n, "convolution": n})` of an HLO module's text."""
    flops, counts = 0, {"dot": 0, "convolution": 0}
    for line in hlo_text.splitlines():
        if " dot(" in line:
            match = _DOT.search(line)
            out, lhs = _dims(match.group(1)), _dims(match.group(2))
            contracting = re.search(r"lhs_contracting_dims=\{([0-9,]*)\}", line)
            inner = np.prod([lhs[i] for i in _dims(contracting.group(1))])
            flops += 2 * int(np.prod(out)) * int(inner)
            counts["dot"] += 1
        elif " convolution(" in line:
            match = _CONV.search(line)
            out, rhs = _dims(match.group(1)), _dims(match.group(3))
            labels = re.search(r"dim_labels=[^_]+_([^-]+)->", line).group(1)
            # Per output element: every kernel element except the output
            # feature axis (a grouped kernel's input axis is already per group).
            per_output = np.prod([n for n, label in zip(rhs, labels) if label != "o"])
            dilation = re.search(r"lhs_dilate=([0-9x]+)", line)
            zeros = (
                np.prod(_dims(dilation.group(1).replace("x", ","))) if dilation else 1
            )
            flops += 2 * int(np.prod(out)) * int(per_output) // int(zeros)
            counts["convolution"] += 1
    return flops, counts


def train_step_flops(model, x, y):
    """Model FLOPs of one training step of a compiled Keras `model` on the
    batch `(x, y)`: forward, loss and gradients (see the module docstring).

    The model must be compiled with its loss (`model.compute_loss`); a model
    with its own `train_step` can pass `loss_fn` through `step_flops`.
    """

    def loss_fn():
        y_pred = model(x, training=True)
        return model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)

    return step_flops(loss_fn, model.trainable_variables)


def step_flops(loss_fn, variables):
    """Model FLOPs of `loss_fn()` and its gradients with respect to
    `variables`, from XLA's HLO."""

    @tf.function(jit_compile=True)
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tape.gradient(loss, variables)

    hlo = step.experimental_get_compiler_ir()(stage="hlo")
    return hlo_flops(hlo)


def peak_matmul_flops(n=2048, dtype="float32", repeats=10, device=None):
    """The best FLOP/s of `n x n` matmuls on `device` (default: the first
    GPU if any, else the CPU), over `repeats` timed batches of 4 matmuls."""
    device = device or (
        "/GPU:0" if tf.config.list_physical_devices("GPU") else "/CPU:0"
    )
    with tf.device(device):
        a = tf.random.normal([n, n], dtype=tf.float32)
        b = tf.random.normal([n, n], dtype=tf.float32)
        a, b = tf.cast(a, dtype), tf.cast(b, dtype)

        @tf.function
        def chain(a, b):
            c = a
            for _ in range(4):
                c = tf.matmul(c, b) * 1e-3
            return tf.reduce_sum(tf.cast(c, tf.float32))

        chain(a, b).numpy()
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            chain(a, b).numpy()
            best = min(best, time.perf_counter() - start)
    return 4 * 2 * n**3 / best
