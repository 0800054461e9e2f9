package worker

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/tasks"
)

// ServerConfig sizes the asynq server.
type ServerConfig struct {
	// Concurrency is the number of sends in flight at once.
	Concurrency int
	// ShutdownTimeout bounds how long in-flight sends may finish after
	// SIGTERM before their context is cancelled.
	ShutdownTimeout time.Duration
	Policy          retry.Policy
	Log             zerolog.Logger
}

// NewServer builds the asynq server and its mux: the send and consent
// handlers behind a middleware that turns panics and unknown task types
// into archived tasks, so that a poison task never takes a worker down nor
// comes back 25 times.
//
// The server uses rdb, which the caller closes after the server's
// Shutdown, and which should be its own: NewServer adds a hook to it that
// spares Redis the dequeue calls on queues just found empty (see
// idleQueues).
func NewServer(rdb goredis.UniversalClient, cfg ServerConfig, send asynq.Handler, consent asynq.Handler) (*asynq.Server, asynq.Handler) {
	rdb.AddHook(newIdleQueues(idleQueueHold))
	srv := asynq.NewServerFromRedisClient(rdb, asynq.Config{
		Concurrency:     cfg.Concurrency,
		Queues:          tasks.Queues(),
		IsFailure:       retry.IsFailure,
		RetryDelayFunc:  cfg.Policy.RetryDelay,
		ShutdownTimeout: cfg.ShutdownTimeout,
		// Throttled and retried tasks wait in asynq's retry set; the default
		// 5 s check adds up to 5 s to every such wait.
		DelayedTaskCheckInterval: time.Second,
		// An idle worker looks at empty queues this often: the default 1 s
		// is the delay before the first send of a new campaign or OTP.
		TaskCheckInterval: 200 * time.Millisecond,
		Logger:            asynqLogger{cfg.Log.With().Str("component", "asynq").Logger()},
		LogLevel:          asynq.WarnLevel,
		ErrorHandler: asynq.ErrorHandlerFunc(func(ctx context.Context, t *asynq.Task, err error) {
			// Throttles are routine; they are not errors worth a line each.
			if !retry.IsFailure(err) {
				return
			}
			id, _ := asynq.GetTaskID(ctx)
			n, _ := asynq.GetRetryCount(ctx)
			cfg.Log.Debug().Str("task_id", id).Str("type", t.Type()).Int("retried", n).Err(err).Msg("task failed")
		}),
	})
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeSend, send)
	mux.Handle(tasks.TypeOptIn, consent)
	mux.Handle(tasks.TypeOptOut, consent)
	return srv, Guard(mux, cfg.Log)
}

// Guard archives tasks no handler can ever process: unknown types and
// handlers that panic. asynq would retry both up to MaxRetry times.
func Guard(mux *asynq.ServeMux, log zerolog.Logger) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		id, _ := asynq.GetTaskID(ctx)
		// asynq matches types by prefix; only an exact type is ours.
		if _, pattern := mux.Handler(t); pattern != t.Type() {
			log.Error().Str("task_id", id).Str("type", t.Type()).Msg("unknown task type: archived")
			return retry.Dead(retry.Verdict{Class: retry.Terminal, Reason: fmt.Sprintf("unknown task type %q", t.Type())})
		}
		defer func() {
			if r := recover(); r != nil {
				log.Error().Str("task_id", id).Str("type", t.Type()).Interface("panic", r).Bytes("stack", debug.Stack()).Msg("handler panicked: archived")
				err = retry.Dead(retry.Verdict{Class: retry.Terminal, Reason: fmt.Sprintf("handler panicked: %v", r)})
			}
		}()
		return mux.ProcessTask(ctx, t)
	})
}

// asynqLogger sends asynq's own log lines through zerolog.
type asynqLogger struct{ l zerolog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any) {
	msg := fmt.Sprint(args...)
	if archivedOnPurpose(msg) {
		a.l.Debug().Msg(msg)
		return
	}
	a.l.Warn().Msg(msg)
}

// archivedOnPurpose tells asynq's "Retry exhausted" line about a task the
// send path archived itself: a send dead-lettered on a terminal failure, or
// the task that carries a dead letter into the archive. The handler has
// logged that already with its code and reason; asynq's line would repeat
// it at warn and name the wrong cause. Other tasks (opt-ins and opt-outs)
// do run out of retries, and keep the warning.
func archivedOnPurpose(msg string) bool {
	id, ok := strings.CutPrefix(msg, "Retry exhausted for task id=")
	return ok && (strings.HasPrefix(id, tasks.TaskID("")) || strings.HasPrefix(id, tasks.DeadLetterTaskID(&tasks.Send{})))
}
func (a asynqLogger) Error(args ...any) { a.l.Error().Msg(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Fatal().Msg(fmt.Sprint(args...)) }
