package breaker_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waqueue/waqueue/breaker"
	"github.com/waqueue/waqueue/internal/redistest"
)

// memShared is a Shared in memory, standing in for Redis where the test is
// about the Set.
type memShared struct {
	mu    sync.Mutex
	until map[string]time.Time
	err   error
	reads atomic.Int64
}

func (m *memShared) OpenUntil(_ context.Context, key string) (time.Time, error) {
	m.reads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.until[key], m.err
}

func (m *memShared) SetOpenUntil(_ context.Context, key string, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if t.After(m.until[key]) {
		m.until[key] = t
	}
	return nil
}

func TestSharedOpeningStopsOtherProcesses(t *testing.T) {
	t.Parallel()
	sh := &memShared{until: map[string]time.Time{}}
	a := newSet(breaker.Timeout(300*time.Millisecond), breaker.Share(sh, 0))
	b := newSet(breaker.Timeout(300*time.Millisecond), breaker.Share(sh, 0))

	o0 := time.Now()
	trip(t, a, key, 5)
	o1 := time.Now()
	err := b.Do(t.Context(), key, func() error {
		t.Error("fn ran although another process's breaker is open")
		return nil
	})
	var oe *breaker.OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("b: %v, want *OpenError", err)
	}
	checkRetryIn(t, oe.RetryIn, 300*time.Millisecond, o0, o1, o1, time.Now())
	if err := b.Do(t.Context(), "partner/other", func() error { return nil }); err != nil {
		t.Fatalf("other key on b: %v", err)
	}
	if got := b.State(key); got != breaker.Closed {
		t.Errorf("b's own breaker is %v; only a's opened", got)
	}
}

func TestSharedReadsAreCached(t *testing.T) {
	t.Parallel()
	sh := &memShared{until: map[string]time.Time{}}
	s := newSet(breaker.Share(sh, time.Hour))
	for range 100 {
		if err := s.Do(t.Context(), key, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	if n := sh.reads.Load(); n != 1 {
		t.Fatalf("%d reads of the shared state for 100 calls within refresh, want 1", n)
	}
}

func TestSharedErrorsFallBackToLocal(t *testing.T) {
	t.Parallel()
	sh := &memShared{until: map[string]time.Time{}, err: errors.New("redis down")}
	var reported atomic.Int64
	s := newSet(breaker.Share(sh, 0), breaker.OnSharedError(func(k string, err error) {
		if k != key || err != sh.err {
			t.Errorf("reported %q, %v", k, err)
		}
		reported.Add(1)
	}))
	if err := s.Do(t.Context(), key, func() error { return nil }); err != nil {
		t.Fatalf("Do with the shared state unreadable: %v", err)
	}
	trip(t, s, key, 5) // 5 reads, and the write on opening
	if got := s.State(key); got != breaker.Open {
		t.Fatalf("state %v, want open", got)
	}
	if n := reported.Load(); n != 7 {
		t.Fatalf("%d errors reported, want 7 (6 reads, 1 write)", n)
	}
}

func TestRedisShared(t *testing.T) {
	t.Parallel()
	rdb := redistest.Start(t).Client()
	r := breaker.NewRedis(rdb)
	ctx := t.Context()
	near := func(got, want time.Time) bool { return got.Sub(want).Abs() < 50*time.Millisecond }

	if u, err := r.OpenUntil(ctx, key); err != nil || !u.IsZero() {
		t.Fatalf("unknown key: %v, %v", u, err)
	}

	until := time.Now().Add(2 * time.Second)
	if err := r.SetOpenUntil(ctx, key, until); err != nil {
		t.Fatal(err)
	}
	if u, err := r.OpenUntil(ctx, key); err != nil || !near(u, until) {
		t.Fatalf("after set: %v, %v; want %v", u, err, until)
	}
	if ttl := rdb.PTTL(ctx, "waq:breaker:{"+key+"}").Val(); ttl <= 0 {
		t.Fatalf("key has PTTL %v, want the open period", ttl)
	}

	if err := r.SetOpenUntil(ctx, key, time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if u, _ := r.OpenUntil(ctx, key); !near(u, until) {
		t.Fatalf("an earlier end shortened the period: %v, want %v", u, until)
	}

	later := time.Now().Add(5 * time.Second)
	if err := r.SetOpenUntil(ctx, key, later); err != nil {
		t.Fatal(err)
	}
	if u, _ := r.OpenUntil(ctx, key); !near(u, later) {
		t.Fatalf("a later end did not extend the period: %v, want %v", u, later)
	}

	if err := r.SetOpenUntil(ctx, "selfserve/past", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n := rdb.Exists(ctx, breaker.RedisKey("selfserve/past")).Val(); n != 0 {
		t.Fatal("a period already over was written")
	}

	if err := r.SetOpenUntil(ctx, "selfserve/short", time.Now().Add(30*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if u, err := r.OpenUntil(ctx, "selfserve/short"); err != nil || !u.IsZero() {
		t.Fatalf("after the period: %v, %v", u, err)
	}

	// Set by hand without a TTL: not an open breaker.
	rdb.Set(ctx, breaker.RedisKey("selfserve/manual"), "1", 0)
	if u, err := r.OpenUntil(ctx, "selfserve/manual"); err != nil || !u.IsZero() {
		t.Fatalf("key without TTL: %v, %v", u, err)
	}
}

func TestRedisSharedAcrossSets(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	a := newSet(breaker.Timeout(time.Second), breaker.Share(breaker.NewRedis(srv.Client()), 0))
	b := newSet(breaker.Timeout(time.Second), breaker.Share(breaker.NewRedis(srv.Client()), 0))

	o0 := time.Now()
	trip(t, a, key, 5)
	o1 := time.Now()
	var oe *breaker.OpenError
	if err := b.Do(t.Context(), key, func() error { return nil }); !errors.As(err, &oe) {
		t.Fatalf("b: %v, want *OpenError", err)
	}
	// Redis's TTL is in whole milliseconds.
	checkRetryIn(t, oe.RetryIn, time.Second, o0.Add(-time.Millisecond), o1, o1, time.Now())
}
