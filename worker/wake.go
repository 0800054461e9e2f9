package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// Send tasks that wait in asynq's scheduled and retry sets come back only
// when their time is due: a resend after a failed callback, a backoff
// after a failure, a campaign scheduled with --at, and the hand-backs of a
// paused campaign or a held account, which wait up to holdBackMax. When
// the reason for the wait is gone (the campaign resumed or cancelled, the
// account released) they are woken: run now, through the same handler,
// which sends them or drops them as the campaign's state says.
//
// asynq can only page through a set by position, and workers add and
// remove tasks while it is read, so a page may skip a task the set moved
// past; and a worker trusts a campaign's state or the list of holds for up
// to a second, so a task woken right after a change can meet a worker that
// still sees the old state and be handed back again. Both are covered the
// same way: Wake looks again once the workers' caches have expired
// (wakeSettle), and wakes what it finds then.

// wakeSettle is how long Wake waits before its second look: just over how
// long a worker trusts a campaign state or the list of holds (see
// Campaigns.ttl).
var wakeSettle = 1250 * time.Millisecond

// wakePageSize is the tasks read per page of a set.
const wakePageSize = 1000

// wakeWorkers is how many tasks are run at once: each is a round trip.
const wakeWorkers = 8

// WaitingTask is a send task due later: in a scheduled or retry set.
type WaitingTask struct {
	Queue    string
	ID       string
	State    asynq.TaskState // asynq.TaskStateScheduled or asynq.TaskStateRetry
	Due      time.Time
	Campaign string
	LastErr  string
}

// sendQueues are the queues a send task may be in.
var sendQueues = []string{tasks.QueueCritical, tasks.QueueDefault, tasks.QueueBulk}

// EachWaiting calls fn with every send task in the scheduled and retry
// sets of the send queues, page by page, until fn returns false. A queue
// nobody has used yet is skipped.
func EachWaiting(ctx context.Context, ins *asynq.Inspector, fn func(WaitingTask) bool) error {
	for _, q := range sendQueues {
		for _, state := range []asynq.TaskState{asynq.TaskStateScheduled, asynq.TaskStateRetry} {
			for page := 1; ; page++ {
				if err := ctx.Err(); err != nil {
					return err
				}
				var list []*asynq.TaskInfo
				var err error
				if state == asynq.TaskStateScheduled {
					list, err = ins.ListScheduledTasks(q, asynq.PageSize(wakePageSize), asynq.Page(page))
				} else {
					list, err = ins.ListRetryTasks(q, asynq.PageSize(wakePageSize), asynq.Page(page))
				}
				if errors.Is(err, asynq.ErrQueueNotFound) {
					break
				}
				if err != nil {
					return fmt.Errorf("list the %s tasks of queue %s: %w", state, q, err)
				}
				for _, t := range list {
					if t.Type != tasks.TypeSend {
						continue
					}
					w := WaitingTask{Queue: q, ID: t.ID, State: state, Due: t.NextProcessAt, Campaign: campaignOf(t.Payload), LastErr: t.LastErr}
					if !fn(w) {
						return nil
					}
				}
				if len(list) < wakePageSize {
					break
				}
			}
		}
	}
	return nil
}

// campaignOf reads the campaign of a send payload without decoding the
// rest of it.
func campaignOf(payload []byte) string {
	var p struct {
		CampaignID string `json:"campaign_id"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	return p.CampaignID
}

// Waiting sums up a campaign's send tasks due later.
type Waiting struct {
	// Retry counts the tasks in the retry sets: a backoff after a failure,
	// or handed back without an attempt (rate limit, pause, hold).
	Retry int64 `json:"retry"`
	// Scheduled counts the tasks in the scheduled sets: resends after a
	// failed callback, and sends enqueued for later.
	Scheduled int64 `json:"scheduled"`
	// LastDue is when the last of them is due; zero when there are none.
	LastDue time.Time `json:"last_due,omitzero"`
}

// Total is how many tasks wait.
func (w Waiting) Total() int64 { return w.Retry + w.Scheduled }

// CampaignWaiting counts the campaign's send tasks due later, for status.
func CampaignWaiting(ctx context.Context, ins *asynq.Inspector, campaign string) (Waiting, error) {
	var w Waiting
	err := EachWaiting(ctx, ins, func(t WaitingTask) bool {
		if t.Campaign != campaign {
			return true
		}
		if t.State == asynq.TaskStateRetry {
			w.Retry++
		} else {
			w.Scheduled++
		}
		if t.Due.After(w.LastDue) {
			w.LastDue = t.Due
		}
		return true
	})
	return w, err
}

// WakeCampaign runs now every send task of the campaign due later, for a
// cancel: the workers drop them at once instead of when each is due.
func WakeCampaign(ctx context.Context, ins *asynq.Inspector, campaign string) (int, error) {
	return Wake(ctx, ins, func(t WaitingTask) bool { return t.Campaign == campaign })
}

// WakePaused runs now the campaign's tasks a worker handed back because
// the campaign was paused, for a resume. Its other waiting tasks (a
// backoff after a failure, a resend) keep their time.
func WakePaused(ctx context.Context, ins *asynq.Inspector, campaign string) (int, error) {
	mark := store.HandBackPaused + ": " + campaign
	return Wake(ctx, ins, func(t WaitingTask) bool {
		return t.State == asynq.TaskStateRetry && t.Campaign == campaign && strings.Contains(t.LastErr, mark)
	})
}

// WakeHeld runs now the tasks a worker handed back because the account
// (family/app) was held, for a release.
func WakeHeld(ctx context.Context, ins *asynq.Inspector, account string) (int, error) {
	// The reason names the account, then the code in parentheses: the
	// space and parenthesis keep "selfserve/app" from matching
	// "selfserve/app2".
	mark := store.HandBackHeld + ": " + account + " ("
	return Wake(ctx, ins, func(t WaitingTask) bool {
		return t.State == asynq.TaskStateRetry && strings.Contains(t.LastErr, mark)
	})
}

// Wake runs now the waiting send tasks that match, then looks again after
// wakeSettle and runs what matches then (see the top of this file). It
// returns how many it ran; a task that left its set meanwhile (due, or
// woken by someone else) is not counted and is no error.
func Wake(ctx context.Context, ins *asynq.Inspector, match func(WaitingTask) bool) (int, error) {
	woken, err := wakeOnce(ctx, ins, match)
	if err != nil {
		return woken, err
	}
	t := time.NewTimer(wakeSettle)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return woken, ctx.Err()
	case <-t.C:
	}
	n, err := wakeOnce(ctx, ins, match)
	return woken + n, err
}

// wakeOnce lists the matching tasks first and runs them after: running a
// task takes it out of its set, which would shift the pages still to read.
func wakeOnce(ctx context.Context, ins *asynq.Inspector, match func(WaitingTask) bool) (int, error) {
	var found []WaitingTask
	err := EachWaiting(ctx, ins, func(t WaitingTask) bool {
		if match(t) {
			found = append(found, t)
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	var (
		mu    sync.Mutex
		woken int
		first error
		wg    sync.WaitGroup
	)
	todo := make(chan WaitingTask)
	for range min(wakeWorkers, len(found)) {
		wg.Go(func() {
			for t := range todo {
				ran, err := runWaiting(ins, t)
				mu.Lock()
				if ran {
					woken++
				}
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, t := range found {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		select {
		case todo <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(todo)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return woken, first
}

// runWaiting runs t if it still waits where it was listed. A task that
// came due meanwhile may have run and died since: run from the archive, it
// would be a dead letter sent again behind the operator's back. So the
// state is looked at first, and a task that moved on is left alone.
func runWaiting(ins *asynq.Inspector, t WaitingTask) (ran bool, err error) {
	moved := func() (bool, error) {
		info, err := ins.GetTaskInfo(t.Queue, t.ID)
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			return true, nil
		case err != nil:
			return false, fmt.Errorf("read task %s of queue %s: %w", t.ID, t.Queue, err)
		}
		return info.State != t.State, nil
	}
	if gone, err := moved(); gone || err != nil {
		return false, err
	}
	if err := ins.RunTask(t.Queue, t.ID); err != nil {
		// Due or woken by someone else in between: not an error.
		if gone, merr := moved(); gone && merr == nil {
			return false, nil
		}
		return false, fmt.Errorf("run task %s of queue %s: %w", t.ID, t.Queue, err)
	}
	return true, nil
}
