package bench

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/tasks"
)

// latencyRun enqueues at a light, steady rate to a running worker and
// returns every message's enqueue-to-submit time, sorted.
func latencyRun(t *testing.T, bins binaries, bare bool, campaign string) []time.Duration {
	t.Helper()
	r := startRedis(t)
	defer r.close()
	sim := startSim(t, bins, gupshuptest.DefaultConfig())
	defer sim.kill()
	var w *proc
	if bare {
		w = startWorker(t, "bareworker", bins.bare, r, sim, map[string]string{"WORKER_CONCURRENCY": "50"})
	} else {
		// The worker as deployed: default SEND_RATE (80), pacing, concurrency.
		w = startWorker(t, "worker", bins.worker, r, sim, nil)
	}
	defer w.stop()

	p := tasks.NewProducer(r.rdb)
	n := int(float64(*latencyRate) * latencyFor.Seconds())
	sentAt := make(map[string]time.Time, n)
	exp := time.Now().Add(time.Hour)
	tick := time.NewTicker(time.Second / time.Duration(*latencyRate))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		s := campaignSend(campaign, i, exp)
		at := time.Now()
		if _, err := p.Enqueue(context.Background(), s, tasks.Queue(tasks.QueueDefault)); err != nil {
			t.Fatal(err)
		}
		sentAt[s.Destination] = at
	}
	r.waitQueue(t, tasks.QueueDefault, time.Minute, nil)
	sends := sim.sends(t, "")
	if len(sends) != n {
		t.Fatalf("%d sends, want %d", len(sends), n)
	}
	lat := make([]time.Duration, 0, n)
	for _, x := range sends {
		at, ok := sentAt[x.Destination]
		if !ok {
			t.Fatalf("unexpected send to %s", x.Destination)
		}
		lat = append(lat, x.Time.Sub(at))
	}
	slices.Sort(lat)
	return lat
}

func benchLatency(t *testing.T, bins binaries) *section {
	w := latencyRun(t, bins, false, "latency-worker")
	b := latencyRun(t, bins, true, "latency-bare")
	row := func(name string, l []time.Duration) []string {
		return []string{name, ms(percentile(l, 50)), ms(percentile(l, 90)), ms(percentile(l, 99)), ms(l[len(l)-1]), ms(l[0])}
	}
	s := &section{title: "Latency at light load"}
	s.method = []string{fmt.Sprintf("One message every %v (%d msg/s) for %v, enqueued one by one with `tasks.Producer.Enqueue` "+
		"on the `default` queue to a worker process already running with its defaults (`SEND_RATE=80`, recipient pacing, "+
		"concurrency 50). Latency is the simulator's record time of the accepted send minus the time just before the "+
		"`Enqueue` call (one clock: everything runs on this machine). The bare handler of the send-path benchmark is "+
		"measured the same way, as the baseline of what asynq itself costs.", time.Second/time.Duration(*latencyRate),
		*latencyRate, *latencyFor)}
	p50w, p99w := percentile(w, 50), percentile(w, 99)
	p50b, p99b := percentile(b, 50), percentile(b, 99)
	s.check(check{what: "enqueue-to-submit p50", target: "reported", measured: ms(p50w), baseline: ms(p50b),
		ratio: fmt.Sprintf("%+.1f ms", float64(p50w-p50b)/float64(time.Millisecond)), pass: true})
	s.check(check{what: "enqueue-to-submit p99", target: "reported", measured: ms(p99w), baseline: ms(p99b),
		ratio: fmt.Sprintf("%+.1f ms", float64(p99w-p99b)/float64(time.Millisecond)), pass: true})
	s.tables = append(s.tables, table{
		header: []string{"", "p50", "p90", "p99", "max", "min"},
		rows:   [][]string{row("worker", w), row("bare asynq handler", b)},
	})
	s.note("Where the time goes: asynq polls. When every queue is empty its processor sleeps `TaskCheckInterval` " +
		"times a random factor between 0.5 and 1.5 before it looks again, and at 20 msg/s the queues are empty most of the " +
		"time, so a message mostly waits for the end of the current sleep. The bare handler runs with asynq's default " +
		"interval of 1 s, hence its half a second at the median and up to 1.5 s; the worker's `worker.NewServer` sets a " +
		"shorter one (200 ms when this was written), which bounds its wait to about 300 ms. What remains of the worker's " +
		"figure beyond the poll is its handful of Redis round trips and the POST.")
	return s
}
