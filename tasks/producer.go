package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/waqueue/waqueue/store"
)

// Outcome is what became of one enqueue request.
type Outcome uint8

const (
	// Enqueued: a new task now waits in its queue.
	Enqueued Outcome = iota + 1
	// DuplicateTask: a task with the same id already exists (pending,
	// scheduled, active, retrying or archived); nothing was added.
	DuplicateTask
	// AlreadyHandled: the worker has a send record for the message id (it
	// sent it, or gave up on it); nothing was added.
	AlreadyHandled
)

func (o Outcome) String() string {
	switch o {
	case Enqueued:
		return "enqueued"
	case DuplicateTask:
		return "duplicate task"
	case AlreadyHandled:
		return "already handled"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Result says what Enqueue did.
type Result struct {
	Outcome Outcome
	TaskID  string
	// Queue is where the task was put, or where the duplicate was found
	// (the requested queue when asynq reported the conflict itself, empty
	// for AlreadyHandled).
	Queue string
	// Info is asynq's view of a task just enqueued; nil for duplicates.
	Info *asynq.TaskInfo
}

// Duplicate reports whether nothing was enqueued because the message is
// already queued or handled. A duplicate is not an error: re-enqueueing is
// meant to be harmless.
func (r Result) Duplicate() bool { return r.Outcome == DuplicateTask || r.Outcome == AlreadyHandled }

// Producer enqueues tasks. It is safe for concurrent use.
type Producer struct {
	rdb    redis.UniversalClient
	client *asynq.Client
	owned  bool

	bulkOnce sync.Once
	bulk     *asynq.Client // EnqueueAll's, see bulkClient
}

// NewProducer enqueues through rdb, which the caller keeps and closes. Its
// pool must have a connection for each concurrent caller: EnqueueAll with n
// workers needs PoolSize >= n, or workers queue up for connections.
func NewProducer(rdb redis.UniversalClient) *Producer {
	return &Producer{rdb: rdb, client: asynq.NewClientFromRedisClient(rdb)}
}

// OpenProducer connects to Redis with a pool of poolSize connections (0:
// go-redis's default) and checks that Redis answers. Close releases it.
func OpenProducer(ctx context.Context, opt asynq.RedisConnOpt, poolSize int) (*Producer, error) {
	if poolSize > 0 {
		switch o := opt.(type) {
		case asynq.RedisClientOpt:
			o.PoolSize = poolSize
			opt = o
		case *asynq.RedisClientOpt:
			c := *o
			c.PoolSize = poolSize
			opt = c
		case asynq.RedisFailoverClientOpt:
			o.PoolSize = poolSize
			opt = o
		case *asynq.RedisFailoverClientOpt:
			c := *o
			c.PoolSize = poolSize
			opt = c
		case asynq.RedisClusterClientOpt:
			// go-redis sizes cluster pools per node; the option has no
			// field for it, and the default grows with GOMAXPROCS.
		}
	}
	rdb, ok := opt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, fmt.Errorf("tasks: unsupported Redis connection option %T", opt)
	}
	p := NewProducer(rdb)
	p.owned = true
	if err := p.Ping(ctx); err != nil {
		rdb.Close()
		return nil, err
	}
	return p, nil
}

// Ping checks that Redis answers.
func (p *Producer) Ping(ctx context.Context) error {
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// Close releases the connections OpenProducer made; for NewProducer it
// does nothing, the client being the caller's.
func (p *Producer) Close() error {
	if p.owned {
		return p.rdb.Close()
	}
	return nil
}

// Enqueue validates s and enqueues it unless the message is already queued
// or handled. The returned error is a *ValidationError for a bad message
// (IsValidation) and anything else for a failure to talk to Redis.
//
// The duplicate check is advisory, not a lock: two producers racing on the
// same message id in the same queue are settled by asynq's task id, and
// across queues by the worker's send record.
func (p *Producer) Enqueue(ctx context.Context, s *Send, opts ...Option) (Result, error) {
	j, err := prepareProduced(s, opts)
	if err != nil {
		return Result{}, err
	}
	found, err := p.lookup(ctx, []job{j}, nil)
	if err != nil {
		return Result{TaskID: j.taskID}, err
	}
	if found[0].Outcome != 0 {
		return found[0], nil
	}
	return p.enqueue(ctx, j)
}

// EnqueueConsent enqueues an opt-in (typ TypeOptIn) or opt-out
// (TypeOptOut). A request repeated while its task exists is a DuplicateTask.
func (p *Producer) EnqueueConsent(ctx context.Context, typ string, c *Consent, opts ...Option) (Result, error) {
	j, err := prepareConsent(typ, c, opts)
	if err != nil {
		return Result{}, err
	}
	return p.enqueue(ctx, j)
}

// prepareProduced is prepareSend for a producer's message, which must be
// generation 0: resends are the worker's, and the duplicate check (a send
// record means "handled") only holds for the first generation.
func prepareProduced(s *Send, opts []Option) (job, error) {
	if s != nil && s.Generation != 0 {
		return job{}, invalid("gen", "set by the worker for its resends; producers leave it out")
	}
	return prepareSend(s, opts)
}

// bulkClient is the asynq client of EnqueueAll, made on first use, for the
// tasks the batch script does not write (scheduled ones, see batch.go).
//
// Each asynq Enqueue is a round trip of its own, and a campaign's workers,
// and Redis with them, spent most of their CPU in the system calls of one
// small command at a time. This client sends the same commands through
// go-redis's autopipeliner, which writes those of all workers to Redis in
// shared pipelines: the same scripts, each worker's in its order, each with
// its own reply, for about half the CPU on both sides. A client that cannot
// autopipeline (a Ring) is used as it is. The autopipeliner lives as long as
// the Redis client.
func (p *Producer) bulkClient() *asynq.Client {
	p.bulkOnce.Do(func() {
		p.bulk = p.client
		if ap, err := p.rdb.AutoPipeline(); err == nil {
			p.bulk = asynq.NewClientFromRedisClient(ap)
		}
	})
	return p.bulk
}

func (p *Producer) enqueue(ctx context.Context, j job) (Result, error) {
	return p.enqueueWith(ctx, p.client, j)
}

func (p *Producer) enqueueWith(ctx context.Context, c *asynq.Client, j job) (Result, error) {
	info, err := c.EnqueueContext(ctx, j.task)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return Result{Outcome: DuplicateTask, TaskID: j.taskID, Queue: j.queue}, nil
	case err != nil:
		return Result{TaskID: j.taskID}, fmt.Errorf("enqueue %s: %w", j.taskID, err)
	}
	return Result{Outcome: Enqueued, TaskID: j.taskID, Queue: info.Queue, Info: info}, nil
}

// lookup finds the messages of a batch that already have a send record or
// a task in any known queue. asynq itself only refuses a task id already
// present in the same queue, so without this a message sent to "bulk" could
// be enqueued again in "critical". A zero Result means "not found".
//
// One pipelined round trip asks how many of each kind of key exist, which
// Redis answers for a whole batch at a fraction of an EXISTS per key; only
// a kind of which some exist is asked for again key by key, in a second
// round trip. On a cluster (or a ring) each send record, which has a hash
// slot of its own, is asked for alone in the first.
//
// ownChecked[i] (if ownChecked is not nil) says that jobs[i] goes to the
// batch script, which checks the job's own queue itself, so that the lookup
// need not: the duplicate is then reported by the script, in the same queue
// (or, should the task be in another queue as well, there). register names queues to add to asynq's set of queues in the same
// round trip, as asynq's enqueue does before its script (the batch script
// cannot: on a cluster the set is in another hash slot).
func (p *Producer) lookup(ctx context.Context, jobs []job, ownChecked []bool, register ...string) ([]Result, error) {
	// kinds[0] the send records, then the task keys of each queue.
	kinds := make([]existKind, 1+len(queueNames))
	for k := range kinds {
		kinds[k].keys = make([]string, 0, len(jobs))
		kinds[k].of = make([]int, 0, len(jobs))
	}
	kinds[0].alone = !p.oneNode()
	for i := range jobs {
		kinds[0].add(store.MessageKey(jobs[i].msgID), i)
		for k, q := range queueNames {
			if ownChecked == nil || !ownChecked[i] || jobs[i].queue != q {
				kinds[1+k].add(asynqTaskKey(q, jobs[i].taskID), i)
			}
		}
	}
	fail := func(err error) ([]Result, error) {
		return nil, fmt.Errorf("redis: check for existing messages: %w", err)
	}
	pipe := p.rdb.Pipeline()
	for k := range kinds {
		kinds[k].ask(ctx, pipe)
	}
	if len(register) > 0 {
		args := make([]any, len(register))
		for i, q := range register {
			args[i] = q
		}
		pipe.SAdd(ctx, asynqQueuesKey, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fail(err)
	}
	again := false
	pipe = p.rdb.Pipeline()
	for k := range kinds {
		more, err := kinds[k].askAgain(ctx, pipe)
		if err != nil {
			return fail(err)
		}
		again = again || more
	}
	if again {
		if _, err := pipe.Exec(ctx); err != nil {
			return fail(err)
		}
	}
	found := make([][]bool, len(kinds))
	for k := range kinds {
		found[k] = make([]bool, len(jobs))
		if err := kinds[k].hits(found[k]); err != nil {
			return fail(err)
		}
	}
	out := make([]Result, len(jobs))
	for i, j := range jobs {
		if found[0][i] {
			out[i] = Result{Outcome: AlreadyHandled, TaskID: j.taskID}
			continue
		}
		for k, q := range queueNames {
			if found[1+k][i] {
				out[i] = Result{Outcome: DuplicateTask, TaskID: j.taskID, Queue: q}
				break
			}
		}
	}
	return out, nil
}

// existKind is one kind of key lookup asks about, with the job of each.
type existKind struct {
	keys  []string
	of    []int
	alone bool // in different hash slots: an EXISTS each

	count  *redis.IntCmd   // how many of keys exist
	each   []*redis.IntCmd // alone
	detail *redis.Cmd      // existScript, when count was not 0
}

func (k *existKind) add(key string, job int) {
	k.keys = append(k.keys, key)
	k.of = append(k.of, job)
}

// ask queues the first question on pipe.
func (k *existKind) ask(ctx context.Context, pipe redis.Pipeliner) {
	switch {
	case len(k.keys) == 0:
	case k.alone && len(k.keys) > 1:
		k.each = make([]*redis.IntCmd, len(k.keys))
		for i, key := range k.keys {
			k.each[i] = pipe.Exists(ctx, key)
		}
	default:
		k.count = pipe.Exists(ctx, k.keys...)
	}
}

// askAgain queues the question key by key on pipe if the first answer
// calls for it, and tells whether it did.
func (k *existKind) askAgain(ctx context.Context, pipe redis.Pipeliner) (bool, error) {
	if k.count == nil || len(k.keys) == 1 {
		return false, nil
	}
	if n, err := k.count.Result(); err != nil || n == 0 {
		return false, err
	}
	// EVAL rather than EVALSHA: a pipeline cannot fall back on NOSCRIPT,
	// and the script is short.
	k.detail = pipe.Eval(ctx, existScript, k.keys)
	return true, nil
}

// hits sets found[job] for each job whose key exists.
func (k *existKind) hits(found []bool) error {
	switch {
	case k.detail != nil:
		v, err := k.detail.Int64Slice()
		if err == nil && len(v) != len(k.keys) {
			err = fmt.Errorf("%d answers for %d keys", len(v), len(k.keys))
		}
		if err != nil {
			return err
		}
		for i, n := range v {
			found[k.of[i]] = found[k.of[i]] || n > 0
		}
	case k.each != nil:
		for i, c := range k.each {
			n, err := c.Result()
			if err != nil {
				return err
			}
			found[k.of[i]] = found[k.of[i]] || n > 0
		}
	case k.count != nil:
		// A single key, or none of them exists.
		n, err := k.count.Result()
		if err != nil {
			return err
		}
		if n > 0 {
			found[k.of[0]] = true
		}
	}
	return nil
}

// existScript says which of KEYS exist, one 0 or 1 per key, in one command
// instead of an EXISTS per key on both sides. The keys must share a hash
// slot on a cluster: the send records are never asked for this way there.
const existScript = `
local out = {}
for i, k in ipairs(KEYS) do
	out[i] = redis.call("EXISTS", k)
end
return out
`

// oneNode reports whether every key is on the same Redis server, so that a
// command or a script may take keys of different hash slots: not on a
// Redis Cluster or a Ring.
func (p *Producer) oneNode() bool {
	switch p.rdb.(type) {
	case *redis.ClusterClient, *redis.Ring:
		return false
	}
	return true
}

// asynqTaskKey is where asynq v0.26 keeps a task (internal/base.TaskKey). It
// is not exported by asynq, so a test compares it with what the Inspector
// sees; should a new asynq move it, that test fails and the cross-queue
// check would otherwise only degrade to asynq's same-queue check.
func asynqTaskKey(queue, taskID string) string {
	return "asynq:{" + queue + "}:t:" + taskID
}
