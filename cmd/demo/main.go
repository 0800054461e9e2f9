// Command demo runs the main job of waqueue on one machine with nothing but
// Go: an embedded Redis-compatible store (or REDIS_URL), the Gupshup
// simulator with injected failures, a worker and the producer. It sends a
// sample campaign and prints an account of what happened to every message.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// source is the demo's business number.
const source = "917834811114"

type options struct {
	messages int
	rate     float64
	timeout  time.Duration
	verbose  bool
	logFile  string
	redisURL string
	outage   time.Duration
	progress time.Duration
}

func main() {
	o := options{redisURL: os.Getenv("REDIS_URL"), outage: 2 * time.Second, progress: 3 * time.Second}
	flag.IntVar(&o.messages, "messages", 3000, "messages in the sample campaign (at most 99999)")
	flag.Float64Var(&o.rate, "rate", 300, "SEND_RATE: sends per second of the business number")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "give up when the campaign is not final by then")
	flag.BoolVar(&o.verbose, "verbose", false, "show the worker's log on stderr")
	flag.StringVar(&o.logFile, "log-file", "", "also write the worker's log, as JSON lines, to this file")
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), `usage: demo [flags]

Sends a sample campaign through an in-process worker and the Gupshup
simulator, and prints what became of every message. REDIS_URL, when set, is
used instead of the embedded store: it must serve no other worker, and only
this run's keys are written.

`)
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

// demo is one run: the campaign and what it runs on.
type demo struct {
	o        options
	rdb      redis.UniversalClient
	store    *store.Store
	sim      *gupshuptest.Server
	campaign string
	msgs     []message
	stderr   io.Writer
}

// run is the whole demo; the error says why the campaign did not come out
// as expected.
func run(ctx context.Context, o options, stdout, stderr io.Writer) error {
	if o.messages < 1 || o.messages > 99999 {
		return fmt.Errorf("--messages must be between 1 and 99999, got %d", o.messages)
	}
	if o.rate <= 0 {
		return fmt.Errorf("--rate must be above 0, got %v", o.rate)
	}
	d := &demo{o: o, stderr: stderr}

	redisURL, redisName := o.redisURL, "REDIS_URL"
	if redisURL == "" {
		mr := miniredis.NewMiniRedis()
		if err := mr.Start(); err != nil {
			return fmt.Errorf("embedded Redis: %w", err)
		}
		defer mr.Close()
		cctx, stopClock := context.WithCancel(ctx)
		defer stopClock()
		go expireKeys(cctx, mr)
		redisURL, redisName = "redis://"+mr.Addr(), "embedded (miniredis)"
	}
	redisOpt, err := redisconn.Parse(redisURL)
	if err != nil {
		return err
	}
	d.rdb = redisconn.Client(redisOpt)
	defer d.rdb.Close()
	if err := d.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if err := unshared(d.rdb); err != nil {
		return err
	}
	d.store = store.New(d.rdb)

	runNo := 10000 + mrand.IntN(90000)
	d.campaign = fmt.Sprintf("demo-%s-%05d", time.Now().UTC().Format("20060102-150405"), runNo)
	token := rand.Text()
	httpAddr, err := freeAddr()
	if err != nil {
		return err
	}
	d.sim, err = gupshuptest.New("127.0.0.1:0",
		gupshuptest.WithCallbackURL("http://"+httpAddr+"/webhooks/gupshup/"+token),
		gupshuptest.WithCallbackDelays(50*time.Millisecond, 150*time.Millisecond, 400*time.Millisecond, time.Second),
		gupshuptest.WithLatency(20*time.Millisecond),
		gupshuptest.WithFaults(faults...),
		// A little above SEND_RATE: a worker that keeps its rate is never
		// told off, one that does not gets 429s.
		gupshuptest.WithRateLimit(o.rate*1.1),
		gupshuptest.WithSessionWindow(),
	)
	if err != nil {
		return fmt.Errorf("simulator: %w", err)
	}
	defer d.sim.Close()

	sc := d.sim.Config()
	cfg := worker.Config{
		RedisURL: redisURL, APIKey: sc.APIKey, AppName: sc.AppName, Source: source, BaseURL: d.sim.URL,
		Timeout: 5 * time.Second, SendRate: o.rate, SendBurst: 1, Concurrency: 50,
		HTTPAddr: httpAddr, WebhookToken: token,
		// Short enough for the breaker to probe and close again within the
		// demo's outage of a couple of seconds.
		BreakerOpen: time.Second, BreakerFailures: 5, ShutdownTimeout: 5 * time.Second,
		// A day, not eight: on a REDIS_URL the demo's records go away soon.
		Ambiguous: "resend", RecordTTL: 24 * time.Hour, MaxAttempts: 12,
		// Resends after about a second instead of ten keep the demo short.
		RetryBase: time.Second,
		LogFormat: "json", LogLevel: "info",
	}
	logs, closeLogs, err := workerLog(o, stderr)
	if err != nil {
		return err
	}
	defer closeLogs()
	wctx, stopWorker := context.WithCancel(context.Background())
	var workerErr error
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		workerErr = worker.Run(wctx, cfg, logging.New(logs, "json", cfg.LogLevel))
	}()
	defer func() {
		stopWorker()
		<-workerDone
		if workerErr != nil {
			fmt.Fprintln(stderr, "demo: worker:", workerErr)
		}
	}()
	if err := waitReady(ctx, httpAddr, workerDone); err != nil {
		return err
	}

	d.msgs = campaign(d.campaign, runNo, o.messages, source)
	for _, m := range d.msgs {
		if m.expect.writesFirst {
			d.sim.Inbound(m.send.Destination, "Asha", "Where is my order?")
		}
	}
	fmt.Fprintf(stderr, "demo: campaign %s: %d messages at %g/s, Redis %s, Gupshup simulator %s\n",
		d.campaign, o.messages, o.rate, redisName, d.sim.URL)

	start := time.Now()
	octx, stopOutage := context.WithCancel(ctx)
	defer stopOutage()
	go d.outageHalfway(octx)
	if err := d.enqueue(ctx); err != nil {
		return err
	}
	final, err := d.wait(ctx, start)
	if err != nil {
		return err
	}
	took := time.Since(start)
	a, err := d.collect(ctx)
	if err != nil {
		return err
	}
	a.rate, a.burst, a.redis, a.took, a.outage = o.rate, cfg.SendBurst, redisName, took, o.outage
	a.breakerOpened = logs.opened.Load()
	a.print(stdout)
	if !final {
		return fmt.Errorf("the campaign was not final within %s: %d messages still open", o.timeout, a.open)
	}
	if p := a.problems(); len(p) > 0 {
		return fmt.Errorf("the campaign did not come out as expected:\n  %s", strings.Join(p, "\n  "))
	}
	return nil
}

// unshared refuses a Redis that serves other asynq workers or holds tasks
// waiting for them. asynq v0.26 has no key prefix, so the demo's worker
// would take their tasks and send them to the simulator, and theirs would
// send the demo's messages to Gupshup.
func unshared(rdb redis.UniversalClient) error {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	servers, err := insp.Servers()
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	if len(servers) > 0 {
		return fmt.Errorf("REDIS_URL serves other asynq workers (%d, the first on host %s): give the demo a Redis, or a database (redis://host:6379/15), of its own", len(servers), servers[0].Host)
	}
	queues, err := insp.Queues()
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	for _, q := range queues {
		if _, ours := tasks.Queues()[q]; !ours {
			continue
		}
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			return fmt.Errorf("redis: queue %s: %w", q, err)
		}
		if n := info.Pending + info.Active + info.Scheduled + info.Retry; n > 0 {
			return fmt.Errorf("REDIS_URL has %d tasks waiting in queue %s that the demo's worker would take: give the demo a Redis, or a database (redis://host:6379/15), of its own", n, q)
		}
	}
	return nil
}

// enqueue puts the campaign on the bulk queue the way a producer service
// would.
func (d *demo) enqueue(ctx context.Context) error {
	p := tasks.NewProducer(d.rdb)
	in := make(chan tasks.Item)
	go func() {
		defer close(in)
		for _, m := range d.msgs {
			in <- tasks.Item{Send: m.send, Opts: []tasks.Option{tasks.Queue(tasks.QueueBulk)}}
		}
	}()
	var errs []error
	p.EnqueueAll(ctx, in, 8, func(it tasks.Item, r tasks.Result, err error) {
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("enqueue %s: %w", it.Send.MessageID, err))
		case r.Outcome != tasks.Enqueued:
			errs = append(errs, fmt.Errorf("enqueue %s: %s", it.Send.MessageID, r.Outcome))
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("%d of %d messages not enqueued, first: %w", len(errs), len(d.msgs), errs[0])
	}
	return nil
}

// wait polls the send records until every message is final, every
// callback the simulator owes has arrived and every dead letter is in
// asynq's archive, printing progress. It reports false when the timeout
// passed first.
func (d *demo) wait(ctx context.Context, start time.Time) (bool, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	lastProgress := start
	states := make([]store.State, len(d.msgs))
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-tick.C:
		}
		counts := map[store.State]int{}
		for i, m := range d.msgs {
			// A record that is read, dead or expired changes no more (short
			// of an operator's rerun): only the others are read again.
			switch states[i] {
			case store.StateRead, store.StateDead, store.StateExpired:
			default:
				rec, _, err := d.store.Get(ctx, m.send.MessageID)
				if err != nil {
					return false, err
				}
				states[i] = rec.State
			}
			counts[states[i]]++
		}
		delivered, dead := counts[store.StateDelivered]+counts[store.StateRead], counts[store.StateDead]
		open := len(d.msgs) - delivered - dead - counts[store.StateExpired]
		pending := d.sim.CallbacksPending()
		now := time.Now()
		if now.Sub(lastProgress) >= d.o.progress {
			lastProgress = now
			fmt.Fprintf(d.stderr, "demo: %5.1fs  accepted by Gupshup %d · delivered %d · read %d · dead %d · still open %d · callbacks in flight %d\n",
				now.Sub(start).Seconds(), len(d.sim.Sends()), delivered, counts[store.StateRead], dead, open, pending)
		}
		if open == 0 && pending == 0 {
			// A dead letter from a callback reaches asynq's archive through
			// one more task; the campaign is done when that is there too.
			n, err := archived(d.rdb, d.campaign)
			if err != nil {
				return false, err
			}
			if n >= dead {
				return true, nil
			}
		}
		if now.Sub(start) > d.o.timeout {
			return false, nil
		}
	}
}

// outageHalfway takes the simulated Gupshup down once half the campaign
// has been accepted: a breaker has the most to protect mid-campaign.
func (d *demo) outageHalfway(ctx context.Context) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for len(d.sim.Sends()) < d.o.messages/2 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
	d.sim.StartOutage("5xx", d.o.outage)
}

// expireKeys lets the embedded store's TTLs run out on the wall clock, as
// in Redis. miniredis can do that itself (ClockTTL), but then sorts every
// key on every command, which a campaign of a few thousand messages does
// not survive.
func expireKeys(ctx context.Context, mr *miniredis.Miniredis) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			mr.FastForward(now.Sub(last))
			last = now
		}
	}
}

// workerLog is where the worker's JSON log goes: nowhere, a file, the
// console, through a tap that counts the breaker openings for the account.
func workerLog(o options, stderr io.Writer) (*logTap, func(), error) {
	var outs []io.Writer
	closeFn := func() {}
	if o.verbose {
		outs = append(outs, zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly})
	}
	if o.logFile != "" {
		f, err := os.Create(o.logFile)
		if err != nil {
			return nil, nil, err
		}
		outs = append(outs, f)
		closeFn = func() { f.Close() }
	}
	return &logTap{out: zerolog.MultiLevelWriter(outs...)}, closeFn, nil
}

// logTap counts the breaker openings in the worker's JSON log lines (one
// line per Write) and passes the lines on.
type logTap struct {
	mu     sync.Mutex
	out    io.Writer
	opened atomic.Int64
}

func (t *logTap) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"circuit breaker changed state"`)) && bytes.Contains(p, []byte(`"to":"open"`)) {
		t.opened.Add(1)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.out.Write(p)
	return len(p), nil
}

func waitReady(ctx context.Context, addr string, workerDone <-chan struct{}) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-workerDone:
			return errors.New("the worker stopped at start")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("worker not ready within 15 s")
		}
	}
}

// freeAddr picks a loopback port for the worker's HTTP server: the
// simulator must know the callback URL before the worker starts.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
