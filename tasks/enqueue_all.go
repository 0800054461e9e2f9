package tasks

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// Item is one send for EnqueueAll.
type Item struct {
	Send *Send
	Opts []Option
	// Ref is the caller's own reference (a line number, a row), handed back
	// to onResult untouched.
	Ref any
}

// Batching: up to batchSize items share one pipelined round trip for the
// duplicate check and one script call per queue for the enqueue (see
// batch.go), and a worker waits at most batchLinger for a batch to fill, so
// a slow source costs a little latency, never a stall.
const (
	batchSize   = 256
	batchLinger = 2 * time.Millisecond
)

// EnqueueAll enqueues every item received from in until in is closed, with
// workers goroutines (the Redis pool must have at least workers
// connections, see OpenProducer).
//
// Each worker takes a batch of items, checks them for send records and
// existing tasks in one pipelined round trip, then enqueues the rest of each
// queue in one script call that writes what asynq's own enqueue writes
// (batch.go); a task the script cannot write (a scheduled one) is enqueued
// through asynq's client on its own. onResult is called exactly once per
// item, with the same arguments Enqueue would return; calls are serialized,
// so onResult needs no locking, but it should be quick since the workers
// wait for it.
//
// A Redis error that may pass by itself (a lost connection, a restarting
// server still loading its data, a failover) is retried with backoff for up
// to half a minute before the items are reported with it, so that a
// campaign survives a Redis restart. An enqueue retried after such an error
// may find the task its first try had already added: it is reported as
// Enqueued, without Info.
//
// When ctx is done the remaining items are reported with ctx.Err() without
// touching Redis; the caller must still close in. EnqueueAll returns once
// every item received has been reported.
func (p *Producer) EnqueueAll(ctx context.Context, in <-chan Item, workers int, onResult func(Item, Result, error)) {
	if workers < 1 {
		workers = 1
	}
	var mu sync.Mutex
	report := func(it Item, r Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		onResult(it, r, err)
	}
	client := p.bulkClient()
	var collecting sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { p.enqueueWorker(ctx, client, in, &collecting, report) })
	}
	wg.Wait()
}

func (p *Producer) enqueueWorker(ctx context.Context, client *asynq.Client, in <-chan Item, collecting *sync.Mutex, report func(Item, Result, error)) {
	items := make([]Item, 0, batchSize)
	jobs := make([]job, 0, batchSize)
	msgs := make([]asynqMessage, 0, batchSize)
	ok := make([]bool, 0, batchSize)
	// The jobs bound for the batch script, and their messages, by queue.
	byQueue := make(map[string][]*job, len(queueNames))
	msgsOf := make(map[string][]asynqMessage, len(queueNames))
	var register []string
	var call batchCall
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		// One worker collects at a time, so that a batch fills up
		// instead of the items being dealt out to every idle worker.
		collecting.Lock()
		items = collect(in, items[:0], timer)
		collecting.Unlock()
		if len(items) == 0 {
			return
		}
		jobs, msgs, ok, register = jobs[:0], msgs[:0], ok[:0], register[:0]
		for _, it := range items {
			if err := ctx.Err(); err != nil {
				report(it, Result{}, err)
				continue
			}
			j, err := prepareProduced(it.Send, it.Opts)
			if err != nil {
				report(it, Result{}, err)
				continue
			}
			j.item = it
			m, batch := batchMessage(&j, it.Opts)
			if batch && !slices.Contains(register, j.queue) {
				register = append(register, j.queue)
			}
			jobs, msgs, ok = append(jobs, j), append(msgs, m), append(ok, batch)
		}
		if len(jobs) == 0 {
			continue
		}
		var found []Result
		err := retryTransient(ctx, func() (err error) {
			found, err = p.lookup(ctx, jobs, ok, register...)
			return err
		})
		for q := range byQueue {
			byQueue[q], msgsOf[q] = byQueue[q][:0], msgsOf[q][:0]
		}
		for i := range jobs {
			j := &jobs[i]
			switch {
			case err != nil:
				report(j.item, Result{TaskID: j.taskID}, err)
			case found[i].Outcome != 0:
				report(j.item, found[i], nil)
			case ctx.Err() != nil:
				report(j.item, Result{TaskID: j.taskID}, ctx.Err())
			case ok[i]:
				byQueue[j.queue] = append(byQueue[j.queue], j)
				msgsOf[j.queue] = append(msgsOf[j.queue], msgs[i])
			default:
				p.enqueueOne(ctx, client, *j, report)
			}
		}
		for _, q := range queueNames {
			if b := byQueue[q]; len(b) > 0 {
				p.enqueueBatch(ctx, &call, q, b, msgsOf[q], report)
			}
		}
	}
}

// enqueueOne enqueues j through asynq's client, for a task the batch script
// cannot write (see composeMessage).
func (p *Producer) enqueueOne(ctx context.Context, client *asynq.Client, j job, report func(Item, Result, error)) {
	var r Result
	tries := 0
	err := retryTransient(ctx, func() (err error) {
		tries++
		r, err = p.enqueueWith(ctx, client, j)
		return err
	})
	if err == nil && tries > 1 && r.Outcome == DuplicateTask {
		// The try that failed on the way back had added it.
		r = Result{Outcome: Enqueued, TaskID: j.taskID, Queue: j.queue}
	}
	report(j.item, r, err)
}

// How EnqueueAll rides out a passing Redis failure: a restart takes a
// second or so, a Sentinel failover up to about half a minute.
const (
	transientRetryFor = 30 * time.Second
	transientBackoff  = 50 * time.Millisecond
	transientMaxWait  = 2 * time.Second
)

// retryTransient runs fn until it succeeds, fails for a reason that will
// not pass (see transient), ctx ends, or transientRetryFor has gone by
// since the first failure.
func retryTransient(ctx context.Context, fn func() error) error {
	var first time.Time
	wait := transientBackoff
	for {
		err := fn()
		if err == nil || !transient(err) {
			return err
		}
		if first.IsZero() {
			first = time.Now()
		} else if time.Since(first) >= transientRetryFor {
			return err
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, transientMaxWait)
	}
}

// transient reports whether a failure to talk to Redis may pass by itself.
// A bad payload, an ended context, and refused credentials or permissions
// will not.
func transient(err error) bool {
	if err == nil || IsValidation(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	msg := err.Error()
	for _, permanent := range []string{"NOAUTH", "WRONGPASS", "NOPERM", "WRONGTYPE", "unknown command"} {
		if strings.Contains(msg, permanent) {
			return false
		}
	}
	return true
}

// collect waits for one item, then takes what arrives within batchLinger,
// up to batchSize. It returns an empty batch once in is closed and drained.
func collect(in <-chan Item, batch []Item, timer *time.Timer) []Item {
	it, ok := <-in
	if !ok {
		return batch
	}
	batch = append(batch, it)
	timer.Reset(batchLinger)
	defer timer.Stop()
	for len(batch) < batchSize {
		select {
		case it, ok := <-in:
			if !ok {
				return batch
			}
			batch = append(batch, it)
		case <-timer.C:
			return batch
		}
	}
	return batch
}
