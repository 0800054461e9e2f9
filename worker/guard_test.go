package worker

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/webhook"
)

func TestGuard(t *testing.T) {
	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypeSend, func(context.Context, *asynq.Task) error { panic("boom") })
	mux.HandleFunc(tasks.TypeOptIn, func(context.Context, *asynq.Task) error { return nil })
	logs := &logging.Buffer{}
	g := Guard(mux, logging.New(logs, "json", "debug"))
	for _, tc := range []struct{ typ, reason string }{
		{tasks.TypeSend, "handler panicked: boom"},
		{tasks.TypeSend + "x", "unknown task type"}, // asynq would match it by prefix
		{"whatsapp:unknown", "unknown task type"},
	} {
		err := g.ProcessTask(stCtx, asynq.NewTask(tc.typ, nil))
		if !errors.Is(err, asynq.SkipRetry) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%q: %v; want archived with %q", tc.typ, err, tc.reason)
		}
	}
	if err := g.ProcessTask(stCtx, asynq.NewTask(tasks.TypeOptIn, nil)); err != nil {
		t.Fatalf("a known task: %v", err)
	}
	if !strings.Contains(logs.String(), `"stack"`) {
		t.Fatalf("the panic's stack was not logged")
	}
}

// Through a real asynq server: poison tasks are archived at once with their
// reason, and the worker goes on with the next task.
func TestServerArchivesPoisonAndKeepsRunning(t *testing.T) {
	s := newStage(t)
	var consents atomic.Int32
	send := asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		if string(t.Payload()) == "panic" {
			panic("poison")
		}
		return s.h.ProcessTask(ctx, t)
	})
	consent := asynq.HandlerFunc(func(context.Context, *asynq.Task) error { consents.Add(1); return nil })
	srvRDB := redis.NewClient(&redis.Options{Addr: s.redis.Addr})
	t.Cleanup(func() { srvRDB.Close() })
	srv, h := NewServer(srvRDB, ServerConfig{
		Concurrency: 1, ShutdownTimeout: time.Second, Policy: retry.Policy{}, Log: logging.New(s.logs, "json", "info"),
	}, send, consent)
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	client := asynq.NewClientFromRedisClient(s.rdb)
	good, _ := tasks.EncodeSend(tplSend("good"))
	for _, task := range []*asynq.Task{
		asynq.NewTask(tasks.TypeSend, []byte("panic")),
		asynq.NewTask(tasks.TypeSend, []byte(`{"v":1,"message_id":`)),
		asynq.NewTask("whatsapp:sendx", nil),
		asynq.NewTask(tasks.TypeSend, good),
		asynq.NewTask(tasks.TypeOptIn, []byte(`{}`)),
	} {
		// MaxRetry as producers set it: without the guard a panic would be retried.
		if _, err := client.Enqueue(task, asynq.MaxRetry(retry.AsynqMaxRetry)); err != nil {
			t.Fatal(err)
		}
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: s.redis.Addr})
	t.Cleanup(func() { insp.Close() })
	var archived []*asynq.TaskInfo
	deadline := time.Now().Add(15 * time.Second)
	for {
		archived, _ = insp.ListArchivedTasks(tasks.QueueDefault)
		if len(archived) == 3 && consents.Load() == 1 && s.sender.n() == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("archived %d, consents %d, sends %d", len(archived), consents.Load(), s.sender.n())
		}
		time.Sleep(50 * time.Millisecond)
	}
	reasons := map[string]bool{}
	for _, a := range archived {
		if a.Retried != 0 {
			t.Errorf("%s was retried %d times before archiving", a.Type, a.Retried)
		}
		for _, r := range []string{"handler panicked: poison", "bad payload", `unknown task type "whatsapp:sendx"`} {
			if strings.Contains(a.LastErr, r) {
				reasons[r] = true
			}
		}
	}
	if len(reasons) != 3 {
		for _, a := range archived {
			t.Logf("archived %s: %s", a.Type, a.LastErr)
		}
		t.Fatalf("archived reasons %v", reasons)
	}
	if rec := s.record("good"); rec.State != store.StateSubmitted {
		t.Fatalf("the good task after the poison ones: %s", rec.State)
	}
}

// An early callback parked before the worker recorded the Gupshup id is
// applied by the worker right after it records the submit.
func TestOrphanDrainedAfterSubmit(t *testing.T) {
	s := newStage(t)
	queue := asynq.NewClientFromRedisClient(s.rdb)
	proc := webhook.NewProcessor(s.store, queue, retry.Policy{Base: time.Second}, logging.New(s.logs, "json", "debug"))
	s.h.Orphans = proc
	s.sender.fn = func(int, *tasks.Send, bool) (gupshup.SendResult, error) {
		return gupshup.SendResult{MessageID: "gs-early"}, nil
	}
	// Gupshup refuses the number right after accepting the send, and the
	// callback beats the worker's record.
	early := gupshup.Event{Kind: gupshup.EventStatus, MessageID: "gs-early", Destination: stDest, Status: gupshup.StatusFailed, Code: 1002}
	if err := proc.Apply(stCtx, early); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.store.Get(stCtx, "m1"); ok {
		t.Fatalf("record before the send")
	}
	if err := s.process(tplSend("m1")); err != nil {
		t.Fatal(err)
	}
	if rec := s.record("m1"); rec.State != store.StateDead || rec.Code != 1002 || rec.GupshupID != "gs-early" {
		t.Fatalf("record after the drain: %+v", rec)
	}
	if d := s.deadLetters(); len(d) != 1 {
		t.Fatalf("dead letters %+v", d)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: s.redis.Addr})
	t.Cleanup(func() { insp.Close() })
	if _, err := insp.GetTaskInfo(tasks.QueueDefault, "dead:m1"); err != nil {
		t.Fatalf("dead-letter task: %v", err)
	}
}

// failingApply refuses the first ApplyParked, as a Redis blip would.
type failingApply struct {
	*webhook.Processor
	failed atomic.Bool
}

func (f *failingApply) ApplyParked(ctx context.Context, msgID string, gen int, gsID string, parked [][]byte) error {
	if f.failed.CompareAndSwap(false, true) {
		return errors.New("connection reset")
	}
	return f.Processor.ApplyParked(ctx, msgID, gen, gsID, parked)
}

// When the early callbacks read with the record cannot be applied, the
// task comes back (no attempt used) and its redelivery applies them,
// without sending again.
func TestOrphanApplyFailureComesBack(t *testing.T) {
	s := newStage(t)
	queue := asynq.NewClientFromRedisClient(s.rdb)
	proc := &failingApply{Processor: webhook.NewProcessor(s.store, queue, retry.Policy{Base: time.Second}, logging.New(s.logs, "json", "debug"))}
	s.h.Orphans = proc
	s.sender.fn = func(int, *tasks.Send, bool) (gupshup.SendResult, error) {
		return gupshup.SendResult{MessageID: "gs-early"}, nil
	}
	early := gupshup.Event{Kind: gupshup.EventStatus, MessageID: "gs-early", Destination: stDest, Status: gupshup.StatusDelivered}
	if err := proc.Apply(stCtx, early); err != nil {
		t.Fatal(err)
	}
	err := s.process(tplSend("m1"))
	if err == nil || retry.IsFailure(err) {
		t.Fatalf("apply failed: %v; want a hand-back that uses no attempt", err)
	}
	if rec := s.record("m1"); rec.State != store.StateSubmitted {
		t.Fatalf("record before the redelivery: %s", rec.State)
	}
	if err := s.process(tplSend("m1")); err != nil {
		t.Fatal(err)
	}
	if rec := s.record("m1"); rec.State != store.StateDelivered {
		t.Fatalf("record after the redelivery: %s, want delivered", rec.State)
	}
	if s.sender.n() != 1 {
		t.Fatalf("%d sends, want 1", s.sender.n())
	}
	if left, _ := s.store.DrainOrphans(stCtx, "gs-early"); len(left) != 0 {
		t.Fatalf("still parked: %q", left)
	}
}

func TestHealth(t *testing.T) {
	s := newStage(t)
	h := &Health{Redis: s.rdb}
	mux := http.NewServeMux()
	h.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if a, b := get("/healthz"), get("/readyz"); a != 200 || b != 200 {
		t.Fatalf("healthy: /healthz %d, /readyz %d", a, b)
	}
	s.redis.Stop()
	if a, b := get("/healthz"), get("/readyz"); a != 200 || b != 503 {
		t.Fatalf("Redis down: /healthz %d, /readyz %d; want 200, 503", a, b)
	}

	up := newStage(t)
	h = &Health{Redis: up.rdb}
	mux = http.NewServeMux()
	h.Register(mux)
	srv2 := httptest.NewServer(mux)
	t.Cleanup(srv2.Close)
	h.Drain()
	resp, err := http.Get(srv2.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("draining: /readyz %d", resp.StatusCode)
	}
}

// asynq's "Retry exhausted" warning is for tasks that ran out of retries;
// a send the handler dead-lettered itself has been logged already.
func TestAsynqRetryExhaustedLevel(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want string
	}{
		{"send:camp:919800000001", `"level":"debug"`},
		{"send:camp:919800000001{2}", `"level":"debug"`},
		{"dead:camp:919800000001", `"level":"debug"`},
		{"optin:selfserve:app:919800000001:20261121", `"level":"warn"`},
	} {
		logs := &logging.Buffer{}
		asynqLogger{logging.New(logs, "json", "debug")}.Warn("Retry exhausted for task id=" + tc.id)
		if !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: %s, want %s", tc.id, logs, tc.want)
		}
	}
	logs := &logging.Buffer{}
	asynqLogger{logging.New(logs, "json", "debug")}.Warn("some other warning")
	if !strings.Contains(logs.String(), `"level":"warn"`) {
		t.Errorf("other warnings: %s", logs)
	}
}
