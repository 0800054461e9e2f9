package ratelimit_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waqueue/waqueue/ratelimit"
)

func TestIdleKeysAreDropped(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(1000, ratelimit.IdleTTL(20*time.Millisecond))
	for i := range 100 {
		if _, err := l.Wait(t.Context(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("Len %d, want 100", n)
	}
	time.Sleep(50 * time.Millisecond)
	// A call starts the sweep; the call's own key was used just now and
	// stays.
	if _, err := l.Wait(t.Context(), "new"); err != nil {
		t.Fatal(err)
	}
	waitLen(t, l, 1)
}

// waitLen waits for the background sweep to bring l down to n keys.
func waitLen(t *testing.T, l *ratelimit.Local, n int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for l.Len() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Len %d, want %d", l.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestIdleTTLZeroKeepsKeys(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(1000, ratelimit.IdleTTL(0))
	for i := range 10 {
		if _, err := l.Wait(t.Context(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	if _, err := l.Wait(t.Context(), "new"); err != nil {
		t.Fatal(err)
	}
	if n := l.Len(); n != 11 {
		t.Fatalf("Len %d, want 11", n)
	}
}

// Sweeps racing with callers must never leave two buckets for one key, which
// would show up as more sends than the rate allows.
func TestSweepsDoNotLeakTokens(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	t.Parallel()
	const perSec = 50
	l := ratelimit.New(perSec, ratelimit.MaxWait(0), ratelimit.IdleTTL(time.Nanosecond))
	keys := []string{"a", "b", "c", "d"}
	var sent [4]atomic.Int64
	start := time.Now()
	end := start.Add(500 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := g; time.Now().Before(end); i++ {
				k := i % len(keys)
				if d, err := l.Wait(t.Context(), keys[k]); err == nil && d == 0 {
					sent[k].Add(1)
				}
			}
		})
	}
	wg.Wait()
	limit := int64(1 + perSec*time.Since(start).Seconds() + 1)
	for k := range keys {
		if n := sent[k].Load(); n > limit || n == 0 {
			t.Errorf("key %s: %d sends, want between 1 and %d", keys[k], n, limit)
		}
	}
}
