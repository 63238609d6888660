package shop;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** A shopping cart with discount codes. */
public final class Cart {
    private static final Map<String, Double> CODES = Map.of("WELCOME10", 10.0, "VIP25", 25.0);

    private final Map<String, double[]> items = new LinkedHashMap<>();
    private String code;

    /** Adds quantity units of name at price. */
    public void add(String name, double price, int quantity) {
        if (quantity <= 0) {
            throw new IllegalArgumentException("quantity must be positive");
        }
        double[] line = items.computeIfAbsent(name, k -> new double[] {price, 0});
        line[1] += quantity;
    }

    /** Takes name out; false when it was not there. */
    public boolean remove(String name) {
        return items.remove(name) != null;
    }

    /** Applies a known code, whatever its case. */
    public boolean useCode(String candidate) {
        String normalized = candidate.toUpperCase(Locale.ROOT);
        if (!CODES.containsKey(normalized)) {
            return false;
        }
        code = normalized;
        return true;
    }

    /** The sum of the items, discounted by the code if any. */
    public double total() {
        double sum = 0;
        for (double[] line : items.values()) {
            sum += line[0] * line[1];
        }
        return code == null ? sum : Pricing.applyDiscount(sum, CODES.get(code));
    }
}
