package shop;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class CartTest {
    @Test
    void anEmptyCartCostsNothing() {
        assertEquals(0.0, new Cart().total());
    }
}
