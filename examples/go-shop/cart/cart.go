// Package cart is a shopping cart with discount codes.
package cart

import (
	"errors"
	"strings"

	"example.com/goshop/pricing"
)

var codes = map[string]float64{"WELCOME10": 10, "VIP25": 25}

type line struct {
	price    float64
	quantity int
}

// Cart holds items by name and at most one discount code.
type Cart struct {
	items map[string]line
	code  string
}

// New returns an empty cart.
func New() *Cart {
	return &Cart{items: map[string]line{}}
}

// Add puts quantity units of name at price into the cart.
func (c *Cart) Add(name string, price float64, quantity int) error {
	if quantity <= 0 {
		return errors.New("quantity must be positive")
	}
	current := c.items[name]
	c.items[name] = line{price: price, quantity: current.quantity + quantity}
	return nil
}

// Remove takes name out of the cart; false when it was not there.
func (c *Cart) Remove(name string) bool {
	if _, ok := c.items[name]; !ok {
		return false
	}
	delete(c.items, name)
	return true
}

// UseCode applies a known discount code (case-insensitive).
func (c *Cart) UseCode(code string) bool {
	normalized := strings.ToUpper(code)
	if _, ok := codes[normalized]; !ok {
		return false
	}
	c.code = normalized
	return true
}

// Total is the sum of the items, discounted by the code if any.
func (c *Cart) Total() float64 {
	sum := 0.0
	for _, item := range c.items {
		sum += item.price * float64(item.quantity)
	}
	if c.code == "" {
		return sum
	}
	discounted, _ := pricing.ApplyDiscount(sum, codes[c.code])
	return discounted
}
