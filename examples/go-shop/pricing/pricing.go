// Package pricing holds the shop's price rules.
package pricing

import (
	"errors"
	"math"
	"sort"
)

// ErrBadInput is returned for negative prices and out-of-range percentages.
var ErrBadInput = errors.New("bad input")

// ApplyDiscount returns price reduced by percent (0..100), rounded to cents.
func ApplyDiscount(price, percent float64) (float64, error) {
	if price < 0 {
		return 0, ErrBadInput
	}
	if percent < 0 || percent > 100 {
		return 0, ErrBadInput
	}
	return math.Round(price*(100-percent)) / 100, nil
}

// BulkPrice is the price of quantity units: 5% off from 10 units, 10% off from 100.
func BulkPrice(unit float64, quantity int) float64 {
	total := unit * float64(quantity)
	switch {
	case quantity >= 100:
		discounted, _ := ApplyDiscount(total, 10)
		return discounted
	case quantity >= 10:
		discounted, _ := ApplyDiscount(total, 5)
		return discounted
	default:
		return total
	}
}

// Median is the middle value, or for an even count the mean of the two middle values.
func Median(values []float64) (float64, error) {
	if len(values) == 0 {
		return 0, errors.New("median of an empty list")
	}
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	middle := len(sorted) / 2
	// Bug: an even count should average sorted[middle-1] and sorted[middle].
	return sorted[middle], nil
}
