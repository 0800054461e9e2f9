package store

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"
)

func status(t *testing.T, s *Store, id string) CampaignStatus {
	t.Helper()
	st, err := s.CampaignStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestTallyCountsEveryKind(t *testing.T) {
	s, _ := newStore(t)
	if st := status(t, s, "c1"); st.Exists || st.Control.State != CampaignRunning || st.Remaining() != 0 {
		t.Fatalf("unknown campaign: %+v", st)
	}
	must := func(ts ...Tally) {
		t.Helper()
		if err := s.Tally(ctx, "c1", ts...); err != nil {
			t.Fatal(err)
		}
	}
	must(Tally{Kind: TallyQueued, N: 10})
	for range 9 {
		must(Tally{Kind: TallySubmitted})
	}
	must(Tally{Kind: TallyFailed, Code: 4002, Callback: true}) // one submit taken back, resent...
	must(Tally{Kind: TallySubmitted})                          // ... and accepted again
	must(Tally{Kind: TallyFailed, Code: 1002, Callback: true}, Tally{Kind: TallyDead, Code: 1002, Callback: true})
	must(Tally{Kind: TallyFailed, Code: 0}, Tally{Kind: TallyDead, Code: 0}) // synchronous, never submitted
	for range 6 {
		must(Tally{Kind: TallyDelivered}, Tally{Kind: TallyRead})
	}
	must(Tally{Kind: TallyDelivered})
	must(Tally{Kind: TallyExpired})
	must(Tally{Kind: TallyCancelled})
	must(Tally{Kind: TallyRerun}, Tally{Kind: TallyRedriven})
	if err := s.Tally(ctx, "", Tally{Kind: TallyQueued}); err != nil {
		t.Fatalf("a one-off send counts nothing: %v", err)
	}

	st := status(t, s, "c1")
	want := CampaignCounts{Queued: 10, Submitted: 10, Delivered: 7, Read: 6, FailedCallback: 2, Dead: 2,
		Expired: 1, Cancelled: 1, Rerun: 1, Redriven: 1}
	got := st.CampaignCounts
	got.Failed, got.DeadByCode = nil, nil
	if !st.Exists || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("counts %+v\nwant   %+v", got, want)
	}
	if fmt.Sprint(st.Failed) != "map[0:1 1002:1 4002:1]" || fmt.Sprint(st.DeadByCode) != "map[0:1 1002:1]" {
		t.Fatalf("by code: failed %v dead %v", st.Failed, st.DeadByCode)
	}
	// 10 queued + 1 run again; settled: 8 accepted for good (10 submits,
	// 2 taken back), 2 dead, 1 expired, 1 cancelled: 12 > 11, so none left.
	if st.Remaining() != 0 {
		t.Fatalf("remaining %d", st.Remaining())
	}
	if st.SendsLastMinute != 10 {
		t.Fatalf("sends in the last minute: %d", st.SendsLastMinute)
	}
	if err := s.Tally(ctx, "c1", Tally{Kind: TallyQueued, N: 5}); err != nil {
		t.Fatal(err)
	}
	if r := status(t, s, "c1").Remaining(); r != 4 {
		t.Fatalf("remaining after 5 more queued: %d, want 4", r)
	}
}

// The last minute's sends come from per-second buckets that age out.
func TestCampaignRateAndActivityWindow(t *testing.T) {
	s, clk := newStore(t)
	tally := func(k TallyKind, callback bool) {
		t.Helper()
		if err := s.Tally(ctx, "c", Tally{Kind: k, Callback: callback}); err != nil {
			t.Fatal(err)
		}
	}
	// 3 submits two minutes ago, then 5 per second for 10 s.
	for range 3 {
		tally(TallySubmitted, false)
	}
	clk.add(2 * time.Minute)
	for range 10 {
		for range 5 {
			tally(TallySubmitted, false)
		}
		clk.add(time.Second)
	}
	tally(TallyDead, false)
	tally(TallyDead, true)
	if st := status(t, s, "c"); st.SendsLastMinute != 50 || st.Submitted != 53 {
		t.Fatalf("last minute %d, submitted %d", st.SendsLastMinute, st.Submitted)
	}
	// Ten seconds into the minute the rate is over those ten seconds, not
	// over sixty: 5/s, not 0.8/s.
	if st := status(t, s, "c"); st.RateSeconds < 10 || st.RateSeconds > 11 {
		t.Fatalf("rate span %d s for submits spread over 10 s", st.RateSeconds)
	}
	act, err := s.CampaignActivity(ctx, "c", 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(act) != 12 || act[0].At <= act[1].At {
		t.Fatalf("activity %+v: want 12 seconds, newest first", act)
	}
	if a := act[0]; a.Dead != 2 || a.SyncDead != 1 || a.Outcomes() != 1 {
		t.Fatalf("newest second %+v", a)
	}
	if last := act[len(act)-1]; last.Submits != 3 {
		t.Fatalf("oldest second %+v", last)
	}
	clk.add(61 * time.Second)
	if st := status(t, s, "c"); st.SendsLastMinute != 0 {
		t.Fatalf("a minute later: %d sends in the last minute", st.SendsLastMinute)
	}
	ttl, _ := s.rdb.PTTL(ctx, CampaignActivityKey("c", clk.now().Add(-62*time.Second).Unix()/60)).Result()
	if ttl <= 0 || ttl > activityTTL {
		t.Fatalf("activity bucket ttl %v", ttl)
	}
}

func TestCampaignStateMachine(t *testing.T) {
	s, clk := newStore(t)
	set := func(to CampaignState, wantChanged bool, wantBefore CampaignState) {
		t.Helper()
		changed, before, err := s.SetCampaignState(ctx, "c", to, "why "+string(to), "tester")
		if err != nil || changed != wantChanged || before != wantBefore {
			t.Fatalf("-> %s: changed %v before %s err %v; want %v %s", to, changed, before, err, wantChanged, wantBefore)
		}
	}
	set(CampaignRunning, false, CampaignRunning)
	set(CampaignPaused, true, CampaignRunning)
	ctl, err := s.CampaignControl(ctx, "c")
	if err != nil || ctl.State != CampaignPaused || ctl.Reason != "why paused" || ctl.By != "tester" || !ctl.Since.Equal(clk.now()) || !ctl.ResumedAt.IsZero() {
		t.Fatalf("paused: %+v %v", ctl, err)
	}
	set(CampaignPaused, false, CampaignPaused)
	clk.add(time.Minute)
	set(CampaignRunning, true, CampaignPaused)
	if ctl, _ = s.CampaignControl(ctx, "c"); ctl.State != CampaignRunning || !ctl.ResumedAt.Equal(clk.now()) {
		t.Fatalf("resumed: %+v", ctl)
	}
	set(CampaignCancelled, true, CampaignRunning)
	// Cancel is final.
	set(CampaignRunning, false, CampaignCancelled)
	set(CampaignPaused, false, CampaignCancelled)
	if _, _, err := s.SetCampaignState(ctx, "c", "stopped", "", ""); err == nil {
		t.Fatal("an unknown state was accepted")
	}
	if st := status(t, s, "c"); !st.Exists || st.Control.State != CampaignCancelled {
		t.Fatalf("status %+v", st.Control)
	}
}

// A cancelled message counts once, however often its task comes back.
func TestCancelMessageOnce(t *testing.T) {
	s, _ := newStore(t)
	if c := claim(t, s, "m1", 0); c.Action != ClaimSend {
		t.Fatal(c)
	}
	fresh, err := s.CancelMessage(ctx, "m1", 0)
	if err != nil || !fresh {
		t.Fatalf("first cancel: %v %v", fresh, err)
	}
	if rec, _, _ := s.Get(ctx, "m1"); rec.State != StateCancelled {
		t.Fatalf("state %s", rec.State)
	}
	// A redelivery (the worker died before acknowledging the task).
	if c := claim(t, s, "m1", 0); c.Action != ClaimSend {
		t.Fatal(c)
	}
	if fresh, err := s.CancelMessage(ctx, "m1", 0); err != nil || fresh {
		t.Fatalf("second cancel: %v %v", fresh, err)
	}
	// A message Gupshup accepted is not cancelled; nor is a stale generation.
	claim(t, s, "m2", 0)
	if err := s.Submitted(ctx, "m2", 0, "gs-2"); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := s.CancelMessage(ctx, "m2", 0); fresh {
		t.Fatal("a submitted message was cancelled")
	}
	if rec, _, _ := s.Get(ctx, "m2"); rec.State != StateSubmitted {
		t.Fatalf("state %s", rec.State)
	}
	claim(t, s, "m3", 2)
	if fresh, _ := s.CancelMessage(ctx, "m3", 1); fresh {
		t.Fatal("a stale generation was cancelled")
	}
}

func TestAccountHoldProbeAndRelease(t *testing.T) {
	s, clk := newStore(t)
	const acct, every = "selfserve/DemoAPI", 30 * time.Second
	if turn, _, err := s.TakeProbe(ctx, acct, "m0", every); err != nil || turn != ProbeNotHeld {
		t.Fatalf("not held: %v %v", turn, err)
	}
	fresh, err := s.HoldAccount(ctx, acct, 1003, "wallet balance low", HoldCallback, time.Hour)
	if err != nil || !fresh {
		t.Fatalf("hold: %v %v", fresh, err)
	}
	// The first probe waits one interval after the hold.
	turn, wait, _ := s.TakeProbe(ctx, acct, "m1", every)
	if turn != ProbeWait || wait != every {
		t.Fatalf("at once: %v %v", turn, wait)
	}
	clk.add(every)
	if turn, _, _ := s.TakeProbe(ctx, acct, "m2", every); turn != ProbeGo {
		t.Fatalf("after the interval: %v", turn)
	}
	clk.add(time.Second)
	if turn, wait, _ := s.TakeProbe(ctx, acct, "m3", every); turn != ProbeWait || wait != every-time.Second {
		t.Fatalf("right after a probe: %v %v", turn, wait)
	}
	// Refreshed by a synchronous refusal: the source stays callback.
	if fresh, _ := s.HoldAccount(ctx, acct, 1003, "again", HoldSync, time.Hour); fresh {
		t.Fatal("a refresh reported fresh")
	}
	holds, err := s.AccountHolds(ctx)
	if err != nil || len(holds) != 1 {
		t.Fatalf("holds %+v %v", holds, err)
	}
	h := holds[0]
	if h.Account != acct || h.Code != 1003 || h.Reason != "again" || h.Source != HoldCallback || h.Probe != "m2" ||
		!h.Since.Equal(time.Unix(1_700_000_000, 0)) || !h.Last.Equal(clk.now()) {
		t.Fatalf("hold %+v", h)
	}
	// Only the probe releases, and a synchronous accept proves nothing
	// when the refusals came in callbacks.
	for _, tc := range []struct{ probe, source string }{{"m1", ""}, {"m2", HoldSync}} {
		if ok, err := s.ReleaseAccount(ctx, acct, tc.probe, tc.source); ok || err != nil {
			t.Fatalf("release %+v: %v %v", tc, ok, err)
		}
	}
	if ok, err := s.ReleaseAccount(ctx, acct, "m2", ""); !ok || err != nil {
		t.Fatalf("release by the probe's callback: %v %v", ok, err)
	}
	if holds, _ := s.AccountHolds(ctx); len(holds) != 0 {
		t.Fatalf("holds after release %+v", holds)
	}
	// A hold that expires is listed no more.
	s.HoldAccount(ctx, "partner/x", 401, "Unauthorized", HoldSync, time.Hour)
	s.rdb.Del(ctx, AccountHoldKey("partner/x"))
	if holds, _ := s.AccountHolds(ctx); len(holds) != 0 {
		t.Fatalf("expired hold listed: %+v", holds)
	}
	// An operator's release needs no probe.
	s.HoldAccount(ctx, acct, 401, "Unauthorized", HoldSync, time.Hour)
	if ok, _ := s.ReleaseAccount(ctx, acct, "", ""); !ok {
		t.Fatal("operator release refused")
	}
}

func TestRedriveMarks(t *testing.T) {
	s, clk := newStore(t)
	for i, code := range []int{1002, 1002, 1003} {
		if err := s.AddDeadLetter(ctx, DeadLetter{MessageID: fmt.Sprintf("m%d", i), CampaignID: "c", Code: code,
			Reason: "r", Queue: "bulk", Payload: json.RawMessage(`{"v":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := s.DeadLetterEntries(ctx, "c")
	if err != nil || len(entries) != 3 || entries[0].MessageID != "m0" || entries[2].Code != 1003 || !entries[0].RedrivenAt.IsZero() {
		t.Fatalf("entries %+v %v", entries, err)
	}
	marked, ok, err := s.MarkRedriven(ctx, entries[0], clk.now())
	if err != nil || !ok {
		t.Fatalf("mark: %v %v", ok, err)
	}
	// A second redrive working from the same read loses the race.
	if _, ok, _ := s.MarkRedriven(ctx, entries[0], clk.now()); ok {
		t.Fatal("marked twice")
	}
	again, _ := s.DeadLetterEntries(ctx, "c")
	if !again[0].RedrivenAt.Equal(clk.now()) || string(again[0].Payload) != `{"v":1}` {
		t.Fatalf("marked entry %+v", again[0])
	}
	// The plain reader still reads it.
	if dls, err := s.DeadLetters(ctx, "c"); err != nil || len(dls) != 3 {
		t.Fatalf("DeadLetters %v %v", dls, err)
	}
	if err := s.UnmarkRedriven(ctx, marked); err != nil {
		t.Fatal(err)
	}
	if e, _ := s.DeadLetterEntries(ctx, "c"); !e[0].RedrivenAt.IsZero() {
		t.Fatalf("unmarked entry %+v", e[0])
	}
	// A message that dies again gets a fresh, unmarked dead letter.
	entries, _ = s.DeadLetterEntries(ctx, "c")
	s.MarkRedriven(ctx, entries[1], clk.now())
	s.AddDeadLetter(ctx, DeadLetter{MessageID: "m1", CampaignID: "c", Code: 1002, Reason: "again"})
	if e, _ := s.DeadLetterEntries(ctx, "c"); !e[1].RedrivenAt.IsZero() || e[1].Reason != "again" {
		t.Fatalf("died again: %+v", e[1])
	}
}

// Counters are plain HINCRBYs: concurrent tallies from many workers add up.
func TestTallyConcurrent(t *testing.T) {
	s, _ := newStore(t)
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 50 {
				if err := s.Tally(ctx, "c", Tally{Kind: TallySubmitted}, Tally{Kind: TallyDelivered}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if st := status(t, s, "c"); st.Submitted != 1000 || st.Delivered != 1000 || st.SendsLastMinute != 1000 {
		t.Fatalf("%+v", st.CampaignCounts)
	}
}
