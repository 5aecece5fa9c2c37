"""A `VisionLMConfig` into the public objects: LM, connector, task, trainability."""

import keras
import keras_hub
import tensorflow as tf

from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.encoders.weights import load_preset_backbone
from vlpk.errors import InputError
from vlpk.jobs.loop import is_chief
from vlpk.jobs.recipes import build_image_encoder
from vlpk.jobs.vision_lm_fit import fit_epochs, steps_over
from vlpk.layers.mlp_connector import MLPConnector
from vlpk.layers.resampler import Resampler
from vlpk.models.vision_lm import VisionCausalLM, VisionLMBackbone, VisionLMPreprocessor
from vlpk.text.sentencepiece import learn_sentencepiece

BACKBONES = {
    "gpt2": "GPT2Backbone",
    "gemma": "GemmaBackbone",
    "llama": "LlamaBackbone",
    "mistral": "MistralBackbone",
    "qwen": "QwenBackbone",
    "qwen3": "Qwen3Backbone",
}


def language_model_and_tokenizer(llm, texts):
    """`(backbone, tokenizer)` of an `LanguageModelConfig`.

    A preset (name or `save_to_preset` folder) gives both, under vlpk's
    offline policy: a name that needs a download fails, offline, with a
    message on passing a local folder. Otherwise the `family` backbone is
    built from the config's sizes and a SentencePiece tokenizer is learned
    on `texts`.
    """
    if llm.preset:
        backbone = load_preset_backbone(llm.preset)
        tokenizer = load_preset_backbone(
            llm.preset, loader=keras_hub.tokenizers.Tokenizer.from_preset
        )
        return backbone, tokenizer
    tokenizer = learn_sentencepiece(texts, llm.vocabulary_size)
    cls = getattr(keras_hub.models, BACKBONES[llm.family])
    kwargs = dict(
        vocabulary_size=tokenizer.vocabulary_size(),
        num_layers=llm.layers,
        hidden_dim=llm.hidden_dim,
        intermediate_dim=llm.intermediate_dim,
    )
    if llm.family == "gpt2":
        kwargs.update(num_heads=llm.heads, max_sequence_length=1024)
    else:
        kwargs.update(
            num_query_heads=llm.heads, num_key_value_heads=llm.key_value_heads
        )
    if llm.family in ("gemma", "qwen3"):
        kwargs["head_dim"] = llm.hidden_dim // llm.heads
    return cls(**kwargs), tokenizer


def pretrain_text_lm(
    language_model, tokenizer, texts, llm, optimization, path, seed=0, strategy=None
):
    """Trains a from-config Llama LM on `texts` and saves it as a KerasHub preset.

    Shapes has no pretrained LM, and LLaVA's alignment stage needs one: a
    frozen random LM cannot be steered to describe anything (on Shapes the
    caption loss stayed at 4.1 over 4 epochs). So the LM is first trained
    as a plain `LlamaCausalLM` on the stage's text, then frozen; `path`
    gets the preset (`save_to_preset`), which `llm.preset=<path>` loads
    like any user's. Under `MultiWorkerMirroredStrategy` it trains on
    vlpk's multi-worker step and only the chief writes the preset.

    Returns:
        The final training loss.
    """
    if not isinstance(language_model, keras_hub.models.LlamaBackbone):
        raise InputError(
            "llm.text_epochs trains a Llama LM built from config (llm.family="
            f"llama, no llm.preset); got a {type(language_model).__name__}."
        )
    preprocessor = keras_hub.models.LlamaCausalLMPreprocessor(
        tokenizer, sequence_length=llm.sequence_length
    )
    task = keras_hub.models.LlamaCausalLM(language_model, preprocessor=None)
    task.compile(
        optimizer=keras.optimizers.AdamW(optimization.learning_rate, clipnorm=1.0),
        weighted_metrics=["sparse_categorical_accuracy"],
    )
    texts = tf.data.Dataset.from_tensor_slices(list(texts))
    ds = texts.shuffle(len(texts), seed=seed).batch(optimization.batch_size)
    ds = ds.map(preprocessor, num_parallel_calls=tf.data.AUTOTUNE)
    strategy = strategy or tf.distribute.get_strategy()
    history = fit_epochs(
        task,
        strategy,
        ds.repeat().prefetch(4),
        llm.text_epochs,
        steps_over(len(texts), optimization.batch_size),
    )
    task.preprocessor = preprocessor
    if is_chief(strategy):
        task.save_to_preset(path)
    return float(history["loss"][-1])


def build_connector(connector, hidden_dim):
    """The layer from image tokens to the LM's width."""
    if connector.kind == "resampler":
        return Resampler(
            connector.queries,
            hidden_dim,
            num_layers=connector.layers,
            num_heads=connector.heads,
            name="connector",
        )
    depth = 1 if connector.kind == "linear" else 2
    return MLPConnector(hidden_dim, depth=depth, name="connector")


def build_vision_lm(config, texts, lm_preset_dir=None, strategy=None):
    """An uncompiled `VisionCausalLM` with its preprocessor.

    Args:
        config: a `VisionLMConfig`.
        texts: the training text, for a learned tokenizer and, with
            `llm.text_epochs`, for the LM's own pretraining (no preset).
        lm_preset_dir: where that pretrained LM is saved as a preset.
        strategy: the strategy whose scope the caller holds (for the LM's
            pretraining loop); None is the current one.
    """
    language_model, tokenizer = language_model_and_tokenizer(config.llm, texts)
    if config.llm.text_epochs and not config.llm.preset:
        pretrain_text_lm(
            language_model,
            tokenizer,
            texts,
            config.llm,
            config.optimization,
            lm_preset_dir,
            seed=config.seed,
            strategy=strategy,
        )
    backbone = VisionLMBackbone(
        build_image_encoder(config.image, output="tokens"),
        language_model,
        connector=build_connector(config.connector, language_model.hidden_dim),
        attention=config.llm.attention,
    )
    preprocessor = VisionLMPreprocessor(
        tokenizer,
        ImagePreprocessor(config.image.size),
        sequence_length=config.llm.sequence_length,
    )
    return VisionCausalLM(backbone, preprocessor)


def set_trainable(task, config):
    """What trains in this stage; returns `{part: "trains"|"frozen"|"lora"}`.

    Alignment (LLaVA's stage 1) keeps the LM frozen; instruction tuning
    trains it fully, through LoRA adapters only, or not at all
    (`llm.tuning`). The connector always trains.
    """
    backbone = task.backbone
    tuning = "frozen" if config.stage == "alignment" else config.llm.tuning
    language_model = backbone.language_model
    if tuning == "lora":
        if not language_model.trainable or not _has_lora(language_model):
            language_model.trainable = True
            language_model.enable_lora(config.llm.lora_rank)
    else:
        language_model.trainable = tuning == "full"
    backbone.image_encoder.trainable = config.train_image_encoder
    backbone.connector.trainable = True
    return {
        "image_encoder": "trains" if config.train_image_encoder else "frozen",
        "connector": "trains",
        "llm": {"full": "trains", "lora": "lora"}.get(tuning, "frozen"),
    }


def _has_lora(language_model):
    return any("lora" in w.path for w in language_model.weights)
