package ratelimit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

// waitKind builds limiters for the Wait contract. A kind's start returns,
// for one test, a function that gives the limiter a process calling for
// key uses: the same Local for every call of a key, and a fresh Redis or
// Layered limiter each time (a process of its own) over one Redis.
type waitKind struct {
	name  string
	start func(t *testing.T) func(key string, limit rate.Limit, opts ...ratelimit.Option) ratelimit.Limiter
}

var waitKinds = []waitKind{
	{"local", func(t *testing.T) func(string, rate.Limit, ...ratelimit.Option) ratelimit.Limiter {
		var mu sync.Mutex
		byKey := map[string]ratelimit.Limiter{}
		return func(key string, limit rate.Limit, opts ...ratelimit.Option) ratelimit.Limiter {
			mu.Lock()
			defer mu.Unlock()
			if byKey[key] == nil {
				byKey[key] = ratelimit.New(limit, opts...)
			}
			return byKey[key]
		}
	}},
}

func init() {
	for _, k := range fleetKinds {
		waitKinds = append(waitKinds, waitKind{k.name, func(t *testing.T) func(string, rate.Limit, ...ratelimit.Option) ratelimit.Limiter {
			rdb := redistest.Start(t).Client()
			return func(_ string, limit rate.Limit, opts ...ratelimit.Option) ratelimit.Limiter {
				return k.make(rdb, limit, opts...)
			}
		}})
	}
}

// TestWait is the contract every limiter keeps: Local alone, and the fleet
// limiters with each call from a process of its own, so that their bounds
// come from Redis, not from a local layer that saw every call.
func TestWait(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		limit rate.Limit
		opts  []ratelimit.Option
		prior int           // calls made before the one under test
		ctxTO time.Duration // deadline of the call under test, 0 for none
		// bounds on the call under test
		waitMin, waitMax   time.Duration
		retryMin, retryMax time.Duration
	}{
		// Bounds are loose on purpose: a busy machine can hold the test
		// off the CPU between two calls, or inside one.
		{
			name: "first call passes at once", limit: 4,
			waitMax: 150 * time.Millisecond,
		},
		{
			name: "short wait is waited out", limit: 4, prior: 1,
			waitMin: 100 * time.Millisecond, waitMax: time.Second,
		},
		{
			name: "long wait is handed back", limit: 1, prior: 1,
			opts:    []ratelimit.Option{ratelimit.MaxWait(100 * time.Millisecond)},
			waitMax: 150 * time.Millisecond, retryMin: 500 * time.Millisecond, retryMax: time.Second,
		},
		{
			name: "burst passes at once", limit: 1, prior: 2,
			opts:    []ratelimit.Option{ratelimit.Burst(3)},
			waitMax: 150 * time.Millisecond,
		},
		{
			name: "beyond the burst is handed back", limit: 1, prior: 3,
			opts:    []ratelimit.Option{ratelimit.Burst(3), ratelimit.MaxWait(0)},
			waitMax: 150 * time.Millisecond, retryMin: 500 * time.Millisecond, retryMax: time.Second,
		},
		{
			name: "MaxWait 0 never waits", limit: 4, prior: 1,
			opts:    []ratelimit.Option{ratelimit.MaxWait(0)},
			waitMax: 150 * time.Millisecond, retryMin: 100 * time.Millisecond, retryMax: 250 * time.Millisecond,
		},
		{
			// Without the deadline this call would wait its second.
			name: "a deadline sooner than MaxWait hands back", limit: 1, prior: 1,
			ctxTO:   200 * time.Millisecond,
			waitMax: 150 * time.Millisecond, retryMin: 500 * time.Millisecond, retryMax: time.Second,
		},
	}
	for _, kind := range waitKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			limiter := kind.start(t)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					for range tc.prior {
						l := limiter(tc.name, tc.limit, tc.opts...)
						if d, err := l.Wait(t.Context(), tc.name); d != 0 || err != nil {
							t.Fatalf("prior call: retryAfter %v, err %v", d, err)
						}
					}
					l := limiter(tc.name, tc.limit, tc.opts...)
					ctx := t.Context()
					if tc.ctxTO > 0 {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, tc.ctxTO)
						defer cancel()
					}
					start := time.Now()
					d, err := l.Wait(ctx, tc.name)
					took := time.Since(start)
					if err != nil {
						t.Fatalf("err %v", err)
					}
					if took < tc.waitMin || took > tc.waitMax {
						t.Errorf("waited %v, want [%v, %v]", took, tc.waitMin, tc.waitMax)
					}
					if d < tc.retryMin || d > tc.retryMax {
						t.Errorf("retryAfter %v, want [%v, %v]", d, tc.retryMin, tc.retryMax)
					}
				})
			}
		})
	}
}

// Callers turned away must leave no trace: otherwise a backlog would push
// the key's schedule further out with every refusal and starve it.
func TestHandedBackTakesNoToken(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(5, ratelimit.MaxWait(50*time.Millisecond)) // one every 200 ms
	if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
		t.Fatalf("first call: %v, %v", d, err)
	}
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			d, err := l.Wait(t.Context(), "k")
			if err != nil || d <= 0 || d > 200*time.Millisecond {
				t.Errorf("turned-away call: retryAfter %v, err %v", d, err)
			}
		})
	}
	wg.Wait()

	d, err := l.Wait(t.Context(), "k")
	if err != nil || d <= 0 || d > 200*time.Millisecond {
		t.Fatalf("after 50 refusals: retryAfter %v, err %v; want at most one interval", d, err)
	}
	time.Sleep(d)
	if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
		t.Fatalf("after sleeping retryAfter: %v, %v", d, err)
	}
}

func TestCancelGivesTokenBack(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(2) // one every 500 ms
	if _, err := l.Wait(t.Context(), "k"); err != nil {
		t.Fatal(err)
	}

	// A deadline would make Wait hand back at once; cancellation is what
	// interrupts a wait already under way.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	d, err := l.Wait(ctx, "k")
	if !errors.Is(err, context.Canceled) || d != 0 {
		t.Fatalf("cancelled wait: retryAfter %v, err %v", d, err)
	}
	if took := time.Since(start); took > 300*time.Millisecond {
		t.Errorf("cancelled wait returned after %v", took)
	}

	// Had the cancelled reservation been kept, this one would wait about
	// 950 ms; given back, it waits what is left of the first interval.
	start = time.Now()
	if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
		t.Fatalf("next call: %v, %v", d, err)
	}
	if took := time.Since(start); took > 700*time.Millisecond {
		t.Errorf("next call waited %v; the cancelled token was not given back", took)
	}
}

func TestCancelledContextTakesNothing(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(rate.Every(time.Hour))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := l.Wait(ctx, "k"); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
		t.Fatalf("the only token is gone: %v, %v", d, err)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(rate.Every(time.Hour), ratelimit.MaxWait(0))
	for _, k := range []string{"919000000001", "919000000002", "919000000003"} {
		if d, err := l.Wait(t.Context(), k); d != 0 || err != nil {
			t.Fatalf("%s: %v, %v", k, d, err)
		}
	}
	if d, _ := l.Wait(t.Context(), "919000000001"); d < 59*time.Minute {
		t.Fatalf("second call on a used key: retryAfter %v, want about an hour", d)
	}
}

func TestNewRejectsNonPositiveLimit(t *testing.T) {
	for _, lim := range []rate.Limit{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%v) did not panic", lim)
				}
			}()
			ratelimit.New(lim)
		}()
	}
}

// pastDeadline reports a deadline already gone by while not yet done, as
// a context does in the instant before its timer fires.
type pastDeadline struct{ context.Context }

func (pastDeadline) Deadline() (time.Time, bool) { return time.Now().Add(-time.Second), true }

func TestPassedDeadlineStillTakesAFreeToken(t *testing.T) {
	t.Parallel()
	l := ratelimit.New(rate.Every(time.Hour))
	if d, err := l.Wait(pastDeadline{t.Context()}, "k"); d != 0 || err != nil {
		t.Fatalf("%v, %v; want the free token", d, err)
	}
	if d, _ := l.Wait(t.Context(), "k"); d < 59*time.Minute {
		t.Fatalf("retryAfter %v; the token was not taken", d)
	}
}
