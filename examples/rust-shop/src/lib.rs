//! A shop's prices and carts.

pub mod cart;
pub mod pricing;
