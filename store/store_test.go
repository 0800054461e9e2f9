package store

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newStore(t *testing.T) (*Store, *fakeClock) {
	t.Helper()
	srv := redistest.Start(t)
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	return New(srv.Client(), WithClock(clk.now)), clk
}

var ctx = context.Background()

func claim(t *testing.T, s *Store, id string, gen int) Claim {
	t.Helper()
	c, err := s.Claim(ctx, ClaimRequest{MessageID: id, Generation: gen, Payload: []byte(`{"p":1}`), CampaignID: "c1", Queue: "bulk", InFlight: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClaimNeverSubmitsTwice(t *testing.T) {
	s, clk := newStore(t)
	if c := claim(t, s, "m1", 0); c.Action != ClaimSend {
		t.Fatalf("first claim: %+v", c)
	}
	// A redelivery while the first submit is in flight waits.
	if c := claim(t, s, "m1", 0); c.Action != ClaimBusy || c.BusyFor != 30*time.Second {
		t.Fatalf("claim during flight: %+v", c)
	}
	if err := s.Submitted(ctx, "m1", 0, "gs-1"); err != nil {
		t.Fatal(err)
	}
	// Once submitted, any redelivery is done, with the Gupshup id kept.
	for i := 0; i < 3; i++ {
		if c := claim(t, s, "m1", 0); c.Action != ClaimDone || c.GupshupID != "gs-1" {
			t.Fatalf("claim after submit: %+v", c)
		}
	}
	id, gen, ok, err := s.Lookup(ctx, "gs-1")
	if err != nil || !ok || id != "m1" || gen != 0 {
		t.Fatalf("lookup: %q %d %v %v", id, gen, ok, err)
	}
	rec, ok, _ := s.Get(ctx, "m1")
	if !ok || rec.State != StateSubmitted || rec.CampaignID != "c1" || rec.Queue != "bulk" || string(rec.Payload) != `{"p":1}` {
		t.Fatalf("record: %+v", rec)
	}
	_ = clk
}

func TestClaimAmbiguousAfterInFlightWindow(t *testing.T) {
	s, clk := newStore(t)
	claim(t, s, "m1", 0)
	clk.add(31 * time.Second)
	if c := claim(t, s, "m1", 0); c.Action != ClaimAmbiguous {
		t.Fatalf("claim after a dead submit: %+v", c)
	}
	rec, _, _ := s.Get(ctx, "m1")
	if rec.Ambiguous != 1 {
		t.Fatalf("ambiguous count %d", rec.Ambiguous)
	}
}

func TestClaimAfterDefiniteFailureSendsAgain(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	if err := s.Failed(ctx, "m1", 0, false, 0, "HTTP 500"); err != nil {
		t.Fatal(err)
	}
	if c := claim(t, s, "m1", 0); c.Action != ClaimSend {
		t.Fatalf("claim after a definite failure: %+v", c)
	}
}

func TestSyncDeadThenOperatorRerun(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	s.Failed(ctx, "m1", 0, true, 1002, "Number Does Not Exists On WhatsApp")
	// Running the archived task again from asynqmon sends afresh.
	if c := claim(t, s, "m1", 0); c.Action != ClaimSend || !c.Rerun {
		t.Fatalf("rerun of a dead message: %+v", c)
	}
}

func TestCallbackFailureResendAndDuplicates(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	s.Submitted(ctx, "m1", 0, "gs-1")
	ev := EventRequest{MessageID: "m1", Generation: 0, GupshupID: "gs-1", Status: StatusFailed, Code: 4002, Reason: "x", Decision: "resend"}
	r, err := s.ApplyEvent(ctx, ev)
	if err != nil || r.FollowUp != FollowResend || r.Generation != 1 || string(r.Payload) != `{"p":1}` || r.Queue != "bulk" || r.Duplicate {
		t.Fatalf("first failed: %+v %v", r, err)
	}
	// The same event again (storm, v2+v3 copies) re-issues the pending
	// resend, flagged duplicate; the enqueue's task id makes it harmless.
	r, _ = s.ApplyEvent(ctx, ev)
	if r.FollowUp != FollowResend || r.Generation != 1 || !r.Duplicate {
		t.Fatalf("duplicate failed: %+v", r)
	}
	// The resend is claimed, submitted; now the old event is stale history.
	if c := claim(t, s, "m1", 1); c.Action != ClaimSend {
		t.Fatalf("claim gen 1: %+v", c)
	}
	// A redelivered task of generation 0 is obsolete.
	if c := claim(t, s, "m1", 0); c.Action != ClaimStale {
		t.Fatalf("claim gen 0 after gen 1: %+v", c)
	}
	s.Submitted(ctx, "m1", 1, "gs-2")
	r, _ = s.ApplyEvent(ctx, ev)
	if r.FollowUp != FollowNone {
		t.Fatalf("old failed after the resend went out: %+v", r)
	}
	r, _ = s.ApplyEvent(ctx, EventRequest{MessageID: "m1", Generation: 1, GupshupID: "gs-2", Status: StateDelivered})
	rec, _, _ := s.Get(ctx, "m1")
	if r.FollowUp != FollowNone || rec.State != StateDelivered || rec.Generation != 1 || rec.GupshupID != "gs-2" {
		t.Fatalf("after delivered: %+v %+v", r, rec)
	}
}

func TestCallbackDeadLetterArchivesOnce(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	s.Submitted(ctx, "m1", 0, "gs-1")
	ev := EventRequest{MessageID: "m1", GupshupID: "gs-1", Status: StatusFailed, Code: 1002, Reason: "nope", Decision: "dead"}
	r, _ := s.ApplyEvent(ctx, ev)
	if r.FollowUp != FollowDead || r.Generation != 0 {
		t.Fatalf("failed terminal: %+v", r)
	}
	// The dead-letter task carries it into the archive, once.
	c := claim(t, s, "m1", 0)
	if c.Action != ClaimArchive || c.Code != 1002 || c.Reason != "nope" {
		t.Fatalf("claim of the dead-letter task: %+v", c)
	}
	// Once archived, duplicates of the event ask for nothing more.
	if r, _ := s.ApplyEvent(ctx, ev); r.FollowUp != FollowNone {
		t.Fatalf("duplicate after archiving: %+v", r)
	}
	// An operator's run of the archived task sends again.
	if c := claim(t, s, "m1", 0); c.Action != ClaimSend || !c.Rerun {
		t.Fatalf("operator rerun: %+v", c)
	}
}

func TestStatusesOnlyMoveForward(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	s.Submitted(ctx, "m1", 0, "gs-1")
	for _, st := range []State{StateRead, StateSent, StateEnqueued, StateDelivered} {
		s.ApplyEvent(ctx, EventRequest{MessageID: "m1", GupshupID: "gs-1", Status: st})
	}
	rec, _, _ := s.Get(ctx, "m1")
	if rec.State != StateRead || len(rec.Events) != 4 {
		t.Fatalf("out-of-order statuses: %+v", rec)
	}
}

func TestEventBeforeSubmittedAdoptsID(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	r, _ := s.ApplyEvent(ctx, EventRequest{MessageID: "m1", GupshupID: "gs-1", Status: StateEnqueued})
	rec, _, _ := s.Get(ctx, "m1")
	if r.FollowUp != FollowNone || rec.State != StateEnqueued || rec.GupshupID != "gs-1" {
		t.Fatalf("%+v %+v", r, rec)
	}
	// The submit's own record then does not move the state back.
	s.Submitted(ctx, "m1", 0, "gs-1")
	rec, _, _ = s.Get(ctx, "m1")
	if rec.State != StateEnqueued {
		t.Fatalf("state after late Submitted: %s", rec.State)
	}
}

func TestUnknownMessageEvent(t *testing.T) {
	s, _ := newStore(t)
	r, err := s.ApplyEvent(ctx, EventRequest{MessageID: "nope", GupshupID: "gs", Status: StateSent})
	if err != nil || r.FollowUp != FollowUnknown {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestConcurrentCallbackStormDecidesOnce(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	s.Submitted(ctx, "m1", 0, "gs-1")
	var mu sync.Mutex
	fresh := 0
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := s.ApplyEvent(ctx, EventRequest{MessageID: "m1", GupshupID: "gs-1", Status: StatusFailed, Code: 4002, Decision: "resend"})
			if err != nil {
				t.Error(err)
			}
			if r.FollowUp == FollowResend && !r.Duplicate {
				mu.Lock()
				fresh++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	rec, _, _ := s.Get(ctx, "m1")
	if fresh != 1 || rec.Generation != 1 {
		t.Fatalf("%d fresh resend decisions, generation %d", fresh, rec.Generation)
	}
}

func TestExpire(t *testing.T) {
	s, _ := newStore(t)
	s.Expire(ctx, "m1", "c1", []byte("{}"))
	if c := claim(t, s, "m1", 0); c.Action != ClaimFinal {
		t.Fatalf("claim of an expired message: %+v", c)
	}
}

func TestDeadLetters(t *testing.T) {
	s, _ := newStore(t)
	d := DeadLetter{MessageID: "m1", CampaignID: "c1", Code: 1002, Reason: "x"}
	s.AddDeadLetter(ctx, d)
	s.AddDeadLetter(ctx, d) // a redelivered callback
	s.AddDeadLetter(ctx, DeadLetter{MessageID: "m2", Code: 1010})
	got, err := s.DeadLetters(ctx, "c1")
	if err != nil || len(got) != 1 || got[0].Code != 1002 || got[0].At.IsZero() {
		t.Fatalf("%+v %v", got, err)
	}
	if got, _ := s.DeadLetters(ctx, ""); len(got) != 1 || got[0].MessageID != "m2" {
		t.Fatalf("one-off dead letters: %+v", got)
	}
	camps, _ := s.DeadCampaigns(ctx)
	if len(camps) != 2 {
		t.Fatalf("campaigns: %v", camps)
	}
	// Dead letters never expire.
	if ttl := s.rdb.TTL(ctx, DeadLetterKey("c1")).Val(); ttl != -1 {
		t.Fatalf("dead-letter TTL %v", ttl)
	}
}

func TestWindow(t *testing.T) {
	s, clk := newStore(t)
	p := "919800000001"
	if w, _ := s.Window(ctx, p); w != WindowUnknown {
		t.Fatalf("fresh: %v", w)
	}
	s.TouchWindow(ctx, p, clk.now())
	if w, _ := s.Window(ctx, p); w != WindowOpen {
		t.Fatalf("after inbound: %v", w)
	}
	// A closed-window failure does not override a newer inbound message.
	s.CloseWindow(ctx, p)
	if w, _ := s.Window(ctx, p); w != WindowOpen {
		t.Fatalf("close over a fresh inbound: %v", w)
	}
	clk.add(25 * time.Hour)
	if w, _ := s.Window(ctx, p); w != WindowClosed {
		t.Fatalf("after 25 h: %v", w)
	}
	s.CloseWindow(ctx, "919800000002")
	if w, _ := s.Window(ctx, "919800000002"); w != WindowClosed {
		t.Fatalf("closed by a failure: %v", w)
	}
}

func TestOrphans(t *testing.T) {
	s, _ := newStore(t)
	s.ParkOrphan(ctx, "gs-9", []byte("a"))
	s.ParkOrphan(ctx, "gs-9", []byte("b"))
	got, err := s.DrainOrphans(ctx, "gs-9")
	if err != nil || len(got) != 2 || string(got[0]) != "a" {
		t.Fatalf("%q %v", got, err)
	}
	// Parked after the drain read, before the drop: kept for the next drain.
	s.ParkOrphan(ctx, "gs-9", []byte("c"))
	// Until dropped, a failed apply leaves them for the next drain.
	if again, _ := s.DrainOrphans(ctx, "gs-9"); len(again) != 3 {
		t.Fatalf("after a drain without a drop: %q", again)
	}
	if err := s.DropOrphans(ctx, "gs-9", len(got)); err != nil {
		t.Fatal(err)
	}
	if rest, _ := s.DrainOrphans(ctx, "gs-9"); len(rest) != 1 || string(rest[0]) != "c" {
		t.Fatalf("after dropping the applied two: %q", rest)
	}
}

// Accepted is the whole record of an accepted submit in one round trip:
// index, record, campaign count and the callbacks that beat it, and it
// survives a Redis that has lost its scripts.
func TestAcceptedRecordsCountsAndReadsParked(t *testing.T) {
	s, _ := newStore(t)
	claim(t, s, "m1", 0)
	s.ParkOrphan(ctx, "gs-1", []byte("early"))
	parked, err := s.Accepted(ctx, Acceptance{MessageID: "m1", GupshupID: "gs-1", CampaignID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || string(parked[0]) != "early" {
		t.Fatalf("parked %q, want the early event", parked)
	}
	rec, ok, err := s.Get(ctx, "m1")
	if err != nil || !ok || rec.State != StateSubmitted || rec.GupshupID != "gs-1" {
		t.Fatalf("record %+v ok=%v err=%v", rec, ok, err)
	}
	if id, _, ok, _ := s.Lookup(ctx, "gs-1"); !ok || id != "m1" {
		t.Fatalf("index of gs-1: %q %v", id, ok)
	}
	if st := status(t, s, "c1"); st.Submitted != 1 {
		t.Fatalf("campaign submitted %d, want 1", st.Submitted)
	}

	// A restarted Redis has no scripts: the record still lands, counted once.
	if err := s.rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "m2", 0)
	if _, err := s.Accepted(ctx, Acceptance{MessageID: "m2", GupshupID: "gs-2", CampaignID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if rec, _, _ := s.Get(ctx, "m2"); rec.State != StateSubmitted || rec.GupshupID != "gs-2" {
		t.Fatalf("record after a script flush %+v", rec)
	}
	if st := status(t, s, "c1"); st.Submitted != 2 {
		t.Fatalf("campaign submitted %d after the second, want 2", st.Submitted)
	}
	// Without a campaign, nothing is counted (a retried record).
	claim(t, s, "m3", 0)
	if _, err := s.Accepted(ctx, Acceptance{MessageID: "m3", GupshupID: "gs-3"}); err != nil {
		t.Fatal(err)
	}
	if st := status(t, s, "c1"); st.Submitted != 2 {
		t.Fatalf("campaign submitted %d, want 2", st.Submitted)
	}
}
