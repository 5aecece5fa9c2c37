"""What every vlpk config dataclass shares: copies, dotted `--set`, dicts."""

import dataclasses

from vlpk.errors import InputError


class ConfigBase:
    """What every vlpk config dataclass shares: copies, `--set`, dicts.

    A field whose type is itself a `ConfigBase` dataclass is a *block*; its
    fields are addressed with dotted keys (`text.layers`).
    """

    def replace(self, **changes):
        """A copy with some fields changed (`None` values are ignored).

        A block takes a block, or a dict of the block's fields to change
        (applied as given, `None` included). Keyword arguments cannot hold a
        dot, so a block's field may also be named bare when no other block
        has a field of that name (`replace(epochs=3)`); `**{"text.layers": 4}`
        works too.

        Example:
        >>> from vlpk.config import PretrainConfig
        >>> config = PretrainConfig().replace(
        ...     text={"layers": 4}, epochs=3, **{"image.backbone": "vgg16"}
        ... )
        >>> config.text.layers, config.optimization.epochs, config.image.backbone
        (4, 3, 'vgg16')
        """
        changes = {k: v for k, v in changes.items() if v is not None}
        blocks = _blocks(type(self))
        values, nested = {}, {}
        for key, value in changes.items():
            block, field = self._resolve(key)
            if block is not None:
                nested.setdefault(block, {})[field] = value
            elif field in blocks and isinstance(value, dict):
                nested.setdefault(field, {}).update(value)
            else:
                values[field] = value
        for block, fields in nested.items():
            current = values.get(block, getattr(self, block))
            for field in fields:
                _check_block_field(type(current), block, field)
            values[block] = dataclasses.replace(current, **fields)
        return dataclasses.replace(self, **values)

    def _resolve(self, key):
        """`(block, field)` of a `replace` key; `block` is None at the top."""
        fields = _field_names(type(self))
        block, dot, field = key.partition(".")
        if dot:
            return self._block_field(block, field)
        if key in fields:
            return None, key
        owners = _owners(type(self), key)
        if len(owners) == 1:
            return owners[0], key
        where = f" (in {', '.join(owners)}: use a dotted key)" if owners else ""
        raise InputError(
            f"Unknown config field {key!r}{where}. Keys: {', '.join(self.keys())}"
        )

    def _block_field(self, block, field):
        blocks = _blocks(type(self))
        if block not in blocks:
            raise InputError(
                f"{type(self).__name__} has no block {block!r}; its blocks are "
                f"{', '.join(blocks) or 'none'}."
            )
        _check_block_field(blocks[block], block, field)
        return block, field

    def override(self, assignments):
        """A copy with `key=value` strings applied (the CLI's `--set`).

        A block's field takes a dotted key (`text.layers=4`). Values are
        parsed by the field's type: ints, floats, `true`/`false`,
        comma-separated tuples of ints, `|`-separated tuples of strings,
        `name:weight,...` dicts, and `none` for a field that may be None (a
        string field that may not keeps the word: `image.normalization=none`).

        Example:
        >>> from vlpk.config import PretrainConfig
        >>> config = PretrainConfig().override(
        ...     ["optimization.epochs=3", "image.widths=16,32", "loss=siglip"]
        ... )
        >>> config.optimization.epochs, config.image.widths, config.loss
        (3, (16, 32), 'siglip')
        """
        config = self
        for assignment in assignments:
            key, sep, raw = assignment.partition("=")
            key = key.strip()
            if not sep:
                raise InputError(
                    f"--set expects key=value with a config field; got "
                    f"{assignment!r}. Keys: {', '.join(self.keys())}"
                )
            block, field = config._set_key(key)
            target = config if block is None else getattr(config, block)
            value = _parse(raw.strip(), target, field, key)
            if block is not None:
                value = dataclasses.replace(target, **{field: value})
                field = block
            config = dataclasses.replace(config, **{field: value})
        return config

    def _set_key(self, key):
        """`(block, field)` of a `--set` key: a block's fields need the dot."""
        block, dot, field = key.partition(".")
        if dot:
            return self._block_field(block, field)
        blocks = _blocks(type(self))
        if key in _field_names(type(self)) and key not in blocks:
            return None, key
        hint = ""
        if key in blocks:
            hint = f" {key} is a block: set one of its fields ({key}.FIELD)."
        owners = _owners(type(self), key)
        if owners:
            hint = f" Did you mean {' or '.join(f'{b}.{key}' for b in owners)}?"
        raise InputError(
            f"--set expects key=value with a config field; got {key!r}.{hint} "
            f"Keys: {', '.join(self.keys())}"
        )

    def keys(self):
        """The keys `--set` takes: top-level fields, then `block.field`s.

        Example:
        >>> from vlpk.config import PretrainConfig
        >>> keys = PretrainConfig().keys()
        >>> keys[:3], "fusion.kind" in keys
        (['name', 'seed', 'objectives'], True)
        """
        blocks = _blocks(type(self))
        top = [f for f in _field_names(type(self)) if f not in blocks]
        return top + [
            f"{b}.{f}" for b, cls in blocks.items() for f in _field_names(cls)
        ]

    def to_dict(self):
        """The config as plain (nested) dicts, e.g. for a run's `config.json`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data, source="the config"):
        """The config of a `to_dict()` dict (e.g. a run's `config.json`).

        JSON turns tuples into lists; fields whose default is a tuple get
        tuples back. A block is read from its own dict.

        Example:
        >>> from vlpk.config import PretrainConfig
        >>> config = PretrainConfig().override(["text.layers=4"])
        >>> PretrainConfig.from_dict(config.to_dict()) == config
        True
        >>> PretrainConfig.from_dict({"text_layers": 4})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        vlpk.errors.InputError: the config has fields PretrainConfig does not know: ...
        """
        return cls._from_dict(data, source, prefix="")

    @classmethod
    def _from_dict(cls, data, source, prefix):
        if not isinstance(data, dict):
            raise InputError(
                f"{source}: {prefix[:-1]} should be a dict of {cls.__name__} "
                f"fields, got {data!r}."
            )
        fields = {f.name: f for f in dataclasses.fields(cls)}
        blocks = _blocks(cls)
        unknown = set(data) - set(fields)
        if unknown:
            flat = blocks and not any(isinstance(data.get(b), dict) for b in blocks)
            hint = (
                f" It is flat: this version nests fields by block "
                f"({', '.join(blocks)}), e.g. text_layers is now text.layers. Run "
                "the job again with this version of vlpk."
            )
            raise InputError(
                f"{source} has fields {cls.__name__} does not know: "
                f"{sorted(prefix + k for k in unknown)}. Was it written by another "
                f"vlpk version?{hint if flat else ''}"
            )
        values = {}
        for key, value in data.items():
            if key in blocks:
                value = blocks[key]._from_dict(value, source, f"{prefix}{key}.")
            elif isinstance(fields[key].default, tuple) and isinstance(value, list):
                value = tuple(value)
            values[key] = value
        return cls(**values)


def _field_names(cls):
    return [f.name for f in dataclasses.fields(cls)]


def _owners(cls, field):
    """The blocks of `cls` that have a field called `field`."""
    return [b for b, block in _blocks(cls).items() if field in _field_names(block)]


def _check_block_field(cls, block, field):
    if field not in _field_names(cls):
        raise InputError(
            f"Unknown key {block}.{field}. Keys of {block}: "
            + ", ".join(f"{block}.{f}" for f in _field_names(cls))
        )


def _blocks(cls):
    """`{name: block class}` of a config class's nested blocks, in order."""
    return {
        f.name: f.type
        for f in dataclasses.fields(cls)
        if isinstance(f.type, type) and issubclass(f.type, ConfigBase)
    }


def _check_choice(block, key, allowed):
    value = getattr(block, key.rpartition(".")[2])
    if value not in allowed:
        raise InputError(f"Unknown {key} {value!r}; choose one of {allowed}.")


def _check_positive(block, keys):
    for key in keys:
        value = getattr(block, key.rpartition(".")[2])
        if value <= 0:
            raise InputError(f"{key} must be positive, got {value}.")


# Imported here so `vlpk.config` stays importable without TensorFlow; the


def _parse(raw, block, field, key):
    """The value of `--set key=raw` for `block.field`, by the field's type."""
    spec = {f.name: f for f in dataclasses.fields(block)}[field]
    kinds = getattr(spec.type, "__args__", (spec.type,))
    kind = next(k for k in kinds if k is not type(None))
    if raw.lower() == "none" and type(None) in kinds:
        return None
    try:
        if kind is bool:
            if raw.lower() not in ("true", "false", "1", "0"):
                raise ValueError(raw)
            return raw.lower() in ("true", "1")
        if kind in (int, float):
            return kind(raw)
        if kind is tuple:
            default = spec.default if isinstance(spec.default, tuple) else ()
            if default and isinstance(default[0], str):
                # Strings may hold commas (prompt templates): "|" separates them.
                return tuple(v.strip() for v in raw.split("|") if v.strip())
            return tuple(int(v) for v in raw.split(",") if v)
        if kind is dict:
            pairs = (item.partition(":") for item in raw.split(",") if item)
            return {k.strip(): float(w) if w else 1.0 for k, _, w in pairs}
    except ValueError:
        raise InputError(f"--set {key}={raw}: expected a {kind.__name__}.") from None
    return raw
