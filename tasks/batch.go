package tasks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/encoding/protowire"
)

// The batch enqueue writes asynq's own layout of a pending task itself.
//
// asynq v0.26 enqueues one task per script call: a campaign paid a round trip
// and a script run in Redis per message, which was most of the CPU on both
// sides. EnqueueAll instead enqueues the tasks of a queue a few hundred at a
// time in one script that does, for each task, exactly what asynq's
// enqueueCmd (internal/rdb) does: refuse an id that exists, write the task
// hash asynq:{<queue>}:t:<id> with msg, state "pending" and pending_since,
// and LPUSH the id onto asynq:{<queue>}:pending. msg is asynq's TaskMessage
// (internal/proto/asynq.proto) encoded here with the field numbers and the
// values asynq's Client.EnqueueContext would give it, byte for byte, so that
// asynq's server, its Inspector and asynqmon see tasks they cannot tell from
// their own.
//
// None of this is asynq's public API, which is why it is pinned to asynq
// v0.26.0 (go.mod) and why tests enqueue the same task through asynq's
// Client and through this path and compare what Redis holds, key by key and
// byte by byte, and run the batch-enqueued tasks through an asynq.Server.
// Upgrading asynq means rereading internal/rdb's enqueueCmd, internal/base's
// EncodeMessage and key functions, and client.go's EnqueueContext, then
// running those tests.
//
// What the script cannot express goes through asynq's Client as before:
// scheduled tasks (ProcessAt, ProcessIn), Unique, Group, headers, and
// anything this file does not know (batchMessage says no).

// asynqMessage holds the fields of asynq's TaskMessage that a new task can
// have set; the others (retried, error_msg, last_failed_at, completed_at,
// unique_key, group_key, headers) are zero at enqueue on the paths that
// come here.
type asynqMessage struct {
	Type      string
	Payload   []byte
	ID        string
	Queue     string
	Retry     int
	Timeout   int64 // seconds; 0: none
	Deadline  int64 // Unix seconds; 0: none
	Retention int64 // seconds
}

// Field numbers of asynq.TaskMessage in asynq v0.26's asynq.proto.
const (
	pbType      protowire.Number = 1
	pbPayload   protowire.Number = 2
	pbID        protowire.Number = 3
	pbQueue     protowire.Number = 4
	pbRetry     protowire.Number = 5
	pbTimeout   protowire.Number = 8
	pbDeadline  protowire.Number = 9
	pbRetention protowire.Number = 12
)

// asynq v0.26's defaults (client.go) for what a task's options leave out.
const (
	asynqDefaultQueue    = "default"
	asynqDefaultMaxRetry = 25
	asynqDefaultTimeout  = 30 * time.Minute
)

// appendTo appends m encoded as proto.Marshal encodes asynq's TaskMessage:
// proto3 fields in field-number order, those with a zero value left out. The
// bytes are the same as asynq's, which the bench's byte-for-byte check of a
// campaign against asynq's Client relies on as well.
func (m *asynqMessage) appendTo(b []byte) []byte {
	str := func(b []byte, n protowire.Number, s string) []byte {
		if s == "" {
			return b
		}
		b = protowire.AppendTag(b, n, protowire.BytesType)
		return protowire.AppendString(b, s)
	}
	varint := func(b []byte, n protowire.Number, v int64) []byte {
		if v == 0 {
			return b
		}
		b = protowire.AppendTag(b, n, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(v))
	}
	b = str(b, pbType, m.Type)
	if len(m.Payload) > 0 {
		b = protowire.AppendTag(b, pbPayload, protowire.BytesType)
		b = protowire.AppendBytes(b, m.Payload)
	}
	b = str(b, pbID, m.ID)
	b = str(b, pbQueue, m.Queue)
	// int32 in the schema: asynq converts, and a negative int32 is
	// sign-extended to ten bytes on the wire.
	b = varint(b, pbRetry, int64(int32(m.Retry)))
	b = varint(b, pbTimeout, m.Timeout)
	b = varint(b, pbDeadline, m.Deadline)
	b = varint(b, pbRetention, m.Retention)
	return b
}

// size is len(m.appendTo(nil)), for sizing a batch's buffer.
func (m *asynqMessage) size() int {
	n := 0
	str := func(num protowire.Number, l int) {
		if l > 0 {
			n += protowire.SizeTag(num) + protowire.SizeBytes(l)
		}
	}
	varint := func(num protowire.Number, v int64) {
		if v != 0 {
			n += protowire.SizeTag(num) + protowire.SizeVarint(uint64(v))
		}
	}
	str(pbType, len(m.Type))
	str(pbPayload, len(m.Payload))
	str(pbID, len(m.ID))
	str(pbQueue, len(m.Queue))
	varint(pbRetry, int64(int32(m.Retry)))
	varint(pbTimeout, m.Timeout)
	varint(pbDeadline, m.Deadline)
	varint(pbRetention, m.Retention)
	return n
}

// composeMessage is what asynq v0.26's Client.EnqueueContext makes of a
// task with opts (composeOptions and the message it builds from them), for
// a task enqueued now. ok is false for what the batch script cannot write
// as asynq would: a schedule (ProcessAt, ProcessIn, even one in the past,
// which asynq then enqueues at once), Unique, Group, headers, an option
// this code does not know, or a value asynq itself would refuse (a blank
// queue or id, a string that is not UTF-8, which proto.Marshal rejects); the
// task then goes through asynq's Client, which does what it always did.
func composeMessage(typ string, payload []byte, headers map[string]string, opts []asynq.Option) (m asynqMessage, ok bool) {
	if strings.TrimSpace(typ) == "" || !utf8.ValidString(typ) || len(headers) > 0 {
		return m, false
	}
	m = asynqMessage{Type: typ, Payload: payload, Queue: asynqDefaultQueue, Retry: asynqDefaultMaxRetry}
	var timeout, retention time.Duration
	var deadline time.Time
	for _, o := range opts {
		switch o.Type() {
		case asynq.MaxRetryOpt:
			m.Retry, ok = o.Value().(int)
		case asynq.QueueOpt:
			m.Queue, ok = o.Value().(string)
			ok = ok && strings.TrimSpace(m.Queue) != "" && utf8.ValidString(m.Queue)
		case asynq.TaskIDOpt:
			m.ID, ok = o.Value().(string)
			ok = ok && strings.TrimSpace(m.ID) != "" && utf8.ValidString(m.ID)
		case asynq.TimeoutOpt:
			timeout, ok = o.Value().(time.Duration)
		case asynq.DeadlineOpt:
			deadline, ok = o.Value().(time.Time)
		case asynq.RetentionOpt:
			retention, ok = o.Value().(time.Duration)
		default:
			ok = false
		}
		if !ok {
			return asynqMessage{}, false
		}
	}
	// Without an id asynq makes up a uuid; our tasks always have one, and
	// the duplicate check needs it.
	if m.ID == "" {
		return asynqMessage{}, false
	}
	noDeadline := time.Unix(0, 0)
	d := noDeadline
	if !deadline.IsZero() {
		d = deadline
	}
	if d.Equal(noDeadline) && timeout == 0 {
		timeout = asynqDefaultTimeout
	}
	m.Deadline = d.Unix()
	m.Timeout = int64(timeout.Seconds())
	m.Retention = int64(retention.Seconds())
	return m, true
}

// taskInfo is the asynq.TaskInfo asynq's Client.EnqueueContext returns for
// m enqueued (pending) at now (its newTaskInfo): every field can be built
// from outside asynq.
func (m *asynqMessage) taskInfo(now time.Time) *asynq.TaskInfo {
	info := &asynq.TaskInfo{
		ID:            m.ID,
		Queue:         m.Queue,
		Type:          m.Type,
		Payload:       m.Payload,
		State:         asynq.TaskStatePending,
		MaxRetry:      m.Retry,
		Timeout:       time.Duration(m.Timeout) * time.Second,
		Retention:     time.Duration(m.Retention) * time.Second,
		NextProcessAt: now,
	}
	if m.Deadline != 0 {
		info.Deadline = time.Unix(m.Deadline, 0)
	}
	return info
}

// batchMessage is the asynq message of j if it can go through the batch
// script (see composeMessage), from the same asynq options prepare gave its
// task, so that the two paths cannot drift apart.
func batchMessage(j *job, opts []Option) (asynqMessage, bool) {
	o, err := buildOptions(QueueDefault, opts)
	if err != nil || o.processIn > 0 || !o.processAt.IsZero() {
		return asynqMessage{}, false
	}
	m, ok := composeMessage(j.task.Type(), j.task.Payload(), j.task.Headers(), o.asynqOptions(j.taskID, time.Time{}, false))
	if !ok || m.ID != j.taskID || m.Queue != j.queue {
		return asynqMessage{}, false
	}
	return m, true
}

// enqueueBatchScript enqueues tasks of one queue, each as asynq v0.26's
// enqueueCmd does (internal/rdb/rdb.go): if the task hash exists, nothing;
// otherwise HSET of msg, state "pending" and pending_since, and the id
// LPUSHed onto the pending list. Every key is in the queue's hash slot, so
// that it runs on a Redis Cluster as asynq's own script does.
//
// It differs from calling enqueueCmd once per task only in what costs Redis
// CPU, not in what it leaves behind: one EXISTS of all the keys first, the
// per-key EXISTS only when some exist; and one LPUSH of all the new ids at
// the end, which leaves the list as the LPUSHes one by one would. A script
// that fails half way keeps what it wrote, so whatever can fail comes
// before the first write: the LLEN refuses a pending key that is not a
// list, and Redis refuses a script for lack of memory only before its first
// write; the keys written are new, so no HSET meets a wrong type.
//
// KEYS[1] is asynq:{<queue>}:pending, KEYS[1+k] asynq:{<queue>}:t:<id of
// task k>, all distinct (newBatchCall sees to it: the script does not look
// for a task it has just written); ARGV[1] is pending_since in Unix
// nanoseconds, the same on every try of a call, ARGV[2k] and ARGV[2k+1] the
// id and the encoded message of task k.
//
// Per task: 1 enqueued; 0 the id is taken; 2 taken by the same message with
// the same pending_since, which only an earlier try of this call writes (its
// reply lost on the way back); 3 taken by a task no longer pending, which
// may be the earlier try's already picked up by a worker: enqueued if this
// is a retry, taken otherwise.
var enqueueBatchScript = redis.NewScript(`
local since = ARGV[1]
local out, ids, n = {}, {}, 0
redis.call("LLEN", KEYS[1])
local some = redis.call("EXISTS", unpack(KEYS, 2)) > 0
for k = 2, #KEYS do
	local key = KEYS[k]
	local r = 0
	if not some or redis.call("EXISTS", key) == 0 then
		redis.call("HSET", key, "msg", ARGV[2*k-1], "state", "pending", "pending_since", since)
		n = n + 1
		ids[n] = ARGV[2*k-2]
		r = 1
	else
		local s = redis.call("HGET", key, "pending_since")
		if not s then
			r = 3
		elseif s == since and redis.call("HGET", key, "msg") == ARGV[2*k-1] then
			r = 2
		end
	end
	out[k-1] = r
end
if n > 0 then
	redis.call("LPUSH", KEYS[1], unpack(ids))
end
return out
`)

// What the batch script answers per task.
const (
	batchTaken    = 0
	batchEnqueued = 1
	batchOurs     = 2
	batchMovedOn  = 3
)

// asynqPendingKey is asynq v0.26's list of a queue's pending task ids
// (internal/base.PendingKey); asynqQueuesKey its set of queue names
// (base.AllQueues), in a hash slot of its own on a cluster.
func asynqPendingKey(queue string) string { return "asynq:{" + queue + "}:pending" }

const asynqQueuesKey = "asynq:queues"

// maxScriptBatch bounds the tasks of one script call: Redis runs nothing
// else meanwhile, and Lua's unpack takes fewer than 8000 values.
const maxScriptBatch = 1000

// batchCall is one call of enqueueBatchScript: the tasks of one queue. A
// worker reuses one for its batches, buffers included.
type batchCall struct {
	queue string
	now   time.Time // pending_since, and NextProcessAt of the Info
	msgs  []asynqMessage
	// slot[i] is the script's index of msgs[i], or -1 for a repeat of an
	// id earlier in msgs, which is never sent: it is taken.
	slot []int
	keys []string
	args []any
	buf  []byte // the encoded messages
	seen map[string]struct{}
}

// newBatchCall encodes msgs, all of queue, for one script call at now.
func newBatchCall(queue string, now time.Time, msgs []asynqMessage) *batchCall {
	c := &batchCall{}
	c.reset(queue, now, msgs)
	return c
}

// reset makes c the call for msgs, all of queue, at now.
func (c *batchCall) reset(queue string, now time.Time, msgs []asynqMessage) {
	c.queue, c.now, c.msgs = queue, now, msgs
	size := 0
	for i := range msgs {
		size += msgs[i].size()
	}
	if cap(c.buf) < size {
		c.buf = make([]byte, 0, size)
	}
	if c.seen == nil {
		c.seen = make(map[string]struct{}, len(msgs))
	}
	clear(c.seen)
	buf := c.buf[:0]
	c.slot = slices.Grow(c.slot[:0], len(msgs))
	c.keys = append(slices.Grow(c.keys[:0], 1+len(msgs)), asynqPendingKey(queue))
	c.args = append(slices.Grow(c.args[:0], 1+2*len(msgs)), now.UnixNano())
	for i := range msgs {
		id := msgs[i].ID
		if _, dup := c.seen[id]; dup {
			c.slot = append(c.slot, -1)
			continue
		}
		c.seen[id] = struct{}{}
		c.slot = append(c.slot, len(c.keys)-1)
		start := len(buf)
		buf = msgs[i].appendTo(buf)
		c.keys = append(c.keys, asynqTaskKey(queue, id))
		c.args = append(c.args, id, buf[start:len(buf):len(buf)])
	}
}

// run calls the script once and returns its answer for each message.
func (c *batchCall) run(ctx context.Context, rdb redis.Scripter) ([]int64, error) {
	codes := make([]int64, len(c.msgs))
	if len(c.keys) == 1 {
		return codes, nil
	}
	got, err := enqueueBatchScript.Run(ctx, rdb, c.keys, c.args...).Int64Slice()
	if err == nil && len(got) != len(c.keys)-1 {
		err = fmt.Errorf("batch script answered %d results for %d tasks", len(got), len(c.keys)-1)
	}
	if err != nil {
		return nil, err
	}
	for i, s := range c.slot {
		if s >= 0 {
			codes[i] = got[s]
		} else {
			codes[i] = batchTaken
		}
	}
	return codes, nil
}

// result is what task i became by the script's answer code, retried
// telling whether an earlier try of the call failed.
func (c *batchCall) result(i int, code int64, retried bool) Result {
	m := &c.msgs[i]
	switch {
	case code == batchEnqueued:
		return Result{Outcome: Enqueued, TaskID: m.ID, Queue: c.queue, Info: m.taskInfo(c.now)}
	case code == batchOurs, code == batchMovedOn && retried:
		// The try that failed on the way back had added it.
		return Result{Outcome: Enqueued, TaskID: m.ID, Queue: c.queue}
	}
	return Result{Outcome: DuplicateTask, TaskID: m.ID, Queue: c.queue}
}

// enqueueBatch enqueues jobs, all of queue, with msgs[i] the message of
// jobs[i], in one script call made with c (retried on a passing Redis
// failure) and reports each. The queue must already be in asynqQueuesKey
// (lookup's register), as asynq adds it before its script.
func (p *Producer) enqueueBatch(ctx context.Context, c *batchCall, queue string, jobs []*job, msgs []asynqMessage, report func(Item, Result, error)) {
	for len(jobs) > maxScriptBatch {
		p.enqueueBatch(ctx, c, queue, jobs[:maxScriptBatch], msgs[:maxScriptBatch], report)
		jobs, msgs = jobs[maxScriptBatch:], msgs[maxScriptBatch:]
	}
	if err := ctx.Err(); err != nil {
		for _, j := range jobs {
			report(j.item, Result{TaskID: j.taskID}, err)
		}
		return
	}
	c.reset(queue, time.Now(), msgs)
	var codes []int64
	tries := 0
	err := retryTransient(ctx, func() (err error) {
		if err := ctx.Err(); err != nil {
			return err
		}
		tries++
		codes, err = c.run(ctx, p.rdb)
		return err
	})
	for i, j := range jobs {
		switch {
		case err != nil && err == ctx.Err():
			report(j.item, Result{TaskID: j.taskID}, err)
			continue
		case err != nil:
			report(j.item, Result{TaskID: j.taskID}, fmt.Errorf("enqueue %s: %w", j.taskID, err))
			continue
		}
		report(j.item, c.result(i, codes[i], tries > 1), nil)
	}
}
