"use strict";

/** Price after a percentage discount; the percentage must be within 0..100. */
function applyDiscount(price, percent) {
  if (price < 0) {
    throw new RangeError("price must not be negative");
  }
  if (percent < 0 || percent > 100) {
    throw new RangeError("percent must be between 0 and 100");
  }
  return Math.round(price * (100 - percent)) / 100;
}

/** Unit price for a quantity: 5% off from 10 units, 10% off from 100. */
function bulkPrice(unit, quantity) {
  if (quantity >= 100) {
    return applyDiscount(unit * quantity, 10);
  }
  if (quantity >= 10) {
    return applyDiscount(unit * quantity, 5);
  }
  return unit * quantity;
}

/** The median of a list of numbers: the mean of the two middle values for an even count. */
function median(values) {
  if (values.length === 0) {
    throw new Error("median of an empty list");
  }
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  // Bug: an even count should average sorted[middle - 1] and sorted[middle].
  return sorted[middle];
}

module.exports = { applyDiscount, bulkPrice, median };
