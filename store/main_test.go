package store_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Repo.Run starts a LISTEN connection with goroutines of its own; every
// test must leave none behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
