// Package coalesce runs the calls that arrive while one is in flight as
// one: a group commit, for the Redis calls of a worker's handlers.
//
// On the machines this project runs on, a Redis round trip costs more in
// system calls on both sides than in the work it carries, and a worker's
// handlers make the same few calls side by side. A Queue lets the first
// caller go at once; the callers that arrive while its call is in flight
// wait, and the next call serves all of them. A caller alone pays nothing
// more than before, and under load the batches grow by themselves, with
// no timer and no goroutine of its own: one of the callers makes each
// call.
package coalesce

import "sync"

// Queue batches items of type T for a run function. The zero value is not
// usable: make one with New.
type Queue[T any] struct {
	max int
	run func([]T)

	mu      sync.Mutex
	busy    bool
	waiting []*entry[T]
}

type entry[T any] struct {
	item T
	lead bool          // set before wake: this caller makes the next run
	wake chan struct{} // the run holding the item is done, or this caller leads
}

// New returns a Queue that hands run at most limit items at a time (at
// least 1). run is called by one caller at a time, on its goroutine, with
// items in the order they came; it must finish the work of every item
// (set its result) before it returns, and must not block for long, since
// later callers wait for it.
func New[T any](limit int, run func(items []T)) *Queue[T] {
	return &Queue[T]{max: max(limit, 1), run: run}
}

// Do returns once item has been through a run. The caller that finds no
// run in flight makes it; the others wait for it, and the first of those
// makes the next, so no caller makes more than one run and none waits
// for more than the one in flight and its own.
func (q *Queue[T]) Do(item T) {
	e := &entry[T]{item: item, wake: make(chan struct{}, 1)}
	q.mu.Lock()
	q.waiting = append(q.waiting, e)
	first := !q.busy
	q.busy, e.lead = true, first
	q.mu.Unlock()
	if !first {
		// Once woken, lead is what the waker set before waking us.
		<-e.wake
		if !e.lead {
			return
		}
	}
	q.lead(e)
}

// lead runs the items waiting, self's among them, and passes the lead on.
func (q *Queue[T]) lead(self *entry[T]) {
	q.mu.Lock()
	n := min(len(q.waiting), q.max)
	batch := q.waiting[:n:n]
	q.waiting = q.waiting[n:]
	q.mu.Unlock()

	items := make([]T, len(batch))
	for i, e := range batch {
		items[i] = e.item
	}
	defer func() {
		// Even if run panics: the others must not wait for ever.
		q.mu.Lock()
		var next *entry[T]
		if len(q.waiting) > 0 {
			next = q.waiting[0]
			next.lead = true
		} else {
			q.busy = false
		}
		q.mu.Unlock()
		for _, e := range batch {
			if e != self {
				e.wake <- struct{}{}
			}
		}
		if next != nil {
			next.wake <- struct{}{}
		}
	}()
	q.run(items)
}
