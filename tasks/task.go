package tasks

import (
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/waqueue/waqueue/retry"
)

// NewSendTask builds the asynq task of a send, with every option the worker
// relies on: the task id derived from the message id, the queue (QueueDefault
// unless Queue says otherwise), retry.AsynqMaxRetry, a per-attempt Timeout,
// and ProcessAt when the send is scheduled.
//
// It never sets asynq.Deadline: past a deadline asynq retries the task, but
// a message past its validity period must be recorded as expired, which the
// worker does from expires_at. For the same reason it refuses a producer's
// message that would expire before it is due; a resend (Generation > 0) is
// built whatever its expiry, so that the worker closes its record as expired.
//
// The task id is SendTaskID(s). s is not modified; the payload holds a
// normalized copy.
func NewSendTask(s *Send, opts ...Option) (*asynq.Task, error) {
	j, err := prepareSend(s, opts)
	return j.task, err
}

// NewDeadLetterTask builds the task that carries a dead letter into asynq's
// archive: a TypeSend task with the message's payload, which the worker
// archives at once because the send record says the message is dead, and
// which an operator can run again from there. Its id is
// DeadLetterTaskID(s); its expiry is not checked, a dead letter being
// mostly about a message whose time has passed.
func NewDeadLetterTask(s *Send, opts ...Option) (*asynq.Task, error) {
	j, err := prepare(s, opts, DeadLetterTaskID, false)
	return j.task, err
}

// NewConsentTask builds an opt-in (typ TypeOptIn) or opt-out (TypeOptOut)
// task, in QueueDefault unless Queue says otherwise. See ConsentTaskID for
// its id.
func NewConsentTask(typ string, c *Consent, opts ...Option) (*asynq.Task, error) {
	j, err := prepareConsent(typ, c, opts)
	return j.task, err
}

// job is a task ready to go, with what a Result reports about it.
type job struct {
	item   Item
	task   *asynq.Task
	taskID string
	msgID  string
	queue  string
}

func prepareSend(s *Send, opts []Option) (job, error) {
	return prepare(s, opts, SendTaskID, s != nil && s.Generation == 0)
}

func prepare(s *Send, opts []Option, taskID func(*Send) string, checkExpiry bool) (job, error) {
	if s == nil {
		return job{}, invalid("", "no message")
	}
	o, err := buildOptions(QueueDefault, opts)
	if err != nil {
		return job{}, err
	}
	b, err := EncodeSend(s)
	if err != nil {
		return job{}, err
	}
	due, scheduled := o.due()
	if checkExpiry && s.ExpiresAt != nil && !s.ExpiresAt.After(due) {
		return job{}, invalid("expires_at", "%s is not after the time the message is due (%s)",
			s.ExpiresAt.UTC().Format(time.RFC3339), due.UTC().Format(time.RFC3339))
	}
	id := taskID(s)
	t := asynq.NewTask(TypeSend, b, o.asynqOptions(id, due, scheduled)...)
	return job{task: t, taskID: id, msgID: s.MessageID, queue: o.queue}, nil
}

func prepareConsent(typ string, c *Consent, opts []Option) (job, error) {
	if typ != TypeOptIn && typ != TypeOptOut {
		return job{}, fmt.Errorf("tasks: %q is not a consent task type", typ)
	}
	if c == nil {
		return job{}, invalid("", "no consent")
	}
	o, err := buildOptions(QueueDefault, opts)
	if err != nil {
		return job{}, err
	}
	b, err := EncodeConsent(c)
	if err != nil {
		return job{}, err
	}
	n := *c
	n.Normalize()
	id := ConsentTaskID(typ, &n, o.now())
	due, scheduled := o.due()
	t := asynq.NewTask(typ, b, o.asynqOptions(id, due, scheduled)...)
	return job{task: t, taskID: id, queue: o.queue}, nil
}

func (o options) asynqOptions(id string, due time.Time, scheduled bool) []asynq.Option {
	opts := []asynq.Option{
		asynq.TaskID(id),
		asynq.Queue(o.queue),
		asynq.MaxRetry(retry.AsynqMaxRetry),
		asynq.Timeout(o.timeout),
	}
	if scheduled {
		opts = append(opts, asynq.ProcessAt(due))
	}
	return opts
}
