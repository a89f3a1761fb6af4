"""The model table and the price table (model-protocol.md): the one place both are defined."""

from __future__ import annotations

import os

from webtasks.models import ModelName, TokenUsage

MODEL_IDS: dict[ModelName, str] = {
    "haiku": "claude-haiku-4-5",
    "sonnet": "claude-sonnet-4-5",
    "opus": "claude-opus-4-5",
}
# USD per million tokens: (input, output). Cache writes cost 1.25x input, cache reads 0.1x input.
PRICES: dict[ModelName, tuple[float, float]] = {
    "haiku": (1.0, 5.0),
    "sonnet": (3.0, 15.0),
    "opus": (5.0, 25.0),
}
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1


def model_id(name: ModelName) -> str:
    """The concrete model id, overridable with WEBTASKS_MODEL_HAIKU / _SONNET / _OPUS."""
    return os.environ.get(f"WEBTASKS_MODEL_{name.upper()}", MODEL_IDS[name])


def cost_usd(name: ModelName, usage: TokenUsage) -> float:
    """Tokens times the model's published price; not rounded."""
    input_price, output_price = PRICES[name]
    return (
        usage.input_tokens * input_price
        + usage.output_tokens * output_price
        + usage.cache_creation_input_tokens * input_price * CACHE_WRITE_FACTOR
        + usage.cache_read_input_tokens * input_price * CACHE_READ_FACTOR
    ) / 1_000_000
