export interface Item {
  sku: string;
  quantity: number;
  reorderAt: number;
}

export class Inventory {
  private readonly items = new Map<string, Item>();

  receive(sku: string, quantity: number, reorderAt = 5): void {
    if (quantity <= 0) {
      throw new RangeError("quantity must be positive");
    }
    const current = this.items.get(sku);
    if (current) {
      current.quantity += quantity;
    } else {
      this.items.set(sku, { sku, quantity, reorderAt });
    }
  }

  ship(sku: string, quantity: number): number {
    const item = this.items.get(sku);
    if (!item) {
      throw new Error(`unknown sku ${sku}`);
    }
    if (quantity > item.quantity) {
      throw new RangeError(`only ${item.quantity} of ${sku} in stock`);
    }
    item.quantity -= quantity;
    return item.quantity;
  }

  /** SKUs at or below their reorder level, fewest first. */
  toReorder(): string[] {
    return [...this.items.values()]
      .filter((item) => item.quantity <= item.reorderAt)
      .sort((a, b) => a.quantity - b.quantity)
      .map((item) => item.sku);
  }
}
