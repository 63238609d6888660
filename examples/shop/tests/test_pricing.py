from shop.pricing import apply_discount, median


def test_discount():
    assert apply_discount(100.0, 25) == 75.0


def test_median_of_odd_count():
    assert median([3, 1, 2]) == 2
