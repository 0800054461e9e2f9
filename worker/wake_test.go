package worker_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// longAgo is a store whose clock is ten minutes behind: a pause or a hold
// set through it has lasted long enough for the workers to hand its sends
// back for holdBackMax (5 minutes).
func longAgo(p *pipeline) *store.Store {
	return store.New(p.redis.Client(), store.WithClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }))
}

// retryTasks lists the send tasks in the retry set of queue q.
func retryTasks(t *testing.T, ins *asynq.Inspector, q string) []*asynq.TaskInfo {
	t.Helper()
	var out []*asynq.TaskInfo
	for page := 1; ; page++ {
		list, err := ins.ListRetryTasks(q, asynq.PageSize(100), asynq.Page(page))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, list...)
		if len(list) < 100 {
			return out
		}
	}
}

// waitHandedBack waits until n tasks of the queue sit in the retry set,
// each due no sooner than after, and returns them.
func waitHandedBack(p *pipeline, q string, n int, after time.Duration) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("%d sends handed back", n), 10*time.Second, func() (bool, string) {
		list := retryTasks(p.t, p.insp, q)
		for _, ti := range list {
			if d := time.Until(ti.NextProcessAt); d < after {
				p.t.Fatalf("task %s handed back for %v only (%s): the test needs a long wait", ti.ID, d, ti.LastErr)
			}
		}
		return len(list) == n, fmt.Sprintf("%d in the retry set", len(list))
	})
}

// A released account's sends come back at once, not after the 5 minutes
// they were handed back for.
func TestReleaseWakesTheHeldSends(t *testing.T) {
	const n = 12
	p := startPipeline(t, func(c *worker.Config) {
		c.AccountProbeInterval = 2 * time.Second
		c.RecipientInterval = 0
	})
	acct := "selfserve/" + p.cfg.AppName
	// Held for ten minutes already (refusals on the spot), its last probe
	// just now: the sends are handed back for about 5 minutes.
	if _, err := longAgo(p).HoldAccount(context.Background(), acct, 1003, "wallet balance low", store.HoldSync, time.Hour); err != nil {
		t.Fatal(err)
	}
	rdb := p.redis.Client()
	if err := rdb.HSet(context.Background(), store.AccountHoldKey(acct), "pt", strconv.FormatInt(time.Now().UnixMilli(), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	dest := func(i int) string { return fmt.Sprintf("9196%08d", i) }
	for i := range n {
		p.enqueue(templateSend(fmt.Sprintf("h%02d", i), dest(i)), tasks.Queue(tasks.QueueBulk))
	}
	waitHandedBack(p, tasks.QueueBulk, n, 3*time.Minute)
	if got := p.sim.Stats().Accepted; got != 0 {
		t.Fatalf("%d sent while held", got)
	}

	// The probe interval has passed: the next send is the probe, Gupshup
	// accepts it, and the hold ends.
	time.Sleep(2 * time.Second)
	start := time.Now()
	p.enqueue(templateSend("probe", dest(n)), tasks.Queue(tasks.QueueBulk))
	p.waitFor("every held send sent", 20*time.Second, func() (bool, string) {
		got := p.sim.Stats().Accepted
		return got == n+1, fmt.Sprintf("%d of %d sent", got, n+1)
	})
	t.Logf("the %d held sends went %v after the probe", n, time.Since(start).Round(time.Millisecond))
	if holds, _ := p.store.AccountHolds(context.Background()); len(holds) != 0 {
		t.Fatalf("still held: %+v", holds)
	}
}

// Resume wakes the campaign's paused hand-backs and nothing else; cancel
// wakes every waiting task of its campaign, scheduled ones included, so
// that they are dropped now.
func TestResumeAndCancelWake(t *testing.T) {
	const n = 10
	p := startPipeline(t, func(c *worker.Config) { c.RecipientInterval = 0 })
	ctx := context.Background()
	old := longAgo(p)
	for _, c := range []string{"camp", "other"} {
		if _, _, err := old.SetCampaignState(ctx, c, store.CampaignPaused, "test", "test"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		p.enqueue(templateSend(fmt.Sprintf("c%02d", i), fmt.Sprintf("9195%08d", i)), tasks.Queue(tasks.QueueBulk))
		o := templateSend(fmt.Sprintf("o%02d", i), fmt.Sprintf("9194%08d", i))
		o.CampaignID = "other"
		p.enqueue(o, tasks.Queue(tasks.QueueBulk))
	}
	later := templateSend("later", "919300000001")
	later.CampaignID = "other"
	due := time.Now().Add(time.Hour)
	p.enqueue(later, tasks.Queue(tasks.QueueBulk), tasks.ProcessAt(due))
	waitHandedBack(p, tasks.QueueBulk, 2*n, 3*time.Minute)

	w, err := worker.CampaignWaiting(ctx, p.insp, "other")
	if err != nil || w.Retry != n || w.Scheduled != 1 || w.LastDue.Sub(due).Abs() > time.Second {
		t.Fatalf("waiting of other: %+v, %v", w, err)
	}

	// Resume camp: its sends go now; other's stay handed back.
	if _, _, err := p.store.SetCampaignState(ctx, "camp", store.CampaignRunning, "", "test"); err != nil {
		t.Fatal(err)
	}
	woken, err := worker.WakePaused(ctx, p.insp, "camp")
	if err != nil || woken < n {
		t.Fatalf("woke %d, %v; want at least %d", woken, err, n)
	}
	p.waitFor("camp sent", 15*time.Second, func() (bool, string) {
		st := p.campaignStatus("camp")
		return st.Submitted == n, fmt.Sprintf("%d submitted", st.Submitted)
	})
	if w, _ := worker.CampaignWaiting(ctx, p.insp, "other"); w.Retry != n || w.Scheduled != 1 {
		t.Fatalf("resuming camp woke other's tasks: %+v", w)
	}

	// Cancel other: every waiting task of it is dropped now, the one due
	// in an hour too.
	if _, _, err := p.store.SetCampaignState(ctx, "other", store.CampaignCancelled, "", "test"); err != nil {
		t.Fatal(err)
	}
	if woken, err := worker.WakeCampaign(ctx, p.insp, "other"); err != nil || woken < n+1 {
		t.Fatalf("woke %d, %v; want at least %d", woken, err, n+1)
	}
	p.waitFor("other dropped", 15*time.Second, func() (bool, string) {
		st := p.campaignStatus("other")
		return st.Cancelled == n+1, fmt.Sprintf("%d cancelled", st.Cancelled)
	})
	if w, _ := worker.CampaignWaiting(ctx, p.insp, "other"); w.Total() != 0 {
		t.Fatalf("still waiting after the cancel: %+v", w)
	}
	if got := p.sim.Stats().Accepted; got != n {
		t.Fatalf("%d sent, want camp's %d only", got, n)
	}
}

// A campaign may have many thousands of tasks waiting: every page of the
// sets is read, and only the campaign's tasks are counted and woken.
func TestWakePagesThroughTheSets(t *testing.T) {
	const mine, others = 2500, 700
	r := redistest.Start(t)
	ctx := context.Background()
	prod := tasks.NewProducer(r.Client())
	ins := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	t.Cleanup(func() { ins.Close() })
	last := time.Now().Add(time.Hour).Truncate(time.Second)
	for i := range mine + others {
		s := templateSend(fmt.Sprintf("m%05d", i), fmt.Sprintf("9192%08d", i))
		at := last.Add(-time.Duration(i%600) * time.Second)
		q := tasks.QueueBulk
		if i >= mine {
			s.CampaignID = "someone-else"
			at = last.Add(time.Hour)
		} else if i%3 == 0 {
			q = tasks.QueueDefault
		}
		if _, err := prod.Enqueue(ctx, s, tasks.Queue(q), tasks.ProcessAt(at)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := worker.CampaignWaiting(ctx, ins, "camp")
	if err != nil || w.Scheduled != mine || w.Retry != 0 || !w.LastDue.Equal(last) {
		t.Fatalf("waiting %+v, %v; want %d scheduled, the last due %v", w, err, mine, last)
	}
	woken, err := worker.WakeCampaign(ctx, ins, "camp")
	if err != nil || woken != mine {
		t.Fatalf("woke %d, %v; want %d", woken, err, mine)
	}
	pending := 0
	for _, q := range []string{tasks.QueueBulk, tasks.QueueDefault} {
		info, err := ins.GetQueueInfo(q)
		if err != nil {
			t.Fatal(err)
		}
		pending += info.Pending
	}
	if pending != mine {
		t.Fatalf("%d pending, want %d", pending, mine)
	}
	if w, _ := worker.CampaignWaiting(ctx, ins, "someone-else"); w.Scheduled != others {
		t.Fatalf("the other campaign: %+v, want %d scheduled", w, others)
	}
}
