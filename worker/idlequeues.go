package worker

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// idleQueueHold is how long a queue found empty is not asked again. It is
// below the shortest sleep of an idle asynq server (TaskCheckInterval/2),
// so a worker with nothing to do looks at every queue as often as before;
// it only spares the calls a busy worker makes between tasks.
const idleQueueHold = 50 * time.Millisecond

// idleQueues is a go-redis hook on the asynq server's client that answers
// "empty" for a queue found empty less than idleQueueHold ago, without
// asking Redis.
//
// asynq dequeues by trying the queues one script call at a time, in an
// order drawn by weight for every task: while a campaign drains the bulk
// queue, a task costs on average 1.6 calls on critical and default that
// find nothing, each a round trip of its own with its system calls on
// both sides. That is about a third of what Redis does for asynq and
// more than any single step of the send path. With the hook, a busy
// worker asks an empty queue about 20 times a second instead of once per
// task. The price: a task enqueued on an empty queue while the worker is
// busy with another waits up to idleQueueHold longer to start.
//
// The hook recognises the call by its keys (see dequeuedQueue) and only
// ever answers nil, which asynq already reads as "empty or paused", so a
// misfire could delay a queue by idleQueueHold and never lose or
// duplicate a task. Every other command passes through untouched.
type idleQueues struct {
	hold  time.Duration
	now   func() time.Time
	mu    sync.Mutex
	until map[string]time.Time // by pending-list key
}

func newIdleQueues(hold time.Duration) *idleQueues {
	return &idleQueues{hold: hold, now: time.Now, until: map[string]time.Time{}}
}

func (q *idleQueues) DialHook(next redis.DialHook) redis.DialHook { return next }

func (q *idleQueues) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (q *idleQueues) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		pending, ok := dequeuedQueue(cmd)
		if !ok {
			return next(ctx, cmd)
		}
		now := q.now()
		q.mu.Lock()
		idle := now.Before(q.until[pending])
		q.mu.Unlock()
		if idle {
			cmd.SetErr(redis.Nil)
			return redis.Nil
		}
		err := next(ctx, cmd)
		if err == redis.Nil {
			q.mu.Lock()
			q.until[pending] = now.Add(q.hold)
			q.mu.Unlock()
		}
		return err
	}
}

// dequeuedQueue returns the pending-list key of an asynq v0.26 dequeue
// call: the EVALSHA (or EVAL) of its dequeue script, whose four keys are
// a queue's pending list, paused flag, active list and lease set, in that
// order. Nothing else asynq or this project sends has that shape; a test
// runs a real asynq server through the hook and fails if the shape
// changes with an upgrade.
func dequeuedQueue(cmd redis.Cmder) (string, bool) {
	args := cmd.Args()
	if len(args) < 7 {
		return "", false
	}
	if name := cmd.Name(); name != "evalsha" && name != "eval" {
		return "", false
	}
	if n, ok := args[2].(int); !ok || n != 4 {
		return "", false
	}
	var keys [4]string
	for i := range keys {
		k, ok := args[3+i].(string)
		if !ok {
			return "", false
		}
		keys[i] = k
	}
	queue, ok := strings.CutSuffix(keys[0], ":pending")
	if !ok || !strings.HasPrefix(queue, "asynq:{") || !strings.HasSuffix(queue, "}") {
		return "", false
	}
	for i, suffix := range [...]string{":paused", ":active", ":lease"} {
		if keys[i+1] != queue+suffix {
			return "", false
		}
	}
	return keys[0], true
}
