package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A key whose bucket is not full yet must stay: a fresh bucket would let
// the next send through early. The sweep is called directly so the test
// knows it ran.
func TestSweepKeepsPacedKeys(t *testing.T) {
	l := New(rate.Every(time.Hour), MaxWait(0), IdleTTL(time.Millisecond))
	fast := New(1e6, IdleTTL(time.Millisecond))
	for _, lim := range []*Local{l, fast} {
		if d, err := lim.Wait(t.Context(), "919000000001"); d != 0 || err != nil {
			t.Fatalf("%v, %v", d, err)
		}
	}
	time.Sleep(5 * time.Millisecond)
	l.sweep()
	fast.sweep()
	if n := fast.Len(); n != 0 {
		t.Fatalf("a full idle bucket was kept: Len %d", n)
	}
	if n := l.Len(); n != 1 {
		t.Fatalf("a paced bucket was dropped: Len %d", n)
	}
	if d, _ := l.Wait(t.Context(), "919000000001"); d < 59*time.Minute {
		t.Fatalf("retryAfter %v after a sweep, want about an hour", d)
	}
}

// BenchmarkSweep is the cost of one pass over 100,000 recipients that are
// all still paced, so none can go: the worst case, paid once per IdleTTL on
// a goroutine of its own.
func BenchmarkSweep(b *testing.B) {
	l := New(rate.Every(6*time.Second), MaxWait(0), IdleTTL(0))
	for i := range 100000 {
		l.Wait(context.Background(), strconv.Itoa(i))
	}
	l.cfg.idleTTL = time.Nanosecond
	for b.Loop() {
		l.sweep()
	}
	if l.Len() != 100000 {
		b.Fatalf("Len %d", l.Len())
	}
}
