package worker

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/tasks"
)

func TestDequeuedQueue(t *testing.T) {
	dq := func(name string, keys ...string) redis.Cmder {
		args := []any{name, "0123abcd", len(keys)}
		for _, k := range keys {
			args = append(args, k)
		}
		return redis.NewCmd(context.Background(), append(args, 1700000000, "asynq:{bulk}:t:")...)
	}
	bulk := []string{"asynq:{bulk}:pending", "asynq:{bulk}:paused", "asynq:{bulk}:active", "asynq:{bulk}:lease"}
	for _, tc := range []struct {
		name string
		cmd  redis.Cmder
		want string
	}{
		{"evalsha of the dequeue script", dq("evalsha", bulk...), "asynq:{bulk}:pending"},
		{"eval of it, the first time a server sees it", dq("eval", bulk...), "asynq:{bulk}:pending"},
		{"another queue", dq("evalsha", "asynq:{critical}:pending", "asynq:{critical}:paused", "asynq:{critical}:active", "asynq:{critical}:lease"), "asynq:{critical}:pending"},
		{"keys of two queues", dq("evalsha", "asynq:{bulk}:pending", "asynq:{critical}:paused", "asynq:{bulk}:active", "asynq:{bulk}:lease"), ""},
		{"keys in another order", dq("evalsha", "asynq:{bulk}:pending", "asynq:{bulk}:active", "asynq:{bulk}:paused", "asynq:{bulk}:lease"), ""},
		{"three keys", dq("evalsha", bulk[:3]...), ""},
		{"not asynq's keys", dq("evalsha", "waq:{bulk}:pending", "waq:{bulk}:paused", "waq:{bulk}:active", "waq:{bulk}:lease"), ""},
		{"another command", redis.NewCmd(context.Background(), "get", "asynq:{bulk}:pending"), ""},
		{"a short evalsha", redis.NewCmd(context.Background(), "evalsha", "0123abcd", 0), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := dequeuedQueue(tc.cmd)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("dequeuedQueue = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

// TestIdleQueuesHold drives the hook with a clock of its own: a queue that
// answered nil is not asked again for the hold, and only nil marks it.
func TestIdleQueuesHold(t *testing.T) {
	now := time.Unix(1700000000, 0)
	q := newIdleQueues(50 * time.Millisecond)
	q.now = func() time.Time { return now }
	var asked int
	var reply error = redis.Nil
	hook := q.ProcessHook(func(ctx context.Context, cmd redis.Cmder) error {
		asked++
		cmd.SetErr(reply)
		return reply
	})
	dequeue := func(queue string) error {
		return hook(context.Background(), redis.NewCmd(context.Background(), "evalsha", "0123abcd", 4,
			"asynq:{"+queue+"}:pending", "asynq:{"+queue+"}:paused", "asynq:{"+queue+"}:active", "asynq:{"+queue+"}:lease", 1, "p"))
	}
	step := func(name, queue string, advance time.Duration, wantAsked int) {
		t.Helper()
		now = now.Add(advance)
		if err := dequeue(queue); err != nil && err != redis.Nil {
			t.Fatalf("%s: %v", name, err)
		}
		if asked != wantAsked {
			t.Fatalf("%s: Redis asked %d times, want %d", name, asked, wantAsked)
		}
	}
	step("first look at bulk", "bulk", 0, 1)
	step("bulk again at once", "bulk", 0, 1)
	step("bulk 49 ms later", "bulk", 49*time.Millisecond, 1)
	step("critical is a queue of its own", "critical", 0, 2)
	step("bulk once the hold is over", "bulk", time.Millisecond, 3)
	reply = nil // bulk has a task now
	step("bulk held after its nil", "bulk", 10*time.Millisecond, 3)
	step("bulk with a task", "bulk", 50*time.Millisecond, 4)
	step("a task does not hold the queue", "bulk", 0, 5)

	if err := hook(context.Background(), redis.NewCmd(context.Background(), "get", "asynq:{bulk}:pending")); err != nil {
		t.Fatal(err)
	}
	if asked != 6 {
		t.Fatalf("another command was not passed on: asked %d times", asked)
	}
}

// TestIdleQueuesSpareRedis runs a campaign on the bulk queue through the
// worker's asynq server and through a plain one, counting the dequeue
// script's pops in Redis: the plain server tries critical and default
// before bulk for most tasks, the worker's asks them a few times a second.
func TestIdleQueuesSpareRedis(t *testing.T) {
	const n = 400
	pops := func(hooked bool) int {
		r := redistest.Start(t)
		rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer rdb.Close()
		client := asynq.NewClientFromRedisClient(rdb)
		for i := range n {
			if _, err := client.Enqueue(asynq.NewTask(tasks.TypeSend, []byte(strconv.Itoa(i))), asynq.Queue(tasks.QueueBulk)); err != nil {
				t.Fatal(err)
			}
		}
		var done atomic.Int32
		send := asynq.HandlerFunc(func(context.Context, *asynq.Task) error { done.Add(1); return nil })
		srvRDB := redis.NewClient(&redis.Options{Addr: r.Addr})
		defer srvRDB.Close()
		var srv *asynq.Server
		h := asynq.Handler(send)
		if hooked {
			srv, h = NewServer(srvRDB, ServerConfig{Concurrency: 4, ShutdownTimeout: time.Second, Policy: retry.DefaultPolicy(),
				Log: logging.New(&logging.Buffer{}, "json", "info")}, send, send)
		} else {
			srv = asynq.NewServerFromRedisClient(srvRDB, asynq.Config{Concurrency: 4, Queues: tasks.Queues(), LogLevel: asynq.ErrorLevel})
		}
		if err := rdb.ConfigResetStat(context.Background()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := srv.Start(h); err != nil {
			t.Fatal(err)
		}
		poll.Until(t, "all tasks done", 30*time.Second, 10*time.Millisecond, func() (bool, string) {
			return done.Load() == n, strconv.Itoa(int(done.Load())) + " done"
		})
		srv.Shutdown()
		return rpoplpushCalls(t, rdb)
	}
	plain, hooked := pops(false), pops(true)
	t.Logf("pops for %d tasks: plain asynq server %d, the worker's %d", n, plain, hooked)
	if plain < n*18/10 {
		t.Fatalf("the plain server popped %d times for %d tasks: the test no longer shows the waste it is about", plain, n)
	}
	if hooked > n*13/10 {
		t.Fatalf("the worker's server popped %d times for %d tasks; want at most %d", hooked, n, n*13/10)
	}
}

// TestIdleQueuesPickUpNewWork checks that a held queue is looked at again:
// a critical task enqueued while a long bulk campaign runs starts well
// before the campaign ends.
func TestIdleQueuesPickUpNewWork(t *testing.T) {
	r := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { rdb.Close() })
	client := asynq.NewClientFromRedisClient(rdb)
	const n = 2000 // 2 handlers × 1 ms: at least a second of work
	for i := range n {
		if _, err := client.Enqueue(asynq.NewTask(tasks.TypeSend, []byte(strconv.Itoa(i))), asynq.Queue(tasks.QueueBulk)); err != nil {
			t.Fatal(err)
		}
	}
	var bulkDone atomic.Int32
	critical := make(chan int32, 1)
	send := asynq.HandlerFunc(func(_ context.Context, task *asynq.Task) error {
		if strings.HasPrefix(string(task.Payload()), "otp") {
			critical <- bulkDone.Load()
			return nil
		}
		time.Sleep(time.Millisecond)
		bulkDone.Add(1)
		return nil
	})
	srvRDB := redis.NewClient(&redis.Options{Addr: r.Addr})
	t.Cleanup(func() { srvRDB.Close() })
	srv, h := NewServer(srvRDB, ServerConfig{Concurrency: 2, ShutdownTimeout: time.Second, Policy: retry.DefaultPolicy(),
		Log: logging.New(&logging.Buffer{}, "json", "info")}, send, send)
	if err := srv.Start(h); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	poll.Until(t, "bulk under way", 10*time.Second, 5*time.Millisecond, func() (bool, string) {
		return bulkDone.Load() >= 100, strconv.Itoa(int(bulkDone.Load())) + " done"
	})
	if _, err := client.Enqueue(asynq.NewTask(tasks.TypeSend, []byte("otp")), asynq.Queue(tasks.QueueCritical)); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-critical:
		if at >= n {
			t.Fatalf("the critical task waited for the whole campaign (%d of %d bulk tasks done)", at, n)
		}
		t.Logf("critical task ran with %d of %d bulk tasks done", at, n)
	case <-time.After(20 * time.Second):
		t.Fatal("the critical task never ran")
	}
}

func rpoplpushCalls(t *testing.T, rdb *redis.Client) int {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_rpoplpush:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			n, _ := strconv.Atoi(calls)
			return n
		}
	}
	return 0
}
