"""A shopping cart."""

from __future__ import annotations

from shop.pricing import apply_discount

CODES = {"WELCOME10": 10, "HALF": 50}


class Cart:
    def __init__(self) -> None:
        self.items: dict[str, tuple[float, int]] = {}
        self.code: str | None = None

    def add(self, name: str, price: float, quantity: int = 1) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        _, held = self.items.get(name, (price, 0))
        self.items[name] = (price, held + quantity)

    def remove(self, name: str) -> None:
        if name not in self.items:
            raise KeyError(name)
        del self.items[name]

    def use_code(self, code: str) -> bool:
        """Apply a discount code; returns False for an unknown code."""
        if code.upper() not in CODES:
            return False
        self.code = code.upper()
        return True

    def subtotal(self) -> float:
        return round(sum(price * qty for price, qty in self.items.values()), 2)

    def total(self) -> float:
        subtotal = self.subtotal()
        if not self.items:
            return 0.0
        if self.code is None:
            return subtotal
        return apply_discount(subtotal, CODES[self.code])
