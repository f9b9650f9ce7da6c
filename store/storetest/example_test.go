package storetest_test

import (
	"testing"
	"time"

	"github.com/keyward/keyward/store"
	"github.com/keyward/keyward/store/storetest"
)

// A store's own test runs the whole suite: here keyward's in-memory store;
// a host's store goes in its place. (This example only compiles: the suite
// runs under go test, as TestConformance in package store does.)
func ExampleRun() {
	_ = func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, now func() time.Time) any {
			return store.NewMemory(store.MemoryConfig{Now: now})
		})
	}
}
