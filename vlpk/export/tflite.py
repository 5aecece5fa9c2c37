"""TFLite / LiteRT export: the encoders (and fusion scorer) for phones.

Tokenization stays on the host: the text model takes `token_ids` and
`padding_mask` (int32 `[1, T]`), and `vocab.txt` ships beside it. The host
tokenizer is vlpk's own `TextPreprocessor` over that vocabulary
(`host_text_preprocessor`), so its ids are those of training. Images go in
as float32 `[1, H, W, 3]` pixels on a 0–255 scale, already resized (the
normalization is inside the model).

Variants (`VARIANTS`):

- `float32`: the converter's plain output;
- `float16`: weights stored as float16;
- `dynamic`: weights int8, activations quantized on the fly;
- `int8`: weights and activations int8, calibrated on a representative
  dataset drawn from the training data, with selective quantization: the
  ops that post-training int8 breaks (the masked softmax, the normalization
  statistics, elementwise ops) stay float32 (`INT8_FLOAT_OPS`); the
  convolutions, dense layers and embedding lookups are int8. Activation
  ranges cover the central 99.99% of the calibration values
  (`vlpk.export.int8_ranges`), convolutional image encoders have their
  channels equalized first (`vlpk.export.int8_equalization`), and the two
  encoders' outputs are bias-corrected (`bias_corrected`). Inputs and
  outputs stay float32 (and int32 ids).

Each model is written as a SavedModel signature first and converted with
`tf.lite.TFLiteConverter.from_saved_model`, which freezes Keras 3 variables
correctly. Run the files with `ai_edge_litert.interpreter.Interpreter`.
"""

import json
import os
import shutil
import tempfile
import uuid
import warnings

import keras
import numpy as np
import tensorflow as tf

from vlpk.export.int8_equalization import equalize_for_int8
from vlpk.export.int8_ranges import percentile_ranges
from vlpk.export.tflite_models import embedding_models, matching_models

VARIANTS = ("float32", "float16", "dynamic", "int8")

# Ops the int8 variant keeps in float32 (selective quantization). Measured
# on the shapes_albef encoders, min / mean cosine to Keras over 100 test
# examples, text then image:
# - everything int8: -0.26 / 0.63 and 0.85 / 0.97. The masked softmax is the
#   worst: the mask fills padded logits with the float32 minimum, so the
#   calibrated range of its `MUL` / `SELECT_V2` is ~1e38 wide and every real
#   logit rounds to 0;
# - attention (`BATCH_MATMUL`, `SELECT_V2`, `SOFTMAX`, `MUL`) float: text
#   0.998 / 0.9997;
# - also the normalization statistics and elementwise ops (`MEAN`,
#   `SQUARED_DIFFERENCE`, `RSQRT`, `ADD`, `SUB`) float: text 0.9995 /
#   0.9998, image 0.981 / 0.991 (the image side is group norm after int8
#   convolutions; percentile ranges, below, lift it further);
# - also `RESHAPE` float: otherwise the image encoder's last ReLU output is
#   rounded to int8 on its way to the (float) mean pooling, for nothing
#   (image mean cosine on 100 validation images 0.99664 -> 0.99739).
# Convolutions, dense layers, embedding lookups and activations stay int8:
# they hold the weights and the FLOPs.
INT8_FLOAT_OPS = (
    "BATCH_MATMUL",
    "SELECT_V2",
    "SOFTMAX",
    "MUL",
    "MEAN",
    "SQUARED_DIFFERENCE",
    "RSQRT",
    "ADD",
    "SUB",
    "RESHAPE",
)
# The central share (%) of each activation's calibration values its int8
# range covers (see `vlpk.export.int8_ranges`).
INT8_PERCENTILE = 99.99
# The int8 files whose outputs get empirical bias correction (see
# `bias_corrected`).
BIAS_CORRECTED = ("image_encoder", "text_encoder")


def encoder_functions(
    model, image_size, sequence_length, normalized=True, image_transform=None
):
    """`{name: (tf.function, keras models to track)}` for the TFLite files.

    `image_size` is `(height, width)`.

    `image_encoder` and `text_encoder` give the embeddings of the contrastive
    space, L2-normalized unless `normalized=False` (the host then
    normalizes; int8 does this: an int8 square root of a sum of squares
    loses most of the precision); a model with a matching head also gets
    `fusion_scorer` (image tokens, text tokens, padding mask → logit) and the
    two feature models it reads (`matching_image_features`,
    `matching_text_features`).

    `image_transform`, if given, maps each image-side Keras model to the one
    to export (int8 passes `equalize_for_int8`).
    """
    image_transform = image_transform or (lambda m: m)
    image_embedder, text_embedder = embedding_models(model, normalized)
    image_embedder = image_transform(image_embedder)
    height, width = image_size
    images = tf.TensorSpec([1, height, width, 3], tf.float32, name="images")
    ids = tf.TensorSpec([1, sequence_length], tf.int32, name="token_ids")
    mask = tf.TensorSpec([1, sequence_length], tf.int32, name="padding_mask")

    @tf.function(input_signature=[images])
    def image_encoder(images):
        return {"image_embedding": image_embedder(images, training=False)}

    @tf.function(input_signature=[ids, mask])
    def text_encoder(token_ids, padding_mask):
        text = {"token_ids": token_ids, "padding_mask": padding_mask}
        return {"text_embedding": text_embedder(text, training=False)}

    functions = {
        "image_encoder": (image_encoder, [image_embedder]),
        "text_encoder": (text_encoder, [text_embedder]),
    }
    if getattr(model, "matching_head", None) is not None:
        image_model, text_model, scorer = matching_models(model)
        image_model = image_transform(image_model)
        image_tokens = tf.TensorSpec(
            [1, *image_model.output.shape[1:]], tf.float32, name="image_tokens"
        )
        text_tokens = tf.TensorSpec(
            [1, sequence_length, *text_model.output.shape[2:]],
            tf.float32,
            name="text_tokens",
        )
        vector = "padding_mask" not in scorer.input

        @tf.function(input_signature=[images])
        def matching_image_features(images):
            return {"image_tokens": image_model(images, training=False)}

        @tf.function(input_signature=[ids, mask])
        def matching_text_features(token_ids, padding_mask):
            text = {"token_ids": token_ids, "padding_mask": padding_mask}
            return {"text_tokens": text_model(text, training=False)}

        @tf.function(input_signature=[image_tokens, text_tokens, mask])
        def fusion_scorer(image_tokens, text_tokens, padding_mask):
            inputs = {"image_tokens": image_tokens, "text_tokens": text_tokens}
            if not vector:
                inputs["padding_mask"] = padding_mask
            return {"score": scorer(inputs, training=False)}

        if not vector:
            functions.update(
                matching_image_features=(matching_image_features, [image_model]),
                matching_text_features=(matching_text_features, [text_model]),
                fusion_scorer=(fusion_scorer, [scorer]),
            )
    return functions


def convert(function, tracked, variant="float32", representative=None):
    """The TFLite flatbuffer (bytes) of one `tf.function` signature.

    Args:
        function: a `tf.function` with an input signature.
        tracked: the Keras models whose variables it uses.
        variant: one of `VARIANTS`.
        representative: for `int8`, a callable yielding dicts of input
            arrays keyed by input name (the calibration data).
    """
    if variant not in VARIANTS:
        raise ValueError(
            f"Unknown TFLite variant {variant!r}; choose one of {VARIANTS}."
        )
    with tempfile.TemporaryDirectory() as tmp:
        archive = keras.export.ExportArchive()
        for model in tracked:
            archive.track(model)
        archive.add_endpoint("serving_default", function)
        archive.write_out(tmp, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(tmp)
        if variant != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if variant == "float16":
            converter.target_spec.supported_types = [tf.float16]
        if variant == "int8":
            if representative is None:
                raise ValueError("int8 needs a representative dataset.")
            converter.representative_dataset = representative
        with warnings.catch_warnings():
            # int8 calibration runs TF's own, deprecated interpreter inside
            # the converter; the files themselves run on ai_edge_litert.
            warnings.filterwarnings(
                "ignore", message=".*tf.lite.Interpreter is deprecated"
            )
            if variant == "int8":
                return selective_int8(converter, representative)
            return converter.convert()


def selective_int8(converter, representative, percentile=INT8_PERCENTILE):
    """Calibrates `converter` and quantizes all but `INT8_FLOAT_OPS` to int8.

    This is TFLite's selective quantization: `QuantizationDebugger` with
    denylisted ops, the route of TF's "Inspecting quantization errors with
    Quantization Debugger" guide. Activation ranges cover the central
    `percentile` % of the calibration values (`percentile_ranges`), not
    their min / max.

    Returns:
        The flatbuffer (bytes).
    """
    debug = tf.lite.experimental
    debugger = debug.QuantizationDebugger(
        converter=converter,
        debug_options=debug.QuantizationDebugOptions(
            denylisted_ops=list(INT8_FLOAT_OPS)
        ),
    )
    debugger.calibrated_model = percentile_ranges(
        debugger.calibrated_model, representative, percentile
    )
    return debugger.get_nondebug_quantized_model()


def bias_corrected(function, flatbuffer, representative):
    """`function` minus the mean error of its int8 file on the calibration data.

    Empirical bias correction (Nagel et al., 2019): int8 rounding and range
    clipping shift every embedding by about the same small vector. In
    retrieval a common shift `b` of the image embeddings adds `b · t` to
    every score of caption `t`, for every image, so it reorders near-tied
    captions for all images at once (and a text shift reorders images).
    Subtracting the shift, measured as the mean of `int8 - float` over the
    calibration inputs, removes it; the corrected function is then converted
    (and calibrated) again. On `shapes_albef`, over 5 calibration slices,
    this lowered the mean image->text R@1 drop against Keras from 1.24 to
    0.32 points on the test split and from 0.56 to -0.52 on 500 training
    images not used for calibration.

    Args:
        function: the `tf.function` that was converted.
        flatbuffer: its int8 TFLite file (bytes).
        representative: the calibration data (see `convert`).

    Returns:
        A `tf.function` with the same input signature.
    """
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=bytes(flatbuffer)).get_signature_runner()
    sums, count = {}, 0
    for inputs in representative():
        lite = runner(**inputs)
        reference = function(**{k: tf.constant(v) for k, v in inputs.items()})
        for key, value in lite.items():
            error = np.asarray(value, np.float64) - np.asarray(reference[key])
            sums[key] = sums.get(key, 0.0) + error.mean(axis=0)
        count += 1
    offsets = {k: tf.constant(v / count, tf.float32) for k, v in sums.items()}

    @tf.function(input_signature=function.input_signature)
    def corrected(*args):
        return {k: v - offsets[k] for k, v in function(*args).items()}

    return corrected


def _representative(name, images, texts, features):
    """Calibration inputs of one model, keyed by input name (the converter
    may order a signature's inputs differently from the function)."""

    def image_inputs():
        for image in images:
            yield {"images": image[None]}

    def text_inputs():
        for ids, mask in texts:
            yield {"token_ids": ids[None], "padding_mask": mask[None]}

    def scorer_inputs():
        for image_tokens, text_tokens, mask in features:
            yield {
                "image_tokens": image_tokens[None],
                "text_tokens": text_tokens[None],
                "padding_mask": mask[None],
            }

    if name in ("image_encoder", "matching_image_features"):
        return image_inputs
    if name in ("text_encoder", "matching_text_features"):
        return text_inputs
    return scorer_inputs


def calibration_data(
    model, examples, image_preprocessor, text_preprocessor, n=200, fused=True
):
    """`(images, texts, fused)` arrays for int8 calibration, from `examples`.

    Images and their first captions come from the first `n` examples (pass
    training examples); `fused` holds the matching features of those pairs
    when the model has a matching head (and `fused=True`).
    """
    examples = list(examples)[:n]
    raw = tf.constant([open(e.image_path, "rb").read() for e in examples])
    images = np.asarray(image_preprocessor(raw), np.float32)
    text = text_preprocessor(tf.constant([e.captions[0] for e in examples]))
    ids = np.asarray(text["token_ids"], np.int32)
    masks = np.asarray(text["padding_mask"], np.int32)
    features = []
    if fused and getattr(model, "matching_head", None) is not None:
        image_model, text_model, _ = matching_models(model)
        image_tokens = np.asarray(image_model(images))
        text_tokens = np.asarray(text_model({"token_ids": ids, "padding_mask": masks}))
        features = list(zip(image_tokens, text_tokens, masks))
    return list(images), list(zip(ids, masks)), features


def export_tflite(
    model,
    out_dir,
    variant,
    image_preprocessor,
    text_preprocessor,
    vocabulary_path=None,
    calibration_examples=(),
    overwrite=False,
    parity_examples=(),
):
    """Writes `<out_dir>/<model>.tflite` files, `vocab.txt` and `tflite.json`.

    The folder is filled under a temporary name and renamed into place, so a
    reader never finds half an export. int8 is calibrated on the first 200
    `calibration_examples`; the parity with Keras is measured on the first
    100 `parity_examples` (pass held-out ones), else on the calibration
    examples.

    Returns:
        The `tflite.json` manifest: each file's inputs, outputs and size,
        the variant, the image size and the sequence length.

    Example:
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.models import DualEncoderBackbone
    >>> from vlpk.text import TextPreprocessor, save_vocabulary, wordpiece_tokenizer
    >>> backbone = DualEncoderBackbone(ImageEncoder(small_cnn(16, widths=(4,))),
    ...     bert_encoder(8, num_layers=1, num_heads=2, hidden_dim=8,
    ...                  intermediate_dim=16, max_sequence_length=6), embedding_dim=4)
    >>> words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "red"]
    >>> vocab, out = (os.path.join(tempfile.mkdtemp(), name)
    ...               for name in ("vocab.txt", "dynamic"))
    >>> save_vocabulary(words, vocab)
    >>> # Not run here: the two conversions take about 3 s, and
    >>> # tests/export/test_tflite.py runs every variant.
    >>> manifest = export_tflite(backbone, out, "dynamic", ImagePreprocessor(16),
    ...     TextPreprocessor(wordpiece_tokenizer(words), 6), vocab)  # doctest: +SKIP
    >>> sorted(os.listdir(out)), manifest["variant"]  # doctest: +SKIP
    (['image_encoder.tflite', 'text_encoder.tflite', 'tflite.json', 'vocab.txt'], \
'dynamic')

    `interpreter_runner(os.path.join(out, "image_encoder.tflite"))(images=...)`
    then gives `{"image_embedding": ...}` of shape `(1, 4)`.

    int8 also needs `calibration_examples` (training `Example`s).
    """
    if os.path.exists(out_dir) and not overwrite:
        raise FileExistsError(f"{out_dir} already exists; pass --overwrite.")
    image_size = image_preprocessor.image_size
    sequence_length = text_preprocessor.sequence_length
    # int8: the host L2-normalizes (see `encoder_functions`).
    normalized = variant != "int8"
    data = ([], [], [])
    if variant == "int8" and not calibration_examples:
        raise ValueError("int8 needs calibration examples (training data).")
    if calibration_examples:
        data = calibration_data(
            model, calibration_examples, image_preprocessor, text_preprocessor
        )
    transform = _int8_transform(variant, data[0])
    functions = encoder_functions(
        model, image_size, sequence_length, normalized, image_transform=transform
    )
    tmp = _temporary_folder(out_dir)
    manifest = _manifest(variant, image_size, sequence_length, normalized)
    try:
        manifest["models"] = _write_models(functions, tmp, variant, data)
        measured = _parity_with_keras(
            model, tmp, parity_examples, data, image_preprocessor, text_preprocessor
        )
        if measured is not None:
            manifest["parity"] = measured
        _publish(tmp, out_dir, manifest, vocabulary_path)
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return manifest


def _int8_transform(variant, calibration_images):
    """The `image_transform` of `encoder_functions`: for `int8`, the channel
    equalization (`equalize_for_int8`) on the calibration images; else
    `None`."""
    if variant != "int8":
        return None
    calibration_images = np.stack(calibration_images)

    def transform(image_model):
        return equalize_for_int8(image_model, calibration_images, INT8_PERCENTILE)

    return transform


def _temporary_folder(out_dir):
    """A new, empty folder beside `out_dir`, to be renamed into its place."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = os.path.join(parent, f".tmp-{uuid.uuid4().hex[:8]}")
    os.makedirs(tmp)
    return tmp


def _manifest(variant, image_size, sequence_length, normalized):
    """The `tflite.json` manifest before any model is written."""
    manifest = {
        "variant": variant,
        "image_size": list(image_size),
        "sequence_length": sequence_length,
        "pixels": "float32 RGB, 0-255, resized to image_size (no other scaling)",
        "normalized": normalized,
        "models": {},
    }
    if variant == "int8":
        manifest["float_ops"] = list(INT8_FLOAT_OPS)
        manifest["channel_equalization"] = "vlpk.export.int8_equalization"
        manifest["bias_corrected"] = list(BIAS_CORRECTED)
    return manifest


def _write_models(functions, folder, variant, data):
    """Converts each of `functions` into `folder/<name>.tflite`.

    Args:
        functions: `{name: (tf.function, tracked models)}`, as
            `encoder_functions` returns.
        folder: where the files go.
        variant: one of `VARIANTS`.
        data: `(images, texts, features)` from `calibration_data`; int8
            calibrates on them, and bias-corrects the `BIAS_CORRECTED` files.

    Returns:
        The manifest's `models`: `{name: {"file", "bytes", "inputs"}}`.
    """
    models = {}
    for name, (function, tracked) in functions.items():
        representative = _representative(name, *data) if variant == "int8" else None
        flatbuffer = convert(function, tracked, variant, representative)
        if variant == "int8" and name in BIAS_CORRECTED:
            function = bias_corrected(function, flatbuffer, representative)
            flatbuffer = convert(function, tracked, variant, representative)
        with open(os.path.join(folder, f"{name}.tflite"), "wb") as f:
            f.write(flatbuffer)
        models[name] = {
            "file": f"{name}.tflite",
            "bytes": len(flatbuffer),
            "inputs": [s.name for s in function.input_signature],
        }
    return models


def _parity_with_keras(
    model, folder, parity_examples, data, image_preprocessor, text_preprocessor
):
    """The manifest's `parity` of the files in `folder`, or `None`.

    Measured on `parity_examples` when there are any (`"examples": "held
    out"`), else on the calibration `data` (`"calibration"`), else not.
    """
    held_out = list(parity_examples)
    if held_out:
        images, texts, _ = calibration_data(
            model, held_out, image_preprocessor, text_preprocessor, fused=False
        )
        return {**parity(model, folder, images, texts), "examples": "held out"}
    if data[0]:
        return {**parity(model, folder, data[0], data[1]), "examples": "calibration"}
    return None


def _publish(tmp, out_dir, manifest, vocabulary_path):
    """Completes the export in `tmp` and renames it to `out_dir`."""
    if vocabulary_path:
        shutil.copyfile(vocabulary_path, os.path.join(tmp, "vocab.txt"))
    with open(os.path.join(tmp, "tflite.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    if os.path.exists(out_dir):
        shutil.rmtree(out_dir)
    os.rename(tmp, out_dir)


def _cosine(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)


def parity(model, export_dir, images, texts, limit=100):
    """How close the TFLite encoders are to Keras, on up to `limit` inputs.

    Returns:
        `{"image_cosine_min", "image_cosine_mean", "text_cosine_min",
        "text_cosine_mean", "inputs"}`: the cosines between the TFLite
        embeddings and the Keras ones (1.0 is identical).
    """
    images, texts = list(images)[:limit], list(texts)[:limit]
    image_runner = interpreter_runner(os.path.join(export_dir, "image_encoder.tflite"))
    text_runner = interpreter_runner(os.path.join(export_dir, "text_encoder.tflite"))
    lite_images = [image_runner(images=x[None])["image_embedding"][0] for x in images]
    lite_texts = [
        text_runner(token_ids=i[None], padding_mask=m[None])["text_embedding"][0]
        for i, m in texts
    ]
    ids = np.stack([i for i, _ in texts])
    masks = np.stack([m for _, m in texts])
    keras_images = model.get_image_embeddings(np.stack(images))
    keras_texts = model.get_text_embeddings(ids, masks)
    image_cosine = _cosine(lite_images, keras_images)
    text_cosine = _cosine(lite_texts, keras_texts)
    return {
        "image_cosine_min": float(image_cosine.min()),
        "image_cosine_mean": float(image_cosine.mean()),
        "text_cosine_min": float(text_cosine.min()),
        "text_cosine_mean": float(text_cosine.mean()),
        "inputs": len(images),
    }


def host_text_preprocessor(export_dir):
    """The host-side tokenizer of an export: vlpk's `TextPreprocessor` over
    its `vocab.txt`, packing to the manifest's sequence length.

    Example:
    >>> from vlpk.text import SPECIAL_TOKENS, save_vocabulary
    >>> export_dir = tempfile.mkdtemp()  # the two files `export_tflite` writes for it
    >>> save_vocabulary([*SPECIAL_TOKENS, "red"], os.path.join(export_dir, "vocab.txt"))
    >>> with open(os.path.join(export_dir, "tflite.json"), "w") as f:
    ...     json.dump({"sequence_length": 5}, f)
    >>> text = host_text_preprocessor(export_dir)
    >>> text(tf.constant(["red circle"]))["token_ids"].numpy().tolist()  # 1: [UNK]
    [[2, 5, 1, 3, 0]]
    """
    from vlpk.text import TextPreprocessor, load_vocabulary, wordpiece_tokenizer

    with open(os.path.join(export_dir, "tflite.json")) as f:
        manifest = json.load(f)
    vocabulary = load_vocabulary(os.path.join(export_dir, "vocab.txt"))
    return TextPreprocessor(
        wordpiece_tokenizer(vocabulary), manifest["sequence_length"]
    )


def interpreter_runner(path):
    """`ai_edge_litert`'s signature runner for one `.tflite` file."""
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path).get_signature_runner()
