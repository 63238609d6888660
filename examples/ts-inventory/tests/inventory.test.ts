import { describe, expect, it } from "vitest";
import { Inventory } from "../src/inventory";

describe("Inventory", () => {
  it("receives stock", () => {
    const stock = new Inventory();
    stock.receive("pen", 10);
    expect(stock.ship("pen", 3)).toBe(7);
  });
});
