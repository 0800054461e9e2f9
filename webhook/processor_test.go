package webhook_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
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

// slowPolicy's first backoff is long enough to measure against the clock,
// and no test waits for it.
var slowPolicy = retry.Policy{Base: 10 * time.Second, MaxAttempts: 6, UnknownCodeAttempts: 3}

func TestStatusOnlyMovesForward(t *testing.T) {
	e := newEnv(t, slowPolicy)
	for i, tc := range []struct {
		order []gupshup.Status
		want  store.State
	}{
		{[]gupshup.Status{"enqueued", "sent", "delivered", "read"}, store.StateRead},
		{[]gupshup.Status{"read", "delivered", "sent", "enqueued"}, store.StateRead},
		{[]gupshup.Status{"delivered", "enqueued", "sent"}, store.StateDelivered},
		{[]gupshup.Status{"sent", "enqueued"}, store.StateSent},
		{[]gupshup.Status{"enqueued", "deleted"}, store.StateEnqueued},
	} {
		id, gs := fmt.Sprintf("fwd-%d", i), fmt.Sprintf("gs-fwd-%d", i)
		e.submitted(templateSend(id), 0, gs)
		for _, st := range tc.order {
			e.apply(status(gs, st))
			e.apply(status(gs, st)) // at least once: any event may come twice
		}
		rec := e.record(id)
		if rec.State != tc.want {
			t.Errorf("%v: state %s, want %s", tc.order, rec.State, tc.want)
		}
		want := len(tc.order)
		if slices.Contains(tc.order, gupshup.StatusDeleted) {
			want--
		}
		if len(rec.Events) != want {
			t.Errorf("%v: events recorded %v, want %d", tc.order, rec.Events, want)
		}
	}
	if got := e.queued(); len(got) != 0 {
		t.Fatalf("status events enqueued tasks: %v", taskIDs(got))
	}
}

// With both a v2 and a v3 subscription every event arrives twice, worded
// differently; each must count once.
func TestV2AndV3CopiesCountOnce(t *testing.T) {
	e := newEnv(t, slowPolicy)
	srv := httptest.NewServer(mux(webhook.NewHandler(e.proc, "", logging.New(e.logs, "json", "debug"))))
	t.Cleanup(srv.Close)
	post := func(body []byte) {
		t.Helper()
		resp, err := http.Post(srv.URL+webhook.Path, "application/json", strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("callback answered %d", resp.StatusCode)
		}
	}

	e.submitted(templateSend("ok"), 0, "gs-ok")
	for _, st := range []gupshup.Status{"enqueued", "sent", "delivered"} {
		post(v2Body("gs-ok", st, 0))
		post(v3Body("gs-ok", st, 0))
	}
	if rec := e.record("ok"); rec.State != store.StateDelivered || len(rec.Events) != 3 {
		t.Fatalf("after v2+v3 copies: state %s, events %v", rec.State, rec.Events)
	}

	e.submitted(templateSend("retry"), 0, "gs-retry")
	post(v2Body("gs-retry", "failed", 4002))
	post(v3Body("gs-retry", "failed", 4002))
	e.submitted(templateSend("dead"), 0, "gs-dead")
	post(v3Body("gs-dead", "failed", 1002))
	post(v2Body("gs-dead", "failed", 1002))

	ids := taskIDs(e.queued())
	slices.Sort(ids)
	want := []string{"dead:dead", "send:retry{1}"}
	if !slices.Equal(ids, want) {
		t.Fatalf("queued tasks %v, want %v", ids, want)
	}
	if rec := e.record("retry"); rec.State != store.StateRetry || rec.Generation != 1 {
		t.Fatalf("retry record: %s gen %d", rec.State, rec.Generation)
	}
	dls, err := e.store.DeadLetters(bg, "camp")
	if err != nil || len(dls) != 1 || dls[0].MessageID != "dead" || dls[0].Code != 1002 {
		t.Fatalf("dead letters %+v %v", dls, err)
	}
	logs := e.logs.String()
	if n := countLines(logs, "failed callback: resend scheduled"); n != 1 {
		t.Errorf("%d resend decisions logged, want 1", n)
	}
	if n := countLines(logs, "failed callback: dead-lettered"); n != 1 {
		t.Errorf("%d dead-letter decisions logged, want 1", n)
	}
}

// A failed callback with a retryable code schedules exactly one resend,
// however often and however concurrently Gupshup delivers it.
func TestRetryableFailureStormSchedulesOneResend(t *testing.T) {
	e := newEnv(t, slowPolicy)
	s := templateSend("m1")
	e.submitted(s, 0, "gs-1")
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Go(func() { errs <- e.proc.Apply(bg, failed("gs-1", 4002)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	q := e.queued()
	if len(q) != 1 {
		t.Fatalf("queued %v, want one resend", taskIDs(q))
	}
	task := q[0]
	if want := tasks.SendTaskID(&tasks.Send{MessageID: "m1", Generation: 1}); task.ID != want {
		t.Fatalf("resend task id %q, want %q", task.ID, want)
	}
	if task.Queue != tasks.QueueBulk || task.State != asynq.TaskStateScheduled {
		t.Fatalf("resend in queue %q state %v; want the message's queue, scheduled", task.Queue, task.State)
	}
	// Generation 0 failed: the backoff is between Base and twice Base.
	if in := task.NextProcessAt.Sub(start); in < slowPolicy.Base-time.Second || in > 2*slowPolicy.Base+time.Second {
		t.Fatalf("resend due in %v, want within [%v, %v]", in, slowPolicy.Base, 2*slowPolicy.Base)
	}
	got, err := tasks.DecodeSend(task.Payload)
	if err != nil || got.Generation != 1 || got.MessageID != "m1" || got.Destination != dest {
		t.Fatalf("resend payload %+v %v", got, err)
	}
	if rec := e.record("m1"); rec.State != store.StateRetry || rec.Generation != 1 || rec.Code != 4002 {
		t.Fatalf("record %+v", rec)
	}
	if n := countLines(e.logs.String(), "failed callback: resend scheduled"); n != 1 {
		t.Fatalf("%d fresh resend decisions, want 1", n)
	}
	// Once the resend went out, a late copy of the old failure is history.
	e.submitted(s, 1, "gs-2")
	e.apply(failed("gs-1", 4002))
	if q := e.queued(); len(q) != 1 {
		t.Fatalf("a stale failure enqueued more: %v", taskIDs(q))
	}
}

func TestTerminalFailureDeadLettersOnce(t *testing.T) {
	for _, code := range []int{1002, 1008, 1012, 4003, 131026, 132001} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			e := newEnv(t, slowPolicy)
			e.submitted(templateSend("m1"), 0, "gs-1")
			for range 3 {
				e.apply(failed("gs-1", code))
			}
			dls, err := e.store.DeadLetters(bg, "camp")
			if err != nil || len(dls) != 1 {
				t.Fatalf("dead letters %+v %v", dls, err)
			}
			d := dls[0]
			if d.MessageID != "m1" || d.Code != code || d.Reason == "" || d.Destination != dest || d.Queue != tasks.QueueBulk || len(d.Payload) == 0 {
				t.Fatalf("dead letter %+v", d)
			}
			q := e.queued()
			if ids := taskIDs(q); len(ids) != 1 || ids[0] != tasks.DeadLetterTaskID(&tasks.Send{MessageID: "m1"}) {
				t.Fatalf("queued %v, want one dead-letter task", ids)
			}
			if rec := e.record("m1"); rec.State != store.StateDead || rec.Code != code {
				t.Fatalf("record %s code %d", rec.State, rec.Code)
			}
		})
	}
}

func TestClosedWindow(t *testing.T) {
	for _, code := range []int{470, 131047, 1005} {
		for _, fb := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/fallback=%v", code, fb), func(t *testing.T) {
				e := newEnv(t, slowPolicy)
				s := sessionSend("m1", fb)
				e.submitted(s, 0, "gs-1")
				e.apply(failed("gs-1", code))
				e.apply(failed("gs-1", code))

				if w, err := e.store.Window(bg, dest); err != nil || w != store.WindowClosed {
					t.Fatalf("window %v %v, want closed", w, err)
				}
				rec := e.record("m1")
				ids := taskIDs(e.queued())
				dls, _ := e.store.DeadLetters(bg, "camp")
				if !fb {
					if rec.State != store.StateDead || len(dls) != 1 || dls[0].Code != code || !slices.Equal(ids, []string{"dead:m1"}) {
						t.Fatalf("no fallback: state %s, dead letters %+v, queued %v", rec.State, dls, ids)
					}
					return
				}
				if !rec.Fallback || rec.State != store.StateRetry || rec.Generation != 1 || len(dls) != 0 || !slices.Equal(ids, []string{"send:m1{1}"}) {
					t.Fatalf("fallback: %+v, dead letters %+v, queued %v", rec, dls, ids)
				}
				// The fallback goes out at once, not after a backoff.
				if q := e.queued(); q[0].State != asynq.TaskStatePending {
					t.Fatalf("fallback resend is %v, want pending", q[0].State)
				}
				// The worker sends generation 1 with the fallback template. Should
				// that fail with a closed window too, there is nothing left to
				// fall back on: a dead letter, not a loop.
				cl, err := e.store.Claim(bg, store.ClaimRequest{MessageID: "m1", Generation: 1, InFlight: time.Minute})
				if err != nil || cl.Action != store.ClaimSend || !cl.Fallback {
					t.Fatalf("claim of the fallback resend: %+v %v", cl, err)
				}
				e.store.Submitted(bg, "m1", 1, "gs-2")
				e.apply(failed("gs-2", code))
				if rec := e.record("m1"); rec.State != store.StateDead {
					t.Fatalf("fallback failed too: state %s", rec.State)
				}
			})
		}
	}
	t.Run("template", func(t *testing.T) {
		e := newEnv(t, slowPolicy)
		e.submitted(templateSend("m1"), 0, "gs-1")
		e.apply(failed("gs-1", 470))
		if rec := e.record("m1"); rec.State != store.StateDead || rec.Fallback {
			t.Fatalf("a template has no fallback: %+v", rec)
		}
	})
}

func TestInboundOpensWindow(t *testing.T) {
	e := newEnv(t, slowPolicy)
	if err := e.store.CloseWindow(bg, dest); err != nil {
		t.Fatal(err)
	}
	e.apply(gupshup.Event{Kind: gupshup.EventInbound, Destination: dest}) // no time: now
	if w, _ := e.store.Window(bg, dest); w != store.WindowOpen {
		t.Fatalf("window after an inbound message: %v", w)
	}
	// Through the parser, as Gupshup sends it.
	other := "919800000077"
	evs, err := gupshup.ParseCallback(v2Inbound(other))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	e.apply(evs[0])
	if w, _ := e.store.Window(bg, other); w != store.WindowOpen {
		t.Fatalf("window after a v2 inbound message: %v", w)
	}
	// A message from more than 24 h ago does not open it.
	old := "919800000078"
	e.apply(gupshup.Event{Kind: gupshup.EventInbound, Destination: old, Time: time.Now().Add(-25 * time.Hour)})
	if w, _ := e.store.Window(bg, old); w == store.WindowOpen {
		t.Fatalf("a day-old inbound message opened the window")
	}
}

// A callback can beat the worker's record of Gupshup's id. It is parked,
// and applied when the worker drains the id after recording it; an event
// arriving after the record is applied at once.
func TestOrphanEvents(t *testing.T) {
	for _, tc := range []struct {
		name        string
		recordFirst bool
		ev          gupshup.Event
		want        store.State
		wantQueued  []string
	}{
		{"delivered before record", false, status("gs-1", "delivered"), store.StateDelivered, nil},
		{"failed before record", false, failed("gs-1", 4002), store.StateRetry, []string{"send:m1{1}"}},
		{"delivered after record", true, status("gs-1", "delivered"), store.StateDelivered, nil},
		{"failed after record", true, failed("gs-1", 1002), store.StateDead, []string{"dead:m1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, slowPolicy)
			rdb := e.store.Redis()
			if tc.recordFirst {
				e.submitted(templateSend("m1"), 0, "gs-1")
			}
			e.apply(tc.ev)
			parked := rdb.LLen(bg, store.OrphanKey("gs-1")).Val()
			if !tc.recordFirst {
				if parked != 1 {
					t.Fatalf("%d events parked, want 1", parked)
				}
				if _, ok, _ := e.store.Get(bg, "m1"); ok {
					t.Fatalf("a parked event created a record")
				}
				e.submitted(templateSend("m1"), 0, "gs-1")
				if err := e.proc.DrainOrphans(bg, "gs-1"); err != nil {
					t.Fatal(err)
				}
			} else if parked != 0 {
				t.Fatalf("an event for a known id was parked")
			}
			if rec := e.record("m1"); rec.State != tc.want {
				t.Fatalf("state %s, want %s", rec.State, tc.want)
			}
			if n := rdb.Exists(bg, store.OrphanKey("gs-1")).Val(); n != 0 {
				t.Fatalf("orphan list left behind")
			}
			if ids := taskIDs(e.queued()); !slices.Equal(ids, tc.wantQueued) {
				t.Fatalf("queued %v, want %v", ids, tc.wantQueued)
			}
			// Draining again applies nothing twice.
			if err := e.proc.DrainOrphans(bg, "gs-1"); err != nil {
				t.Fatal(err)
			}
			if ids := taskIDs(e.queued()); !slices.Equal(ids, tc.wantQueued) {
				t.Fatalf("after a second drain: queued %v", ids)
			}
		})
	}
}

// An unknown code may be permanent: it is retried across generations only
// UnknownCodeAttempts times in all, then dead-lettered with the code kept,
// while a known retryable code gets MaxAttempts.
func TestUnknownCodeRetriedBoundedAcrossGenerations(t *testing.T) {
	for _, tc := range []struct {
		code     int
		attempts int
	}{
		{987654, slowPolicy.UnknownCodeAttempts},
		{4002, slowPolicy.MaxAttempts},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			e := newEnv(t, slowPolicy)
			s := templateSend("m1")
			for gen := 0; ; gen++ {
				if gen > 0 {
					// The resend of the previous generation is queued.
					want := tasks.SendTaskID(&tasks.Send{MessageID: "m1", Generation: gen})
					if !slices.Contains(taskIDs(e.queued()), want) {
						t.Fatalf("gen %d: no %s queued: %v", gen, want, taskIDs(e.queued()))
					}
				}
				if gen >= tc.attempts {
					t.Fatalf("attempt %d of at most %d was scheduled", gen+1, tc.attempts)
				}
				gs := fmt.Sprintf("gs-%d", gen)
				e.submitted(s, gen, gs)
				e.apply(failed(gs, tc.code))
				if e.record("m1").State == store.StateDead {
					if gen+1 != tc.attempts {
						t.Fatalf("dead after %d attempts, want %d", gen+1, tc.attempts)
					}
					break
				}
			}
			dls, _ := e.store.DeadLetters(bg, "camp")
			if len(dls) != 1 || dls[0].Code != tc.code || dls[0].Generation != tc.attempts-1 {
				t.Fatalf("dead letters %+v", dls)
			}
			var dead []*asynq.TaskInfo
			for _, q := range e.queued() {
				if strings.HasPrefix(q.ID, "dead:") {
					dead = append(dead, q)
				}
			}
			if len(dead) != 1 || dead[0].ID != tasks.DeadLetterTaskID(&tasks.Send{MessageID: "m1", Generation: tc.attempts - 1}) {
				t.Fatalf("dead-letter tasks %v", taskIDs(dead))
			}
			var p tasks.Send
			if err := json.Unmarshal(dead[0].Payload, &p); err != nil || p.Generation != tc.attempts-1 {
				t.Fatalf("dead-letter payload %s", dead[0].Payload)
			}
		})
	}
}

// Rate-limit callbacks (Meta's throughput, pair rate, Gupshup's 4001) say
// nothing about the message: their resends use no attempt, so a message
// throttled three times still gets all MaxAttempts of a retryable failure.
func TestThrottledCallbacksUseNoAttempt(t *testing.T) {
	e := newEnv(t, slowPolicy)
	s := templateSend("m1")
	throttles := []int{130429, 131056, 4001}
	gen := 0
	for _, code := range throttles {
		gs := fmt.Sprintf("gs-%d", gen)
		e.submitted(s, gen, gs)
		e.apply(failed(gs, code))
		if st := e.record("m1").State; st != store.StateRetry {
			t.Fatalf("after throttle %d: %s", code, st)
		}
		gen++
	}
	if n, err := e.store.ThrottledResends(bg, "m1"); err != nil || n != len(throttles) {
		t.Fatalf("throttled resends %d, %v", n, err)
	}
	attempts := 0
	for ; e.record("m1").State != store.StateDead; gen++ {
		if attempts >= slowPolicy.MaxAttempts {
			t.Fatalf("attempt %d of at most %d", attempts+1, slowPolicy.MaxAttempts)
		}
		gs := fmt.Sprintf("gs-%d", gen)
		e.submitted(s, gen, gs)
		e.apply(failed(gs, 4002))
		attempts++
	}
	if attempts != slowPolicy.MaxAttempts {
		t.Fatalf("dead after %d attempts past the throttles, want %d", attempts, slowPolicy.MaxAttempts)
	}
	dls, _ := e.store.DeadLetters(bg, "camp")
	if len(dls) != 1 || dls[0].Code != 4002 || dls[0].Generation != len(throttles)+slowPolicy.MaxAttempts-1 {
		t.Fatalf("dead letters %+v", dls)
	}
}

func mux(h *webhook.Handler) *http.ServeMux {
	m := http.NewServeMux()
	h.Register(m)
	return m
}

// Gupshup reports some failures (1002, 1007, ...) milliseconds after it
// accepts a send. The worker indexes the Gupshup id before it records the
// submit, so such a callback can be applied between the two: the record is
// still 'sending' when it turns dead. The submit's record that follows must
// keep the failure's code and reason, which the dead letter carries into
// the archive.
func TestFailedCallbackBetweenIndexAndSubmitRecord(t *testing.T) {
	for _, tc := range []struct {
		code   int
		follow store.FollowUp
		state  store.State
	}{
		{1007, store.FollowDead, store.StateDead},
		{4002, store.FollowResend, store.StateRetry},
	} {
		t.Run(fmt.Sprint(tc.code), func(t *testing.T) {
			e := newEnv(t, slowPolicy)
			b, _ := tasks.EncodeSend(templateSend("m1"))
			if c, err := e.store.Claim(bg, store.ClaimRequest{MessageID: "m1", Payload: b, CampaignID: "camp", InFlight: time.Minute}); err != nil || c.Action != store.ClaimSend {
				t.Fatalf("%+v %v", c, err)
			}
			decision := map[store.FollowUp]string{store.FollowDead: "dead", store.FollowResend: "resend"}[tc.follow]
			// What the processor does once its Lookup found the index.
			res, err := e.store.ApplyEvent(bg, store.EventRequest{MessageID: "m1", GupshupID: "gs-1", Status: store.StatusFailed, Code: tc.code, Reason: "early failure", Decision: decision})
			if err != nil || res.FollowUp != tc.follow {
				t.Fatalf("%+v %v", res, err)
			}
			// Then the worker records its submit.
			if err := e.store.Submitted(bg, "m1", 0, "gs-1"); err != nil {
				t.Fatal(err)
			}
			rec := e.record("m1")
			if rec.State != tc.state || rec.Code != tc.code || rec.Reason != "early failure" {
				t.Fatalf("after the late submit record: state %s, code %d, reason %q", rec.State, rec.Code, rec.Reason)
			}
			if tc.follow == store.FollowDead {
				c, err := e.store.Claim(bg, store.ClaimRequest{MessageID: "m1", InFlight: time.Minute})
				if err != nil || c.Action != store.ClaimArchive || c.Code != tc.code || c.Reason != "early failure" {
					t.Fatalf("the dead-letter task's claim: %+v %v", c, err)
				}
			}
		})
	}
}
