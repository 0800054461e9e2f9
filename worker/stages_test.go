package worker

// Tests of the send handler's stages, one at a time, with a scripted
// Sender, limiter and breaker (or the simulator behind the real clients)
// on a throwaway redis-server.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

const (
	stSource = "917834811114"
	stDest   = "919800000001"
)

var stCtx = context.Background()

// stage is a SendHandler on a throwaway redis-server.
type stage struct {
	t      *testing.T
	redis  *redistest.Server
	rdb    *redis.Client
	store  *store.Store
	sender *scriptSender
	lim    *fixedLimiter
	logs   *logging.Buffer
	h      *SendHandler
}

func newStage(t *testing.T) *stage {
	t.Helper()
	r := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	s := &stage{t: t, redis: r, rdb: rdb, store: store.New(rdb), sender: &scriptSender{}, lim: &fixedLimiter{}, logs: &logging.Buffer{}}
	s.h = &SendHandler{
		Store: s.store, Sender: s.sender, Limiter: s.lim, Breaker: directBreaker{},
		Policy: retry.Policy{Base: time.Second, MaxAttempts: 6}, Log: logging.New(s.logs, "json", "debug"),
		Ambiguous: AmbiguousResend, InFlight: 30 * time.Second,
		DefaultApp: func(gupshup.Family) string { return "app" },
	}
	return s
}

// process runs one delivery of the task of s.
func (s *stage) process(m *tasks.Send) error {
	s.t.Helper()
	b, err := tasks.EncodeSend(m)
	if err != nil {
		s.t.Fatal(err)
	}
	return s.h.ProcessTask(stCtx, asynq.NewTask(tasks.TypeSend, b))
}

func (s *stage) record(id string) store.Record {
	s.t.Helper()
	rec, ok, err := s.store.Get(stCtx, id)
	if err != nil || !ok {
		s.t.Fatalf("record %s: ok=%v err=%v", id, ok, err)
	}
	return rec
}

func (s *stage) deadLetters() []store.DeadLetter {
	s.t.Helper()
	d, err := s.store.DeadLetters(stCtx, "camp")
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// scriptSender records every call; fn, when set, answers it.
type scriptSender struct {
	mu    sync.Mutex
	calls []bool // the fallback flag of each call
	fn    func(n int, m *tasks.Send, fallback bool) (gupshup.SendResult, error)
}

func (f *scriptSender) Send(ctx context.Context, m *tasks.Send, fallback bool) (gupshup.SendResult, error) {
	f.mu.Lock()
	n := len(f.calls)
	f.calls = append(f.calls, fallback)
	fn := f.fn
	f.mu.Unlock()
	if fn != nil {
		return fn(n, m, fallback)
	}
	return gupshup.SendResult{MessageID: "gs-" + m.MessageID, Status: "submitted"}, nil
}

func (f *scriptSender) n() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *scriptSender) fallbacks() []bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]bool(nil), f.calls...)
}

// fixedLimiter hands every call back for retryIn (0: go ahead).
type fixedLimiter struct{ retryIn atomic.Int64 }

func (l *fixedLimiter) Wait(ctx context.Context, key string) (time.Duration, error) {
	return time.Duration(l.retryIn.Load()), nil
}

type directBreaker struct{}

func (directBreaker) Do(ctx context.Context, key string, fn func() error) error { return fn() }

func tplSend(id string) *tasks.Send {
	return &tasks.Send{V: tasks.PayloadVersion, CampaignID: "camp", MessageID: id, Family: gupshup.SelfServe,
		Source: stSource, Destination: stDest, Template: &tasks.Template{ID: "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b", Params: []string{"Asha"}}}
}

func sessSend(id string, fallback bool) *tasks.Send {
	msg, _ := tasks.TextSession(gupshup.SelfServe, "your order shipped")
	m := &tasks.Send{V: tasks.PayloadVersion, CampaignID: "camp", MessageID: id, Family: gupshup.SelfServe,
		Source: stSource, Destination: stDest, Session: msg}
	if fallback {
		m.Fallback = &tasks.Template{ID: "0b9c1e8e-fallback", Params: []string{"shipped"}}
	}
	return m
}

// simClients are the real family clients pointed at sim.
func simClients(t *testing.T, sim *gupshuptest.Server, mutate ...func(*Config)) *Clients {
	t.Helper()
	sc := sim.Config()
	cfg := Config{
		APIKey: sc.APIKey, AppName: sc.AppName, BaseURL: sim.URL,
		EnterpriseURL: sim.URL + gupshuptest.EnterprisePath, EnterpriseUserID: sc.EnterpriseUserID, EnterprisePassword: sc.EnterprisePassword,
		PartnerURL: sim.URL, PartnerAppID: sc.PartnerAppID, PartnerEmail: sc.PartnerEmail, PartnerPassword: sc.PartnerPassword,
		Timeout: 5 * time.Second,
	}
	for _, m := range mutate {
		m(&cfg)
	}
	c, err := cfg.Clients()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newSim(t *testing.T, opts ...gupshuptest.Option) *gupshuptest.Server {
	sim := gupshuptest.NewServer(opts...)
	t.Cleanup(sim.Close)
	return sim
}

// TestNewerSchemaHandedBack: a payload from a producer upgraded ahead of
// the workers is not poison: it waits, without using an attempt, for a
// worker that reads it.
func TestNewerSchemaHandedBack(t *testing.T) {
	s := newStage(t)
	err := s.h.ProcessTask(stCtx, asynq.NewTask(tasks.TypeSend, []byte(`{"v":99,"message_id":"m1"}`)))
	if err == nil || errors.Is(err, asynq.SkipRetry) || retry.IsFailure(err) {
		t.Fatalf("newer schema: %v; want a hand-back that uses no attempt", err)
	}
	if d := retry.DefaultPolicy().RetryDelay(0, err, nil); d < 30*time.Second {
		t.Fatalf("handed back for %v; want about a minute", d)
	}
	if s.sender.n() != 0 {
		t.Fatalf("a newer-schema payload was sent")
	}
}

func TestPoisonPayloadArchived(t *testing.T) {
	s := newStage(t)
	for _, tc := range []struct{ name, payload, reason string }{
		{"not JSON", `{"v":1,"message_id":`, "not valid JSON"},
		{"unknown field", `{"v":1,"message_id":"m1","family":"selfserve","source":"917834811114","destination":"919800000001","template":{"id":"t"},"fallback_templat":{}}`, "fallback_templat"},
		{"no destination", `{"v":1,"message_id":"m1","family":"selfserve","source":"917834811114","template":{"id":"t"}}`, "destination"},
		{"template and session", `{"v":1,"message_id":"m1","family":"selfserve","source":"917834811114","destination":"919800000001","template":{"id":"t"},"session":{"type":"text","text":"x"}}`, "template"},
		{"wrong type", `{"v":1,"message_id":42}`, "message_id"},
		{"empty", ``, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.h.ProcessTask(stCtx, asynq.NewTask(tasks.TypeSend, []byte(tc.payload)))
			if !errors.Is(err, asynq.SkipRetry) || !retry.IsFailure(err) {
				t.Fatalf("poison payload: %v; want an archiving error", err)
			}
			if !strings.Contains(err.Error(), "bad payload") || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("archived as %q: want the reason (%q)", err, tc.reason)
			}
		})
	}
	if s.sender.n() != 0 {
		t.Fatalf("a poison payload was sent")
	}
	if !strings.Contains(s.logs.String(), "bad payload") {
		t.Fatalf("no log line")
	}
}

func TestExpiredNotSent(t *testing.T) {
	s := newStage(t)
	later := func() time.Time { return time.Now().Add(2 * time.Hour) }
	soon := time.Now().Add(time.Hour)

	t.Run("expired before sending", func(t *testing.T) {
		past := time.Now().Add(-time.Minute)
		m := tplSend("old")
		m.ExpiresAt = &past
		for range 2 { // and when redelivered
			if err := s.process(m); err != nil {
				t.Fatalf("expired: %v", err)
			}
		}
		if s.sender.n() != 0 || s.record("old").State != store.StateExpired {
			t.Fatalf("sent %d times, state %s", s.sender.n(), s.record("old").State)
		}
	})

	t.Run("accepted in time, redelivered after expiry", func(t *testing.T) {
		// A worker died before acknowledging the task: the message stays
		// what it is.
		m := tplSend("in-time")
		m.ExpiresAt = &soon
		s.h.now = nil
		sent := s.sender.n()
		if err := s.process(m); err != nil {
			t.Fatal(err)
		}
		s.h.now = later
		defer func() { s.h.now = nil }()
		if err := s.process(m); err != nil || s.sender.n() != sent+1 {
			t.Fatalf("redelivery after expiry: %v, %d sends", err, s.sender.n()-sent)
		}
		if st := s.record("in-time").State; st != store.StateSubmitted {
			t.Fatalf("a submitted message became %s", st)
		}
	})

	t.Run("dead letter archived after expiry", func(t *testing.T) {
		// The task that carries a dead letter into the archive is
		// archived however late it runs.
		m := tplSend("dead-late")
		m.ExpiresAt = &soon
		s.h.now = nil
		if err := s.process(m); err != nil {
			t.Fatal(err)
		}
		res, err := s.store.ApplyEvent(stCtx, store.EventRequest{MessageID: "dead-late", GupshupID: "gs-dead-late", Status: store.StatusFailed, Code: 1002, Decision: "dead"})
		if err != nil || res.FollowUp != store.FollowDead {
			t.Fatalf("%+v %v", res, err)
		}
		dt, err := tasks.NewDeadLetterTask(m)
		if err != nil {
			t.Fatal(err)
		}
		s.h.now = later
		defer func() { s.h.now = nil }()
		err = s.h.ProcessTask(stCtx, dt)
		if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "1002") {
			t.Fatalf("dead-letter task after expiry: %v; want it archived with its code", err)
		}
		if st := s.record("dead-late").State; st != store.StateDead {
			t.Fatalf("dead letter became %s", st)
		}
	})
}

func TestRedeliveryAfterSubmitNotSentAgain(t *testing.T) {
	s := newStage(t)
	sim := newSim(t)
	s.h.Sender = simClients(t, sim)
	m := tplSend("m1")
	for i := range 3 {
		if err := s.process(m); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if n := len(sim.SendsTo(stDest)); n != 1 {
		t.Fatalf("simulator got %d sends, want 1", n)
	}
	rec := s.record("m1")
	if rec.State != store.StateSubmitted || rec.GupshupID != sim.Sends()[0].MessageID {
		t.Fatalf("record %+v", rec)
	}
}

func TestClaimBusyThrottles(t *testing.T) {
	s := newStage(t)
	m := tplSend("m1")
	// Another worker claimed it a moment ago and is submitting.
	b, _ := tasks.EncodeSend(m)
	if c, err := s.store.Claim(stCtx, store.ClaimRequest{MessageID: "m1", Payload: b, InFlight: s.h.InFlight}); err != nil || c.Action != store.ClaimSend {
		t.Fatalf("%+v %v", c, err)
	}
	err := s.process(m)
	if err == nil || retry.IsFailure(err) {
		t.Fatalf("busy claim: %v; want a throttle that uses no attempt", err)
	}
	v, ok := retry.VerdictOf(err)
	if !ok || v.Class != retry.Throttled {
		t.Fatalf("verdict %+v", v)
	}
	if d := (retry.Policy{}).RetryDelay(0, err, nil); d <= 0 || d > s.h.InFlight {
		t.Fatalf("busy retry in %v; want the rest of the in-flight window", d)
	}
	if s.sender.n() != 0 || s.record("m1").State != store.StateSending {
		t.Fatalf("a busy claim sent (%d) or took the claim (%s)", s.sender.n(), s.record("m1").State)
	}
}

// A record left 'sending' past the in-flight window: the worker that
// claimed it died mid-submit.
func TestAmbiguousSubmit(t *testing.T) {
	for _, tc := range []struct {
		policy    Ambiguity
		wantSends int
		wantState store.State
	}{
		{AmbiguousResend, 1, store.StateSubmitted},
		{AmbiguousDeadLetter, 0, store.StateDead},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			s := newStage(t)
			s.h.Ambiguous = tc.policy
			m := tplSend("m1")
			b, _ := tasks.EncodeSend(m)
			hourAgo := store.New(s.rdb, store.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
			if c, err := hourAgo.Claim(stCtx, store.ClaimRequest{MessageID: "m1", Payload: b, CampaignID: "camp", InFlight: s.h.InFlight}); err != nil || c.Action != store.ClaimSend {
				t.Fatalf("%+v %v", c, err)
			}
			err := s.process(m)
			rec := s.record("m1")
			if s.sender.n() != tc.wantSends || rec.State != tc.wantState || rec.Ambiguous != 1 {
				t.Fatalf("%d sends, state %s, ambiguous count %d", s.sender.n(), rec.State, rec.Ambiguous)
			}
			if !strings.Contains(s.logs.String(), "died in flight") {
				t.Fatalf("ambiguity not logged")
			}
			if tc.policy == AmbiguousResend {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "ambiguous") {
				t.Fatalf("deadletter policy: %v", err)
			}
			if d := s.deadLetters(); len(d) != 1 || !strings.Contains(d[0].Reason, "ambiguous") {
				t.Fatalf("dead letters %+v", d)
			}
		})
	}
}

func TestClosedWindowSession(t *testing.T) {
	closed := &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 400, Code: 470, Message: "more than 24 hours"}
	for _, tc := range []struct {
		name          string
		fallback      bool
		knownClosed   bool
		wantFallbacks []bool
		wantDead      bool
	}{
		{"sync closed, fallback sent in the same handling", true, false, []bool{false, true}, false},
		{"sync closed, no fallback", false, false, []bool{false}, true},
		{"known closed, fallback first", true, true, []bool{true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStage(t)
			sim := newSim(t)
			clients := simClients(t, sim)
			// The session send fails on the spot; the template reaches the simulator.
			s.sender.fn = func(n int, m *tasks.Send, fallback bool) (gupshup.SendResult, error) {
				if !fallback {
					return gupshup.SendResult{}, closed
				}
				return clients.Send(stCtx, m, fallback)
			}
			if tc.knownClosed {
				s.store.CloseWindow(stCtx, stDest)
			}
			m := sessSend("m1", tc.fallback)
			err := s.process(m)
			if got := s.sender.fallbacks(); !slices.Equal(got, tc.wantFallbacks) {
				t.Fatalf("sends with fallback flags %v, want %v", got, tc.wantFallbacks)
			}
			if w, _ := s.store.Window(stCtx, stDest); tc.fallback && w != store.WindowClosed {
				t.Fatalf("window not recorded closed: %v", w)
			}
			if tc.wantDead {
				if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "470") {
					t.Fatalf("no fallback: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sends := sim.SendsTo(stDest)
			if len(sends) != 1 || sends[0].Kind != "template" || sends[0].TemplateID != m.Fallback.ID {
				t.Fatalf("simulator got %+v; want the fallback template", sends)
			}
			if rec := s.record("m1"); rec.State != store.StateSubmitted || rec.GupshupID != sends[0].MessageID {
				t.Fatalf("record %+v", rec)
			}
		})
	}
}

func TestLimiterHandBack(t *testing.T) {
	s := newStage(t)
	s.lim.retryIn.Store(int64(3 * time.Second))
	err := s.process(tplSend("m1"))
	if err == nil || retry.IsFailure(err) || !strings.Contains(err.Error(), "no attempt used") {
		t.Fatalf("rate limited: %v; want a throttle that uses no attempt", err)
	}
	if d := (retry.Policy{}).RetryDelay(0, err, nil); d < 3*time.Second {
		t.Fatalf("handed back for %v, less than the limiter asked", d)
	}
	// asynq keeps the error as the task's last error, shown in asynqmon.
	if strings.Contains(err.Error(), stSource) || !strings.Contains(err.Error(), logging.Mask(stSource)) {
		t.Fatalf("hand-back reason %q: want the sender number masked", err)
	}
	if s.sender.n() != 0 {
		t.Fatalf("sent despite the limiter")
	}
	// The claim is given back: the next delivery sends at once.
	if st := s.record("m1").State; st != store.StateRetry {
		t.Fatalf("state after a hand-back %s", st)
	}
	s.lim.retryIn.Store(0)
	if err := s.process(tplSend("m1")); err != nil || s.sender.n() != 1 {
		t.Fatalf("after the hand-back: %v, %d sends", err, s.sender.n())
	}
}

// The breaker opens on a run of service failures (5xx, timeouts,
// transport) and never on answers about one recipient, rate limits or
// credentials; while open, tasks are handed back without an attempt.
func TestBreakerOpensOnServiceFailuresOnly(t *testing.T) {
	s := newStage(t)
	for i, tc := range []struct {
		name  string
		err   error
		opens bool
	}{
		{"HTTP 503", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 503}, true},
		{"HTTP 500 code 500", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 500, Code: 500}, true},
		{"timeout", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", Timeout: true}, true},
		{"transport", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", Transport: true}, true},
		{"1002 no such number", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 400, Code: 1002, Message: "Number Does Not Exists On WhatsApp"}, false},
		{"invalid destination", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 400, Message: "Invalid Destination"}, false},
		{"1012 opted out", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 400, Code: 1012}, false},
		{"HTTP 429", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 429}, false},
		{"HTTP 401", &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: 401}, false},
		{"validation", &gupshup.ValidationError{Field: "destination", Problem: "bad"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			logs := &logging.Buffer{}
			cfg := Config{BreakerOpen: time.Minute, BreakerFailures: 5}
			h := *s.h
			h.Log = logging.New(logs, "json", "debug")
			// Breakers share their open state through Redis: one app per case.
			h.Breaker = newBreakers(cfg, s.rdb, h.Log)
			h.DefaultApp = func(gupshup.Family) string { return fmt.Sprintf("app-%d", i) }
			sender := &scriptSender{fn: func(int, *tasks.Send, bool) (gupshup.SendResult, error) { return gupshup.SendResult{}, tc.err }}
			h.Sender = sender
			for j := range 2 * cfg.BreakerFailures {
				m := tplSend(fmt.Sprintf("b%d-%d", i, j))
				err := h.ProcessTask(stCtx, newTask(t, m))
				refused := j >= cfg.BreakerFailures && tc.opens
				if refused {
					if err == nil || retry.IsFailure(err) || !strings.Contains(err.Error(), "circuit breaker") {
						t.Fatalf("task %d with the breaker open: %v; want a throttle", j, err)
					}
				} else if err == nil || strings.Contains(err.Error(), "circuit breaker") {
					t.Fatalf("task %d: %v", j, err)
				}
			}
			want := 2 * cfg.BreakerFailures
			if tc.opens {
				want = cfg.BreakerFailures
			}
			if sender.n() != want {
				t.Fatalf("%d calls reached Gupshup, want %d", sender.n(), want)
			}
			opened := strings.Contains(logs.String(), `"to":"open"`)
			if opened != tc.opens {
				t.Fatalf("breaker opened = %v, want %v", opened, tc.opens)
			}
		})
	}
}

func TestUnauthorizedDeadWithAlarm(t *testing.T) {
	s := newStage(t)
	sim := newSim(t)
	s.h.Sender = simClients(t, sim, func(c *Config) { c.APIKey = "revoked-key" })
	err := s.process(tplSend("m1"))
	if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("401: %v; want a dead letter", err)
	}
	if len(sim.Sends()) != 0 {
		t.Fatalf("simulator accepted a send")
	}
	if rec := s.record("m1"); rec.State != store.StateDead {
		t.Fatalf("state %s", rec.State)
	}
	if d := s.deadLetters(); len(d) != 1 || d[0].MessageID != "m1" {
		t.Fatalf("dead letters %+v", d)
	}
	var alarm string
	for line := range strings.Lines(s.logs.String()) {
		if strings.Contains(line, `"alarm":true`) {
			alarm = line
		}
	}
	if alarm == "" || !strings.Contains(alarm, `"level":"error"`) || !strings.Contains(alarm, "401") {
		t.Fatalf("no error line with alarm:true and the status in:\n%s", s.logs.String())
	}
}

func TestConsentCallsReachSimulator(t *testing.T) {
	sim := newSim(t)
	clients := simClients(t, sim)
	h := &ConsentHandler{Clients: clients, Policy: retry.Policy{}, Log: logging.New(&logging.Buffer{}, "json", "debug")}
	selfServeOptedIn := func(phone string) bool {
		users, err := clients.SelfServe.Users(stCtx)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.PhoneCode == phone {
				return u.OptedIn()
			}
		}
		return false
	}
	for _, tc := range []struct {
		family  gupshup.Family
		optedIn func(string) bool
	}{
		{gupshup.SelfServe, selfServeOptedIn},
		{gupshup.Enterprise, sim.EnterpriseOptedIn},
	} {
		phone := "919812345678"
		for _, typ := range []string{tasks.TypeOptIn, tasks.TypeOptOut, tasks.TypeOptIn} {
			task, err := tasks.NewConsentTask(typ, &tasks.Consent{Family: tc.family, Phone: phone})
			if err != nil {
				t.Fatal(err)
			}
			if err := h.ProcessTask(stCtx, task); err != nil {
				t.Fatalf("%s %s: %v", tc.family, typ, err)
			}
			if got, want := tc.optedIn(phone), typ == tasks.TypeOptIn; got != want {
				t.Fatalf("%s after %s: opted in = %v", tc.family, typ, got)
			}
		}
	}
	// A bad payload is archived, not retried.
	if err := h.ProcessTask(stCtx, asynq.NewTask(tasks.TypeOptIn, []byte(`{"v":1}`))); !errors.Is(err, asynq.SkipRetry) {
		t.Fatalf("bad consent payload: %v", err)
	}
}

func newTask(t *testing.T, m *tasks.Send) *asynq.Task {
	t.Helper()
	b, err := tasks.EncodeSend(m)
	if err != nil {
		t.Fatal(err)
	}
	return asynq.NewTask(tasks.TypeSend, b)
}
