package worker_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

func (p *pipeline) campaignStatus(id string) store.CampaignStatus {
	p.t.Helper()
	st, err := p.store.CampaignStatus(context.Background(), id)
	if err != nil {
		p.t.Fatal(err)
	}
	return st
}

func (p *pipeline) enqueueCounted(n int, dest func(int) string) {
	p.t.Helper()
	for i := range n {
		p.enqueue(templateSend(fmt.Sprintf("m%04d", i), dest(i)), tasks.Queue(tasks.QueueBulk))
	}
	// What the enqueuer does at the end of a file.
	if err := p.store.Tally(context.Background(), "camp", store.Tally{Kind: store.TallyQueued, N: int64(n)}); err != nil {
		p.t.Fatal(err)
	}
}

// Through the real worker and the simulator, with every callback
// delivered three times, as v2 and as v3, out of order: the counters end
// exactly at what happened.
func TestCampaignCountersUnderCallbackStorm(t *testing.T) {
	const n = 200
	dest := func(i int) string { return fmt.Sprintf("9197%08d", i) }
	var faults []gupshuptest.Fault
	for i := range n {
		switch i % 10 {
		case 0:
			faults = append(faults, gupshuptest.Fault{Match: dest(i), Code: 1002})
		case 1:
			faults = append(faults, gupshuptest.Fault{Match: dest(i), Code: 4002, First: 1})
		}
	}
	p := startPipeline(t, func(c *worker.Config) {
		c.Concurrency = 32
		c.AutoPauseShare = 0.9 // on, and out of the way
		c.AutoPauseWindow, c.AutoPauseOutcomes, c.AutoPauseMin = time.Minute, 200, 100
		c.AccountProbeInterval = time.Second
	},
		gupshuptest.WithFaults(faults...),
		gupshuptest.WithCallbackFormat("both"),
		gupshuptest.WithCallbackCopies(3, 40*time.Millisecond),
	)
	p.enqueueCounted(n, dest)
	p.waitFor("every message final", 60*time.Second, func() (bool, string) {
		open := 0
		for i := range n {
			want := store.StateRead
			if i%10 == 0 {
				want = store.StateDead
			}
			if p.record(fmt.Sprintf("m%04d", i)).State != want {
				open++
			}
		}
		return open == 0, fmt.Sprintf("%d not final", open)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.sim.WaitCallbacks(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.campaignStatus("camp")
	c := st.CampaignCounts
	if c.Queued != n || c.Submitted != n+20 || c.Delivered != n-20 || c.Read != n-20 || c.Failed[1002] != 20 || c.Failed[4002] != 20 ||
		len(c.Failed) != 2 || c.FailedCallback != 40 || c.Dead != 20 || c.DeadByCode[1002] != 20 || c.Expired != 0 || c.Cancelled != 0 {
		t.Fatalf("counts %+v", c)
	}
	if c.Remaining() != 0 {
		t.Fatalf("remaining %d", c.Remaining())
	}
	if st.SendsLastMinute != n+20 || st.Control.State != store.CampaignRunning {
		t.Fatalf("last minute %d, state %s", st.SendsLastMinute, st.Control.State)
	}
	if stats := p.sim.Stats(); stats.Accepted != n+20 {
		t.Fatalf("simulator accepted %d", stats.Accepted)
	}
}

// Many numbers that do not exist: the campaign pauses itself, loudly, and
// sends nothing more; a cancel then drops what is left, counted.
func TestAutoPauseStopsACampaign(t *testing.T) {
	const n = 300
	dest := func(i int) string { return fmt.Sprintf("9196%08d", i) }
	p := startPipeline(t, func(c *worker.Config) {
		c.SendRate = 60
		c.AutoPauseShare = 0.2
		c.AutoPauseWindow, c.AutoPauseOutcomes, c.AutoPauseMin = time.Minute, 40, 20
	}, gupshuptest.WithFaults(gupshuptest.Fault{Match: "*[02468]", Code: 1002}))
	p.enqueueCounted(n, dest)
	p.waitFor("the auto-pause", 30*time.Second, func() (bool, string) {
		st := p.campaignStatus("camp")
		return st.Control.State == store.CampaignPaused, fmt.Sprintf("state %s, %d dead of %d submitted", st.Control.State, st.Dead, st.Submitted)
	})
	st := p.campaignStatus("camp")
	if st.Control.By != "auto" || !strings.Contains(st.Control.Reason, "auto-pause") {
		t.Fatalf("control %+v", st.Control)
	}
	logs := p.logs.String()
	if strings.Count(logs, "campaign auto-paused") != 1 || !strings.Contains(logs, `"alarm":true`) {
		t.Fatalf("auto-pause not logged once with an alarm")
	}
	// Sends in flight finish; then nothing more goes.
	time.Sleep(500 * time.Millisecond)
	before := p.sim.Stats().Accepted
	time.Sleep(2 * time.Second)
	after := p.sim.Stats().Accepted
	if after != before || after >= n {
		t.Fatalf("accepted %d, then %d: sends went on while paused", before, after)
	}
	t.Logf("paused after %d of %d sends: %s", before, n, st.Control.Reason)

	// Cancel: the handed-back messages come back within their wait and are
	// dropped; every message is accounted for.
	if _, _, err := p.store.SetCampaignState(context.Background(), "camp", store.CampaignCancelled, "test", "test"); err != nil {
		t.Fatal(err)
	}
	p.waitFor("every message settled", 30*time.Second, func() (bool, string) {
		st := p.campaignStatus("camp")
		return st.Remaining() == 0, fmt.Sprintf("%d remaining: %+v", st.Remaining(), st.CampaignCounts)
	})
	st = p.campaignStatus("camp")
	if st.Cancelled < n-int64(after) || p.sim.Stats().Accepted != after {
		t.Fatalf("cancelled %d with %d sent; after the cancel %d sends", st.Cancelled, after, p.sim.Stats().Accepted-after)
	}
	if rec := p.record("m0299"); rec.State != store.StateCancelled {
		t.Fatalf("last message %s", rec.State)
	}
}

// The wallet runs dry: the account is held, one probe per interval goes
// out instead of every message failing, and the probe that gets through
// releases the rest.
func TestWalletLowHoldsTheAccountEndToEnd(t *testing.T) {
	const (
		n     = 15
		every = 400 * time.Millisecond
		dest  = "919500000001"
	)
	// Every send to the one number fails with 1003 four times: the
	// wallet, topped up after four tries.
	p := startPipeline(t, func(c *worker.Config) {
		c.SendRate = 10
		c.RecipientInterval = 0
		c.WalletLowDelay = 200 * time.Millisecond
		c.AccountProbeInterval = every
	}, gupshuptest.WithFaults(gupshuptest.Fault{Match: dest, Code: 1003, First: 4}))
	p.enqueueCounted(n, func(int) string { return dest })
	p.waitFor("every message delivered", 60*time.Second, func() (bool, string) {
		open := 0
		for i := range n {
			if st := p.record(fmt.Sprintf("m%04d", i)).State; st != store.StateRead && st != store.StateDelivered {
				open++
			}
		}
		return open == 0, fmt.Sprintf("%d not delivered", open)
	})
	var failed []time.Time
	for _, s := range p.sim.Sends() {
		if s.FailCode == 1003 {
			failed = append(failed, s.Time)
		}
	}
	if len(failed) != 4 || p.sim.Stats().Accepted != n+4 {
		t.Fatalf("%d failed sends, %d accepted: want 4 and %d", len(failed), p.sim.Stats().Accepted, n+4)
	}
	// Unheld, the four would go 100 ms apart (SEND_RATE 10), every send
	// waiting for its slot going out; held, the sends waiting for their
	// slot are handed back and the last failures are probes, an interval
	// apart (allow two on the wire before the first callback arrived).
	if spread := failed[3].Sub(failed[0]); spread < 2*every {
		t.Fatalf("the failed sends span %v: not one probe per %v", spread, every)
	}
	t.Logf("failed sends at %v after the first", []time.Duration{failed[1].Sub(failed[0]), failed[2].Sub(failed[0]), failed[3].Sub(failed[0])})
	logs := p.logs.String()
	if strings.Count(logs, "account held: Gupshup refuses its sends") != 1 || strings.Count(logs, "account released") != 1 {
		t.Fatalf("held %d times, released %d times", strings.Count(logs, "account held: Gupshup"), strings.Count(logs, "account released"))
	}
	if holds, _ := p.store.AccountHolds(context.Background()); len(holds) != 0 {
		t.Fatalf("still held: %+v", holds)
	}
	// Only the messages that failed used an attempt.
	resent := 0
	for i := range n {
		if p.record(fmt.Sprintf("m%04d", i)).Generation > 0 {
			resent++
		}
	}
	if resent > 4 {
		t.Fatalf("%d messages used an attempt, want at most the 4 that failed", resent)
	}
	if c := p.campaignStatus("camp").CampaignCounts; c.Failed[1003] != 4 || c.Remaining() != 0 {
		t.Fatalf("counts %+v", c)
	}
}
