"""Pricing rules."""

from __future__ import annotations


def apply_discount(price: float, percent: float) -> float:
    """The price after a percentage discount, rounded to cents.

    Raises ValueError for a negative price or a percent outside 0..100.
    """
    if price < 0:
        raise ValueError("price must not be negative")
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price * (100 - percent) / 100, 2)


def bulk_price(unit_price: float, quantity: int) -> float:
    """Total for `quantity` units: 5% off from 10 units, 10% off from 100 units."""
    if quantity <= 0:
        return 0.0
    total = unit_price * quantity
    if quantity >= 100:
        return apply_discount(total, 10)
    if quantity >= 10:
        return apply_discount(total, 5)
    return round(total, 2)


def median(values: list[float]) -> float:
    """The median of `values`: the middle value, or for an even count the mean of the two
    middle values. Raises ValueError for an empty list."""
    if not values:
        raise ValueError("median of an empty list")
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[middle]
    return ordered[middle]  # bug: should be (ordered[middle - 1] + ordered[middle]) / 2
