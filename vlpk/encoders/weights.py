"""The offline-weights policy: pretrained weights fail loudly and helpfully.

`keras.applications` downloads ImageNet weights with `keras.utils.get_file`,
and KerasHub's `from_preset` downloads presets from Kaggle, Hugging Face or
GCS. Without network access both fail deep inside a socket library, with a
long chained traceback that does not say what to do. The loaders here call
the same Keras and KerasHub functions, so weights already in a cache or given
as a local path load exactly as Keras would load them; only when a download is
needed and fails do they raise `WeightsUnavailableError`, whose message names
the model, the file Keras wanted and its URL, and the ways to supply it
offline.

Example:

```python
import keras
from vlpk.encoders.weights import WeightsUnavailableError, load_application

try:
    model = load_application(
        keras.applications.VGG16, weights="imagenet", include_top=False
    )
except WeightsUnavailableError as e:
    print(e)  # says which file to fetch and where to put it
```
"""

import os
import re
import socket
import sys
import urllib.error

from vlpk.errors import InputError

_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
_KAGGLE_MODELS_URL = "https://www.kaggle.com/models/"
_HF_URL = "https://huggingface.co/"
_MAX_REASON_CHARS = 300


class WeightsUnavailableError(RuntimeError):
    """Raised when pretrained weights must be downloaded and cannot be.

    The message names the model, the file and its URL, and how to pass a local
    copy instead. It is raised `from None`, so the traceback is not buried
    under the socket errors that caused it.
    """


# --- keras.applications ------------------------------------------------------


def application_weights_file(application_name, include_top=False, **kwargs):
    """Returns `(file_name, url)` of the ImageNet weights Keras downloads.

    The names follow `keras.applications` (Keras 3.15), which stores them under
    `~/.keras/models/` (or `$KERAS_HOME/models/`).

    Args:
        application_name: the constructor's name, e.g. `"VGG16"`, `"ResNet50"`,
            `"EfficientNetV2B0"`, `"MobileNetV3Small"`.
        include_top: whether the classifier head is included.
        **kwargs: other constructor arguments that change the file name
            (`alpha` and `minimalistic` for MobileNetV3).

    Returns:
        `(file_name, url)`, or `(None, None)` for an application this table
        does not know.

    Example:

    ```python
    application_weights_file("VGG16")
    # ('vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5', 'https://...')
    ```
    """
    key = application_name.lower()
    if key in ("vgg16", "vgg19", "resnet50", "resnet101", "resnet152"):
        suffix = "" if include_top else "_notop"
        file_name = f"{key}_weights_tf_dim_ordering_tf_kernels{suffix}.h5"
        folder = key if key.startswith("vgg") else "resnet"
        return file_name, f"{_APPLICATIONS_URL}{folder}/{file_name}"
    match = re.fullmatch(r"efficientnetv2(b[0-3]|s|m|l)", key)
    if match:
        suffix = ".h5" if include_top else "_notop.h5"
        file_name = f"efficientnetv2-{match.group(1)}{suffix}"
        return file_name, f"{_APPLICATIONS_URL}efficientnet_v2/{file_name}"
    match = re.fullmatch(r"mobilenetv3(small|large)", key)
    if match:
        minimalistic = "_minimalistic" if kwargs.get("minimalistic") else ""
        alpha = kwargs.get("alpha", 1.0)
        model_name = f"{match.group(1)}{minimalistic}_224_{alpha}_float"
        suffix = "" if include_top else "_no_top_v2"
        file_name = f"weights_mobilenet_v3_{model_name}{suffix}.h5"
        return file_name, f"{_APPLICATIONS_URL}mobilenet_v3/{file_name}"
    return None, None


def load_application(application, weights="imagenet", **kwargs):
    """Builds a `keras.applications` model under the offline-weights policy.

    `weights` is passed to Keras unchanged: `None`, `"imagenet"` (loaded from
    the Keras cache, downloaded if absent) or a path to a weights file that
    `model.load_weights` accepts (the `.h5` file Keras downloads, or a
    `.weights.h5` file written by `model.save_weights`).

    Args:
        application: a `keras.applications` constructor, e.g.
            `keras.applications.VGG16`.
        weights: `None`, `"imagenet"` or a local file path.
        **kwargs: passed to the constructor (`include_top`, `input_shape`, ...).

    Returns:
        The model.

    Raises:
        WeightsUnavailableError: the weights had to be downloaded and the
            download failed.

    Example:

    ```python
    import keras
    from vlpk.encoders.weights import load_application

    vgg = load_application(
        keras.applications.VGG16,
        weights=None,
        include_top=False,
        input_shape=(64, 64, 3),
    )
    ```
    """
    try:
        return application(weights=weights, **kwargs)
    except Exception as error:
        if weights != "imagenet" or not _is_download_error(error):
            raise
        message = _application_message(application, error, kwargs)
    raise WeightsUnavailableError(message) from None


def _application_message(application, error, kwargs):
    name = getattr(application, "__name__", str(application))
    file_name, url = application_weights_file(
        name,
        include_top=kwargs.get("include_top", True),
        alpha=kwargs.get("alpha", 1.0),
        minimalistic=kwargs.get("minimalistic", False),
    )
    if url is None:
        # Not in our table: Keras names the URL in its own error message.
        match = re.search(r"URL fetch failure on (\S+?):", str(error))
        if match:
            url = match.group(1)
            file_name = url.rsplit("/", 1)[-1]
    if file_name is None:
        file_name, url = "the ImageNet weights file", "(see the Keras source)"
    keras_home = _keras_home()
    return (
        f"Could not download the ImageNet weights for "
        f"keras.applications.{name}: {_reason(error)}\n"
        f"Keras needs the file `{file_name}` from\n"
        f"    {url}\n"
        "To run without network access, fetch that file on a machine that "
        "has it, then either:\n"
        f'  1. pass its path: weights="/path/to/{file_name}", or\n'
        f"  2. copy it into the Keras cache as "
        f'{keras_home}/models/{file_name} and keep weights="imagenet".\n'
        "Or pass weights=None to start from random weights."
    )


def _keras_home():
    try:  # The directory `keras.utils.get_file` caches in.
        from keras.src.backend.config import keras_home

        return keras_home()
    except ImportError:  # pragma: no cover - layout of a future Keras
        return os.environ.get("KERAS_HOME", "~/.keras")


# --- KerasHub presets ---------------------------------------------------------


class PresetNotFoundError(InputError, FileNotFoundError):
    """Raised when a preset given as a local folder path is not a folder.

    It is an `InputError` (the CLI exits with code 2) and a `FileNotFoundError`;
    its message names the path.
    """


def load_keras_hub_preset(cls, preset, **kwargs):
    """Calls `cls.from_preset(preset)` under the offline-weights policy.

    A local preset folder loads exactly as `cls.from_preset` loads it (a
    `pathlib.Path` is accepted too). A preset name or handle that needs a
    download and cannot get one raises `WeightsUnavailableError`, which says
    how to bring the preset folder here instead.

    Args:
        cls: the KerasHub class to load, e.g. `keras_hub.models.CLIPBackbone`,
            `keras_hub.models.SigLIPPreprocessor` or
            `keras_hub.models.Backbone`.
        preset: a built-in preset name (`"clip_vit_base_patch16"`), a
            `kaggle://` or `hf://` handle, or the path of a local preset
            folder, as written by `save_to_preset(path)`.
        **kwargs: passed to `from_preset` (e.g. `load_weights=False`).

    Returns:
        What `cls.from_preset` returns.

    Raises:
        PresetNotFoundError: `preset` is a path (absolute, or starting with
            `.` or `~`, or holding a path separator) that is not a folder.
        WeightsUnavailableError: the preset had to be downloaded and the
            download failed (no network, or no client library installed).

    Example:

    >>> import tempfile, keras_hub
    >>> from vlpk.encoders.weights import load_keras_hub_preset
    >>> folder = tempfile.mkdtemp()  # a preset folder, as `save_to_preset` writes it
    >>> keras_hub.models.BertBackbone(10, num_layers=1, num_heads=1, hidden_dim=4,
    ...     intermediate_dim=8).save_to_preset(folder)
    >>> type(load_keras_hub_preset(keras_hub.models.Backbone, folder)).__name__
    'BertBackbone'
    >>> load_keras_hub_preset(
    ...     keras_hub.models.CLIPBackbone, "/no/such/preset"
    ... )  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vlpk.encoders.weights.PresetNotFoundError: The KerasHub preset folder ...
    """
    return load_preset_backbone(preset, loader=cls.from_preset, **kwargs)


def load_preset_backbone(preset, loader=None, **kwargs):
    """Loads a backbone preset under the offline-weights policy.

    Args:
        preset: a built-in preset name (`"bert_tiny_en_uncased"`), a
            `kaggle://`, `hf://` or `gs://` handle, or a local preset
            directory (as written by `backbone.save_to_preset(path)`).
        loader: the function that loads it; defaults to
            `keras_hub.models.Backbone.from_preset`.
        **kwargs: passed to the loader (e.g. `load_weights=False`).

    Returns:
        The backbone.

    Raises:
        PresetNotFoundError: `preset` is a path that is not a folder.
        WeightsUnavailableError: the preset had to be downloaded and the
            download failed (no network, or no client library installed).

    Example:

    ```python
    from vlpk.encoders.weights import load_preset_backbone

    backbone = load_preset_backbone("/path/to/bert_tiny_en_uncased")
    ```
    """
    if loader is None:
        import keras_hub

        loader = keras_hub.models.Backbone.from_preset
    preset = _checked_preset_path(preset)
    try:
        return loader(preset, **kwargs)
    except Exception as error:
        local = isinstance(preset, str) and os.path.exists(preset)
        if local or not _is_download_error(error, client_missing=True):
            raise
        message = _preset_message(preset, error, loader)
    raise WeightsUnavailableError(message) from None


def _checked_preset_path(preset):
    """`preset`, with a path made a string (as KerasHub needs) and checked."""
    if isinstance(preset, os.PathLike):
        preset = os.fspath(preset)
    elif not isinstance(preset, str) or not _looks_like_path(preset):
        return preset  # A name or handle: KerasHub resolves it.
    preset = os.path.expanduser(preset)
    if os.path.isdir(preset):
        return preset
    what = "is a file, not a folder" if os.path.exists(preset) else "does not exist"
    raise PresetNotFoundError(
        f"The KerasHub preset folder {preset} {what}. A preset folder holds "
        "`config.json` and `model.weights.h5` (and `preprocessor.json`, "
        "`tokenizer.json` and `assets/` for a preprocessor), as written by "
        "`save_to_preset(folder)`. Pass the path of such a folder, or a preset "
        'name such as "clip_vit_base_patch16" on a machine with network access.'
    )


def _looks_like_path(preset):
    # Preset names and `scheme://` handles hold no path separator of their own.
    if "://" in preset:
        return False
    separators = (os.sep, os.altsep) if os.altsep else (os.sep,)
    return (
        os.path.isabs(preset)
        or preset.startswith((".", "~"))
        or any(s in preset for s in separators)
    )


def _preset_message(preset, error, loader):
    handle = _preset_handle(preset)
    scheme = handle.split("://")[0].lower() if "://" in handle else ""
    path = handle.split("://", 1)[-1]
    if scheme == "kaggle":
        url = _KAGGLE_MODELS_URL + path
        cache = "the KaggleHub cache (~/.cache/kagglehub, or $KAGGLEHUB_CACHE)"
        download = "on Kaggle, Download gives an archive of the preset folder"
    elif scheme == "hf":
        url = _HF_URL + path
        cache = "the Hugging Face cache (~/.cache/huggingface, or $HF_HOME)"
        download = "on Hugging Face, the repository's files are the preset folder"
    else:
        url = handle
        cache = "the Keras cache (~/.keras/models, or $KERAS_HOME/models)"
        download = "the files at that address are the preset folder"
    shown = preset if handle == preset else f"{preset!r} ({handle})"
    return (
        f"Could not download the KerasHub preset {shown}: "
        f"{_download_failure(error)} ({_reason(error)})\n"
        "`from_preset` needs the preset's files (`config.json` and "
        "`model.weights.h5` for a model, `preprocessor.json`, `tokenizer.json` "
        "and `assets/` for a preprocessor) from\n"
        f"    {url}\n"
        "To run without network access, bring the preset folder here and pass "
        'its path instead of the name: from_preset("/path/to/preset_dir"). '
        "Either\n"
        "  1. on a machine with network access, save it with "
        f'`{_loader_name(loader)}("{preset}")'
        '.save_to_preset("/path/to/preset_dir")` and copy that folder here, or\n'
        f"  2. download the files from the address above ({download}) and "
        "unpack them into a folder, or\n"
        f"  3. load it once so that it lands in {cache}, and copy that cache "
        "here (then the name works offline too)."
    )


def _download_failure(error):
    chain = _error_chain(error)
    if any(isinstance(e, _http_error_types()) for e in chain):
        return "the server refused the download"
    if any(_is_network_error(e) for e in chain):
        return "vlpk found no network access"
    if any(isinstance(e, ImportError) for e in chain):
        return "the client library that downloads it is not installed"
    return "the download failed"


def _loader_name(loader):
    """`keras_hub.models.CLIPBackbone.from_preset` for that bound method."""
    owner = getattr(loader, "__self__", None)
    if not isinstance(owner, type):
        return getattr(loader, "__qualname__", "from_preset")
    package = owner.__module__.split(".")[0]
    for group in ("models", "tokenizers", "layers"):
        module = sys.modules.get(f"{package}.{group}")
        if getattr(module, owner.__name__, None) is owner:
            return f"{package}.{group}.{owner.__name__}.from_preset"
    return f"{owner.__name__}.from_preset"


def _preset_handle(preset):
    try:
        from keras_hub.src.utils.preset_utils import BUILTIN_PRESETS
    except ImportError:  # pragma: no cover - layout of a future KerasHub
        return str(preset)
    info = BUILTIN_PRESETS.get(preset)
    if info and "kaggle_handle" in info:
        return info["kaggle_handle"]
    return str(preset)


# --- shared --------------------------------------------------------------------


def _network_error_types():
    types = [
        urllib.error.URLError,
        ConnectionError,
        TimeoutError,
        socket.gaierror,
        socket.herror,
    ]
    try:
        import requests

        types.append(requests.exceptions.RequestException)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _http_error_types():
    """Errors that mean a server was reached and answered with an error."""
    types = [urllib.error.HTTPError]
    try:
        import requests

        types.append(requests.exceptions.HTTPError)
    except ImportError:  # pragma: no cover
        pass
    return tuple(types)


def _error_chain(error):
    seen = []
    while error is not None and len(seen) < 20 and error not in seen:
        seen.append(error)
        error = error.__cause__ or error.__context__
    return seen


def _is_download_error(error, client_missing=False):
    """Whether `error` comes from a failed download (not from a bad config)."""
    for e in _error_chain(error):
        if _is_network_error(e):
            return True
        text = str(e)
        if isinstance(e, ValueError) and "file hash does not match" in text:
            return True
        if client_missing and isinstance(e, ImportError):
            if re.search(r"kagglehub|huggingface_hub|modelscope", text):
                return True
    return False


def _is_network_error(e):
    """Whether `e` itself (not its cause) is a failure to reach the network."""
    if isinstance(e, _network_error_types()):
        return True
    # `keras.utils.get_file` re-raises network errors as plain Exceptions.
    if str(e).startswith("URL fetch failure on"):
        return True
    # Hugging Face raises these offline, or with HF_HUB_OFFLINE=1.
    return type(e).__name__ in ("LocalEntryNotFoundError", "OfflineModeIsEnabled")


def _reason(error):
    """The root cause as one line (`Type: message`), without its traceback."""
    chain = [e for e in _error_chain(error) if str(e).strip()] or [error]
    root = chain[-1]
    text = " ".join(f"{type(root).__name__}: {root}".split())
    if len(text) > _MAX_REASON_CHARS:
        text = text[: _MAX_REASON_CHARS - 3] + "..."
    return text
