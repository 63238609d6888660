package shop;

import java.util.Arrays;

/** Price rules. */
public final class Pricing {
    private Pricing() {}

    /** price reduced by percent (0..100), rounded to cents. */
    public static double applyDiscount(double price, double percent) {
        if (price < 0) {
            throw new IllegalArgumentException("price must not be negative");
        }
        if (percent < 0 || percent > 100) {
            throw new IllegalArgumentException("percent must be between 0 and 100");
        }
        return Math.round(price * (100 - percent)) / 100.0;
    }

    /** The price of quantity units: 5% off from 10 units, 10% off from 100. */
    public static double bulkPrice(double unit, int quantity) {
        double total = unit * quantity;
        if (quantity >= 100) {
            return applyDiscount(total, 10);
        } else if (quantity >= 10) {
            return applyDiscount(total, 5);
        }
        return total;
    }

    /** The middle value, or for an even count the mean of the two middle values. */
    public static double median(double[] values) {
        if (values.length == 0) {
            throw new IllegalArgumentException("median of an empty list");
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int middle = sorted.length / 2;
        // Bug: an even count should average sorted[middle - 1] and sorted[middle].
        return sorted[middle];
    }
}
