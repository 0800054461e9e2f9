package worker

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

func TestHandlerPool(t *testing.T) {
	var (
		mu      sync.Mutex
		running int
		peak    int
		gate    = make(chan struct{})
	)
	h := asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		switch task.Type() {
		case "panic":
			panic("boom")
		case "fail":
			return errors.New("refused")
		case "wait":
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			<-gate
			mu.Lock()
			running--
			mu.Unlock()
		}
		return nil
	})
	p := newHandlerPool(h, 2)
	defer p.close()
	ctx := context.Background()

	if err := p.ProcessTask(ctx, asynq.NewTask("ok", nil)); err != nil {
		t.Fatalf("ok task: %v", err)
	}
	if err := p.ProcessTask(ctx, asynq.NewTask("fail", nil)); err == nil || err.Error() != "refused" {
		t.Fatalf("failing task: %v", err)
	}
	// A panic is the task's error; the pool goes on.
	if err := p.ProcessTask(ctx, asynq.NewTask("panic", nil)); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking task: %v", err)
	}
	if err := p.ProcessTask(ctx, asynq.NewTask("ok", nil)); err != nil {
		t.Fatalf("after a panic: %v", err)
	}

	// Tasks run one after the other reuse the pooled goroutines.
	before := runtime.NumGoroutine()
	for range 100 {
		p.ProcessTask(ctx, asynq.NewTask("ok", nil))
	}
	if after := runtime.NumGoroutine(); after > before+1 {
		t.Fatalf("goroutines %d -> %d over 100 sequential tasks", before, after)
	}

	// More tasks at once than pooled goroutines: none waits for another.
	const n = 5
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { p.ProcessTask(ctx, asynq.NewTask("wait", nil)) })
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		r := running
		mu.Unlock()
		if r == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks running at once: the pool made the rest wait", r, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(gate)
	wg.Wait()
	if peak != n {
		t.Fatalf("peak %d", peak)
	}

	// After close, a late task still runs.
	p.close()
	if err := p.ProcessTask(ctx, asynq.NewTask("ok", nil)); err != nil {
		t.Fatalf("after close: %v", err)
	}
}
