package coalesce_test

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/coalesce"
)

type call struct {
	n      int
	result int
	runBy  int // which run served it
}

// TestCallsArrivingTogetherShareRuns holds the first run until every
// other caller has arrived: they must all be served by one more run, each
// with its own result, in the order they came.
func TestCallsArrivingTogetherShareRuns(t *testing.T) {
	const callers = 20
	release := make(chan struct{})
	var runs atomic.Int32
	var sizes []int
	q := coalesce.New(100, func(items []*call) {
		r := int(runs.Add(1))
		sizes = append(sizes, len(items)) // runs never overlap
		if r == 1 {
			<-release
		}
		for _, c := range items {
			c.result, c.runBy = c.n*c.n, r
		}
	})
	first := &call{n: -1}
	firstDone := make(chan struct{})
	go func() { q.Do(first); close(firstDone) }()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	calls := make([]*call, callers)
	var wg sync.WaitGroup
	var arrived atomic.Int32
	for i := range calls {
		calls[i] = &call{n: i}
		wg.Go(func() { arrived.Add(1); q.Do(calls[i]) })
	}
	for arrived.Load() < callers {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // into the queue, behind the held run
	close(release)
	wg.Wait()
	<-firstDone

	if runs.Load() != 2 || !slices.Equal(sizes, []int{1, callers}) {
		t.Fatalf("%d runs of sizes %v; want the held one and one for the %d that waited", runs.Load(), sizes, callers)
	}
	for _, c := range calls {
		if c.result != c.n*c.n || c.runBy != 2 {
			t.Fatalf("call %d: result %d by run %d", c.n, c.result, c.runBy)
		}
	}
}

// TestMaxBoundsARun checks that a backlog is served max at a time, each
// caller once.
func TestMaxBoundsARun(t *testing.T) {
	var mu sync.Mutex
	var sizes []int
	served := map[int]int{}
	q := coalesce.New(4, func(items []int) {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(items))
		for _, n := range items {
			served[n]++
		}
	})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() { q.Do(i) })
	}
	wg.Wait()
	for i := range 50 {
		if served[i] != 1 {
			t.Fatalf("item %d served %d times", i, served[i])
		}
	}
	if slices.Max(sizes) > 4 {
		t.Fatalf("a run of %d items; max is 4 (%v)", slices.Max(sizes), sizes)
	}
	if len(sizes) == 50 {
		t.Fatalf("50 runs for 50 callers arriving together: nothing was shared")
	}
}

// TestAPanicReleasesTheOthers: a run that panics passes the lead on, so
// the callers behind it are served, and the panic reaches its caller.
func TestAPanicReleasesTheOthers(t *testing.T) {
	release := make(chan struct{})
	var runs atomic.Int32
	q := coalesce.New(10, func(items []string) {
		if runs.Add(1) == 1 {
			<-release
			panic("boom")
		}
	})
	panicked := make(chan any, 1)
	go func() {
		defer func() { panicked <- recover() }()
		q.Do("first")
	}()
	for runs.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan struct{})
	go func() { q.Do("second"); close(done) }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if p := <-panicked; p != "boom" {
		t.Fatalf("the panic reached its caller as %v", p)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the caller behind a panicking run was never served")
	}
}
