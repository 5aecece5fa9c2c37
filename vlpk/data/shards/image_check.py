"""Checks an image file before it goes into a TFRecord shard.

The converter runs this on every image, so a shard never holds bytes that
the `tf.data` pipeline cannot decode. The checks are, in order:

1. the file exists and is not empty;
2. Pillow recognises the format, and it is one TensorFlow decodes
   (JPEG, PNG, GIF, BMP);
3. the size declared in the header is at most `max_pixels`, checked
   *before* any pixel is decoded (a decompression bomb that declares
   30000 x 30000 pixels is rejected after reading a few bytes);
4. the whole image decodes (a truncated or corrupt file is rejected).

Pillow, not TensorFlow, does the work, so it runs in plain threads.
"""

import io
import warnings

from PIL import Image, UnidentifiedImageError

from vlpk.data.pipelines.image_preprocessor import DEFAULT_MAX_PIXELS

# What `tf.io.decode_image` reads.
TF_FORMATS = ("JPEG", "PNG", "GIF", "BMP")


class BadImage(ValueError):
    """An image the converter skips; its message is the reason."""


def check_image(path, max_pixels=DEFAULT_MAX_PIXELS):
    """Reads and validates one image file.

    Args:
        path: the image file.
        max_pixels: the largest `height * width` accepted.

    Returns:
        `(image_bytes, height, width)`: the file's bytes, unchanged.

    Raises:
        BadImage: with the reason, e.g. `"file not found"`, `"not an image"`,
            `"image declares 30000x30000 pixels, above max_pixels=67108864"`,
            `"truncated or corrupt image (...)"`.

    Example:
    >>> import os, tempfile
    >>> from PIL import Image
    >>> path = os.path.join(tempfile.mkdtemp(), "red.png")
    >>> Image.new("RGB", (7, 5), "red").save(path)
    >>> data, height, width = check_image(path)
    >>> height, width
    (5, 7)
    >>> check_image("no/such/file.jpg")
    Traceback (most recent call last):
    ...
    vlpk.data.shards.image_check.BadImage: file not found
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except IsADirectoryError:
        raise BadImage("is a directory, not an image file") from None
    except OSError as error:
        raise BadImage(f"unreadable file ({error.strerror})") from None
    if not data:
        raise BadImage("empty file")
    height, width = check_image_bytes(data, max_pixels)
    return data, height, width


def check_image_bytes(data, max_pixels=DEFAULT_MAX_PIXELS):
    """Validates encoded image bytes; returns `(height, width)`.

    Raises:
        BadImage: as `check_image`.
    """
    with warnings.catch_warnings():
        # Pillow warns, then raises, on images past its own bomb limit; ours
        # comes first, so silence its warning and rely on the header check.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        _check_declared_size(_png_size(data), max_pixels)
        try:
            image = Image.open(io.BytesIO(data))  # reads the header only
        except Image.DecompressionBombError as error:
            raise BadImage(f"decompression bomb ({error})") from None
        except UnidentifiedImageError:
            raise BadImage("not an image (unrecognised format)") from None
        except Exception as error:  # noqa: BLE001 - Pillow raises many types
            raise BadImage(f"truncated or corrupt image ({error})") from None
        with image:
            width, height = image.size
            if image.format not in TF_FORMATS:
                raise BadImage(
                    f"unsupported format {image.format} (TensorFlow decodes "
                    f"{', '.join(TF_FORMATS)})"
                )
            _check_declared_size((height, width), max_pixels)
            if width <= 0 or height <= 0:
                raise BadImage(f"image declares an empty size {width}x{height}")
            try:
                image.load()  # decodes every pixel: catches truncation
            except Exception as error:  # noqa: BLE001 - Pillow raises many types
                raise BadImage(f"truncated or corrupt image ({error})") from None
    return height, width


def _png_size(data):
    """`(height, width)` from a PNG's IHDR, or `None` for other files.

    Read by hand so that a PNG bomb is named as one even when the rest of the
    file is too broken for Pillow to open.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR" or len(data) < 24:
        return None
    return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")


def _check_declared_size(size, max_pixels):
    if size is not None and size[0] * size[1] > max_pixels:
        raise BadImage(
            f"image declares {size[1]}x{size[0]} pixels, above max_pixels={max_pixels}"
        )
