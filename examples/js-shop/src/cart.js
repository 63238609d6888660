"use strict";

const { applyDiscount } = require("./pricing.js");

const CODES = { WELCOME10: 10, VIP25: 25 };

class Cart {
  constructor() {
    this.items = new Map();
    this.code = null;
  }

  add(name, price, quantity = 1) {
    if (quantity <= 0) {
      throw new RangeError("quantity must be positive");
    }
    const current = this.items.get(name);
    const count = current ? current.quantity + quantity : quantity;
    this.items.set(name, { price, quantity: count });
  }

  remove(name) {
    if (!this.items.has(name)) {
      return false;
    }
    this.items.delete(name);
    return true;
  }

  useCode(code) {
    const normalized = String(code).toUpperCase();
    if (!(normalized in CODES)) {
      return false;
    }
    this.code = normalized;
    return true;
  }

  total() {
    let sum = 0;
    for (const { price, quantity } of this.items.values()) {
      sum += price * quantity;
    }
    return this.code ? applyDiscount(sum, CODES[this.code]) : sum;
  }
}

module.exports = { Cart };
