package tasks

import (
	"context"
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

// Batching of the duplicate check: up to batchSize items share one
// pipelined round trip, and a worker waits at most batchLinger for a batch to
// fill, so a slow source costs a little latency, never a stall.
const (
	batchSize   = 64
	batchLinger = 2 * time.Millisecond
)

// EnqueueAll enqueues every item received from in until in is closed, with
// workers goroutines sharing the Producer's asynq client (asynq v0.26 has no
// batch enqueue, so throughput comes from concurrency; the Redis pool must
// have at least workers connections, see OpenProducer).
//
// Each worker takes a batch of items, checks them for send records and
// existing tasks in one pipelined round trip, then enqueues the rest one by
// one. onResult is called exactly once per item, with the same arguments
// Enqueue would return; calls are serialized, so onResult needs no locking,
// but it should be quick since the workers wait for it.
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
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() { p.enqueueWorker(ctx, client, in, report) })
	}
	wg.Wait()
}

func (p *Producer) enqueueWorker(ctx context.Context, client *asynq.Client, in <-chan Item, report func(Item, Result, error)) {
	items := make([]Item, 0, batchSize)
	jobs := make([]job, 0, batchSize)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		items = collect(in, items[:0], timer)
		if len(items) == 0 {
			return
		}
		jobs = jobs[:0]
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
			jobs = append(jobs, j)
		}
		if len(jobs) == 0 {
			continue
		}
		found, err := p.lookup(ctx, jobs)
		for i, j := range jobs {
			switch {
			case err != nil:
				report(j.item, Result{TaskID: j.taskID}, err)
			case found[i].Outcome != 0:
				report(j.item, found[i], nil)
			case ctx.Err() != nil:
				report(j.item, Result{TaskID: j.taskID}, ctx.Err())
			default:
				r, err := p.enqueueWith(ctx, client, j)
				report(j.item, r, err)
			}
		}
	}
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
