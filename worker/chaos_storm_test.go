//go:build chaos

package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// TestChaosCallbackStorm delivers every callback ten times, out of order,
// for a campaign with retryable-then-ok and terminal failures reported by
// callback. Statuses end right, each retryable failure is resent exactly
// once, each terminal one is dead-lettered exactly once.
func TestChaosCallbackStorm(t *testing.T) {
	const (
		perKind  = 250
		copies   = 10
		jitter   = 500 * time.Millisecond
		sendRate = 300
	)
	sc := newScenario(t, "4-callback-storm", "Callback storm: every callback 10 times, out of order",
		"Callbacks delivered many times and out of order change nothing: statuses end right (read for delivered "+
			"messages, dead with the code for terminal failures), a retryable failure is resent exactly once per failure "+
			"(generation exact, accepted sends at Gupshup exact), and a terminal failure makes exactly one dead letter "+
			"(dead-letter log and asynq archive counts exact).")

	type kind struct {
		name  string
		fault gupshuptest.Fault // Match set per destination
		gen   int               // resends the failures ask for
		dead  bool
	}
	kinds := []kind{
		{"delivered", gupshuptest.Fault{}, 0, false},
		{"4002 once (retryable)", gupshuptest.Fault{Code: 4002, First: 1}, 1, false},
		{"1003 once (wallet low)", gupshuptest.Fault{Code: 1003, First: 1}, 1, false},
		{"500 once (retryable)", gupshuptest.Fault{Code: 500, First: 1}, 1, false},
		{"4002 twice (retryable)", gupshuptest.Fault{Code: 4002, First: 2}, 2, false},
		{"1002 (terminal)", gupshuptest.Fault{Code: 1002}, 0, true},
		{"1008 (terminal)", gupshuptest.Fault{Code: 1008}, 0, true},
		{"131026 (terminal)", gupshuptest.Fault{Code: 131026}, 0, true},
	}
	dest := func(k, i int) string { return fmt.Sprintf("9166%02d%06d", k, i) }
	var faults []gupshuptest.Fault
	for k, kd := range kinds {
		if kd.fault.Code == 0 {
			continue
		}
		f := kd.fault
		f.Match = fmt.Sprintf("9166%02d*", k)
		faults = append(faults, f)
	}
	lb := newBalancer(t)
	p := startPipeline(t, func(c *worker.Config) {
		c.SendRate, c.Concurrency = sendRate, 32
		c.WalletLowDelay = 300 * time.Millisecond
		c.MaxAttempts = 6
	}, gupshuptest.WithFaults(faults...), gupshuptest.WithCallbackCopies(copies, jitter),
		gupshuptest.WithCallbackURL(lb.URL+"/webhooks/gupshup/"+testToken))
	lb.set(p.cfg.HTTPAddr)
	sc.Setup = []string{
		fmt.Sprintf("%d messages, %d of each kind: %s", perKind*len(kinds), perKind, kindNames(kinds, func(k kind) string { return k.name })),
		fmt.Sprintf("the simulator delivers every callback %d times, spread over %v, so they arrive out of order", copies, jitter),
		fmt.Sprintf("one in-process worker (SEND_RATE %d, WORKER_CONCURRENCY 32)", sendRate),
	}

	var sends []*tasks.Send
	var ids []string
	want := map[string]kind{}
	for k, kd := range kinds {
		for i := 0; i < perKind; i++ {
			s := chaosSend("storm", k*perKind+i, dest(k, i))
			sends = append(sends, s)
			ids = append(ids, s.MessageID)
			want[s.MessageID] = kd
		}
	}
	enqueueCampaign(t, p.redis.Client(), sends)

	var recs map[string]store.Record
	poll.Until(t, "every message final and every queue empty", 3*time.Minute, time.Second, func() (bool, string) {
		recs = records(t, p.redis.Client(), ids)
		open := 0
		hist := map[string]int{}
		for _, id := range ids {
			w := store.StateRead
			if want[id].dead {
				w = store.StateDead
			}
			if recs[id].State != w {
				open++
				hist[want[id].name+": "+string(recs[id].State)]++
			}
		}
		if open > 0 {
			return false, fmt.Sprintf("%d not final: %v", open, hist)
		}
		return settled(p.insp)
	})
	// Late copies keep arriving for up to the jitter after the last
	// event: let them, then count.
	time.Sleep(jitter + time.Second)
	sc.done()

	byDest := sendsByDestination(p.sim)
	wantAccepted, deadWant := 0, 0
	var wrongState, wrongGen, wrongSends int
	recs = records(t, p.redis.Client(), ids)
	for k, kd := range kinds {
		for i := 0; i < perKind; i++ {
			id := sends[k*perKind+i].MessageID
			rec := recs[id]
			n := len(byDest[dest(k, i)])
			wantAccepted += 1 + kd.gen
			w := store.StateRead
			if kd.dead {
				w = store.StateDead
				deadWant++
				if rec.Code != kd.fault.Code {
					wrongState++
					t.Errorf("%s (%s): dead with code %d", id, kd.name, rec.Code)
				}
			}
			if rec.State != w {
				wrongState++
				t.Errorf("%s (%s): state %s, want %s", id, kd.name, rec.State, w)
			}
			if rec.Generation != kd.gen {
				wrongGen++
				t.Errorf("%s (%s): generation %d, want %d", id, kd.name, rec.Generation, kd.gen)
			}
			if n != 1+kd.gen {
				wrongSends++
				t.Errorf("%s (%s): %d accepted sends, want %d", id, kd.name, n, 1+kd.gen)
			}
		}
	}
	accepted := p.sim.Stats().Accepted
	if accepted != wantAccepted {
		t.Errorf("%d accepted sends at the simulator, want exactly %d", accepted, wantAccepted)
	}
	dls, err := p.store.DeadLetters(context.Background(), "storm")
	if err != nil {
		t.Fatal(err)
	}
	perMsg := map[string]int{}
	for _, d := range dls {
		perMsg[d.MessageID]++
	}
	doubled := 0
	for _, n := range perMsg {
		if n > 1 {
			doubled++
		}
	}
	arch := archived(t, p.insp)
	archPer := map[string]int{}
	badErr := 0
	for _, a := range arch {
		archPer[a.ID]++
		if !strings.Contains(a.LastErr, "code ") {
			badErr++
			t.Errorf("archived %s: last error %q does not carry its code", a.ID, a.LastErr)
		}
	}
	if len(dls) != deadWant || doubled != 0 {
		t.Errorf("%d dead letters (%d messages with more than one), want exactly %d", len(dls), doubled, deadWant)
	}
	if len(arch) != deadWant || len(archPer) != deadWant {
		t.Errorf("%d archived tasks (%d distinct), want exactly %d", len(arch), len(archPer), deadWant)
	}
	retry := 0
	for _, q := range []string{tasks.QueueBulk} {
		if ts, err := p.insp.ListRetryTasks(q, asynq.PageSize(100)); err == nil {
			retry += len(ts)
		}
	}

	sc.Add("messages", len(ids), "")
	sc.Add("callback copies per event / spread", fmt.Sprintf("%d / %v", copies, jitter), "")
	sc.Add("callback deliveries the worker answered", lb.served.Load(), "reported")
	sc.Add("messages in the right final state (read, or dead with their code)", len(ids)-wrongState, fmt.Sprintf("= %d", len(ids)))
	sc.Add("messages with the right generation (one resend per failure)", len(ids)-wrongGen, fmt.Sprintf("= %d", len(ids)))
	sc.Add("accepted sends at the simulator", accepted, fmt.Sprintf("= %d exactly", wantAccepted))
	sc.Add("destinations with the exact number of accepted sends", len(ids)-wrongSends, fmt.Sprintf("= %d", len(ids)))
	sc.Add("dead letters in the log (messages with more than one)", fmt.Sprintf("%d (%d)", len(dls), doubled), fmt.Sprintf("= %d (0)", deadWant))
	sc.Add("archived tasks (distinct) / without the code in the last error", fmt.Sprintf("%d (%d) / %d", len(arch), len(archPer), badErr), fmt.Sprintf("= %d (%d) / 0", deadWant, deadWant))
	sc.Add("tasks left in the retry set", retry, "= 0")
}

func kindNames[K any](ks []K, name func(K) string) string {
	var out []string
	for _, k := range ks {
		out = append(out, name(k))
	}
	return strings.Join(out, ", ")
}
