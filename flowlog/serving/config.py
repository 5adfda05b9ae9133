"""TensorFlow Serving's config files: ``--model_config_file`` and ``--batching_parameters_file``.

Both are protobuf text format. Only the subset people write for TF Serving is parsed, with the
standard library alone: ``field: value``, ``field { ... }``, ``field: { ... }``, ``field < ... >``,
``field: [a, b]`` for repeated fields, ``'…'``/``"…"`` strings with C escapes (adjacent strings
concatenate), decimal/hex/octal ints, floats, identifiers (``true``), ``#`` comments and the
optional ``,``/``;`` separators. Extension/``Any`` syntax (``[type.googleapis.com/…]``) is not.

Every mistake raises :class:`ConfigError` as ``path:line:col: message`` naming the field, so a
typo in a config file is an error at startup (or a rejected reload), never a silently default.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType


class ConfigError(ValueError):
    """A config file (or flag) that cannot be used; the message says where and what."""


# ---------------------------------------------------------------------------------------------
# Tokenizer and parser: text -> a tree of _Field


@dataclass(frozen=True)
class _Field:
    """One ``name: value`` of a text proto; ``kind`` is string/int/float/ident/message."""

    name: str
    kind: str
    value: object
    line: int
    col: int


_TOKEN = re.compile(
    r"""(?P<space>[ \t\r\f\v]+|\n|\#[^\n]*)
      | (?P<number>-?(?:0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)[fF]?)
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<string>['"])
      | (?P<punct>[{}<>:\[\],;])""",
    re.VERBOSE,
)
_SIMPLE_ESCAPES = {
    "n": b"\n", "t": b"\t", "r": b"\r", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v",
    "\\": b"\\", "'": b"'", '"': b'"', "?": b"?",
}  # fmt: skip
_ESCAPE = re.compile(
    r"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|u([0-9a-fA-F]{4})|U([0-9a-fA-F]{8})|(.))", re.S
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number / ident / string / punct / eof
    text: str
    value: object
    line: int
    col: int

    def describe(self) -> str:
        return "end of file" if self.kind == "eof" else repr(self.text)


class _Parser:
    """Recursive descent over the token list; errors carry the offending token's position."""

    def __init__(self, text: str, path: str):
        self.path = path
        self.tokens = iter(self._tokenize(text))  # lazy: the first mistake is reported first
        self.ahead = next(self.tokens)

    def error(self, token: _Token | _Field, message: str) -> ConfigError:
        return ConfigError(f"{self.path}:{token.line}:{token.col}: {message}")

    def _tokenize(self, text: str) -> Iterable[_Token]:
        line, line_start, i = 1, 0, 0
        while i < len(text):
            m = _TOKEN.match(text, i)
            col = i - line_start + 1
            if m is None:
                raise ConfigError(f"{self.path}:{line}:{col}: unexpected character {text[i]!r}")
            kind = m.lastgroup
            if kind == "string":
                end, value = self._string(text, i, line, col)
                yield _Token("string", text[i:end], value, line, col)
                i = end
                continue
            i = m.end()
            if kind == "space":
                if m.group() == "\n":
                    line, line_start = line + 1, i
                continue
            value = self._number(m.group(), line, col) if kind == "number" else m.group()
            yield _Token(kind, m.group(), value, line, col)
        yield _Token("eof", "", None, line, i - line_start + 1)

    def _number(self, text: str, line: int, col: int) -> int | float:
        if re.fullmatch(r"-?0[xX][0-9a-fA-F]+", text):
            return int(text, 16)
        if re.fullmatch(r"-?0[0-7]+", text):
            return int(text, 8)
        if re.fullmatch(r"-?\d+", text):
            return int(text)
        body = text.rstrip("fF")  # a float suffix
        try:
            return float(body)
        except ValueError:
            raise ConfigError(f"{self.path}:{line}:{col}: bad number {text!r}") from None

    def _string(self, text: str, start: int, line: int, col: int) -> tuple[int, str]:
        quote, i = text[start], start + 1
        while i < len(text) and text[i] not in (quote, "\n"):
            i += 2 if text[i] == "\\" else 1
        if i >= len(text) or text[i] != quote:
            raise ConfigError(f"{self.path}:{line}:{col}: unterminated string")
        raw, out, last = text[start + 1 : i], bytearray(), 0
        for m in _ESCAPE.finditer(raw):
            out += raw[last : m.start()].encode()
            octal, hex2, u4, u8, simple = m.groups()
            if octal or hex2:
                out.append(int(octal, 8) & 0xFF if octal else int(hex2, 16))
            elif u4 or u8:
                out += chr(int(u4 or u8, 16)).encode("utf-8", "surrogatepass")
            elif simple in _SIMPLE_ESCAPES:
                out += _SIMPLE_ESCAPES[simple]
            else:
                raise ConfigError(f"{self.path}:{line}:{col}: bad escape \\{simple} in string")
            last = m.end()
        out += raw[last:].encode()
        try:
            return i + 1, out.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(f"{self.path}:{line}:{col}: string is not UTF-8") from None

    def next(self) -> _Token:
        token = self.ahead
        if token.kind != "eof":
            self.ahead = next(self.tokens)
        return token

    def peek(self, *punct: str) -> bool:
        token = self.ahead
        return token.kind == "punct" and token.text in punct

    def message(self, end: str | None) -> list[_Field]:
        """Fields up to ``end`` (a closing bracket) or to the end of the file when None."""
        fields: list[_Field] = []
        while True:
            token = self.next()
            if (end is None and token.kind == "eof") or (token.kind, token.text) == ("punct", end):
                return fields
            if token.kind == "eof":
                raise self.error(token, f"missing {end!r}")
            if token.text == "[":
                raise self.error(token, "extension and Any fields ([...]) are not supported")
            if token.kind != "ident":
                raise self.error(token, f"expected a field name, found {token.describe()}")
            fields.extend(self.field_values(token))
            if self.peek(",", ";"):
                self.next()

    def field_values(self, name: _Token) -> list[_Field]:
        colon = self.peek(":")
        if colon:
            self.next()
        if self.peek("{", "<"):
            return [self.value(name)]
        if self.peek("["):  # a list; TF also accepts `field [ {...} ]` without the colon
            self.next()
            values = []
            while not self.peek("]"):
                values.append(self.value(name))
                if not self.peek("]"):
                    self.expect(",", f"expected ',' or ']' in the list of '{name.text}'")
            self.next()
            return values
        if not colon:
            raise self.error(self.ahead, f"expected ':' after field '{name.text}'")
        return [self.value(name)]

    def expect(self, punct: str, message: str) -> None:
        token = self.next()
        if (token.kind, token.text) != ("punct", punct):
            raise self.error(token, f"{message}, found {token.describe()}")

    def value(self, name: _Token) -> _Field:
        token, at = self.next(), name.text
        if token.kind == "punct" and token.text in "{<":
            inner = self.message("}" if token.text == "{" else ">")
            return _Field(at, "message", inner, name.line, name.col)
        if token.kind == "string":
            parts = [token.value]
            while self.ahead.kind == "string":
                parts.append(self.next().value)
            return _Field(at, "string", "".join(parts), name.line, name.col)
        if token.kind == "number":
            kind = "int" if isinstance(token.value, int) else "float"
            return _Field(at, kind, token.value, name.line, name.col)
        if token.kind == "ident":
            return _Field(at, "ident", token.text, name.line, name.col)
        raise self.error(token, f"expected a value for '{name.text}', found {token.describe()}")


class _Message:
    """The fields of one message, consumed by name; whatever is left over is an unknown field."""

    def __init__(self, fields: list[_Field], parser: _Parser, type_name: str):
        self.fields, self.parser, self.type_name = list(fields), parser, type_name

    def error(self, f: _Field, message: str) -> ConfigError:
        return self.parser.error(f, message)

    def take(self, name: str) -> list[_Field]:
        taken = [f for f in self.fields if f.name == name]
        self.fields = [f for f in self.fields if f.name != name]
        return taken

    def one(self, name: str) -> _Field | None:
        taken = self.take(name)
        if len(taken) > 1:
            raise self.error(taken[1], f"non-repeated field '{name}' is specified more than once")
        return taken[0] if taken else None

    def finish(self) -> None:
        if self.fields:
            f = self.fields[0]
            raise self.error(f, f"unknown field '{f.name}' in {self.type_name}")

    def string(self, f: _Field) -> str:
        if f.kind != "string":
            raise self.error(f, f"field '{f.name}' must be a string")
        return f.value  # type: ignore[return-value]

    def int(self, f: _Field) -> int:
        if f.kind != "int":
            raise self.error(f, f"field '{f.name}' must be an integer")
        return f.value  # type: ignore[return-value]

    def bool(self, f: _Field) -> bool:
        truth = {"true": True, "True": True, "t": True, "false": False, "False": False, "f": False}
        if f.kind == "int" and f.value in (0, 1):
            return bool(f.value)
        if f.kind != "ident" or f.value not in truth:
            raise self.error(f, f"field '{f.name}' must be true or false")
        return truth[f.value]  # type: ignore[index]

    def message(self, f: _Field, type_name: str) -> _Message:
        if f.kind != "message":
            raise self.error(f, f"field '{f.name}' must be a message ({f.name} {{ ... }})")
        return _Message(f.value, self.parser, type_name)  # type: ignore[arg-type]


def _parse_file(path: str | os.PathLike, type_name: str) -> _Message:
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from None
    parser = _Parser(text, path)
    return _Message(parser.message(None), parser, type_name)


# ---------------------------------------------------------------------------------------------
# Model config


@dataclass(frozen=True)
class VersionPolicy:
    """Which versions under a base path are served (TF's ``ServableVersionPolicy``)."""

    kind: str = "latest"  # "latest" | "all" | "specific"
    num_versions: int = 1
    versions: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("latest", "all", "specific"):
            raise ConfigError(f"unknown version policy {self.kind!r}")
        if self.num_versions < 1:
            raise ConfigError(f"num_versions must be at least 1, not {self.num_versions}")
        object.__setattr__(self, "versions", tuple(sorted(set(self.versions))))

    def wanted(self, available: Iterable[int]) -> list[int]:
        """The versions to serve among ``available``, ascending; a listed absent one is skipped."""
        present = sorted(set(available))
        if self.kind == "latest":
            return present[-self.num_versions :]
        if self.kind == "all":
            return present
        return [v for v in present if v in self.versions]


def _frozen_labels(labels: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(labels or {}))


@dataclass(frozen=True)
class ModelConfig:
    """One served model. ``labels`` maps a version label to a version (a read-only mapping)."""

    name: str
    base_path: str
    policy: VersionPolicy = VersionPolicy("latest")
    labels: Mapping[str, int] = field(default_factory=_frozen_labels, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", _frozen_labels(self.labels))


def model_config_from_flags(name: str, base_path: str) -> ModelConfig:
    """``--model_name`` / ``--model_base_path``; a relative path is taken from the working
    directory, as a path typed in a shell is (and as TF Serving does)."""
    if not name:
        raise ConfigError("--model_name must not be empty")
    if not base_path:
        raise ConfigError("--model_base_path is required (or give --model_config_file)")
    _reject_uri(base_path, "--model_base_path")
    return ModelConfig(name, os.path.abspath(base_path))


def _reject_uri(base_path: str, where: str) -> None:
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", base_path):
        raise ConfigError(f"{where}: only local directories are supported, not {base_path!r}")


def read_model_config(path: str | os.PathLike) -> list[ModelConfig]:
    """The models of a ``--model_config_file`` (``model_config_list { config { ... } ... }``).

    A relative ``base_path`` is resolved against the config file's directory. TF Serving uses
    the server's working directory instead (``/`` in its Docker image), so TF configs use
    absolute paths, which mean the same here; a relative path then only appears in configs
    written for flowlog, and anchoring it to the file keeps a config that lives next to its
    models valid wherever the server is started from.

    A file without ``model_config_list`` is an error (an empty or half-written file on a reload
    must not unload every model); ``model_config_list {}`` is a valid empty list.
    ``model_platform`` may be omitted, ``'tensorflow'`` or ``'flowlog'``; ``logging_config``,
    ``model_type`` and ``custom_model_config`` are rejected, like any unknown field.
    """
    top = _parse_file(path, "ModelServerConfig")
    lists = top.take("model_config_list")
    top.finish()
    if not lists:
        raise ConfigError(f"{os.fspath(path)}:1:1: no model_config_list in model config file")
    if len(lists) > 1:
        raise top.error(lists[1], "non-repeated field 'model_config_list' is specified twice")
    models = top.message(lists[0], "ModelConfigList")
    base_dir = os.path.dirname(os.path.abspath(os.fspath(path)))
    configs: list[ModelConfig] = []
    seen: set[str] = set()
    for f in models.take("config"):
        config = _model_config(models.message(f, "ModelConfig"), f, base_dir)
        if config.name in seen:
            raise models.error(f, f"duplicate model name {config.name!r}")
        seen.add(config.name)
        configs.append(config)
    models.finish()
    return configs


def _model_config(msg: _Message, at: _Field, base_dir: str) -> ModelConfig:
    name_f, base_f = msg.one("name"), msg.one("base_path")
    if name_f is None or not msg.string(name_f):
        raise msg.error(name_f or at, "model config needs a non-empty 'name'")
    name = msg.string(name_f)
    if base_f is None or not msg.string(base_f):
        raise msg.error(base_f or at, f"model {name!r} needs a non-empty 'base_path'")
    base_path = msg.string(base_f)
    _reject_uri(base_path, f"{msg.parser.path}:{base_f.line}:{base_f.col}: base_path")
    platform = msg.one("model_platform")
    if platform is not None and msg.string(platform) not in ("tensorflow", "flowlog"):
        message = f"model_platform {msg.string(platform)!r} is not served (use 'tensorflow')"
        raise msg.error(platform, message)
    policy_f = msg.one("model_version_policy")
    policy = VersionPolicy() if policy_f is None else _policy(msg.message(policy_f, "policy"))
    labels = _labels(msg, msg.take("version_labels"))
    msg.finish()
    return ModelConfig(name, os.path.join(base_dir, base_path), policy, labels)


def _policy(msg: _Message) -> VersionPolicy:
    kinds = [f for name in ("latest", "all", "specific") if (f := msg.one(name)) is not None]
    msg.finish()
    if len(kinds) > 1:
        raise msg.error(kinds[1], "model_version_policy takes one of latest, all, specific")
    if not kinds:
        return VersionPolicy()
    f = kinds[0]
    inner = msg.message(f, f.name)
    if f.name == "latest":
        n = inner.one("num_versions")
        inner.finish()
        num = 1 if n is None else inner.int(n)
        if num < 1:
            raise inner.error(n, f"num_versions must be at least 1, not {num}")  # type: ignore[arg-type]
        return VersionPolicy("latest", num_versions=num)
    if f.name == "all":
        inner.finish()
        return VersionPolicy("all")
    versions = tuple(inner.int(v) for v in inner.take("versions"))
    inner.finish()
    if not versions:
        raise inner.error(f, "specific { } needs at least one 'versions: N'")
    return VersionPolicy("specific", versions=versions)


def _labels(msg: _Message, fields: list[_Field]) -> dict[str, int]:
    labels: dict[str, int] = {}
    for f in fields:
        entry = msg.message(f, "version_labels")
        key, value = entry.one("key"), entry.one("value")
        entry.finish()
        if key is None or not entry.string(key) or value is None:
            raise entry.error(f, "version_labels needs a non-empty 'key' and a 'value'")
        label = entry.string(key)
        if label in labels:
            raise entry.error(key, f"version label {label!r} is defined twice")
        labels[label] = entry.int(value)
    return labels


# ---------------------------------------------------------------------------------------------
# Batching parameters

# Fields TF Serving accepts that flowlog parses but does not act on, with what that means.
# Each one leaves every answer the same (only batch shapes or thread placement differ), so
# they warn instead of failing a config written for TF. Anything else unknown is an error.
_IGNORED_BATCHING = {
    "thread_pool_name": "one batching thread pool serves every model",
    "allowed_batch_sizes": "batches are not padded up to an allowed size",
    "pad_variable_length_inputs": "inputs are not padded; requests with different trailing "
    "shapes are batched separately",
    "enable_large_batch_splitting": "a request larger than max_batch_size still gets 400",
    "max_execution_batch_size": "batches are capped by max_batch_size",
    "batch_padding_policy": "batches are not padded",
}
_WRAPPED_BATCHING = {  # field -> smallest valid value
    "max_batch_size": 1,
    "batch_timeout_micros": 0,
    "num_batch_threads": 1,
    "max_enqueued_batches": 1,
}
_BOOL_BATCHING = ("pad_variable_length_inputs", "enable_large_batch_splitting")


@dataclass(frozen=True)
class BatchingParameters:
    """The ``--batching_parameters_file`` settings that flowlog's batcher uses (TF defaults).

    ``warnings`` lists the TF fields found in the file but ignored (see ``_IGNORED_BATCHING``).
    """

    max_batch_size: int = 1000
    batch_timeout_micros: int = 0
    num_batch_threads: int = os.cpu_count() or 1
    max_enqueued_batches: int = 10
    warnings: tuple[str, ...] = field(default=(), compare=False)


def read_batching_parameters(path: str | os.PathLike) -> BatchingParameters:
    """Parse ``max_batch_size { value: 128 } batch_timeout_micros { value: 1000 } ...``."""
    msg = _parse_file(path, "BatchingParameters")
    values: dict[str, int] = {}
    for name, smallest in _WRAPPED_BATCHING.items():
        f = msg.one(name)
        if f is not None:
            values[name] = _wrapped_int(msg, f)
            if values[name] < smallest:
                raise msg.error(f, f"{name} must be at least {smallest}, not {values[name]}")
    warnings = []
    for name, consequence in _IGNORED_BATCHING.items():
        for f in msg.take(name):
            if name in _BOOL_BATCHING and msg.bool(f) is False:
                continue  # an explicit "off" is what flowlog does anyway
            warnings.append(f"{msg.parser.path}:{f.line}:{f.col}: {name} ignored: {consequence}")
    msg.finish()
    return BatchingParameters(**values, warnings=tuple(warnings))


def _wrapped_int(msg: _Message, f: _Field) -> int:
    """An ``Int64Value`` wrapper: ``name { value: N }`` (``name: N`` is a common slip, refused)."""
    if f.kind != "message":
        raise msg.error(f, f"field '{f.name}' is a wrapper: write {f.name} {{ value: N }}")
    inner = msg.message(f, f.name)
    value = inner.one("value")
    inner.finish()
    return 0 if value is None else inner.int(value)
