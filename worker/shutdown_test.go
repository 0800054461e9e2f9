package worker_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// Cancelling Run's context is a graceful shutdown: /readyz fails while the
// worker drains, in-flight sends get ShutdownTimeout to finish, Run returns
// nil, and tasks not started go back to the queue and are sent after a
// restart, exactly once. A send the shutdown timeout cuts short may have
// reached Gupshup: after the restart it is an ambiguous submit, counted and
// settled by AMBIGUOUS_SENDS (sent again, or dead-lettered and never sent
// twice).
func TestGracefulShutdown(t *testing.T) {
	const latency = 1500 * time.Millisecond
	for _, tc := range []struct {
		name      string
		shutdown  time.Duration
		ambiguous string
		finish    bool // the in-flight sends finish within the shutdown timeout
	}{
		{"in-flight sends finish", 10 * time.Second, "resend", true},
		{"cut short, resend", 300 * time.Millisecond, "resend", false},
		{"cut short, deadletter", 300 * time.Millisecond, "deadletter", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startPipeline(t, func(c *worker.Config) {
				c.Concurrency, c.ShutdownTimeout, c.Ambiguous = 3, tc.shutdown, tc.ambiguous
				// Room above the simulator's latency, so that only the
				// shutdown, never the client's own timeout on a loaded
				// machine, cuts a send short.
				c.Timeout = 4 * time.Second
			}, gupshuptest.WithLatency(latency))
			ctx := context.Background()
			const n = 7
			var ids, dests []string
			for i := range n {
				ids, dests = append(ids, fmt.Sprintf("sd-%d", i)), append(dests, fmt.Sprintf("9198000%05d", 300+i))
				p.enqueue(templateSend(ids[i], dests[i]))
			}
			records := func() map[string]store.Record {
				m := map[string]store.Record{}
				for _, id := range ids {
					if rec, ok, err := p.store.Get(ctx, id); err == nil && ok {
						m[id] = rec
					}
				}
				return m
			}
			var inFlight []string
			p.waitFor("three sends in flight", 10*time.Second, func() (bool, string) {
				inFlight = inFlight[:0]
				recs := records()
				for _, id := range ids {
					if recs[id].State == store.StateSending {
						inFlight = append(inFlight, id)
					}
				}
				return len(inFlight) == 3, fmt.Sprint(inFlight)
			})

			stoppedAt := time.Now()
			p.stop()
			p.stop = nil
			var runErr error
			draining := false
		wait:
			for {
				select {
				case runErr = <-p.done:
					break wait
				case <-time.After(20 * time.Millisecond):
				}
				if resp, err := http.Get("http://" + p.cfg.HTTPAddr + "/readyz"); err == nil {
					resp.Body.Close()
					draining = draining || resp.StatusCode == http.StatusServiceUnavailable
				}
				if time.Since(stoppedAt) > tc.shutdown+15*time.Second {
					t.Fatalf("Run did not return")
				}
			}
			took := time.Since(stoppedAt)
			if runErr != nil {
				t.Fatalf("Run after cancel: %v", runErr)
			}
			if !draining {
				t.Errorf("/readyz never failed while the worker drained")
			}
			if took > tc.shutdown+5*time.Second {
				t.Errorf("Run took %v to stop, shutdown timeout %v", took, tc.shutdown)
			}

			// Before the restart: the finished sends went out once, the
			// tasks not started are waiting in the queue.
			recs := records()
			for i, id := range ids {
				cut := slices.Contains(inFlight, id)
				n := len(p.sim.SendsTo(dests[i]))
				switch {
				case cut && tc.finish:
					if n != 1 || recs[id].State == store.StateSending || recs[id].State == store.StateRetry {
						t.Errorf("%s finished during the shutdown: %d sends, state %s", id, n, recs[id].State)
					}
				case !cut && n != 0:
					t.Errorf("%s was not started, yet sent %d times", id, n)
				}
			}
			qi, err := p.insp.GetQueueInfo(tasks.QueueDefault)
			if err != nil {
				t.Fatal(err)
			}
			waiting := n
			if tc.finish {
				waiting -= len(inFlight)
			}
			if qi.Active != 0 || qi.Pending+qi.Retry+qi.Scheduled != waiting {
				t.Fatalf("after shutdown: %d active, %d pending, %d retry, %d scheduled; want %d waiting",
					qi.Active, qi.Pending, qi.Retry, qi.Scheduled, waiting)
			}

			p.start()
			p.waitFor("every task settled after the restart", 30*time.Second, func() (bool, string) {
				qi, err := p.insp.GetQueueInfo(tasks.QueueDefault)
				if err != nil {
					return false, err.Error()
				}
				recs := records()
				for _, id := range ids {
					switch recs[id].State {
					case store.StateSubmitted, store.StateEnqueued, store.StateSent, store.StateDelivered, store.StateRead:
					case store.StateDead:
						if tc.ambiguous != "deadletter" {
							return false, id + " dead"
						}
					default:
						return false, fmt.Sprintf("%s %s", id, recs[id].State)
					}
				}
				return qi.Pending+qi.Active+qi.Scheduled+qi.Retry == 0, fmt.Sprintf("queue %+v", qi)
			})
			recs = records()
			for i, id := range ids {
				sends := len(p.sim.SendsTo(dests[i]))
				rec := recs[id]
				cut := slices.Contains(inFlight, id) && !tc.finish
				switch {
				case !cut:
					if sends != 1 || rec.State == store.StateDead || rec.Ambiguous != 0 {
						t.Errorf("%s: %d sends, state %s, ambiguous %d; want sent exactly once", id, sends, rec.State, rec.Ambiguous)
					}
				case tc.ambiguous == "resend":
					// Nothing lost; Gupshup may have had the cut submit.
					if sends < 1 || sends > 2 || rec.State == store.StateDead || rec.Ambiguous != 1 {
						t.Errorf("%s cut short, resend: %d sends, state %s, ambiguous %d", id, sends, rec.State, rec.Ambiguous)
					}
				default:
					// Nothing doubled: dead-lettered for a person.
					if sends > 1 || rec.State != store.StateDead || rec.Ambiguous != 1 || !strings.Contains(rec.Reason, "ambiguous") {
						t.Errorf("%s cut short, deadletter: %d sends, state %s, ambiguous %d, reason %q", id, sends, rec.State, rec.Ambiguous, rec.Reason)
					}
				}
			}
			if tc.ambiguous == "deadletter" && !tc.finish {
				dls, err := p.store.DeadLetters(ctx, "camp")
				var got []string
				for _, d := range dls {
					got = append(got, d.MessageID+": "+d.Reason)
				}
				if err != nil || len(dls) != len(inFlight) {
					t.Fatalf("dead letters %q %v; want the %d cut sends", got, err, len(inFlight))
				}
				arch, _ := p.insp.ListArchivedTasks(tasks.QueueDefault)
				if len(arch) != len(inFlight) {
					t.Fatalf("%d archived tasks, want %d", len(arch), len(inFlight))
				}
			}
		})
	}
}
