//! A shopping cart with discount codes.

use std::collections::BTreeMap;

use crate::pricing::apply_discount;

const CODES: [(&str, f64); 2] = [("WELCOME10", 10.0), ("VIP25", 25.0)];

/// Items by name, and at most one discount code.
#[derive(Default)]
pub struct Cart {
    items: BTreeMap<String, (f64, u32)>,
    code: Option<(&'static str, f64)>,
}

impl Cart {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `quantity` units of `name` at `price`; zero units is an error.
    pub fn add(&mut self, name: &str, price: f64, quantity: u32) -> Result<(), String> {
        if quantity == 0 {
            return Err("quantity must be positive".to_string());
        }
        let entry = self.items.entry(name.to_string()).or_insert((price, 0));
        entry.1 += quantity;
        Ok(())
    }

    /// Takes `name` out; false when it was not there.
    pub fn remove(&mut self, name: &str) -> bool {
        self.items.remove(name).is_some()
    }

    /// Applies a known code, whatever its case.
    pub fn use_code(&mut self, code: &str) -> bool {
        let wanted = code.to_uppercase();
        match CODES.iter().find(|(name, _)| *name == wanted) {
            Some(found) => {
                self.code = Some(*found);
                true
            }
            None => false,
        }
    }

    /// The sum of the items, discounted by the code if any.
    pub fn total(&self) -> f64 {
        let sum: f64 = self.items.values().map(|(price, n)| price * f64::from(*n)).sum();
        match self.code {
            Some((_, percent)) => apply_discount(sum, percent).unwrap_or(sum),
            None => sum,
        }
    }
}
