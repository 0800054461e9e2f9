package worker

// Tests of campaign control in the send handler and the callback
// processor: counters, pause, cancel, the auto-pause, account holds.

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/webhook"
)

// withCampaigns adds campaign control to the stage's handler.
func (s *stage) withCampaigns(mutate func(*Campaigns)) *Campaigns {
	c := &Campaigns{Store: s.store, Log: logging.New(s.logs, "json", "debug"), DefaultApp: s.h.DefaultApp, judgeGap: -1}
	if mutate != nil {
		mutate(c)
	}
	s.h.Campaigns = c
	return c
}

func (s *stage) campaign(id string) store.CampaignStatus {
	s.t.Helper()
	st, err := s.store.CampaignStatus(stCtx, id)
	if err != nil {
		s.t.Fatal(err)
	}
	return st
}

func (s *stage) setState(id string, to store.CampaignState) {
	s.t.Helper()
	if _, _, err := s.store.SetCampaignState(stCtx, id, to, "test", "test"); err != nil {
		s.t.Fatal(err)
	}
}

// handedBack reports whether err hands the task back without an attempt,
// and the reason.
func handedBack(err error) (string, bool) {
	if err == nil || retry.IsFailure(err) || errors.Is(err, asynq.SkipRetry) {
		return "", false
	}
	v, ok := retry.VerdictOf(err)
	return v.Reason, ok
}

func TestPausedCampaignHandedBackUnclaimed(t *testing.T) {
	s := newStage(t)
	c := s.withCampaigns(nil)
	s.setState("camp", store.CampaignPaused)
	err := s.process(tplSend("p1"))
	reason, ok := handedBack(err)
	if !ok || !strings.Contains(reason, store.HandBackPaused) || !strings.Contains(err.Error(), "no attempt used") {
		t.Fatalf("paused: %v", err)
	}
	if d := retry.DefaultPolicy().RetryDelay(0, err, nil); d < pauseBackMin || d > pauseBackMin*5/4+time.Millisecond {
		t.Fatalf("handed back for %v", d)
	}
	if s.sender.n() != 0 {
		t.Fatal("a paused campaign's message was sent")
	}
	if _, ok, _ := s.store.Get(stCtx, "p1"); ok {
		t.Fatal("a handed-back message has a send record")
	}
	// Other campaigns and one-off sends go on.
	other := tplSend("o1")
	other.CampaignID = "other"
	oneOff := tplSend("x1")
	oneOff.CampaignID = ""
	for _, m := range []*tasks.Send{other, oneOff} {
		if err := s.process(m); err != nil {
			t.Fatalf("%s: %v", m.MessageID, err)
		}
	}
	// The state is cached for a second in the worker.
	s.setState("camp", store.CampaignRunning)
	if _, ok := handedBack(s.process(tplSend("p1"))); !ok {
		t.Fatal("the cached pause was not applied")
	}
	c.mu.Lock()
	c.states = nil
	c.mu.Unlock()
	if err := s.process(tplSend("p1")); err != nil {
		t.Fatalf("resumed: %v", err)
	}
	if st := s.campaign("camp"); st.Submitted != 1 || st.SendsLastMinute != 1 {
		t.Fatalf("counts %+v", st.CampaignCounts)
	}
	if st := s.campaign("other"); st.Submitted != 1 {
		t.Fatalf("other campaign %+v", st.CampaignCounts)
	}
}

// A long pause hands tasks back for longer, up to holdBackMax.
func TestHandBackGrowsWithThePause(t *testing.T) {
	for _, tc := range []struct{ held, lo, min, max time.Duration }{
		{0, pauseBackMin, pauseBackMin, pauseBackMin * 5 / 4},
		{time.Minute, pauseBackMin, time.Minute, time.Minute * 5 / 4},
		{time.Hour, pauseBackMin, holdBackMax, holdBackMax * 5 / 4},
		{0, 30 * time.Second, 30 * time.Second, 30 * time.Second * 5 / 4},
	} {
		for range 20 {
			if d := handBack(tc.held, tc.lo); d < tc.min || d > tc.max+time.Millisecond {
				t.Fatalf("held %v: %v, want %v..%v", tc.held, d, tc.min, tc.max)
			}
		}
	}
}

func TestCancelledCampaignDropsUnsent(t *testing.T) {
	s := newStage(t)
	c := s.withCampaigns(nil)
	// One message accepted before the cancel.
	if err := s.process(tplSend("sent")); err != nil {
		t.Fatal(err)
	}
	s.setState("camp", store.CampaignCancelled)
	c.mu.Lock()
	c.states = nil
	c.mu.Unlock()
	for range 3 { // and redelivered
		if err := s.process(tplSend("c1")); err != nil {
			t.Fatalf("cancelled: %v", err)
		}
	}
	// The accepted one's redelivery stays accepted.
	if err := s.process(tplSend("sent")); err != nil {
		t.Fatal(err)
	}
	if s.sender.n() != 1 {
		t.Fatalf("%d sends, want the one before the cancel", s.sender.n())
	}
	if st := s.record("c1").State; st != store.StateCancelled {
		t.Fatalf("state %s", st)
	}
	if st := s.record("sent").State; st != store.StateSubmitted {
		t.Fatalf("accepted message became %s", st)
	}
	st := s.campaign("camp")
	if st.Cancelled != 1 || st.Submitted != 1 {
		t.Fatalf("counts %+v", st.CampaignCounts)
	}
}

func TestSynchronousOutcomesCounted(t *testing.T) {
	s := newStage(t)
	s.withCampaigns(nil)
	s.sender.fn = func(n int, m *tasks.Send, _ bool) (gupshup.SendResult, error) {
		switch m.MessageID {
		case "bad":
			return gupshup.SendResult{}, &gupshup.Error{Family: gupshup.SelfServe, HTTPStatus: 400, Code: 1002, Message: "Number Does Not Exists On WhatsApp"}
		case "flaky":
			if n == 1 {
				return gupshup.SendResult{}, &gupshup.Error{Family: gupshup.SelfServe, HTTPStatus: 500, Message: "boom"}
			}
		case "limited":
			return gupshup.SendResult{}, &gupshup.Error{Family: gupshup.SelfServe, HTTPStatus: 429}
		}
		return gupshup.SendResult{MessageID: "gs-" + m.MessageID}, nil
	}
	if err := s.process(tplSend("ok")); err != nil {
		t.Fatal(err)
	}
	if err := s.process(tplSend("flaky")); err == nil || !retry.IsFailure(err) {
		t.Fatalf("5xx: %v", err)
	}
	if err := s.process(tplSend("flaky")); err != nil {
		t.Fatal(err)
	}
	if err := s.process(tplSend("bad")); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("1002: %v", err)
	}
	if _, ok := handedBack(s.process(tplSend("limited"))); !ok {
		t.Fatal("429 not handed back")
	}
	past := time.Now().Add(-time.Minute)
	old := tplSend("old")
	old.ExpiresAt = &past
	if err := s.process(old); err != nil {
		t.Fatal(err)
	}
	st := s.campaign("camp")
	if st.Submitted != 2 || st.Dead != 1 || st.DeadByCode[1002] != 1 || st.Failed[1002] != 1 || st.Failed[0] != 1 ||
		len(st.Failed) != 2 || st.Expired != 1 || st.FailedCallback != 0 {
		t.Fatalf("counts %+v", st.CampaignCounts)
	}
	act, _ := s.store.CampaignActivity(stCtx, "camp", time.Minute)
	var outcomes, dead int64
	for _, a := range act {
		outcomes += a.Outcomes()
		dead += a.Dead
	}
	if outcomes != 3 || dead != 1 {
		t.Fatalf("activity: %d outcomes %d dead, want 3 and 1", outcomes, dead)
	}
}

func TestAutoPause(t *testing.T) {
	s := newStage(t)
	// A clock of our own: the window is made of whole seconds.
	var mu sync.Mutex
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s.store = store.New(s.rdb, store.WithClock(clock))
	s.h.Store = s.store
	s.withCampaigns(func(c *Campaigns) {
		c.now = clock
		c.AutoPause = AutoPause{Share: 0.2, Window: time.Minute, Outcomes: 20, MinOutcomes: 10}
	})
	s.sender.fn = func(n int, m *tasks.Send, _ bool) (gupshup.SendResult, error) {
		if strings.HasPrefix(m.MessageID, "bad") {
			return gupshup.SendResult{}, &gupshup.Error{Family: gupshup.SelfServe, HTTPStatus: 400, Code: 1002, Message: "no such number"}
		}
		return gupshup.SendResult{MessageID: "gs-" + m.MessageID}, nil
	}
	// Below the minimum count, every failure is tolerated.
	for i := range 3 {
		s.process(tplSend(fmt.Sprintf("bad-%d", i)))
	}
	if st := s.campaign("camp"); st.Control.State != store.CampaignRunning {
		t.Fatalf("paused on %d outcomes", st.Dead)
	}
	advance(time.Second)
	for i := range 17 {
		if err := s.process(tplSend(fmt.Sprintf("ok-%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	advance(time.Second)
	// The latest 20 outcomes reach back into the first second: 4 of 21
	// is under the bound, 5 of 22 passes it.
	s.process(tplSend("bad-3"))
	if st := s.campaign("camp"); st.Control.State != store.CampaignRunning {
		t.Fatalf("paused at 4 of 21")
	}
	s.process(tplSend("bad-4"))
	st := s.campaign("camp")
	if st.Control.State != store.CampaignPaused || st.Control.By != "auto" || !strings.Contains(st.Control.Reason, "5 dead letters in the last 22 outcomes (23%, bound 20%)") {
		t.Fatalf("control %+v (dead %d)", st.Control, st.Dead)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `"alarm":true`) || strings.Count(logs, "campaign auto-paused") != 1 {
		t.Fatalf("logs: %s", logs)
	}
	// Paused at once in this worker.
	if _, ok := handedBack(s.process(tplSend("ok-next"))); !ok {
		t.Fatal("auto-paused campaign still sending")
	}
	// A resume forgets the failures before it: one more is not enough.
	advance(time.Second)
	s.setState("camp", store.CampaignRunning)
	advance(2 * time.Second)
	s.process(tplSend("bad-5"))
	if st := s.campaign("camp"); st.Control.State != store.CampaignRunning {
		t.Fatalf("paused again on the failures before the resume: %+v", st.Control)
	}
	// Only the last Outcomes count: 20 good ones after, and the old
	// failures are out of the window even without a resume.
	advance(time.Second)
	for i := range 30 {
		s.process(tplSend(fmt.Sprintf("ok2-%d", i)))
	}
	advance(time.Second)
	for i := range 4 {
		s.process(tplSend(fmt.Sprintf("bad2-%d", i)))
	}
	if st := s.campaign("camp"); st.Control.State != store.CampaignRunning {
		t.Fatalf("paused on 5 of 34: %+v", st.Control)
	}
	// And past the window, nothing counts.
	advance(2 * time.Minute)
	for i := range 9 {
		s.process(tplSend(fmt.Sprintf("ok3-%d", i)))
	}
	s.process(tplSend("bad3-0"))
	if st := s.campaign("camp"); st.Control.State != store.CampaignRunning {
		t.Fatalf("paused on old outcomes: %+v", st.Control)
	}
}

// A synchronous 1003 holds the account: the other sends wait without an
// attempt, one probe per interval goes out, and its success releases them.
func TestWalletLowHoldsTheAccount(t *testing.T) {
	s := newStage(t)
	const every = 300 * time.Millisecond
	c := s.withCampaigns(func(c *Campaigns) { c.ProbeInterval = every })
	var walletEmpty sync.Mutex
	empty := true
	s.sender.fn = func(n int, m *tasks.Send, _ bool) (gupshup.SendResult, error) {
		walletEmpty.Lock()
		defer walletEmpty.Unlock()
		if empty {
			return gupshup.SendResult{}, &gupshup.Error{Family: gupshup.SelfServe, HTTPStatus: 400, Code: 1003, Message: "Check your wallet balance"}
		}
		return gupshup.SendResult{MessageID: "gs-" + m.MessageID}, nil
	}
	err := s.process(tplSend("m0"))
	if err == nil || !retry.IsFailure(err) {
		t.Fatalf("1003: %v; want a retry with an attempt", err)
	}
	if !strings.Contains(s.logs.String(), "account held") || !strings.Contains(s.logs.String(), `"alarm":true`) {
		t.Fatalf("no alarm: %s", s.logs.String())
	}
	// Held: handed back, not claimed, not sent.
	for i := 1; i <= 5; i++ {
		err := s.process(tplSend(fmt.Sprintf("m%d", i)))
		reason, ok := handedBack(err)
		if !ok || !strings.Contains(reason, store.HandBackHeld) || !strings.Contains(reason, "selfserve/app") {
			t.Fatalf("m%d while held: %v", i, err)
		}
		if d := retry.DefaultPolicy().RetryDelay(0, err, nil); d < every {
			t.Fatalf("handed back for %v", d)
		}
	}
	if s.sender.n() != 1 {
		t.Fatalf("%d sends while held", s.sender.n())
	}
	// A probe after the interval, still refused: held on.
	time.Sleep(every)
	if err := s.process(tplSend("m1")); err == nil || !retry.IsFailure(err) {
		t.Fatalf("failed probe: %v", err)
	}
	if _, ok := handedBack(s.process(tplSend("m2"))); !ok {
		t.Fatal("sent right after a failed probe")
	}
	// Topped up: the next probe gets through and releases the account.
	walletEmpty.Lock()
	empty = false
	walletEmpty.Unlock()
	time.Sleep(every)
	if err := s.process(tplSend("m2")); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if !strings.Contains(s.logs.String(), "account released") {
		t.Fatal("not released")
	}
	for i := 3; i <= 5; i++ {
		if err := s.process(tplSend(fmt.Sprintf("m%d", i))); err != nil {
			t.Fatalf("m%d after release: %v", i, err)
		}
	}
	if holds, _ := s.store.AccountHolds(stCtx); len(holds) != 0 {
		t.Fatalf("holds %+v", holds)
	}
	if s.sender.n() != 6 {
		t.Fatalf("%d sends: want the first, two probes and three after", s.sender.n())
	}
	if st := s.campaign("camp"); st.Failed[1003] != 2 || st.Submitted != 4 {
		t.Fatalf("counts %+v", st.CampaignCounts)
	}
	// Another worker (a fresh cache) sees the same: nothing is held.
	c2 := &Campaigns{Store: s.store, ProbeInterval: every}
	if _, held := c2.holdOf(stCtx, "selfserve/app"); held {
		t.Fatal("still held for another worker")
	}
	_ = c
}

// Callbacks arrive at least once, as v2 and v3 copies, out of order and
// concurrently: every fresh transition counts once, nothing else counts.
func TestCallbackStormCountsExactly(t *testing.T) {
	s := newStage(t)
	camps := s.withCampaigns(func(c *Campaigns) { c.ProbeInterval = time.Minute })
	queue := asynq.NewClientFromRedisClient(s.rdb)
	proc := webhook.NewProcessor(s.store, queue, retry.Policy{Base: time.Hour, MaxAttempts: 6}, logging.New(s.logs, "json", "info"))
	proc.Tracker = camps

	const n = 60
	outcome := func(i int) string { // what the callbacks say of message i
		switch i % 6 {
		case 0:
			return "1002" // terminal: dead letter
		case 1:
			return "4002" // retryable: a resend
		}
		return "ok"
	}
	var events []gupshup.Event
	for i := range n {
		id := fmt.Sprintf("s%02d", i)
		if err := s.process(tplSend(id)); err != nil {
			t.Fatal(err)
		}
		gs := "gs-" + id
		ev := func(st gupshup.Status, code int) gupshup.Event {
			return gupshup.Event{Kind: gupshup.EventStatus, Format: gupshup.CallbackV2, MessageID: gs, Destination: stDest, Status: st, Code: code}
		}
		switch outcome(i) {
		case "1002":
			events = append(events, ev(gupshup.StatusFailed, 1002))
		case "4002":
			events = append(events, ev(gupshup.StatusEnqueued, 0), ev(gupshup.StatusFailed, 4002))
		default:
			events = append(events, ev(gupshup.StatusEnqueued, 0), ev(gupshup.StatusSent, 0), ev(gupshup.StatusDelivered, 0), ev(gupshup.StatusRead, 0))
		}
	}
	// Every event five times, shuffled, by 16 goroutines at once.
	var storm []gupshup.Event
	for range 5 {
		storm = append(storm, events...)
	}
	rand.Shuffle(len(storm), func(i, j int) { storm[i], storm[j] = storm[j], storm[i] })
	work := make(chan gupshup.Event)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ev := range work {
				if err := proc.Apply(stCtx, ev); err != nil {
					t.Error(err)
				}
			}
		})
	}
	for _, ev := range storm {
		work <- ev
	}
	close(work)
	wg.Wait()

	st := s.campaign("camp")
	if st.Submitted != n || st.Delivered != 40 || st.Read != 40 || st.Failed[1002] != 10 || st.Failed[4002] != 10 ||
		st.FailedCallback != 20 || st.Dead != 10 || st.DeadByCode[1002] != 10 {
		t.Fatalf("counts %+v", st.CampaignCounts)
	}
	// 10 resends wait: 60 queued, 40 accepted for good, 10 dead.
	s.store.Tally(stCtx, "camp", store.Tally{Kind: store.TallyQueued, N: n})
	if r := s.campaign("camp").Remaining(); r != 10 {
		t.Fatalf("remaining %d, want the 10 resends", r)
	}
}

// A wallet-low callback holds the account; the probe's accept proves
// nothing (Gupshup accepts, then fails in a callback), its delivery
// callback releases it.
func TestWalletLowCallbackHold(t *testing.T) {
	s := newStage(t)
	const every = 200 * time.Millisecond
	camps := s.withCampaigns(func(c *Campaigns) { c.ProbeInterval = every })
	proc := webhook.NewProcessor(s.store, asynq.NewClientFromRedisClient(s.rdb), retry.Policy{Base: time.Hour, MaxAttempts: 6}, logging.New(s.logs, "json", "info"))
	proc.Tracker = camps
	ev := func(gs string, st gupshup.Status, code int) gupshup.Event {
		return gupshup.Event{Kind: gupshup.EventStatus, Format: gupshup.CallbackV2, MessageID: gs, Destination: stDest, Status: st, Code: code}
	}
	if err := s.process(tplSend("a")); err != nil {
		t.Fatal(err)
	}
	if err := proc.Apply(stCtx, ev("gs-a", gupshup.StatusFailed, 1003)); err != nil {
		t.Fatal(err)
	}
	holds, _ := s.store.AccountHolds(stCtx)
	if len(holds) != 1 || holds[0].Source != store.HoldCallback || holds[0].Code != 1003 {
		t.Fatalf("holds %+v", holds)
	}
	if _, ok := handedBack(s.process(tplSend("b"))); !ok {
		t.Fatal("sent while held")
	}
	time.Sleep(every)
	if err := s.process(tplSend("b")); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if holds, _ := s.store.AccountHolds(stCtx); len(holds) != 1 || holds[0].Probe != "b" {
		t.Fatalf("a synchronous accept released a callback hold: %+v", holds)
	}
	if _, ok := handedBack(s.process(tplSend("c"))); !ok {
		t.Fatal("sent while the probe is out")
	}
	// A delivery of another message (sent before the hold) proves nothing.
	if err := proc.Apply(stCtx, ev("gs-zzz", gupshup.StatusDelivered, 0)); err != nil {
		t.Fatal(err)
	}
	if err := proc.Apply(stCtx, ev("gs-b", gupshup.StatusEnqueued, 0)); err != nil {
		t.Fatal(err)
	}
	if holds, _ := s.store.AccountHolds(stCtx); len(holds) != 0 {
		t.Fatalf("not released by the probe's callback: %+v", holds)
	}
	if err := s.process(tplSend("c")); err != nil {
		t.Fatalf("after release: %v", err)
	}
}

func TestCampaignSettingsValidated(t *testing.T) {
	base := Config{SendRate: 1, SendBurst: 1, Concurrency: 1, Ambiguous: "resend", BreakerFailures: 1, Timeout: time.Second, RecordTTL: time.Hour,
		AutoPauseShare: 0.2, AutoPauseWindow: 5 * time.Minute, AutoPauseOutcomes: 200, AutoPauseMin: 50, AccountProbeInterval: time.Minute}
	if err := base.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	off := Config{SendRate: 1, SendBurst: 1, Concurrency: 1, Ambiguous: "resend", BreakerFailures: 1, Timeout: time.Second, RecordTTL: time.Hour}
	if err := off.Validate(); err != nil {
		t.Fatalf("all off: %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"AUTOPAUSE_FAILURE_SHARE": func(c *Config) { c.AutoPauseShare = -0.1 },
		"AUTOPAUSE_WINDOW":        func(c *Config) { c.AutoPauseWindow = 2 * time.Hour },
		"AUTOPAUSE_OUTCOMES":      func(c *Config) { c.AutoPauseOutcomes = 0 },
		"AUTOPAUSE_MIN_OUTCOMES":  func(c *Config) { c.AutoPauseMin = 201 },
		"ACCOUNT_PROBE_INTERVAL":  func(c *Config) { c.AccountProbeInterval = -time.Second },
	} {
		c := base
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
