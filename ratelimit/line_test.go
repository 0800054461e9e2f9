package ratelimit_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

// Far more callers than the rate: the few that fit within MaxWait wait,
// and the ones turned away are told to come back one after the other, so
// that they return about at the rate the key can serve them instead of all
// at once (which would turn most of them away again, over and over).
func TestTurnedAwayCallersLineUp(t *testing.T) {
	t.Parallel()
	const (
		perSec  = 10 // one every 100 ms
		callers = 60
		maxWait = 300 * time.Millisecond
	)
	interval := time.Second / perSec
	cases := []struct {
		name string
		// limiter returns the limiter of caller i; a new one per caller
		// stands for a process of its own.
		limiter func(t *testing.T) func(i int) ratelimit.Limiter
	}{
		{"local", func(t *testing.T) func(int) ratelimit.Limiter {
			l := ratelimit.New(perSec, ratelimit.MaxWait(maxWait))
			return func(int) ratelimit.Limiter { return l }
		}},
		{"redis", func(t *testing.T) func(int) ratelimit.Limiter {
			l := ratelimit.NewRedis(redistest.Start(t).Client(), perSec, ratelimit.MaxWait(maxWait))
			return func(int) ratelimit.Limiter { return l }
		}},
		{"layered, one process", func(t *testing.T) func(int) ratelimit.Limiter {
			// Turned away by the local layer.
			l := ratelimit.NewLayered(redistest.Start(t).Client(), perSec, ratelimit.MaxWait(maxWait))
			return func(int) ratelimit.Limiter { return l }
		}},
		{"layered, a process per caller", func(t *testing.T) func(int) ratelimit.Limiter {
			// Every local layer is free: turned away by Redis.
			rdb := redistest.Start(t).Client()
			return func(int) ratelimit.Limiter { return ratelimit.NewLayered(rdb, perSec, ratelimit.MaxWait(maxWait)) }
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			lim := tc.limiter(t)
			sentAt, retries := callTogether(t, callers, func(i int) (time.Duration, error) { return lim(i).Wait(t.Context(), "k") })
			sent := len(sentAt)
			slices.Sort(retries)
			t.Logf("%d waited, %d turned away, told %v .. %v", sent, len(retries), retries[0], retries[len(retries)-1])
			if sent < 2 || sent > 5 || len(retries) != callers-sent {
				t.Fatalf("%d waited, %d turned away: want the few MaxWait holds to wait", sent, len(retries))
			}
			// The last one comes back about when every caller before it
			// has had its token, callers / rate, a little sooner since
			// callers come back later than told (the line is two thirds
			// of an interval apart).
			want := time.Duration(callers) * interval
			if last := retries[len(retries)-1]; last < want/2 || last > want*11/10 {
				t.Errorf("the last caller turned away comes back in %v, want about %v", last, want*2/3)
			}
			// Spread out: never more than two due within one interval
			// (the calls themselves take a little time).
			for i := 2; i < len(retries); i++ {
				if retries[i]-retries[i-2] < interval {
					t.Fatalf("retryAfter %v, %v and %v within one interval: the callers come back in a bunch", retries[i-2], retries[i-1], retries[i])
				}
			}
			// The line takes no token: once the waiters have gone, a
			// caller gets the next token, however long the line.
			time.Sleep(maxWait + 2*interval)
			if d, err := lim(callers).Wait(t.Context(), "k"); d != 0 || err != nil {
				t.Fatalf("after the waiters: retryAfter %v, err %v; the line held tokens back", d, err)
			}
		})
	}
}

// Once nobody waits and the line has passed, a caller turned away is told
// the next token again, not a place behind callers long gone.
func TestLineEndsWhenItHasPassed(t *testing.T) {
	t.Parallel()
	kinds := []struct {
		name string
		make func(rdb redis.UniversalClient) ratelimit.Limiter
	}{
		{"local", func(redis.UniversalClient) ratelimit.Limiter {
			return ratelimit.New(rate.Limit(20), ratelimit.MaxWait(100*time.Millisecond))
		}},
		{"redis", func(rdb redis.UniversalClient) ratelimit.Limiter {
			return ratelimit.NewRedis(rdb, rate.Limit(20), ratelimit.MaxWait(100*time.Millisecond))
		}},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			l := kind.make(redistest.Start(t).Client())
			var wg sync.WaitGroup
			var longest time.Duration
			var mu sync.Mutex
			for range 30 { // one every 50 ms: 2 wait, 28 line up over about 1 s
				wg.Go(func() {
					d, _ := l.Wait(t.Context(), "k")
					mu.Lock()
					longest = max(longest, d)
					mu.Unlock()
				})
			}
			wg.Wait()
			if longest < 700*time.Millisecond {
				t.Fatalf("longest retryAfter %v: no line formed", longest)
			}
			time.Sleep(longest + 50*time.Millisecond)
			if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
				t.Fatalf("after the line: %v, %v", d, err)
			}
		})
	}
}

// callTogether makes n calls at once and returns, for those told to go,
// when they went (since the start), and for the others, what they were
// told, sorted.
func callTogether(t *testing.T, n int, call func(i int) (time.Duration, error)) (sent, retries []time.Duration) {
	t.Helper()
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	start := make(chan struct{})
	began := time.Now()
	for i := range n {
		wg.Go(func() {
			<-start
			d, err := call(i)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if d == 0 {
				sent = append(sent, time.Since(began))
			} else {
				retries = append(retries, d)
			}
		})
	}
	close(start)
	wg.Wait()
	slices.Sort(sent)
	slices.Sort(retries)
	return sent, retries
}
