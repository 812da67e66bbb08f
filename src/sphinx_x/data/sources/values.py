"""Typed reads of annotation values: a reader checks every value's type before it uses it, so any JSON
value in any field (null, NaN, a list where a string belongs, ...) is a countable
:class:`~sphinx_x.data.records.RecordError`, never a traceback and never text such as ``"None"``.

:func:`convert_safely` is the last net around one item's conversion: a value no explicit check
caught becomes an ``unexpected_value`` reject naming the exception, and the reader goes on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar

from sphinx_x.data.records import RecordError, json_kind, short_repr

T = TypeVar("T")


class SourceOptionError(ValueError):
    """A source's ``options`` cannot work: a config error, raised (never counted as a reject)."""


def as_object(value: Any, what: str, rid: str | None) -> dict[str, Any]:
    """``value`` when it is a JSON object; null -> ``missing_field``, anything else -> ``bad_type``."""
    if isinstance(value, dict):
        return value
    raise _error(value, what, "an object", rid)


def as_item(value: Any, rid: str | None) -> dict[str, Any]:
    """One item of a dataset (a list entry or a line) when it is an object; else ``malformed_item``."""
    if isinstance(value, dict):
        return value
    raise RecordError("malformed_item", f"expected an object, got {json_kind(value)} {short_repr(value)}", rid)


def as_list(value: Any, what: str, rid: str | None, empty: bool = True) -> list[Any]:
    """``value`` when it is a JSON list (non-empty unless ``empty``)."""
    if not isinstance(value, list):
        raise _error(value, what, "a list", rid)
    if not empty and not value:
        raise RecordError("empty_field", what, rid)
    return value


def text(value: Any, what: str, rid: str | None, numbers: bool = False, reason: str = "empty_field") -> str:
    """A stripped, non-empty string; with ``numbers`` a finite number is written as text (``2``, ``0.5``).

    null -> ``missing_field``; blank -> ``reason``; booleans, lists, objects, NaN -> ``bad_type``.
    """
    if numbers and is_number(value):
        value = str(value)
    if not isinstance(value, str):
        raise _error(value, what, "a string" + (" or a number" if numbers else ""), rid)
    if not value.strip():
        raise RecordError(reason, what, rid)
    if not _is_unicode(value):
        raise RecordError("bad_text", f"{what}: not valid Unicode (a lone surrogate)", rid)
    return value.strip()


def field_text(item: dict[str, Any], key: str, rid: str | None, numbers: bool = False,
               reason: str = "empty_field") -> str:
    """:func:`text` of ``item[key]`` (an absent key is ``missing_field``)."""
    return text(item.get(key), key, rid, numbers, reason)


def number(value: Any, what: str, rid: str | None, reason: str = "bad_type") -> float:
    """A finite number; a numeric string is accepted (XML and CSV annotations hold text)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise RecordError(reason, f"{what}: not a number: {short_repr(value)}", rid) from None
    if not is_number(value):
        raise RecordError(reason, f"{what}: not a finite number: {short_repr(value)}", rid)
    return float(value)


def integer(value: Any, what: str, rid: str | None) -> int:
    """A JSON integer (not a boolean)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise _error(value, what, "an integer", rid)


def is_number(value: Any) -> bool:
    """An int or float that is finite (booleans are not numbers here)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_key(value: Any) -> bool:
    """An id usable as a key and in a record id: an integer, or a short one-line string."""
    if isinstance(value, str):
        return bool(value.strip()) and len(value) <= 200 and "\n" not in value and _is_unicode(value)
    return isinstance(value, int) and not isinstance(value, bool)


def key_of(value: Any, fallback: Any) -> str:
    """An item's id as it may appear in a record id: :func:`is_key` ids, else ``fallback``."""
    return str(value).strip() if is_key(value) else str(fallback)


def _is_unicode(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def convert_safely(convert: Callable[..., T], *args: Any, rid: str | None, where: str | None = None
                   ) -> T | RecordError:
    """``convert(*args)``, or the RecordError it raised (located at ``where``); a type or lookup error
    that no explicit check caught becomes an ``unexpected_value`` reject. Option errors are raised."""
    try:
        return convert(*args)
    except SourceOptionError:
        raise
    except RecordError as error:
        error.where = error.where or where
        return error
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as e:
        return RecordError("unexpected_value", f"{type(e).__name__}: {short_repr(str(e), 200)}", rid, where)


def _error(value: Any, what: str, expected: str, rid: str | None) -> RecordError:
    if value is None:
        return RecordError("missing_field", what, rid)
    return RecordError("bad_type", f"{what}: expected {expected}, got {json_kind(value)} {short_repr(value)}", rid)
