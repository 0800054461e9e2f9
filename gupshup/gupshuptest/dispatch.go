package gupshuptest

import (
	"bytes"
	"container/heap"
	"context"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// target is one callback subscription: a URL and the format it wants.
type target struct {
	URL    string
	Format string // v2, v3 or enterprise
}

// delivery is one body to POST to one target at a time.
type delivery struct {
	at      time.Time
	target  target
	body    []byte
	attempt int
}

// dispatcher delivers callbacks the way Gupshup does: after a delay, again
// when the receiver does not answer 2xx, and, when asked, several times and
// out of order. One goroutine keeps a time-ordered heap, a small pool POSTs;
// a goroutine per event would not survive tens of thousands of sends a second.
type dispatcher struct {
	cfg    Config
	client *http.Client

	mu      sync.Mutex
	queue   deliveryHeap
	wake    chan struct{}
	subs    []target // added by the partner subscription API
	ready   chan delivery
	closed  chan struct{}
	ctx     context.Context // cancelled by close, so in-flight POSTs stop
	cancel  context.CancelFunc
	once    sync.Once
	wg      sync.WaitGroup
	pending atomic.Int64

	// Counters for tests: bodies delivered with a 2xx, and failed attempts.
	Delivered atomic.Int64
	Failed    atomic.Int64
}

func newDispatcher(cfg Config) *dispatcher {
	d := &dispatcher{
		cfg: cfg,
		client: &http.Client{
			Timeout: 10 * time.Second, // Gupshup gives a receiver 10 s
			Transport: &http.Transport{
				MaxIdleConnsPerHost: 256,
				IdleConnTimeout:     30 * time.Second,
			},
		},
		wake:   make(chan struct{}, 1),
		ready:  make(chan delivery, 1024),
		closed: make(chan struct{}),
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	workers := cfg.CallbackWorkers
	if workers <= 0 {
		workers = 32
	}
	d.wg.Add(1 + workers)
	go d.schedule()
	for i := 0; i < workers; i++ {
		go d.post()
	}
	return d
}

func (d *dispatcher) close() {
	d.once.Do(func() {
		close(d.closed)
		d.cancel()
	})
	d.wg.Wait()
}

// Pending is the number of deliveries not yet done (waiting or in flight).
func (d *dispatcher) Pending() int64 { return d.pending.Load() }

func (d *dispatcher) addSubscription(t target) {
	d.mu.Lock()
	d.subs = append(d.subs, t)
	d.mu.Unlock()
}

// removeSubscription undoes one addSubscription of t, for a subscription
// deleted or moved to another URL through the partner API.
func (d *dispatcher) removeSubscription(t target) {
	d.mu.Lock()
	for i, x := range d.subs {
		if x == t {
			d.subs = append(d.subs[:i:i], d.subs[i+1:]...)
			break
		}
	}
	d.mu.Unlock()
}

// targets lists where an event of a family goes. Enterprise accounts get
// enterprise DLRs; the others get v2, v3 or both, as configured.
func (d *dispatcher) targets(family string) []target {
	var out []target
	if d.cfg.CallbackURL != "" {
		switch {
		case family == "enterprise":
			out = append(out, target{d.cfg.CallbackURL, "enterprise"})
		case d.cfg.CallbackFormat == "both":
			out = append(out, target{d.cfg.CallbackURL, "v2"}, target{d.cfg.CallbackURL, "v3"})
		default:
			out = append(out, target{d.cfg.CallbackURL, d.cfg.CallbackFormat})
		}
	}
	if family != "enterprise" {
		d.mu.Lock()
		out = append(out, d.subs...)
		d.mu.Unlock()
	}
	return out
}

// enqueue schedules body for t at `at`, once per configured copy, each copy
// shifted by up to CallbackJitter so that copies and events interleave.
func (d *dispatcher) enqueue(t target, at time.Time, body []byte) {
	copies := d.cfg.CallbackCopies
	if copies < 1 {
		copies = 1
	}
	d.mu.Lock()
	for i := 0; i < copies; i++ {
		when := at
		if j := d.cfg.CallbackJitter.Duration; j > 0 {
			when = when.Add(time.Duration(rand.Int64N(int64(j))))
		}
		heap.Push(&d.queue, delivery{at: when, target: t, body: body})
		d.pending.Add(1)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) retry(x delivery) {
	attempts := d.cfg.CallbackAttempts
	if attempts < 1 {
		attempts = 1
	}
	if x.attempt+1 >= attempts {
		d.pending.Add(-1)
		return
	}
	x.attempt++
	x.at = time.Now().Add(d.cfg.CallbackRetry.Duration * time.Duration(x.attempt))
	d.mu.Lock()
	heap.Push(&d.queue, x)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) schedule() {
	defer d.wg.Done()
	defer close(d.ready)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		var next time.Duration = time.Hour
		now := time.Now()
		var due []delivery
		for d.queue.Len() > 0 {
			if wait := d.queue[0].at.Sub(now); wait > 0 {
				next = wait
				break
			}
			due = append(due, heap.Pop(&d.queue).(delivery))
		}
		d.mu.Unlock()
		for _, x := range due {
			select {
			case d.ready <- x:
			case <-d.closed:
				return
			}
		}
		if len(due) > 0 {
			continue
		}
		timer.Reset(next)
		select {
		case <-timer.C:
		case <-d.wake:
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
		case <-d.closed:
			return
		}
	}
}

func (d *dispatcher) post() {
	defer d.wg.Done()
	for x := range d.ready {
		ok := d.send(d.ctx, x)
		if ok {
			d.Delivered.Add(1)
			d.pending.Add(-1)
			continue
		}
		d.Failed.Add(1)
		select {
		case <-d.closed:
			d.pending.Add(-1)
		default:
			d.retry(x)
		}
	}
}

func (d *dispatcher) send(ctx context.Context, x delivery) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, x.target.URL, bytes.NewReader(x.body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

type deliveryHeap []delivery

func (h deliveryHeap) Len() int           { return len(h) }
func (h deliveryHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h deliveryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)        { *h = append(*h, x.(delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// CallbacksPending is how many callback deliveries are waiting or in flight;
// tests wait for it to reach zero before they read the receiver's state.
func (s *Server) CallbacksPending() int64 { return s.cb.Pending() }

// CallbacksDelivered counts deliveries answered 2xx.
func (s *Server) CallbacksDelivered() int64 { return s.cb.Delivered.Load() }

// WaitCallbacks waits until no callback is pending or ctx ends.
func (s *Server) WaitCallbacks(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for s.cb.Pending() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
