package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/waqueue/waqueue/breaker"
)

var (
	errService   = errors.New("HTTP 503")
	errRecipient = errors.New("code 1002: number does not exist on WhatsApp")
)

// countsAsSuccess mirrors what the worker passes: only service-side
// failures count against the breaker.
func countsAsSuccess(err error) bool { return !errors.Is(err, errService) }

func newSet(opts ...breaker.Option) *breaker.Set {
	return breaker.New(append([]breaker.Option{breaker.IsSuccessful(countsAsSuccess)}, opts...)...)
}

const key = "selfserve/app"

func TestTripRule(t *testing.T) {
	t.Parallel()
	// F: service failure, R: per-recipient failure, S: success,
	// C: cancelled by us.
	cases := []struct {
		seq  string
		want breaker.State
	}{
		{"FFFF", breaker.Closed},
		{"FFFFF", breaker.Open},
		{"FFFFSFFFF", breaker.Closed},
		{strings.Repeat("R", 100), breaker.Closed},
		{"FFFFRF", breaker.Closed},
		{"FFFFCF", breaker.Open},
		{"SSSSSFFFFF", breaker.Open},
	}
	for _, tc := range cases {
		t.Run(tc.seq, func(t *testing.T) {
			t.Parallel()
			s := newSet()
			for _, c := range tc.seq {
				err := map[rune]error{'F': errService, 'R': errRecipient, 'S': nil, 'C': context.Canceled}[c]
				if got := s.Do(t.Context(), key, func() error { return err }); got != err {
					t.Fatalf("Do returned %v, want fn's error %v", got, err)
				}
			}
			if got := s.State(key); got != tc.want {
				t.Fatalf("state %v, want %v", got, tc.want)
			}
		})
	}
}

func TestConsecutiveFailuresOption(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.ConsecutiveFailures(2))
	trip(t, s, key, 2)
	if got := s.State(key); got != breaker.Open {
		t.Fatalf("state %v, want open", got)
	}
}

func TestOpenRefusesWithRetryIn(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.Timeout(300 * time.Millisecond))
	o0 := time.Now()
	trip(t, s, key, 5)
	o1 := time.Now()
	time.Sleep(100 * time.Millisecond)

	c0 := time.Now()
	err := s.Do(t.Context(), key, func() error {
		t.Fatal("fn called while open")
		return nil
	})
	c1 := time.Now()
	// The worker may wrap the error on its way up.
	err = fmt.Errorf("send: %w", err)
	var oe *breaker.OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v, want *OpenError", err)
	}
	if oe.Key != key {
		t.Errorf("Key %q, want %q", oe.Key, key)
	}
	checkRetryIn(t, oe.RetryIn, 300*time.Millisecond, o0, o1, c0, c1)
}

// checkRetryIn checks that RetryIn is what is left of an open period of
// length timeout that began between o0 and o1, seen by a call made between
// c0 and c1. Bounds from the clock rather than from sleeps keep the test
// honest on a machine busy enough to stall it.
func checkRetryIn(t *testing.T, got, timeout time.Duration, o0, o1, c0, c1 time.Time) {
	t.Helper()
	low := max(o0.Add(timeout).Sub(c1), 0)
	high := o1.Add(timeout).Sub(c0)
	if got < low || got > high {
		t.Errorf("RetryIn %v, want between %v and %v", got, low, high)
	}
}

func TestHalfOpenLetsOneProbeThrough(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.Timeout(50*time.Millisecond), breaker.HalfOpenRetry(700*time.Millisecond))
	trip(t, s, key, 5)
	time.Sleep(70 * time.Millisecond)

	inProbe, release := make(chan struct{}), make(chan struct{})
	probeErr := make(chan error, 1)
	go func() {
		probeErr <- s.Do(t.Context(), key, func() error {
			close(inProbe)
			<-release
			return nil
		})
	}()
	<-inProbe

	err := s.Do(t.Context(), key, func() error {
		t.Error("second call ran while the probe was in flight")
		return nil
	})
	var oe *breaker.OpenError
	if !errors.As(err, &oe) || oe.RetryIn != 700*time.Millisecond {
		t.Fatalf("during the probe: %v, want *OpenError with RetryIn = HalfOpenRetry", err)
	}

	close(release)
	if err := <-probeErr; err != nil {
		t.Fatalf("probe: %v", err)
	}
	if got := s.State(key); got != breaker.Closed {
		t.Fatalf("state after a good probe %v, want closed", got)
	}
	called := false
	if err := s.Do(t.Context(), key, func() error { called = true; return nil }); err != nil || !called {
		t.Fatalf("after closing: err %v, called %v", err, called)
	}
}

func TestFailedProbeReopens(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.Timeout(100 * time.Millisecond))
	trip(t, s, key, 5)
	time.Sleep(120 * time.Millisecond)

	o0 := time.Now()
	if err := s.Do(t.Context(), key, func() error { return errService }); err != errService {
		t.Fatalf("probe: %v", err)
	}
	o1 := time.Now()
	var oe *breaker.OpenError
	if err := s.Do(t.Context(), key, func() error { return nil }); !errors.As(err, &oe) {
		t.Fatalf("after a failed probe: %v, want *OpenError", err)
	}
	checkRetryIn(t, oe.RetryIn, 100*time.Millisecond, o0, o1, o1, time.Now())
}

// A call abandoned before it starts must not take the probe's place.
func TestDoneContextLeavesBreakerAlone(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.Timeout(30 * time.Millisecond))
	trip(t, s, key, 5)
	time.Sleep(50 * time.Millisecond)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Do(ctx, key, func() error { t.Error("fn called"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if err := s.Do(t.Context(), key, func() error { return nil }); err != nil {
		t.Fatalf("probe after the abandoned call: %v", err)
	}
	if got := s.State(key); got != breaker.Closed {
		t.Fatalf("state %v, want closed", got)
	}
}

func TestKeysAreIndependent(t *testing.T) {
	t.Parallel()
	s := newSet()
	a, b := breaker.Key("selfserve", "app1"), breaker.Key("selfserve", "app2")
	trip(t, s, a, 5)
	if s.State(a) != breaker.Open || s.State(b) != breaker.Closed {
		t.Fatalf("states %v, %v; want open, closed", s.State(a), s.State(b))
	}
	if err := s.Do(t.Context(), b, func() error { return nil }); err != nil {
		t.Fatalf("other key: %v", err)
	}
	if got := s.State(breaker.Key("partner", "app1")); got != breaker.Closed {
		t.Fatalf("unused key: %v", got)
	}
}

func TestOnStateChange(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got []string
	)
	s := newSet(
		breaker.Timeout(20*time.Millisecond),
		breaker.OnStateChange(func(k string, from, to breaker.State) {
			mu.Lock()
			got = append(got, fmt.Sprintf("%s %v->%v", k, from, to))
			mu.Unlock()
		}),
	)
	trip(t, s, key, 5)
	time.Sleep(40 * time.Millisecond)
	if err := s.Do(t.Context(), key, func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := []string{
		key + " closed->open",
		key + " open->half-open",
		key + " half-open->closed",
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes %q, want %q", got, want)
	}
}

// Many handlers on few keys, failing now and then, breakers opening and
// closing all along: run with -race. Every call either runs fn and returns
// its error or is refused with a sensible OpenError.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.Timeout(5*time.Millisecond), breaker.ConsecutiveFailures(3))
	keys := []string{"selfserve/a", "selfserve/b", "partner/a", "partner/b"}
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 300 {
				k := keys[(g+i)%len(keys)]
				var want error
				switch {
				case (g+i)%7 == 0:
					want = errRecipient
				case g%2 == 0 && i%3 != 0:
					want = errService
				}
				called := false
				err := s.Do(t.Context(), k, func() error {
					called = true
					return want
				})
				var oe *breaker.OpenError
				switch {
				case called && err != want:
					t.Errorf("fn ran, Do returned %v, want %v", err, want)
					return
				case !called && !errors.As(err, &oe):
					t.Errorf("fn did not run, Do returned %v", err)
					return
				case !called && (oe.Key != k || oe.RetryIn < 0 || oe.RetryIn > time.Second):
					t.Errorf("refusal %+v", oe)
					return
				}
			}
		})
	}
	wg.Wait()
}

// trip makes n service failures on k.
func trip(t *testing.T, s *breaker.Set, k string, n int) {
	t.Helper()
	for range n {
		if err := s.Do(t.Context(), k, func() error { return errService }); err != errService {
			t.Fatalf("tripping %s: %v", k, err)
		}
	}
}

func TestDefaultsCountEveryError(t *testing.T) {
	t.Parallel()
	s := breaker.New()
	for range 5 {
		s.Do(t.Context(), key, func() error { return errRecipient })
	}
	if got := s.State(key); got != breaker.Open {
		t.Fatalf("state %v, want open: without IsSuccessful every error counts", got)
	}
}

func TestMaxRequests(t *testing.T) {
	t.Parallel()
	s := newSet(breaker.Timeout(20*time.Millisecond), breaker.MaxRequests(2))
	trip(t, s, key, 5)
	time.Sleep(40 * time.Millisecond)
	if err := s.Do(t.Context(), key, func() error { return nil }); err != nil {
		t.Fatalf("first probe: %v", err)
	}
	if got := s.State(key); got != breaker.HalfOpen {
		t.Fatalf("after one of two probes: %v, want half-open", got)
	}
	if err := s.Do(t.Context(), key, func() error { return nil }); err != nil {
		t.Fatalf("second probe: %v", err)
	}
	if got := s.State(key); got != breaker.Closed {
		t.Fatalf("after two good probes: %v, want closed", got)
	}
}

func TestIsExcluded(t *testing.T) {
	t.Parallel()
	errRefused := errors.New("refused before sending")
	s := newSet(breaker.IsExcluded(func(err error) bool { return errors.Is(err, errRefused) }))
	for range 4 {
		s.Do(t.Context(), key, func() error { return errService })
	}
	// Excluded errors neither reset nor add to the run of failures.
	for range 10 {
		s.Do(t.Context(), key, func() error { return errRefused })
	}
	if got := s.State(key); got != breaker.Closed {
		t.Fatalf("state %v after 4 failures and 10 excluded, want closed", got)
	}
	s.Do(t.Context(), key, func() error { return errService })
	if got := s.State(key); got != breaker.Open {
		t.Fatalf("state %v after the fifth failure, want open", got)
	}
}
