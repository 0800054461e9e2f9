package webhook_test

import (
	"context"
	"sync"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
)

// recorder is a Tracker that keeps what it is told.
type recorder struct {
	mu    sync.Mutex
	calls []tracked
}

type tracked struct {
	msgID  string
	status gupshup.Status
	res    store.EventResult
	v      retry.Verdict
}

func (r *recorder) Track(_ context.Context, msgID string, ev gupshup.Event, res store.EventResult, v retry.Verdict) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, tracked{msgID, ev.Status, res, v})
}

// The tracker is told of every applied event, duplicates marked, with the
// verdict of a failure: campaign counters count the fresh ones only.
func TestTrackerToldOfEveryEvent(t *testing.T) {
	e := newEnv(t, slowPolicy)
	rec := &recorder{}
	e.proc.Tracker = rec
	e.submitted(templateSend("t1"), 0, "gs-t1")
	e.submitted(templateSend("t2"), 0, "gs-t2")
	for range 2 {
		e.apply(status("gs-t1", gupshup.StatusDelivered))
		e.apply(failed("gs-t2", 1003))
	}
	e.apply(status("gs-unknown", gupshup.StatusDelivered)) // parked: nothing to track yet
	if len(rec.calls) != 4 {
		t.Fatalf("%d calls: %+v", len(rec.calls), rec.calls)
	}
	fresh := 0
	for _, c := range rec.calls {
		if !c.res.Duplicate {
			fresh++
		}
		if c.msgID == "t2" && (c.res.FollowUp != store.FollowResend || !c.v.AccountWide || c.v.Code != 1003 || c.res.CampaignID != "camp") {
			t.Fatalf("failed event tracked as %+v", c)
		}
	}
	if fresh != 2 {
		t.Fatalf("%d fresh events, want 2", fresh)
	}
}
