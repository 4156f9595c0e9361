"""JSON from untrusted files, read within bounds, and JSON Schema errors as one line naming the JSON path.

:func:`loads` accepts exactly what RFC 8259 calls JSON and what every later step can handle:

- at most :data:`MAX_DEPTH` levels of nested arrays and objects (checked on the text before parsing, so 100,000
  levels cost a regular-expression scan, not a ``RecursionError``);
- integers of at most :data:`MAX_INT_DIGITS` digits (Python refuses to convert more than 4,300);
- no ``NaN``, ``Infinity`` or number that overflows to infinity (``1e999``): not JSON, and writing them back
  gives text no JSON parser reads;
- no lone UTF-16 surrogate escape (``"\\ud800"``): such a string cannot be encoded as UTF-8;
- (:func:`read_file`) a bounded file size, read as UTF-8.

Every refusal is a :class:`JsonInputError` with a one-line message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # jsonschema is imported only where a schema is checked (``scp lint`` never loads it)
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

MAX_DEPTH = 128
MAX_INT_DIGITS = 64
MAX_FILE_BYTES = 256 * 1024 * 1024

_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonInputError(ValueError):
    """Text that is not acceptable JSON; ``str()`` is one line. ``line``/``column`` are 1-based, 0 when unknown."""

    def __init__(self, source: str, reason: str, line: int = 0, column: int = 0) -> None:
        super().__init__(
            f"{source}: not JSON ({reason} at line {line} column {column})" if line else f"{source}: {reason}"
        )
        self.source, self.reason, self.line, self.column = source, reason, line, column


class _Refused(ValueError):
    """Raised inside the parser's hooks; turned into a JsonInputError naming the source."""


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in JSON ``text`` (brackets inside strings do not count)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def _reject_constant(name: str) -> Any:
    raise _Refused(f"holds {name}, which is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"holds the number {text[:40]}, out of range of a double")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"holds an integer of {len(text.lstrip('-')):,} digits (at most {MAX_INT_DIGITS} are read)")
    return int(text)


def _strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(text: str, source: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse JSON ``text`` within the bounds of the module doc; ``source`` names it in the error."""
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonInputError(source, f"JSON nested {depth:,} levels deep (at most {max_depth} are read)")
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float, parse_int=_bounded_int)
    except json.JSONDecodeError as exc:
        raise JsonInputError(source, exc.msg, exc.lineno, exc.colno) from None
    except _Refused as exc:
        raise JsonInputError(source, str(exc)) from None
    except (RecursionError, ValueError) as exc:  # defensive: bounded above, but never a traceback
        raise JsonInputError(source, f"not JSON that can be read ({type(exc).__name__})") from None
    if _SURROGATE_ESCAPE.search(text) and any(_SURROGATE.search(s) for s in _strings(value)):
        raise JsonInputError(source, "holds a \\u escape of a lone UTF-16 surrogate, which is not a character")
    return value


def read_text(path: str | Path, source: str, *, max_bytes: int = MAX_FILE_BYTES) -> str:
    """The UTF-8 text of a regular file of at most ``max_bytes``; ``FileNotFoundError`` is left to the caller."""
    file = Path(path)
    if file.is_dir():
        raise JsonInputError(source, "a directory, not a file")
    try:
        with file.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise JsonInputError(source, f"cannot read: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise JsonInputError(source, f"larger than {max_bytes:,} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(source, f"not UTF-8 (byte {exc.start})") from None


def dumps(value: Any, *, indent: int | None = 2) -> str:
    """Pretty JSON with a trailing newline; never writes NaN or Infinity (ValueError instead)."""
    return json.dumps(value, indent=indent, allow_nan=False) + "\n"


# -- JSON Schema --------------------------------------------------------------------------------

_JSON_TYPES = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def json_path(prefix: str, parts: Any) -> str:
    """``values.root_module.resources[3].values.read_capacity`` from a prefix and path parts."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", part):
            path += f".{part}" if path else part
        else:
            path += f"[{json.dumps(part)}]"
    return path


def describe(value: Any) -> str:
    """A short description of a JSON value for error messages (never the whole of a large value)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value)
        return f"the number {text if len(text) <= 24 else text[:20] + '...'}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {json.dumps(shown)}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return f"an object of {len(value)} key(s)"
    return type(value).__name__


def _expected(types: Any) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_JSON_TYPES.get(name, name) for name in names)


def error_text(error: ValidationError) -> str:
    """What is wrong at the error's location, in words (the path is added by :func:`schema_problem`)."""
    validator, value, instance = error.validator, error.validator_value, error.instance
    if validator == "type":
        return f"expected {_expected(value)}, got {describe(instance)}"
    if validator == "required":
        missing = [key for key in value if isinstance(instance, dict) and key not in instance]
        return f"missing the required key {json.dumps(missing[0] if missing else '?')}"
    if validator == "format":
        cause = error.cause
        if isinstance(cause, JsonInputError):
            detail = (
                f" ({cause.reason} at line {cause.line} column {cause.column})" if cause.line else f" ({cause.reason})"
            )
        else:
            detail = f" ({cause})" if cause else ""
        return f"{describe(instance)} is not {value.upper() if value == 'json' else value} text{detail}"
    if validator in ("anyOf", "oneOf"):
        here = [e for e in error.context or () if not e.relative_path and e.validator == "type"]
        if here and len(here) == len([e for e in error.context or () if not e.relative_path]):
            types: list[str] = []
            for branch in here:
                types.extend(
                    [branch.validator_value] if isinstance(branch.validator_value, str) else branch.validator_value
                )
            return f"expected {_expected(dict.fromkeys(types))}, got {describe(instance)}"
        return f"{describe(instance)} matches none of the allowed shapes"
    if validator in ("enum", "const"):
        allowed = value if validator == "enum" else [value]
        return f"expected one of {', '.join(json.dumps(a) for a in allowed)}, got {describe(instance)}"
    if validator == "pattern":
        return f"{describe(instance)} does not match {value}"
    if validator in ("minItems", "minProperties", "minLength"):
        return f"{describe(instance)} is empty or too short (at least {value})"
    if validator in ("maxItems", "maxProperties", "maxLength"):
        return f"{describe(instance)} is too long (at most {value})"
    if validator == "additionalProperties":
        extra = sorted(set(instance) - set(error.schema.get("properties", {}))) if isinstance(instance, dict) else []
        return f"unexpected key {json.dumps(extra[0]) if extra else '?'}"
    message = error.message
    return message if len(message) <= 120 else message[:117] + "..."


def schema_problem(validator: Draft202012Validator, instance: Any, prefix: str = "") -> str | None:
    """``PATH: what is wrong`` for the most relevant schema error of ``instance``, or ``None`` when valid."""
    from jsonschema.exceptions import best_match

    error = best_match(validator.iter_errors(instance))
    if error is None:
        return None
    path = json_path(prefix, error.absolute_path)
    return f"{path}: {error_text(error)}" if path else error_text(error)
