"""The one orjson codec, used at every edge where bytes become models and back."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class DecodeError(ValueError):
    """Raised when bytes are not a valid message of the expected model."""


def encode(model: BaseModel) -> bytes:
    """Serialize a model to compact JSON bytes (``None`` fields kept: the contract is explicit)."""
    return orjson.dumps(model.model_dump(mode="json"))


def decode(data: bytes | str | None, model: type[M]) -> M:
    """Parse JSON bytes into ``model``; any failure becomes a :class:`DecodeError` with a clear reason."""
    if data is None:
        raise DecodeError("empty message (no value)")
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise DecodeError(f"expected a JSON object, got {type(obj).__name__}")
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        details = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors()
        )
        raise DecodeError(f"invalid {model.__name__}: {details}") from exc
