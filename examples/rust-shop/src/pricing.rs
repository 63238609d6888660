//! Price rules.

/// Why a price could not be computed.
#[derive(Debug, PartialEq)]
pub enum PriceError {
    NegativePrice,
    PercentOutOfRange,
    Empty,
}

/// `price` reduced by `percent` (0..=100), rounded to cents.
pub fn apply_discount(price: f64, percent: f64) -> Result<f64, PriceError> {
    if price < 0.0 {
        return Err(PriceError::NegativePrice);
    }
    if !(0.0..=100.0).contains(&percent) {
        return Err(PriceError::PercentOutOfRange);
    }
    Ok((price * (100.0 - percent)).round() / 100.0)
}

/// The price of `quantity` units: 5% off from 10 units, 10% off from 100.
pub fn bulk_price(unit: f64, quantity: u32) -> f64 {
    let total = unit * f64::from(quantity);
    let percent = if quantity >= 100 {
        10.0
    } else if quantity >= 10 {
        5.0
    } else {
        return total;
    };
    apply_discount(total, percent).unwrap_or(total)
}

/// The middle value, or for an even count the mean of the two middle values.
pub fn median(values: &[f64]) -> Result<f64, PriceError> {
    if values.is_empty() {
        return Err(PriceError::Empty);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let middle = sorted.len() / 2;
    // Bug: an even count should average sorted[middle - 1] and sorted[middle].
    Ok(sorted[middle])
}
