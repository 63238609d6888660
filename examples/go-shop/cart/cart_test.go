package cart

import "testing"

func TestEmptyCartCostsNothing(t *testing.T) {
	if got := New().Total(); got != 0 {
		t.Errorf("Total() = %v, want 0", got)
	}
}
