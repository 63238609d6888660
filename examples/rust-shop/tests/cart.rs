use shop::cart::Cart;

#[test]
fn an_empty_cart_costs_nothing() {
    assert_eq!(Cart::new().total(), 0.0);
}
