package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

// fleetKind builds one of the Redis-backed limiters. Each call stands for
// a process of its own: a Layered limiter's local layer starts empty.
type fleetKind struct {
	name string
	make func(rdb redis.UniversalClient, limit rate.Limit, opts ...ratelimit.Option) ratelimit.Limiter
}

var fleetKinds = []fleetKind{
	{"redis", func(rdb redis.UniversalClient, limit rate.Limit, opts ...ratelimit.Option) ratelimit.Limiter {
		return ratelimit.NewRedis(rdb, limit, opts...)
	}},
	{"layered", func(rdb redis.UniversalClient, limit rate.Limit, opts ...ratelimit.Option) ratelimit.Limiter {
		return ratelimit.NewLayered(rdb, limit, opts...)
	}},
}

// Refusals must leave no trace in Redis, or a fleet-wide backlog would
// push the key's schedule out with every one of them and starve it.
func TestFleetHandedBackTakesNoToken(t *testing.T) {
	t.Parallel()
	for _, kind := range fleetKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Start(t).Client()
			// One every 200 ms; each caller a process of its own, so that
			// every refusal comes from Redis.
			newLim := func() ratelimit.Limiter {
				return kind.make(rdb, 5, ratelimit.MaxWait(50*time.Millisecond))
			}
			if d, err := newLim().Wait(t.Context(), "k"); d != 0 || err != nil {
				t.Fatalf("first call: %v, %v", d, err)
			}
			var wg sync.WaitGroup
			for range 50 {
				wg.Go(func() {
					d, err := newLim().Wait(t.Context(), "k")
					if err != nil || d <= 0 || d > 200*time.Millisecond {
						t.Errorf("turned-away call: retryAfter %v, err %v", d, err)
					}
				})
			}
			wg.Wait()

			d, err := newLim().Wait(t.Context(), "k")
			if err != nil || d <= 0 || d > 200*time.Millisecond {
				t.Fatalf("after 50 refusals: retryAfter %v, err %v; want at most one interval", d, err)
			}
			time.Sleep(d)
			if d, err := newLim().Wait(t.Context(), "k"); d != 0 || err != nil {
				t.Fatalf("after sleeping retryAfter: %v, %v", d, err)
			}
		})
	}
}

func TestFleetCancelGivesTokenBack(t *testing.T) {
	t.Parallel()
	for _, kind := range fleetKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			rdb := redistest.Start(t).Client()
			newLim := func() ratelimit.Limiter { return kind.make(rdb, 2) } // one every 500 ms
			if _, err := newLim().Wait(t.Context(), "k"); err != nil {
				t.Fatal(err)
			}

			// Another process: for Layered its local layer is free, so the
			// wait being cancelled is the one for the Redis slot.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			time.AfterFunc(50*time.Millisecond, cancel)
			start := time.Now()
			d, err := newLim().Wait(ctx, "k")
			if !errors.Is(err, context.Canceled) || d != 0 {
				t.Fatalf("cancelled wait: retryAfter %v, err %v", d, err)
			}
			if took := time.Since(start); took > 300*time.Millisecond {
				t.Errorf("cancelled wait returned after %v", took)
			}

			// Had the slot been kept, this call would wait about 950 ms;
			// given back, it waits what is left of the first interval.
			start = time.Now()
			if d, err := newLim().Wait(t.Context(), "k"); d != 0 || err != nil {
				t.Fatalf("next call: %v, %v", d, err)
			}
			if took := time.Since(start); took > 700*time.Millisecond {
				t.Errorf("next call waited %v; the cancelled slot was not given back", took)
			}
		})
	}
}

// A slot with later reservations behind it cannot be given back without
// two callers sharing a slot later on: it is lost, and the key runs below
// its rate for one interval, never above.
func TestRedisCancelBehindOthersKeepsSchedule(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	l := ratelimit.NewRedis(rdb, 2, ratelimit.MaxWait(2*time.Second)) // one every 500 ms
	if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
		t.Fatalf("first call: %v, %v", d, err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cancelled := make(chan error, 1)
	go func() { _, err := l.Wait(ctx, "k"); cancelled <- err }() // the 500 ms slot
	time.Sleep(50 * time.Millisecond)
	behind := make(chan time.Duration, 1)
	go func() { // the 1000 ms slot
		start := time.Now()
		if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
			t.Errorf("call behind: %v, %v", d, err)
		}
		behind <- time.Since(start)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	// The next free slot is still the one after the call behind: 1500 ms
	// from the start, about 1400 ms from now.
	probe := ratelimit.NewRedis(rdb, 2, ratelimit.MaxWait(0))
	if d, err := probe.Wait(t.Context(), "k"); err != nil || d < 1200*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("next slot in %v (err %v), want about 1.4 s", d, err)
	}
	if took := <-behind; took < 800*time.Millisecond {
		t.Errorf("the call behind waited %v, want about 900 ms", took)
	}
}

func TestFleetCancelledContextTakesNothing(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	for _, kind := range fleetKinds {
		l := kind.make(rdb, rate.Every(time.Hour))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := l.Wait(ctx, kind.name); !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: err %v, want context.Canceled", kind.name, err)
		}
		if d, err := l.Wait(t.Context(), kind.name); d != 0 || err != nil {
			t.Fatalf("%s: the only token is gone: %v, %v", kind.name, d, err)
		}
	}
}

func TestFleetPassedDeadlineStillTakesAFreeToken(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	for _, kind := range fleetKinds {
		l := kind.make(rdb, rate.Every(time.Hour))
		if d, err := l.Wait(pastDeadline{t.Context()}, kind.name); d != 0 || err != nil {
			t.Fatalf("%s: %v, %v; want the free token", kind.name, d, err)
		}
		if d, _ := kind.make(rdb, rate.Every(time.Hour)).Wait(t.Context(), kind.name); d < 59*time.Minute {
			t.Fatalf("%s: retryAfter %v; the token was not taken", kind.name, d)
		}
	}
}

func TestFleetKeysAreIndependent(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	for _, kind := range fleetKinds {
		keys := []string{kind.name + "919000000001", kind.name + "919000000002", kind.name + "919000000003"}
		for _, k := range keys {
			// A fresh process per call: the keys must be independent in Redis.
			if d, err := kind.make(rdb, rate.Every(time.Hour), ratelimit.MaxWait(0)).Wait(t.Context(), k); d != 0 || err != nil {
				t.Fatalf("%s: %v, %v", k, d, err)
			}
		}
		if d, _ := kind.make(rdb, rate.Every(time.Hour), ratelimit.MaxWait(0)).Wait(t.Context(), keys[0]); d < 59*time.Minute {
			t.Fatalf("%s: second call on a used key: retryAfter %v, want about an hour", kind.name, d)
		}
	}
}

// A key lives in Redis while its bucket is not full, and no longer.
func TestRedisKeyExpiresWhenFull(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	l := ratelimit.NewRedis(rdb, 10, ratelimit.Burst(3)) // full 300 ms after the last call
	for range 3 {
		if d, err := l.Wait(t.Context(), "k"); d != 0 || err != nil {
			t.Fatalf("%v, %v", d, err)
		}
	}
	ttl, err := rdb.PTTL(t.Context(), ratelimit.RedisKey("k")).Result()
	if err != nil || ttl <= 200*time.Millisecond || ttl > 310*time.Millisecond {
		t.Fatalf("PTTL %v, %v; want about 300 ms", ttl, err)
	}
	time.Sleep(ttl + 10*time.Millisecond)
	if n, err := rdb.Exists(t.Context(), ratelimit.RedisKey("k")).Result(); n != 0 || err != nil {
		t.Fatalf("the key of a full bucket is still there: %v, %v", n, err)
	}
}

// When Redis fails, nothing is sent: every call hands back ErrorDelay,
// with a nil error so that the task keeps its attempts, and the error goes
// to OnError. Once Redis is back, so are the sends.
func TestFleetRedisDownHandsBack(t *testing.T) {
	t.Parallel()
	for _, kind := range fleetKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t)
			rdb := srv.Client()
			var (
				mu     sync.Mutex
				errs   []error
				errKey string
			)
			l := kind.make(rdb, 1000,
				ratelimit.ErrorDelay(3*time.Second),
				ratelimit.OnError(func(key string, err error) {
					mu.Lock()
					defer mu.Unlock()
					errs = append(errs, err)
					errKey = key
				}))
			if d, err := l.Wait(t.Context(), "919000000001"); d != 0 || err != nil {
				t.Fatalf("with Redis up: %v, %v", d, err)
			}

			srv.Stop()
			var slowest time.Duration
			for i := range 10 {
				// Past the local layer's pacing, so each call reaches Redis.
				time.Sleep(2 * time.Millisecond)
				start := time.Now()
				d, err := l.Wait(t.Context(), "919000000001")
				slowest = max(slowest, time.Since(start))
				if err != nil || d != 3*time.Second {
					t.Fatalf("call %d with Redis down: retryAfter %v, err %v; want 3s, nil", i, d, err)
				}
			}
			t.Logf("slowest call with Redis down: %v", slowest)
			if slowest > 2*time.Second {
				t.Errorf("a call with Redis down took %v; RedisTimeout is 500 ms", slowest)
			}
			mu.Lock()
			if len(errs) != 10 || errKey != "919000000001" {
				t.Errorf("OnError saw %d errors for key %q, want 10 for 919000000001", len(errs), errKey)
			}
			mu.Unlock()

			srv.Restart()
			deadline := time.Now().Add(5 * time.Second)
			for {
				d, err := l.Wait(t.Context(), "919000000001")
				if err != nil {
					t.Fatal(err)
				}
				if d == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("still handed back %v after Redis came back", d)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}

// TestRedisScriptKeys checks what a Cluster needs: every command the
// limiter sends is a script naming exactly one key, the limiter's own,
// whose hash tag is the limiter key, so the node holding that slot can run
// it alone. The server is fresh, so the EVAL fallback is seen too.
func TestRedisScriptKeys(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	rec := &cmdRecorder{}
	rdb.AddHook(rec)
	ctx := t.Context()

	keys := []string{"917834811114", "selfserve/myapp", "a:b"}
	for _, kind := range fleetKinds {
		for _, k := range keys {
			l := kind.make(rdb, 2)
			if _, err := l.Wait(ctx, k); err != nil { // reserve, free slot
				t.Fatal(err)
			}
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			// The deadline hands this one back: a reservation refused.
			if d, err := l.Wait(short, k); d == 0 || err != nil {
				t.Fatalf("%v, %v", d, err)
			}
			cancel()
			// A wait cut short: reserve, then give back.
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(20*time.Millisecond, cancel)
			if _, err := kind.make(rdb, 2).Wait(cctx, k); !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v", err)
			}
		}
	}

	cmds := rec.get()
	var sawEval, sawEvalSha, sawRelease bool
	for _, args := range cmds {
		name := strings.ToLower(args[0].(string))
		switch name {
		case "hello", "client":
			// go-redis's handshake on a new connection, which a Cluster
			// client makes with each node.
			continue
		case "eval":
			sawEval = true
		case "evalsha":
			sawEvalSha = true
		default:
			t.Errorf("command %v: only EVAL and EVALSHA work unchanged on a Cluster", args)
			continue
		}
		if n, ok := args[2].(int); !ok || n != 1 {
			t.Errorf("%s with numkeys %v, want 1", name, args[2])
			continue
		}
		key := args[3].(string)
		tag, ok := hashTag(key)
		if !ok || !strings.HasPrefix(key, "waq:rate:{") || ratelimit.RedisKey(tag) != key {
			t.Errorf("key %q: want waq:rate:{<limiter key>} with the limiter key as hash tag", key)
		}
		if len(args) == 6 { // release: key, receipt, interval
			sawRelease = true
		}
	}
	if !sawEval || !sawEvalSha || !sawRelease {
		t.Errorf("saw EVAL %v, EVALSHA %v, release %v; want all three", sawEval, sawEvalSha, sawRelease)
	}
	for _, k := range keys {
		if tag, _ := hashTag(ratelimit.RedisKey(k)); tag != k {
			t.Errorf("RedisKey(%q) has hash tag %q", k, tag)
		}
	}
}

// hashTag is the part of key Redis Cluster hashes: what lies between the
// first { and the first } after it, when that is not empty.
func hashTag(key string) (string, bool) {
	i := strings.IndexByte(key, '{')
	if i < 0 {
		return "", false
	}
	j := strings.IndexByte(key[i+1:], '}')
	if j <= 0 {
		return "", false
	}
	return key[i+1 : i+1+j], true
}

// cmdRecorder is a go-redis hook keeping the arguments of every command.
type cmdRecorder struct {
	mu   sync.Mutex
	cmds [][]any
}

func (r *cmdRecorder) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *cmdRecorder) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.mu.Lock()
		r.cmds = append(r.cmds, cmd.Args())
		r.mu.Unlock()
		return next(ctx, cmd)
	}
}

func (r *cmdRecorder) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		r.mu.Lock()
		for _, c := range cmds {
			r.cmds = append(r.cmds, c.Args())
		}
		r.mu.Unlock()
		return next(ctx, cmds)
	}
}

func (r *cmdRecorder) get() [][]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cmds
}

func TestNewRedisRejectsNonPositiveLimit(t *testing.T) {
	for _, kind := range fleetKinds {
		for _, lim := range []rate.Limit{0, -1} {
			func() {
				defer func() {
					if recover() == nil {
						t.Errorf("%s(%v) did not panic", kind.name, lim)
					}
				}()
				kind.make(redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), lim)
			}()
		}
	}
}

// TestFleetAchievedRate is TestAchievedRate for a fleet: three processes,
// each with its own limiter and its own connection to Redis, drive one key
// from 30 goroutines each. What a provider would see must hold for the
// fleet's sends together: the total close to the rate, and no 1-second
// window above rate + burst.
func TestFleetAchievedRate(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	t.Parallel()
	const (
		perSec  = 100
		procs   = 3
		workers = 30 // per process
		run     = 3 * time.Second
	)
	cases := []struct {
		kind    fleetKind
		burst   int
		maxWait time.Duration
	}{
		// All 90 callers fit within MaxWait: they wait their turn.
		{fleetKinds[0], 1, time.Second},
		{fleetKinds[1], 1, time.Second},
		{fleetKinds[1], 5, time.Second},
		// 10 callers wait, the rest are turned away and come back after
		// retryAfter, as tasks handed back to the queue do; refusals must
		// not cost slots.
		{fleetKinds[0], 1, 100 * time.Millisecond},
		{fleetKinds[1], 1, 100 * time.Millisecond},
	}
	for _, tc := range cases {
		// One at a time: on a small machine, five fleets of 90 callers at
		// once measure the scheduler more than the limiter.
		t.Run(fmt.Sprintf("%s/burst %d/max wait %v", tc.kind.name, tc.burst, tc.maxWait), func(t *testing.T) {
			srv := redistest.Start(t)
			lims := make([]ratelimit.Limiter, procs)
			for p := range lims {
				lims[p] = tc.kind.make(srv.Client(), perSec, ratelimit.Burst(tc.burst), ratelimit.MaxWait(tc.maxWait))
			}
			probe := startStallProbe()
			start := time.Now()
			end := start.Add(run)
			var (
				mu      sync.Mutex
				sends   []time.Time
				perProc [procs]int
				refused atomic.Int64
				wg      sync.WaitGroup
			)
			for p, l := range lims {
				for range workers {
					wg.Go(func() {
						for {
							d, err := l.Wait(t.Context(), "919000000001")
							if err != nil {
								t.Error(err)
								return
							}
							if d > 0 {
								// Handed back: the task comes back after d.
								refused.Add(1)
								time.Sleep(d)
								continue
							}
							now := time.Now()
							if now.After(end) {
								return
							}
							mu.Lock()
							sends = append(sends, now)
							perProc[p]++
							mu.Unlock()
						}
					})
				}
			}
			wg.Wait()
			late, stalled := probe.stop()

			ideal := float64(perSec) * run.Seconds()
			got := len(sends)
			t.Logf("%d sends in %v (ideal %.0f), per process %v, %d handed back; timers up to %v late, %v stalled in all",
				got, run, ideal, perProc, refused.Load(), late, stalled)
			if float64(got) > ideal+float64(tc.burst)+1 {
				t.Errorf("%d sends in %v, want at most %.0f", got, run, ideal+float64(tc.burst)+1)
			}
			low := 0.95 * float64(perSec) * (run - stalled).Seconds()
			if float64(got) < low {
				t.Errorf("%d sends in %v, want at least %.0f", got, run, low)
			}
			for p, n := range perProc {
				if n == 0 {
					t.Errorf("process %d never sent", p)
				}
			}
			slack := int(math.Ceil(perSec * (late + 20*time.Millisecond).Seconds()))
			w := maxInWindow(sends, time.Second)
			t.Logf("busiest 1 s window: %d sends, bound %d", w, perSec+tc.burst+slack)
			if w > perSec+tc.burst+slack {
				t.Errorf("busiest 1 s window has %d sends, want at most %d", w, perSec+tc.burst+slack)
			}
		})
	}
}
