package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/webhook"
)

var bg = context.Background()

const (
	src  = "917834811114"
	dest = "919800000001"
)

// env is a Processor on a throwaway redis-server, enqueueing into real asynq
// queues on the same server, where an Inspector sees what it scheduled.
type env struct {
	t     *testing.T
	redis *redistest.Server
	store *store.Store
	queue *asynq.Client
	insp  *asynq.Inspector
	proc  *webhook.Processor
	logs  *logging.Buffer
}

func newEnv(t *testing.T, policy retry.Policy) *env {
	t.Helper()
	r := redistest.Start(t)
	// No retries: a test that stops Redis gets its answer at once.
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	e := &env{t: t, redis: r, store: store.New(rdb), logs: &logging.Buffer{}}
	e.queue = asynq.NewClientFromRedisClient(rdb)
	e.insp = asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	t.Cleanup(func() { e.insp.Close() })
	e.proc = webhook.NewProcessor(e.store, e.queue, policy, logging.New(e.logs, "json", "debug"))
	return e
}

// sessionSend is a self-serve session text, with a fallback template when fb.
func sessionSend(id string, fb bool) *tasks.Send {
	msg, _ := tasks.TextSession(gupshup.SelfServe, "hello")
	s := &tasks.Send{V: tasks.PayloadVersion, CampaignID: "camp", MessageID: id, Family: gupshup.SelfServe,
		Source: src, Destination: dest, Session: msg}
	if fb {
		s.Fallback = &tasks.Template{ID: "fallback-tpl", Params: []string{"x"}}
	}
	return s
}

func templateSend(id string) *tasks.Send {
	return &tasks.Send{V: tasks.PayloadVersion, CampaignID: "camp", MessageID: id, Family: gupshup.SelfServe,
		Source: src, Destination: dest, Template: &tasks.Template{ID: "tpl-1", Params: []string{"a"}}}
}

// submitted does what the worker does for generation gen of s: claim it,
// then record Gupshup's id.
func (e *env) submitted(s *tasks.Send, gen int, gsID string) {
	e.t.Helper()
	c := *s
	c.Generation = gen
	b, err := tasks.EncodeSend(&c)
	if err != nil {
		e.t.Fatal(err)
	}
	cl, err := e.store.Claim(bg, store.ClaimRequest{MessageID: s.MessageID, Generation: gen, Payload: b,
		CampaignID: s.CampaignID, Queue: tasks.QueueBulk, InFlight: time.Minute})
	if err != nil || cl.Action != store.ClaimSend {
		e.t.Fatalf("claim %s gen %d: %+v %v", s.MessageID, gen, cl, err)
	}
	if err := e.store.Submitted(bg, s.MessageID, gen, gsID); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) record(id string) store.Record {
	e.t.Helper()
	rec, ok, err := e.store.Get(bg, id)
	if err != nil || !ok {
		e.t.Fatalf("record %s: ok=%v err=%v", id, ok, err)
	}
	return rec
}

func (e *env) apply(ev gupshup.Event) {
	e.t.Helper()
	if err := e.proc.Apply(bg, ev); err != nil {
		e.t.Fatalf("apply %s %s: %v", ev.MessageID, ev.Status, err)
	}
}

// queued lists every pending and scheduled task of every queue.
func (e *env) queued() []*asynq.TaskInfo {
	e.t.Helper()
	var out []*asynq.TaskInfo
	for _, q := range []string{tasks.QueueCritical, tasks.QueueDefault, tasks.QueueBulk} {
		for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){e.insp.ListPendingTasks, e.insp.ListScheduledTasks} {
			ts, err := list(q)
			if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
				e.t.Fatal(err)
			}
			out = append(out, ts...)
		}
	}
	return out
}

func taskIDs(ts []*asynq.TaskInfo) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return ids
}

func status(gs string, st gupshup.Status) gupshup.Event {
	return gupshup.Event{Kind: gupshup.EventStatus, Format: gupshup.CallbackV2, MessageID: gs, Destination: dest, Status: st}
}

func failed(gs string, code int) gupshup.Event {
	ev := status(gs, gupshup.StatusFailed)
	ev.Code, ev.Reason = code, "reason of "+strconv.Itoa(code)
	return ev
}

// v2Body and v3Body are callback bodies the way Gupshup words them.
func v2Body(gs string, st gupshup.Status, code int) []byte {
	p := map[string]any{"id": "wamid.HBgMOTE5ODAw", "gsId": gs, "type": string(st), "destination": dest,
		"payload": map[string]any{"ts": time.Now().Unix()}}
	switch st {
	case gupshup.StatusEnqueued:
		// Gupshup's own id is "id" here, and there is no gsId yet.
		p["id"], p["payload"] = gs, map[string]any{"whatsappMessageId": "wamid.HBgMOTE5ODAw", "type": "template"}
		delete(p, "gsId")
	case gupshup.StatusFailed:
		p["payload"] = map[string]any{"code": code, "reason": "v2 words"}
	}
	return mustJSON(map[string]any{"app": "DemoAPI", "timestamp": time.Now().UnixMilli(), "version": 2, "type": "message-event", "payload": p})
}

func v3Body(gs string, st gupshup.Status, code int) []byte {
	s := map[string]any{"gs_id": gs, "id": "wamid.HBgMOTE5ODAw", "recipient_id": dest, "status": string(st),
		"timestamp": strconv.FormatInt(time.Now().Unix(), 10)}
	if st == gupshup.StatusFailed {
		s["errors"] = []any{map[string]any{"code": code, "title": "v3 words differ"}}
	}
	return mustJSON(map[string]any{"object": "whatsapp_business_account", "gs_app_id": "app-id", "entry": []any{
		map[string]any{"id": "1", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp", "statuses": []any{s}}}}}}})
}

func v2Inbound(from string) []byte {
	return mustJSON(map[string]any{"app": "DemoAPI", "timestamp": time.Now().UnixMilli(), "version": 2, "type": "message",
		"payload": map[string]any{"id": "wamid.in", "source": from, "type": "text", "payload": map[string]any{"text": "hi"},
			"sender": map[string]any{"phone": from, "name": "Asha"}}})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func countLines(logs, msg string) int {
	return strings.Count(logs, fmt.Sprintf("%q", msg))
}
