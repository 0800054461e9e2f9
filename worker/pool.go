package worker

import (
	"context"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"
)

// handlerPool runs tasks on goroutines that live as long as the server.
//
// asynq starts a fresh goroutine for every task, and the send path's call
// depth (JSON decoding, go-redis, net/http) makes each one grow its stack
// several times over, copying it every time: about a tenth of the worker's
// CPU went to that (BENCHMARKS.md, "Send path"). A goroutine that handles
// task after task keeps the stack it grew.
//
// It never makes a task wait: asynq runs at most its Concurrency handlers
// at once, but a handler it gave up on (a deadline, a lost lease) may still
// be running, and a task that finds every pooled goroutine busy runs on a
// goroutine of its own, as it would without the pool.
type handlerPool struct {
	next asynq.Handler
	jobs chan *poolJob
	quit chan struct{}
	stop sync.Once
}

type poolJob struct {
	ctx  context.Context
	task *asynq.Task
	done chan error
}

var poolJobs = sync.Pool{New: func() any { return &poolJob{done: make(chan error, 1)} }}

// newHandlerPool starts n goroutines that run next; close stops them.
func newHandlerPool(next asynq.Handler, n int) *handlerPool {
	p := &handlerPool{next: next, jobs: make(chan *poolJob), quit: make(chan struct{})}
	for range max(n, 1) {
		go func() {
			for {
				select {
				case j := <-p.jobs:
					p.run(j)
				case <-p.quit:
					return
				}
			}
		}()
	}
	return p
}

// ProcessTask implements asynq.Handler.
func (p *handlerPool) ProcessTask(ctx context.Context, t *asynq.Task) error {
	j := poolJobs.Get().(*poolJob)
	j.ctx, j.task = ctx, t
	select {
	case p.jobs <- j:
	default:
		go p.run(j)
	}
	err := <-j.done
	j.ctx, j.task = nil, nil
	poolJobs.Put(j)
	return err
}

// run hands a panic back as the task's error, as asynq does for a handler
// it runs itself: one task never takes the worker down.
func (p *handlerPool) run(j *poolJob) {
	defer func() {
		if r := recover(); r != nil {
			j.done <- fmt.Errorf("panic: %v", r)
		}
	}()
	j.done <- p.next.ProcessTask(j.ctx, j.task)
}

// close stops the pooled goroutines once they finish what they run; a task
// that still arrives runs on a goroutine of its own.
func (p *handlerPool) close() { p.stop.Do(func() { close(p.quit) }) }
