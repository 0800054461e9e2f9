package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
)

type env struct {
	srv *redistest.Server
	p   *Producer
	ins *asynq.Inspector
}

func newEnv(t testing.TB) env {
	t.Helper()
	srv := redistest.Start(t)
	opt, err := redisconn.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenProducer(context.Background(), opt, 32)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ins := asynq.NewInspector(opt)
	t.Cleanup(func() { ins.Close() })
	return env{srv: srv, p: p, ins: ins}
}

func TestEnqueue(t *testing.T) {
	e := newEnv(t)
	s := templateSend()
	r, err := e.p.Enqueue(context.Background(), s, Queue(QueueBulk))
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Enqueued || r.TaskID != "send:msg-0001" || r.Queue != QueueBulk || r.Duplicate() {
		t.Fatalf("Result %+v", r)
	}
	info, err := e.ins.GetTaskInfo(QueueBulk, TaskID(s.MessageID))
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != TypeSend || info.Queue != QueueBulk || info.State != asynq.TaskStatePending {
		t.Fatalf("type %q queue %q state %v", info.Type, info.Queue, info.State)
	}
	if info.MaxRetry != retry.AsynqMaxRetry {
		t.Fatalf("MaxRetry %d, want retry.AsynqMaxRetry (%d)", info.MaxRetry, retry.AsynqMaxRetry)
	}
	if info.Timeout != DefaultTimeout {
		t.Fatalf("Timeout %v, want %v", info.Timeout, DefaultTimeout)
	}
	// asynq's Deadline would retry an expired message instead of letting
	// the worker record it as expired.
	if !info.Deadline.IsZero() {
		t.Fatalf("Deadline %v is set", info.Deadline)
	}
	got, err := DecodeSend(info.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.MessageID != s.MessageID || got.Template.Params[1] != "SPRING20" || !got.ExpiresAt.Equal(*s.ExpiresAt) {
		t.Fatalf("payload %+v", got)
	}
}

func TestEnqueueDefaultsAndTimeout(t *testing.T) {
	e := newEnv(t)
	s := sessionSend()
	s.Destination = "+91 98765 43210"
	if _, err := e.p.Enqueue(context.Background(), s, Timeout(15*time.Second)); err != nil {
		t.Fatal(err)
	}
	if s.Destination != "+91 98765 43210" {
		t.Fatal("Enqueue modified the caller's message")
	}
	info, err := e.ins.GetTaskInfo(QueueDefault, TaskID(s.MessageID))
	if err != nil {
		t.Fatal(err)
	}
	if info.Timeout != 15*time.Second {
		t.Fatalf("Timeout %v", info.Timeout)
	}
	got, err := DecodeSend(info.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if got.Destination != "919876543210" || got.Fallback == nil {
		t.Fatalf("payload %+v", got)
	}
}

func TestEnqueueDuplicateTaskID(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.p.Enqueue(ctx, templateSend(), Queue(QueueBulk)); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{QueueBulk, QueueCritical} {
		r, err := e.p.Enqueue(ctx, templateSend(), Queue(q))
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != DuplicateTask || r.Queue != QueueBulk || !r.Duplicate() {
			t.Fatalf("second Enqueue into %s: %+v, want a duplicate found in bulk", q, r)
		}
	}
	for _, q := range queueNames {
		info, err := e.ins.GetQueueInfo(q)
		if q == QueueBulk && (err != nil || info.Size != 1) {
			t.Fatalf("bulk: %+v %v", info, err)
		}
		if q != QueueBulk && err == nil && info.Size != 0 {
			t.Fatalf("%s holds %d tasks", q, info.Size)
		}
	}
}

// TestEnqueueConflictFromAsynq covers the race the pre-check cannot see:
// the task appears between the check and the enqueue.
func TestEnqueueConflictFromAsynq(t *testing.T) {
	e := newEnv(t)
	j, err := prepareSend(templateSend(), []Option{Queue(QueueCritical)})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.p.enqueue(context.Background(), j); err != nil || r.Outcome != Enqueued {
		t.Fatalf("%+v %v", r, err)
	}
	r, err := e.p.enqueue(context.Background(), j)
	if err != nil || r.Outcome != DuplicateTask || r.Queue != QueueCritical {
		t.Fatalf("%+v %v, want DuplicateTask from ErrTaskIDConflict", r, err)
	}
}

func TestEnqueueAlreadyHandled(t *testing.T) {
	e := newEnv(t)
	rdb := e.srv.Client()
	ctx := context.Background()
	if err := rdb.HSet(ctx, store.MessageKey("msg-0001"), "state", "sent").Err(); err != nil {
		t.Fatal(err)
	}
	r, err := e.p.Enqueue(ctx, templateSend())
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != AlreadyHandled || !r.Duplicate() {
		t.Fatalf("Result %+v, want AlreadyHandled", r)
	}
	if _, err := e.ins.GetTaskInfo(QueueDefault, TaskID("msg-0001")); !errors.Is(err, asynq.ErrTaskNotFound) && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatalf("a task was enqueued for a handled message: %v", err)
	}
}

func TestEnqueueProcessAt(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	s := templateSend()
	r, err := e.p.Enqueue(ctx, s, Queue(QueueBulk), ProcessAt(at))
	if err != nil {
		t.Fatal(err)
	}
	if r.Info.State != asynq.TaskStateScheduled {
		t.Fatalf("state %v", r.Info.State)
	}
	list, err := e.ins.ListScheduledTasks(QueueBulk)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != TaskID(s.MessageID) || !list[0].NextProcessAt.Equal(at) {
		t.Fatalf("scheduled set %+v, want %s at %v", list, TaskID(s.MessageID), at)
	}

	s2 := templateSend()
	s2.MessageID = "msg-0002"
	if _, err := e.p.Enqueue(ctx, s2, Queue(QueueBulk), ProcessIn(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	info, err := e.ins.GetTaskInfo(QueueBulk, TaskID("msg-0002"))
	if err != nil || info.State != asynq.TaskStateScheduled {
		t.Fatalf("%+v %v", info, err)
	}
	if d := time.Until(info.NextProcessAt); d < 9*time.Minute || d > 11*time.Minute {
		t.Fatalf("NextProcessAt in %v", d)
	}

	s3 := templateSend()
	s3.MessageID = "msg-0003"
	if _, err := e.p.Enqueue(ctx, s3, ProcessAt(time.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	if info, err := e.ins.GetTaskInfo(QueueDefault, TaskID("msg-0003")); err != nil || info.State != asynq.TaskStatePending {
		t.Fatalf("a past ProcessAt must mean now: %+v %v", info, err)
	}
}

func TestEnqueueRefusals(t *testing.T) {
	e := newEnv(t)
	past := time.Now().Add(-time.Minute)
	soon := time.Now().Add(time.Hour)
	tests := []struct {
		name   string
		change func(*Send)
		opts   []Option
		want   string
	}{
		{"expired", func(s *Send) { s.ExpiresAt = &past }, nil, "expires_at: "},
		{"expires before due", func(s *Send) { s.ExpiresAt = &soon }, []Option{ProcessIn(2 * time.Hour)}, "is not after the time the message is due"},
		{"unknown queue", func(*Send) {}, []Option{Queue("urgent")}, `queue: unknown "urgent"`},
		{"bad timeout", func(*Send) {}, []Option{Timeout(0)}, "timeout: "},
		{"invalid", func(s *Send) { s.Destination = "x" }, nil, "destination: not an E.164 number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := templateSend()
			tt.change(s)
			_, err := e.p.Enqueue(context.Background(), s, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !IsValidation(err) {
				t.Fatalf("Enqueue error %v, want a validation error with %q", err, tt.want)
			}
		})
	}
	qs, err := e.ins.Queues()
	if err != nil || len(qs) != 0 {
		t.Fatalf("refused messages reached Redis: queues %v %v", qs, err)
	}
}

func TestAsynqTaskKeyMatchesAsynq(t *testing.T) {
	e := newEnv(t)
	s := templateSend()
	if _, err := e.p.Enqueue(context.Background(), s, Queue(QueueCritical)); err != nil {
		t.Fatal(err)
	}
	n, err := e.srv.Client().Exists(context.Background(), asynqTaskKey(QueueCritical, TaskID(s.MessageID))).Result()
	if err != nil || n != 1 {
		t.Fatalf("asynq no longer keeps tasks at %q (%d, %v); update asynqTaskKey",
			asynqTaskKey(QueueCritical, TaskID(s.MessageID)), n, err)
	}
}

func TestEnqueueConsent(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	c := &Consent{Family: "selfserve", App: "DemoAPI", Phone: "+91 98765 43210"}
	day := time.Now().UTC().Format("20060102")
	r, err := e.p.EnqueueConsent(ctx, TypeOptIn, c)
	if err != nil {
		t.Fatal(err)
	}
	if want := "optin:selfserve:DemoAPI:919876543210:" + day; r.Outcome != Enqueued || r.TaskID != want {
		t.Fatalf("%+v, want task %s", r, want)
	}
	if r, err := e.p.EnqueueConsent(ctx, TypeOptIn, c); err != nil || r.Outcome != DuplicateTask {
		t.Fatalf("repeated opt-in: %+v %v", r, err)
	}
	if r, err := e.p.EnqueueConsent(ctx, TypeOptOut, c); err != nil || r.Outcome != Enqueued {
		t.Fatalf("opt-out after opt-in: %+v %v", r, err)
	}
	info, err := e.ins.GetTaskInfo(QueueDefault, "optin:selfserve:DemoAPI:919876543210:"+day)
	if err != nil {
		t.Fatal(err)
	}
	if info.Type != TypeOptIn || info.MaxRetry != retry.AsynqMaxRetry || info.Timeout != DefaultTimeout {
		t.Fatalf("TaskInfo %+v", info)
	}
	got, err := DecodeConsent(info.Payload)
	if err != nil || got.Phone != "919876543210" || got.V != PayloadVersion {
		t.Fatalf("payload %+v %v", got, err)
	}
	if _, err := e.p.EnqueueConsent(ctx, TypeSend, c); err == nil {
		t.Fatal("a send type was accepted as consent")
	}
	if _, err := e.p.EnqueueConsent(ctx, TypeOptIn, &Consent{Family: "selfserve", Phone: "12"}); !IsValidation(err) {
		t.Fatalf("bad phone: %v", err)
	}
}

func TestConsentTaskIDDayStamp(t *testing.T) {
	c := &Consent{V: 1, Family: "enterprise", Phone: "919876543210"}
	d1 := time.Date(2025, 3, 1, 23, 59, 0, 0, time.UTC)
	j, err := prepareConsent(TypeOptOut, c, []Option{withClock(func() time.Time { return d1 })})
	if err != nil {
		t.Fatal(err)
	}
	if j.taskID != "optout:enterprise::919876543210:20250301" || j.task.Type() != TypeOptOut {
		t.Fatalf("task %s of type %s", j.taskID, j.task.Type())
	}
	if got := ConsentTaskID(TypeOptOut, c, d1); got != "optout:enterprise::919876543210:20250301" {
		t.Fatalf("ConsentTaskID = %q", got)
	}
	if ConsentTaskID(TypeOptOut, c, d1) == ConsentTaskID(TypeOptOut, c, d1.Add(2*time.Minute)) {
		t.Fatal("the next day must get a new id")
	}
}

func TestOpenProducerUnreachable(t *testing.T) {
	srv := redistest.Start(t)
	opt, _ := redisconn.Parse(srv.URL)
	srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := OpenProducer(ctx, opt, 4); err == nil {
		t.Fatal("OpenProducer succeeded without a server")
	}
}

func TestEnqueueRedisErrorIsNotValidation(t *testing.T) {
	e := newEnv(t)
	e.srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := e.p.Enqueue(ctx, templateSend())
	if err == nil || IsValidation(err) {
		t.Fatalf("Enqueue with Redis down: %v", err)
	}
}

func TestEnqueueAll(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rdb := e.srv.Client()
	const n = 600
	handled := map[int]bool{}
	for i := 0; i < n; i += 20 {
		handled[i] = true
		if err := rdb.HSet(ctx, store.MessageKey(fmt.Sprintf("m-%d", i)), "state", "sent").Err(); err != nil {
			t.Fatal(err)
		}
	}
	in := make(chan Item)
	go func() {
		defer close(in)
		for i := range n {
			s := templateSend()
			s.MessageID = fmt.Sprintf("m-%d", i)
			if i%50 == 7 {
				s.Destination = "bad"
			}
			if i%25 == 3 {
				// the same message listed again
				s.MessageID = fmt.Sprintf("m-%d", i-1)
			}
			in <- Item{Send: s, Opts: []Option{Queue(QueueBulk)}, Ref: i}
		}
	}()
	seen := make(map[int]int)
	count := map[string]int{}
	e.p.EnqueueAll(ctx, in, 8, func(it Item, r Result, err error) {
		seen[it.Ref.(int)]++
		switch {
		case err != nil && IsValidation(err):
			count["rejected"]++
		case err != nil:
			t.Errorf("item %v: %v", it.Ref, err)
		default:
			count[r.Outcome.String()]++
		}
	})
	if len(seen) != n {
		t.Fatalf("%d items reported, want %d", len(seen), n)
	}
	for ref, k := range seen {
		if k != 1 {
			t.Fatalf("item %d reported %d times", ref, k)
		}
	}
	// 12 rows have a bad destination; 24 repeat the previous message id;
	// 30 are handled already. Counted by hand from the loop above.
	var rejected, repeated, already int
	for i := range n {
		switch {
		case i%50 == 7:
			rejected++
		case i%25 == 3:
			repeated++
		case handled[i]:
			already++
		}
	}
	want := map[string]int{"rejected": rejected, "duplicate task": repeated, "already handled": already,
		"enqueued": n - rejected - repeated - already}
	for k, v := range want {
		if count[k] != v {
			t.Errorf("%s: %d, want %d (all: %v)", k, count[k], v, count)
		}
	}
	info, err := e.ins.GetQueueInfo(QueueBulk)
	if err != nil || info.Size != want["enqueued"] {
		t.Fatalf("bulk queue %+v %v, want %d tasks", info, err, want["enqueued"])
	}
}

func TestEnqueueAllCancelled(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in := make(chan Item, 100)
	for i := range 100 {
		s := templateSend()
		s.MessageID = fmt.Sprintf("c-%d", i)
		in <- Item{Send: s, Ref: i}
	}
	close(in)
	reported := 0
	e.p.EnqueueAll(ctx, in, 4, func(it Item, r Result, err error) {
		reported++
		if !errors.Is(err, context.Canceled) {
			t.Errorf("item %v: %+v %v, want context.Canceled", it.Ref, r, err)
		}
	})
	if reported != 100 {
		t.Fatalf("%d reported", reported)
	}
	if qs, _ := e.ins.Queues(); len(qs) != 0 {
		t.Fatalf("queues %v after a cancelled run", qs)
	}
}

func TestResendAndDeadLetterTasks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.p.Enqueue(ctx, templateSend(), Queue(QueueBulk)); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Minute)
	tests := []struct {
		name  string
		build func(*Send, ...Option) (*asynq.Task, error)
		gen   int
		id    string
	}{
		// The original task is still in bulk: a resend must not collide with it.
		{"resend", NewSendTask, 1, "send:msg-0001{1}"},
		{"second resend", NewSendTask, 2, "send:msg-0001{2}"},
		{"dead letter", NewDeadLetterTask, 0, "dead:msg-0001"},
		{"dead letter of a resend", NewDeadLetterTask, 2, "dead:msg-0001{2}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := templateSend()
			s.Generation = tt.gen
			// Resends and dead letters are built whatever the expiry: the
			// worker closes the record when it runs them.
			s.ExpiresAt = &past
			task, err := tt.build(s, Queue(QueueBulk))
			if err != nil {
				t.Fatal(err)
			}
			info, err := e.p.client.EnqueueContext(ctx, task)
			if err != nil {
				t.Fatal(err)
			}
			if info.ID != tt.id || info.Type != TypeSend || info.MaxRetry != retry.AsynqMaxRetry || info.Queue != QueueBulk {
				t.Fatalf("task %s type %s max retry %d queue %s, want id %s", info.ID, info.Type, info.MaxRetry, info.Queue, tt.id)
			}
			got, err := DecodeSend(info.Payload)
			if err != nil || got.Generation != tt.gen {
				t.Fatalf("payload gen %d %v", got.Generation, err)
			}
			// A callback delivered twice schedules one task.
			if _, err := e.p.client.EnqueueContext(ctx, task); !errors.Is(err, asynq.ErrTaskIDConflict) {
				t.Fatalf("second enqueue: %v, want ErrTaskIDConflict", err)
			}
		})
	}
	s := templateSend()
	s.Generation = 1
	if _, err := e.p.Enqueue(ctx, s); err == nil || !strings.HasPrefix(err.Error(), "gen: ") {
		t.Fatalf("a producer enqueued a resend generation: %v", err)
	}
	s.Generation = 0
	s.ExpiresAt = &past
	if _, err := NewSendTask(s); err == nil {
		t.Fatal("a producer's expired message was accepted")
	}
}
