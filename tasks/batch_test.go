package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
)

// pbFields decodes an encoded asynq TaskMessage into field number -> raw
// value (uint64 for varints, string for bytes), failing on anything else,
// on a field seen twice, and on fields out of number order (proto.Marshal
// writes them in order).
func pbFields(t *testing.T, b []byte) map[protowire.Number]any {
	t.Helper()
	out := map[protowire.Number]any{}
	last := protowire.Number(0)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		if num <= last {
			t.Fatalf("field %d after field %d", num, last)
		}
		last = num
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(n))
			}
			out[num], b = v, b[n:]
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				t.Fatalf("field %d: %v", num, protowire.ParseError(n))
			}
			out[num], b = string(v), b[n:]
		default:
			t.Fatalf("field %d has wire type %d", num, typ)
		}
	}
	return out
}

// enqueueAll runs EnqueueAll over items with one worker, so that they
// share one batch, and returns the results in order.
func enqueueAll(t *testing.T, p *Producer, items ...Item) ([]Result, []error) {
	t.Helper()
	in := make(chan Item, len(items))
	for i, it := range items {
		it.Ref = i
		in <- it
	}
	close(in)
	rs, errs := make([]Result, len(items)), make([]error, len(items))
	seen := make([]int, len(items))
	p.EnqueueAll(context.Background(), in, 1, func(it Item, r Result, err error) {
		i := it.Ref.(int)
		rs[i], errs[i] = r, err
		seen[i]++
	})
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("item %d reported %d times", i, n)
		}
	}
	return rs, errs
}

func sendWithID(mk func() *Send, id string) *Send {
	s := mk()
	s.MessageID = id
	return s
}

// batchScriptLoaded tells whether the batch script ever ran on rdb: only
// the batch path loads it, asynq's client never does.
func batchScriptLoaded(t *testing.T, rdb redis.Scripter) bool {
	t.Helper()
	ok, err := enqueueBatchScript.Exists(context.Background(), rdb).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ok[0]
}

// withoutIdentity clears what differs between two tasks of different ids.
func withoutIdentity(i asynq.TaskInfo) asynq.TaskInfo {
	i.ID, i.Payload, i.NextProcessAt = "", nil, time.Time{}
	return i
}

// TestBatchWritesWhatAsynqWrites enqueues the same send (apart from its
// message id) through asynq's Client (Enqueue) and through the batch path
// (EnqueueAll), then compares the two task hashes field by field, the two
// TaskInfos the Inspector reads back and the two Results; and checks that
// the batch encoding of asynq's own task is byte for byte what asynq wrote.
func TestBatchWritesWhatAsynqWrites(t *testing.T) {
	cases := []struct {
		name string
		send func() *Send
		opts []Option
	}{
		{"template in bulk", templateSend, []Option{Queue(QueueBulk)}},
		{"session in default, 15s timeout", sessionSend, []Option{Timeout(15 * time.Second)}},
		{"critical, 1.5s timeout", templateSend, []Option{Queue(QueueCritical), Timeout(1500 * time.Millisecond)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			rdb := e.srv.Client()
			before := time.Now().UnixNano()
			viaAsynq, err := e.p.Enqueue(ctx, sendWithID(tc.send, "via-asynq"), tc.opts...)
			if err != nil || viaAsynq.Outcome != Enqueued {
				t.Fatalf("Enqueue: %+v %v", viaAsynq, err)
			}
			if batchScriptLoaded(t, rdb) {
				t.Fatal("Enqueue ran the batch script")
			}
			rs, errs := enqueueAll(t, e.p, Item{Send: sendWithID(tc.send, "via-batch"), Opts: tc.opts})
			viaBatch := rs[0]
			if errs[0] != nil || viaBatch.Outcome != Enqueued || viaBatch.Info == nil {
				t.Fatalf("EnqueueAll: %+v %v", viaBatch, errs[0])
			}
			if !batchScriptLoaded(t, rdb) {
				t.Fatal("EnqueueAll did not take the batch path")
			}
			after := time.Now().UnixNano()
			q := viaAsynq.Queue
			if viaBatch.Queue != q || viaBatch.TaskID != TaskID("via-batch") {
				t.Fatalf("batch result %+v, want queue %s", viaBatch, q)
			}

			// The hashes: the same fields, the same values but for the id.
			ha := rdb.HGetAll(ctx, asynqTaskKey(q, viaAsynq.TaskID)).Val()
			hb := rdb.HGetAll(ctx, asynqTaskKey(q, viaBatch.TaskID)).Val()
			if !reflect.DeepEqual(slices.Sorted(mapKeys(ha)), []string{"msg", "pending_since", "state"}) ||
				!reflect.DeepEqual(slices.Sorted(mapKeys(hb)), slices.Sorted(mapKeys(ha))) {
				t.Fatalf("hash fields: asynq %v, batch %v", slices.Sorted(mapKeys(ha)), slices.Sorted(mapKeys(hb)))
			}
			if ha["state"] != "pending" || hb["state"] != "pending" {
				t.Fatalf("state: asynq %q, batch %q", ha["state"], hb["state"])
			}
			for who, h := range map[string]map[string]string{"asynq": ha, "batch": hb} {
				ns, err := strconv.ParseInt(h["pending_since"], 10, 64)
				if err != nil || ns < before || ns > after {
					t.Fatalf("%s pending_since %q, want Unix nanoseconds of the test (%v)", who, h["pending_since"], err)
				}
			}
			fa, fb := pbFields(t, []byte(ha["msg"])), pbFields(t, []byte(hb["msg"]))
			if fa[pbID] != viaAsynq.TaskID || fb[pbID] != viaBatch.TaskID {
				t.Fatalf("ids: %v, %v", fa[pbID], fb[pbID])
			}
			// The payloads differ by the message id only.
			pa, err := DecodeSend([]byte(fa[pbPayload].(string)))
			if err != nil {
				t.Fatal(err)
			}
			pb, err := DecodeSend([]byte(fb[pbPayload].(string)))
			if err != nil {
				t.Fatal(err)
			}
			pa.MessageID, pb.MessageID = "", ""
			if !reflect.DeepEqual(pa, pb) {
				t.Fatalf("payloads differ beyond the message id:\n%+v\n%+v", pa, pb)
			}
			for _, f := range []map[protowire.Number]any{fa, fb} {
				delete(f, pbID)
				delete(f, pbPayload)
			}
			if !reflect.DeepEqual(fa, fb) {
				t.Fatalf("msg fields: asynq %v, batch %v", fa, fb)
			}

			// Byte for byte: the batch encoding of the very task asynq wrote.
			j, err := prepareProduced(sendWithID(tc.send, "via-asynq"), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			m, ok := batchMessage(&j, tc.opts)
			if !ok {
				t.Fatal("not batchable")
			}
			if got := m.appendTo(nil); !bytes.Equal(got, []byte(ha["msg"])) {
				t.Fatalf("batch encoding\n%x\nasynq's\n%x", got, ha["msg"])
			}

			// The Inspector, and the Results, see the same task.
			ia, err := e.ins.GetTaskInfo(q, viaAsynq.TaskID)
			if err != nil {
				t.Fatal(err)
			}
			ib, err := e.ins.GetTaskInfo(q, viaBatch.TaskID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(withoutIdentity(*ia), withoutIdentity(*ib)) {
				t.Fatalf("Inspector:\nasynq %+v\nbatch %+v", *ia, *ib)
			}
			if ib.State != asynq.TaskStatePending || ib.MaxRetry != retry.AsynqMaxRetry || ib.Type != TypeSend {
				t.Fatalf("batch task %+v", *ib)
			}
			if !reflect.DeepEqual(withoutIdentity(*viaAsynq.Info), withoutIdentity(*viaBatch.Info)) {
				t.Fatalf("Result.Info:\nasynq %+v\nbatch %+v", *viaAsynq.Info, *viaBatch.Info)
			}
			if viaBatch.Info.ID != viaBatch.TaskID || !bytes.Equal(viaBatch.Info.Payload, ib.Payload) {
				t.Fatalf("batch Info id %s payload %s", viaBatch.Info.ID, viaBatch.Info.Payload)
			}
			if d := time.Since(viaBatch.Info.NextProcessAt); d < 0 || d > time.Minute {
				t.Fatalf("batch Info NextProcessAt %v", viaBatch.Info.NextProcessAt)
			}

			// Both are on the pending list, and the queue is known.
			pending := rdb.LRange(ctx, asynqPendingKey(q), 0, -1).Val()
			if !reflect.DeepEqual(pending, []string{viaBatch.TaskID, viaAsynq.TaskID}) {
				t.Fatalf("pending %v", pending)
			}
			if ok, _ := rdb.SIsMember(ctx, asynqQueuesKey, q).Result(); !ok {
				t.Fatalf("%s not in %s", q, asynqQueuesKey)
			}
		})
	}
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestComposeMessageMatchesAsynq covers the options our tasks do not use
// today (deadline, retention, no timeout, odd retry counts, no payload)
// against asynq's own encoding, byte for byte, and its TaskInfo.
func TestComposeMessageMatchesAsynq(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rdb := e.srv.Client()
	deadline := time.Now().Add(time.Hour).Truncate(time.Second)
	cases := []struct {
		name    string
		payload []byte
		opts    []asynq.Option
	}{
		{"defaults", []byte("x"), nil},
		{"no payload", nil, []asynq.Option{asynq.Queue("bulk")}},
		{"deadline", []byte("x"), []asynq.Option{asynq.Deadline(deadline)}},
		{"deadline and timeout", []byte("x"), []asynq.Option{asynq.Deadline(deadline), asynq.Timeout(time.Minute)}},
		{"retention", []byte("x"), []asynq.Option{asynq.Retention(36 * time.Hour), asynq.Timeout(90 * time.Second)}},
		{"sub-second timeout", []byte("x"), []asynq.Option{asynq.Timeout(500 * time.Millisecond)}},
		{"no retries", []byte("x"), []asynq.Option{asynq.MaxRetry(0)}},
		{"negative retries", []byte("x"), []asynq.Option{asynq.MaxRetry(-1)}},
		{"the later option wins", []byte("x"), []asynq.Option{asynq.Queue("a"), asynq.Queue("critical"), asynq.MaxRetry(3), asynq.MaxRetry(7)}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("compose-%d", i)
			opts := append(slices.Clone(tc.opts), asynq.TaskID(id))
			info, err := e.p.client.EnqueueContext(ctx, asynq.NewTask("some:type", tc.payload, opts...))
			if err != nil {
				t.Fatal(err)
			}
			m, ok := composeMessage("some:type", tc.payload, nil, opts)
			if !ok {
				t.Fatal("composeMessage refused it")
			}
			written := rdb.HGet(ctx, asynqTaskKey(info.Queue, id), "msg").Val()
			if got := m.appendTo(nil); !bytes.Equal(got, []byte(written)) {
				t.Fatalf("encoded\n%x\nasynq wrote\n%x", got, written)
			}
			if m.size() != len(written) {
				t.Fatalf("size %d, encoded %d bytes", m.size(), len(written))
			}
			mine := m.taskInfo(info.NextProcessAt)
			if !reflect.DeepEqual(mine, info) {
				t.Fatalf("TaskInfo\n%+v\nasynq's\n%+v", *mine, *info)
			}
		})
	}
}

func TestComposeMessageRefuses(t *testing.T) {
	base := []asynq.Option{asynq.TaskID("x")}
	cases := map[string]struct {
		typ     string
		headers map[string]string
		opts    []asynq.Option
	}{
		"process at":        {"t", nil, []asynq.Option{asynq.ProcessAt(time.Now().Add(time.Hour))}},
		"process at, past":  {"t", nil, []asynq.Option{asynq.ProcessAt(time.Now().Add(-time.Hour))}},
		"process in":        {"t", nil, []asynq.Option{asynq.ProcessIn(time.Minute)}},
		"unique":            {"t", nil, []asynq.Option{asynq.Unique(time.Hour)}},
		"group":             {"t", nil, []asynq.Option{asynq.Group("g")}},
		"headers":           {"t", map[string]string{"a": "b"}, nil},
		"blank type":        {" ", nil, nil},
		"blank queue":       {"t", nil, []asynq.Option{asynq.Queue(" ")}},
		"id not UTF-8":      {"t", nil, []asynq.Option{asynq.TaskID("\xff")}},
		"queue not UTF-8":   {"t", nil, []asynq.Option{asynq.Queue("\xff")}},
		"type not UTF-8":    {"\xff", nil, nil},
		"no id (uuid)":      {"t", nil, []asynq.Option{asynq.TaskID(" ")}},
		"blank id replaced": {"t", nil, []asynq.Option{asynq.TaskID("")}},
	}
	for name, tc := range cases {
		opts := append(slices.Clone(base), tc.opts...)
		if _, ok := composeMessage(tc.typ, []byte("p"), tc.headers, opts); ok {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, ok := composeMessage("t", nil, nil, nil); ok {
		t.Error("no task id: accepted")
	}

	// What our producer sends: scheduled sends go through asynq's client.
	for name, opts := range map[string][]Option{
		"ProcessAt":       {ProcessAt(time.Now().Add(time.Hour))},
		"ProcessAt, past": {ProcessAt(time.Now().Add(-time.Hour))},
		"ProcessIn":       {ProcessIn(time.Minute)},
	} {
		j, err := prepareProduced(templateSend(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := batchMessage(&j, opts); ok {
			t.Errorf("%s: batchable", name)
		}
	}
	for name, opts := range map[string][]Option{
		"no options": nil,
		"queue":      {Queue(QueueCritical)},
		"timeout":    {Timeout(time.Second)},
	} {
		j, err := prepareProduced(templateSend(), opts)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := batchMessage(&j, opts); !ok {
			t.Errorf("%s: not batchable", name)
		}
	}
}

// TestBatchTasksRunOnAsynqServer has asynq's own server process tasks the
// batch path enqueued.
func TestBatchTasksRunOnAsynqServer(t *testing.T) {
	e := newEnv(t)
	opt, err := redisconn.Parse(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	var items []Item
	want := map[string][]byte{}
	for i := range n {
		q := queueNames[i%len(queueNames)]
		items = append(items, Item{Send: sendWithID(templateSend, fmt.Sprintf("run-%d", i)), Opts: []Option{Queue(q), Timeout(42 * time.Second)}})
	}
	rs, errs := enqueueAll(t, e.p, items...)
	for i, r := range rs {
		if errs[i] != nil || r.Outcome != Enqueued || r.Info == nil {
			t.Fatalf("item %d: %+v %v", i, r, errs[i])
		}
		want[r.TaskID] = r.Info.Payload
	}
	if !batchScriptLoaded(t, e.srv.Client()) {
		t.Fatal("EnqueueAll did not take the batch path")
	}

	var mu sync.Mutex
	got := map[string][]byte{}
	var bad atomic.Value
	done := make(chan struct{})
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: 4, Queues: Queues(), LogLevel: asynq.FatalLevel})
	h := asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) error {
		id, _ := asynq.GetTaskID(ctx)
		max, _ := asynq.GetMaxRetry(ctx)
		dl, _ := ctx.Deadline()
		if max != retry.AsynqMaxRetry || task.Type() != TypeSend || time.Until(dl) > 42*time.Second || time.Until(dl) < 30*time.Second {
			bad.Store(fmt.Sprintf("task %s: type %s, max retry %d, deadline in %v", id, task.Type(), max, time.Until(dl)))
		}
		if _, err := DecodeSend(task.Payload()); err != nil {
			bad.Store(fmt.Sprintf("task %s: %v", id, err))
		}
		mu.Lock()
		defer mu.Unlock()
		got[id] = task.Payload()
		if len(got) == n {
			close(done)
		}
		return nil
	})
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the server processed %d of %d tasks", len(got), n)
	}
	if b := bad.Load(); b != nil {
		t.Fatal(b)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, p := range want {
		if !bytes.Equal(got[id], p) {
			t.Fatalf("task %s: handler saw %s, want %s", id, got[id], p)
		}
	}
}

// TestBatchDuplicates: an id already present, in whatever state, and an id
// repeated within a batch are refused, and the existing task is untouched.
func TestBatchDuplicates(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rdb := e.srv.Client()
	// Two tasks from before: one pending, one a worker has taken.
	for _, id := range []string{"old-pending", "old-active"} {
		if r, err := e.p.Enqueue(ctx, sendWithID(templateSend, id), Queue(QueueBulk)); err != nil || r.Outcome != Enqueued {
			t.Fatalf("%+v %v", r, err)
		}
	}
	activeKey := asynqTaskKey(QueueBulk, TaskID("old-active"))
	rdb.HSet(ctx, activeKey, "state", "active")
	rdb.HDel(ctx, activeKey, "pending_since")
	rdb.LRem(ctx, asynqPendingKey(QueueBulk), 0, TaskID("old-active"))
	snapshot := func() map[string]map[string]string {
		out := map[string]map[string]string{}
		for _, id := range []string{"old-pending", "old-active"} {
			out[id] = rdb.HGetAll(ctx, asynqTaskKey(QueueBulk, TaskID(id))).Val()
		}
		return out
	}
	before := snapshot()

	// Straight to the batch call, past the lookup, as in a race with
	// another producer: a changed payload must not replace the old one.
	changed := func(id string) *Send {
		s := sendWithID(templateSend, id)
		s.Template.Params[0] = "Someone else"
		return s
	}
	var jobs []*job
	var msgs []asynqMessage
	for _, s := range []*Send{sendWithID(templateSend, "new-1"), changed("old-pending"), changed("new-1"), changed("old-active"), sendWithID(templateSend, "new-2")} {
		j, err := prepareProduced(s, []Option{Queue(QueueBulk)})
		if err != nil {
			t.Fatal(err)
		}
		m, ok := batchMessage(&j, []Option{Queue(QueueBulk)})
		if !ok {
			t.Fatal("not batchable")
		}
		jobs, msgs = append(jobs, &j), append(msgs, m)
	}
	var got []Outcome
	e.p.enqueueBatch(ctx, &batchCall{}, QueueBulk, jobs, msgs, func(_ Item, r Result, err error) {
		if err != nil {
			t.Fatal(err)
		}
		if r.Queue != QueueBulk || (r.Outcome == Enqueued) != (r.Info != nil) {
			t.Errorf("%+v", r)
		}
		got = append(got, r.Outcome)
	})
	if want := []Outcome{Enqueued, DuplicateTask, DuplicateTask, DuplicateTask, Enqueued}; !reflect.DeepEqual(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	if after := snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("existing tasks changed:\n%v\n%v", before, after)
	}
	pending := rdb.LRange(ctx, asynqPendingKey(QueueBulk), 0, -1).Val()
	if want := []string{TaskID("new-2"), TaskID("new-1"), TaskID("old-pending")}; !reflect.DeepEqual(pending, want) {
		t.Fatalf("pending %v, want %v", pending, want)
	}
	info, err := e.ins.GetTaskInfo(QueueBulk, TaskID("new-1"))
	if err != nil {
		t.Fatal(err)
	}
	if s, err := DecodeSend(info.Payload); err != nil || s.Template.Params[0] != "Asha" {
		t.Fatalf("new-1 holds %+v %v, want the first of the two", s, err)
	}

	// The same through EnqueueAll: the lookup finds the old ones, the
	// script the repeat within the batch.
	rs, errs := enqueueAll(t, e.p,
		Item{Send: sendWithID(templateSend, "new-3"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: changed("new-3"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: changed("old-pending"), Opts: []Option{Queue(QueueCritical)}},
		Item{Send: changed("old-active"), Opts: []Option{Queue(QueueBulk)}},
	)
	want := []Result{
		{Outcome: Enqueued, TaskID: TaskID("new-3"), Queue: QueueBulk},
		{Outcome: DuplicateTask, TaskID: TaskID("new-3"), Queue: QueueBulk},
		{Outcome: DuplicateTask, TaskID: TaskID("old-pending"), Queue: QueueBulk},
		{Outcome: DuplicateTask, TaskID: TaskID("old-active"), Queue: QueueBulk},
	}
	for i := range rs {
		r := rs[i]
		r.Info = nil
		if errs[i] != nil || r != want[i] {
			t.Errorf("item %d: %+v %v, want %+v", i, rs[i], errs[i], want[i])
		}
	}
	if after := snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("existing tasks changed:\n%v\n%v", before, after)
	}
	if n := rdb.LLen(ctx, asynqPendingKey(QueueBulk)).Val(); n != 4 {
		t.Fatalf("%d pending, want 4", n)
	}
}

// loseFirstReply makes the first batch script call look failed after
// Redis ran it, as a connection lost on the way back does. meantime runs
// in between, standing for what happens in Redis before the retry.
type loseFirstReply struct {
	lost     atomic.Bool
	meantime func()
}

func (h *loseFirstReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *loseFirstReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
func (h *loseFirstReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if n := cmd.Name(); err == nil && (n == "evalsha" || n == "eval") && !h.lost.Swap(true) {
			if h.meantime != nil {
				h.meantime()
			}
			err = errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: i/o timeout")
			cmd.SetErr(err)
		}
		return err
	}
}

// TestBatchRetryAfterLostReply: a batch retried after a try whose reply was
// lost reports the tasks that try added as Enqueued, the repeat of an id
// within the batch still as a duplicate, and adds nothing twice.
func TestBatchRetryAfterLostReply(t *testing.T) {
	srv := redistest.Start(t)
	opt, err := redisconn.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redisconn.Client(opt)
	t.Cleanup(func() { rdb.Close() })
	ctx := context.Background()
	h := &loseFirstReply{meantime: func() {
		// A worker takes one of the new tasks before the retry.
		key := asynqTaskKey(QueueBulk, TaskID("taken"))
		srv.Client().HSet(ctx, key, "state", "active")
		srv.Client().HDel(ctx, key, "pending_since")
		srv.Client().LRem(ctx, asynqPendingKey(QueueBulk), 0, TaskID("taken"))
	}}
	rdb.AddHook(h)
	p := NewProducer(rdb)
	rs, errs := enqueueAll(t, p,
		Item{Send: sendWithID(templateSend, "a"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "taken"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "a"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "b"), Opts: []Option{Queue(QueueBulk)}},
	)
	if !h.lost.Load() {
		t.Fatal("no reply was lost")
	}
	want := []Outcome{Enqueued, Enqueued, DuplicateTask, Enqueued}
	for i, r := range rs {
		if errs[i] != nil || r.Outcome != want[i] || r.Info != nil || r.Queue != QueueBulk {
			t.Errorf("item %d: %+v %v, want %v without Info", i, r, errs[i], want[i])
		}
	}
	pending := srv.Client().LRange(ctx, asynqPendingKey(QueueBulk), 0, -1).Val()
	if want := []string{TaskID("b"), TaskID("a")}; !reflect.DeepEqual(pending, want) {
		t.Fatalf("pending %v, want %v", pending, want)
	}
}

// TestBatchResultCodes covers the answers of the script that only a retry
// or a race produces.
func TestBatchResultCodes(t *testing.T) {
	m, ok := composeMessage(TypeSend, []byte("p"), nil, []asynq.Option{asynq.TaskID("x"), asynq.Queue(QueueBulk)})
	if !ok {
		t.Fatal("refused")
	}
	c := newBatchCall(QueueBulk, time.Now(), []asynqMessage{m})
	for _, tc := range []struct {
		code    int64
		retried bool
		want    Outcome
		info    bool
	}{
		{batchEnqueued, false, Enqueued, true},
		{batchEnqueued, true, Enqueued, true},
		{batchTaken, false, DuplicateTask, false},
		{batchTaken, true, DuplicateTask, false},
		{batchOurs, false, Enqueued, false},
		{batchOurs, true, Enqueued, false},
		{batchMovedOn, false, DuplicateTask, false},
		{batchMovedOn, true, Enqueued, false},
	} {
		r := c.result(0, tc.code, tc.retried)
		if r.Outcome != tc.want || (r.Info != nil) != tc.info || r.TaskID != "x" || r.Queue != QueueBulk {
			t.Errorf("code %d retried %v: %+v, want %v", tc.code, tc.retried, r, tc.want)
		}
	}
}

// TestBatchScriptSameStamp runs one call twice, as a retry does: the
// second finds every task of the first as its own.
func TestBatchScriptSameStamp(t *testing.T) {
	srv := redistest.Start(t)
	rdb := srv.Client()
	ctx := context.Background()
	var msgs []asynqMessage
	for _, id := range []string{"x", "y", "x"} {
		m, _ := composeMessage(TypeSend, []byte("p"), nil, []asynq.Option{asynq.TaskID(id), asynq.Queue(QueueBulk)})
		msgs = append(msgs, m)
	}
	c := newBatchCall(QueueBulk, time.Now(), msgs)
	first, err := c.run(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.run(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, []int64{batchEnqueued, batchEnqueued, batchTaken}) ||
		!reflect.DeepEqual(again, []int64{batchOurs, batchOurs, batchTaken}) {
		t.Fatalf("first %v, again %v", first, again)
	}
	// A later call, another stamp: taken.
	later, err := newBatchCall(QueueBulk, time.Now().Add(time.Millisecond), msgs[:1]).run(ctx, rdb)
	if err != nil || !reflect.DeepEqual(later, []int64{batchTaken}) {
		t.Fatalf("later %v %v", later, err)
	}
	if n := rdb.LLen(ctx, asynqPendingKey(QueueBulk)).Val(); n != 2 {
		t.Fatalf("%d pending, want 2", n)
	}
}

// TestBatchTasksUnderInspector: pause, list, archive, run, delete.
func TestBatchTasksUnderInspector(t *testing.T) {
	e := newEnv(t)
	const n = 20
	var items []Item
	for i := range n {
		items = append(items, Item{Send: sendWithID(templateSend, fmt.Sprintf("insp-%02d", i)), Opts: []Option{Queue(QueueBulk)}})
	}
	rs, errs := enqueueAll(t, e.p, items...)
	for i, r := range rs {
		if errs[i] != nil || r.Outcome != Enqueued {
			t.Fatalf("item %d: %+v %v", i, r, errs[i])
		}
	}
	qs, err := e.ins.Queues()
	if err != nil || !slices.Contains(qs, QueueBulk) {
		t.Fatalf("queues %v %v", qs, err)
	}
	if err := e.ins.PauseQueue(QueueBulk); err != nil {
		t.Fatal(err)
	}
	qi, err := e.ins.GetQueueInfo(QueueBulk)
	if err != nil || !qi.Paused || qi.Size != n || qi.Pending != n || qi.Latency <= 0 {
		t.Fatalf("queue %+v %v", qi, err)
	}
	list, err := e.ins.ListPendingTasks(QueueBulk, asynq.PageSize(100))
	if err != nil || len(list) != n {
		t.Fatalf("%d listed, %v", len(list), err)
	}
	// Oldest first, as asynq lists its own.
	for i, ti := range list {
		if ti.ID != TaskID(fmt.Sprintf("insp-%02d", i)) || ti.State != asynq.TaskStatePending || ti.Type != TypeSend ||
			ti.MaxRetry != retry.AsynqMaxRetry || ti.Timeout != DefaultTimeout {
			t.Fatalf("listed %d: %+v", i, ti)
		}
	}
	if err := e.ins.DeleteTask(QueueBulk, TaskID("insp-00")); err != nil {
		t.Fatal(err)
	}
	if err := e.ins.ArchiveTask(QueueBulk, TaskID("insp-01")); err != nil {
		t.Fatal(err)
	}
	if ti, err := e.ins.GetTaskInfo(QueueBulk, TaskID("insp-01")); err != nil || ti.State != asynq.TaskStateArchived {
		t.Fatalf("archived: %+v %v", ti, err)
	}
	if err := e.ins.RunTask(QueueBulk, TaskID("insp-01")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ins.GetTaskInfo(QueueBulk, TaskID("insp-00")); !errors.Is(err, asynq.ErrTaskNotFound) {
		t.Fatalf("deleted task: %v", err)
	}
	if k, err := e.ins.DeleteAllPendingTasks(QueueBulk); err != nil || k != n-1 {
		t.Fatalf("deleted %d pending, %v", k, err)
	}
	if err := e.ins.UnpauseQueue(QueueBulk); err != nil {
		t.Fatal(err)
	}
	if qi, err := e.ins.GetQueueInfo(QueueBulk); err != nil || qi.Paused || qi.Size != 0 {
		t.Fatalf("queue %+v %v", qi, err)
	}
	// Gone means gone: the same messages can be enqueued again.
	rs, _ = enqueueAll(t, e.p, items[:3]...)
	for i, r := range rs {
		if r.Outcome != Enqueued {
			t.Fatalf("again %d: %+v", i, r)
		}
	}
}

// TestEnqueueAllScheduledBesideBatch: scheduled sends in a batch go
// through asynq's client, the others through the script, each reported.
func TestEnqueueAllScheduledBesideBatch(t *testing.T) {
	e := newEnv(t)
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	rs, errs := enqueueAll(t, e.p,
		Item{Send: sendWithID(templateSend, "now-1"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "later"), Opts: []Option{Queue(QueueBulk), ProcessAt(at)}},
		Item{Send: sendWithID(templateSend, "soon"), Opts: []Option{Queue(QueueCritical), ProcessIn(time.Minute)}},
		Item{Send: sendWithID(templateSend, "now-2"), Opts: []Option{Queue(QueueCritical)}},
	)
	wantState := []asynq.TaskState{asynq.TaskStatePending, asynq.TaskStateScheduled, asynq.TaskStateScheduled, asynq.TaskStatePending}
	for i, r := range rs {
		if errs[i] != nil || r.Outcome != Enqueued || r.Info == nil || r.Info.State != wantState[i] {
			t.Fatalf("item %d: %+v %v", i, r, errs[i])
		}
		ti, err := e.ins.GetTaskInfo(r.Queue, r.TaskID)
		if err != nil || ti.State != wantState[i] {
			t.Fatalf("item %d: %+v %v", i, ti, err)
		}
	}
	if ti, _ := e.ins.GetTaskInfo(QueueBulk, TaskID("later")); !ti.NextProcessAt.Equal(at) {
		t.Fatalf("later at %v, want %v", ti.NextProcessAt, at)
	}
	if !batchScriptLoaded(t, e.srv.Client()) {
		t.Fatal("the batch path was not taken")
	}
}

// TestEnqueueAllFindsDuplicatesAcrossQueues: the batched lookup reports a
// task found in another queue, and a send record, as the single one does.
func TestEnqueueAllFindsDuplicatesAcrossQueues(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.p.Enqueue(ctx, sendWithID(templateSend, "in-critical"), Queue(QueueCritical)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Enqueue(ctx, sendWithID(templateSend, "in-default")); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Client().HSet(ctx, store.MessageKey("handled"), "state", "sent").Err(); err != nil {
		t.Fatal(err)
	}
	rs, errs := enqueueAll(t, e.p,
		Item{Send: sendWithID(templateSend, "fresh"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "in-critical"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "handled"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "in-default"), Opts: []Option{Queue(QueueCritical)}},
		// In its own queue: found by the batch script, and by the lookup
		// for a scheduled send, which asynq's client enqueues.
		Item{Send: sendWithID(templateSend, "in-critical"), Opts: []Option{Queue(QueueCritical)}},
		Item{Send: sendWithID(templateSend, "in-critical"), Opts: []Option{Queue(QueueCritical), ProcessIn(time.Hour)}},
	)
	want := []Result{
		{Outcome: Enqueued, TaskID: TaskID("fresh"), Queue: QueueBulk},
		{Outcome: DuplicateTask, TaskID: TaskID("in-critical"), Queue: QueueCritical},
		{Outcome: AlreadyHandled, TaskID: TaskID("handled")},
		{Outcome: DuplicateTask, TaskID: TaskID("in-default"), Queue: QueueDefault},
		{Outcome: DuplicateTask, TaskID: TaskID("in-critical"), Queue: QueueCritical},
		{Outcome: DuplicateTask, TaskID: TaskID("in-critical"), Queue: QueueCritical},
	}
	for i := range rs {
		r := rs[i]
		r.Info = nil
		if errs[i] != nil || r != want[i] {
			t.Errorf("item %d: %+v %v, want %+v", i, rs[i], errs[i], want[i])
		}
	}
}

// TestBatchOnCluster runs the batch path, its lookup and its duplicate
// handling on a three-master Redis Cluster, where each queue's keys are in
// one hash slot and the send records and asynq's set of queues in others.
func TestBatchOnCluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	opt, err := redisconn.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := OpenProducer(ctx, opt, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	ins := asynq.NewInspector(opt)
	t.Cleanup(func() { ins.Close() })
	cc := c.Client()
	if _, err := p.Enqueue(ctx, sendWithID(templateSend, "old"), Queue(QueueCritical)); err != nil {
		t.Fatal(err)
	}
	if err := cc.HSet(ctx, store.MessageKey("handled"), "state", "sent").Err(); err != nil {
		t.Fatal(err)
	}
	var items []Item
	for i := range 40 {
		q := []string{QueueBulk, QueueCritical}[i%2]
		items = append(items, Item{Send: sendWithID(templateSend, fmt.Sprintf("cl-%d", i)), Opts: []Option{Queue(q)}})
	}
	items = append(items,
		Item{Send: sendWithID(templateSend, "old"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "handled"), Opts: []Option{Queue(QueueBulk)}},
		Item{Send: sendWithID(templateSend, "cl-0"), Opts: []Option{Queue(QueueBulk)}},
	)
	rs, errs := enqueueAll(t, p, items...)
	for i := range 40 {
		if errs[i] != nil || rs[i].Outcome != Enqueued || rs[i].Info == nil {
			t.Fatalf("item %d: %+v %v", i, rs[i], errs[i])
		}
		ti, err := ins.GetTaskInfo(rs[i].Queue, rs[i].TaskID)
		if err != nil || ti.State != asynq.TaskStatePending || !bytes.Equal(ti.Payload, rs[i].Info.Payload) {
			t.Fatalf("item %d: %+v %v", i, ti, err)
		}
	}
	tail := rs[40:]
	if errs[40] != nil || tail[0].Outcome != DuplicateTask || tail[0].Queue != QueueCritical {
		t.Fatalf("old: %+v %v", tail[0], errs[40])
	}
	if errs[41] != nil || tail[1].Outcome != AlreadyHandled {
		t.Fatalf("handled: %+v %v", tail[1], errs[41])
	}
	if errs[42] != nil || tail[2].Outcome != DuplicateTask || tail[2].Queue != QueueBulk {
		t.Fatalf("repeat: %+v %v", tail[2], errs[42])
	}
	for _, q := range []string{QueueBulk, QueueCritical} {
		qi, err := ins.GetQueueInfo(q)
		want := 20
		if q == QueueCritical {
			want++
		}
		if err != nil || qi.Pending != want {
			t.Fatalf("%s: %+v %v, want %d pending", q, qi, err, want)
		}
	}
	loaded := false
	for _, n := range c.Nodes {
		loaded = loaded || batchScriptLoaded(t, n.Client())
	}
	if !loaded {
		t.Fatal("the batch path was not taken")
	}
}

// TestEnqueueAllRidesOutRestart: Redis restarts in the middle of a batched
// campaign; every item is enqueued once, none is lost or reported failed.
func TestEnqueueAllRidesOutRestart(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	opt, err := redisconn.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := OpenProducer(context.Background(), opt, 8)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	const n = 3000
	in := make(chan Item)
	stopped := make(chan struct{})
	go func() {
		defer close(in)
		for i := range n {
			if i == n/3 {
				srv.Stop()
				close(stopped)
			}
			in <- Item{Send: sendWithID(templateSend, fmt.Sprintf("rs-%d", i)), Opts: []Option{Queue(QueueBulk)}, Ref: i}
		}
	}()
	seen := make([]int, n)
	count := map[Outcome]int{}
	var errs []error
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.EnqueueAll(context.Background(), in, 8, func(it Item, r Result, err error) {
			seen[it.Ref.(int)]++
			if err != nil {
				errs = append(errs, fmt.Errorf("item %v: %w", it.Ref, err))
			}
			count[r.Outcome]++
		})
	}()
	<-stopped
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	<-done
	if len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("item %d reported %d times", i, k)
		}
	}
	if count[Enqueued] != n {
		t.Fatalf("outcomes %v, want %d enqueued", count, n)
	}
	if got := srv.Client().LLen(context.Background(), asynqPendingKey(QueueBulk)).Val(); got != n {
		t.Fatalf("%d pending, want %d", got, n)
	}
}

// TestEnqueueAllCancelledWhileRetrying: with Redis gone, cancelling ctx
// ends the retries and reports every item with the cancellation, once.
func TestEnqueueAllCancelledWhileRetrying(t *testing.T) {
	e := newEnv(t)
	e.srv.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	in := make(chan Item, 600)
	for i := range 600 {
		in <- Item{Send: sendWithID(templateSend, fmt.Sprintf("cx-%d", i)), Opts: []Option{Queue(QueueBulk)}, Ref: i}
	}
	close(in)
	seen := make([]int, 600)
	start := time.Now()
	e.p.EnqueueAll(ctx, in, 4, func(it Item, r Result, err error) {
		seen[it.Ref.(int)]++
		if !errors.Is(err, context.Canceled) {
			t.Errorf("item %v: %+v %v, want context.Canceled", it.Ref, r, err)
		}
	})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("EnqueueAll took %v after the cancel", d)
	}
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("item %d reported %d times", i, k)
		}
	}
}
