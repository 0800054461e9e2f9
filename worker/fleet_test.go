package worker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// TestFleetRateLimit runs three worker processes against one Redis with
// SEND_RATE=100: the limit holds for the fleet, not per process.
func TestFleetRateLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("three worker processes for 15 s")
	}
	const (
		sendRate = 100
		messages = 1500
	)
	// The in-process worker of the harness is stopped at once: the three
	// processes do the sending.
	p := startPipeline(t, func(c *worker.Config) { c.SendRate = sendRate; c.Concurrency = 20 })
	p.stopWorker()
	for i := 0; i < 3; i++ {
		startProcess(t, p.cfg)
	}
	items := make(chan tasks.Item)
	go func() {
		defer close(items)
		for i := 0; i < messages; i++ {
			items <- tasks.Item{Send: templateSend(fmt.Sprintf("f%05d", i), fmt.Sprintf("9197%08d", i))}
		}
	}()
	p.producer.EnqueueAll(context.Background(), items, 8, func(tasks.Item, tasks.Result, error) {})
	p.waitFor("the whole campaign accepted", 60*time.Second, func() (bool, string) {
		n := p.sim.Stats().Accepted
		return n >= messages, fmt.Sprintf("%d of %d accepted", n, messages)
	})
	st := p.sim.Stats()
	span := st.Last.Sub(st.First).Seconds()
	avg := float64(st.Accepted-1) / span
	burst := p.cfg.SendBurst
	t.Logf("3 processes, SEND_RATE %d: %d sends in %.2f s = %.1f/s; busiest aligned second %d, sliding %d",
		sendRate, st.Accepted, span, avg, st.MaxPerSecond[testSource], st.MaxSliding[testSource])
	if avg < 95 || avg > sendRate+0.5 {
		t.Errorf("average rate %.1f/s, want 95-100", avg)
	}
	// Per second, as a provider counts, the fleet never goes over the rate
	// plus the burst. A sliding window placed at any millisecond also
	// catches sends the limiter spaced correctly but that reached the
	// simulator late (a process off the CPU for tens of milliseconds on a
	// loaded machine): that jitter is allowed 3% on top.
	if got := st.MaxPerSecond[testSource]; got > sendRate+burst {
		t.Errorf("a 1-second window at the simulator had %d sends, over %d + burst %d", got, sendRate, burst)
	}
	if got := st.MaxSliding[testSource]; got > sendRate+burst+sendRate*3/100 {
		t.Errorf("a sliding 1-second window at the simulator had %d sends, over %d + burst %d + 3%% jitter", got, sendRate, burst)
	}
	for src, n := range st.PerDestination {
		if n != 1 {
			t.Errorf("%s accepted %d times", src, n)
		}
	}
}
