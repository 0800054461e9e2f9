//go:build chaos

package worker_test

// The harness of the chaos scenarios (make chaos): a front for the
// simulator that adds latency and logs every request, a load balancer for
// callbacks across worker processes, worker and enqueuer processes with
// settings the shared harness does not pass, pipelined reads of thousands
// of send records, and the result that goes into RELIABILITY.md.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/chaos"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

const chaosTemplate = "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b"

// ---- results ----

// scenario is one chaos test's result, saved when the test ends.
type scenario struct {
	*chaos.Result
	t     *testing.T
	start time.Time
}

func newScenario(t *testing.T, id, title, promise string) *scenario {
	s := &scenario{Result: &chaos.Result{ID: id, Title: title, Promise: promise}, t: t, start: time.Now()}
	// Registered first, so it runs last: after the processes are gone.
	t.Cleanup(func() {
		if s.Seconds == 0 {
			s.Seconds = time.Since(s.start).Seconds()
		}
		s.Passed = !t.Failed() && !t.Skipped()
		s.Skipped = t.Skipped()
		for _, f := range s.Figures {
			t.Logf("%-70s %12s   %s", f.Name, f.Value, f.Check)
		}
		if path := os.Getenv(chaos.EnvResults); path != "" {
			if err := chaos.Save(path, *s.Result); err != nil {
				t.Errorf("save result: %v", err)
			}
		}
	})
	return s
}

// done fixes the scenario's duration before the checks and cleanups.
func (s *scenario) done() { s.Seconds = time.Since(s.start).Seconds() }

// ---- the simulator's front ----

// frontRequest is one API request as the front saw it.
type frontRequest struct {
	At     time.Time // when it was handed to the simulator, after the latency
	Path   string
	Status int // 0: the client gave up before any answer (a hung request)
	Took   time.Duration
}

// simFront stands between the workers and the simulator: it adds a random
// latency to every API call, so that sends are in flight when something
// breaks, and logs every request with its answer, including those the
// client gave up on while the simulator held them (the simulator records
// only what it answered).
type simFront struct {
	URL      string
	srv      *httptest.Server
	sim      atomic.Pointer[gupshuptest.Server]
	min, max time.Duration

	inflight atomic.Int64
	accepted atomic.Int64 // answered 2xx

	mu   sync.Mutex
	reqs []frontRequest
}

func newSimFront(t *testing.T, minLatency, maxLatency time.Duration) *simFront {
	f := &simFront{min: minLatency, max: maxLatency}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	f.URL = f.srv.URL
	t.Cleanup(f.srv.Close)
	return f
}

func (f *simFront) serve(w http.ResponseWriter, r *http.Request) {
	f.inflight.Add(1)
	defer f.inflight.Add(-1)
	// With the body read, the server watches the connection and cancels
	// r.Context() when the client gives up, which the simulator's hang
	// honours; unread, a request abandoned by its client would be held
	// (and counted as answered) until the outage ends.
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if d := f.min + time.Duration(rand.Int64N(int64(f.max-f.min)+1)); d > 0 {
		select {
		case <-time.After(d):
		case <-r.Context().Done():
			return
		}
	}
	sim := f.sim.Load()
	if sim == nil {
		http.Error(w, "no simulator", http.StatusServiceUnavailable)
		return
	}
	at := time.Now()
	rec := &statusWriter{ResponseWriter: w}
	sim.ServeHTTP(rec, r)
	if rec.status >= 200 && rec.status < 300 {
		f.accepted.Add(1)
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, frontRequest{At: at, Path: r.URL.Path, Status: rec.status, Took: time.Since(at)})
	f.mu.Unlock()
}

// requests returns the requests handed to the simulator in [from, until).
func (f *simFront) requests(from, until time.Time) []frontRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []frontRequest
	for _, r := range f.reqs {
		if !r.At.Before(from) && r.At.Before(until) {
			out = append(out, r)
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// ---- callbacks across a fleet ----

// balancer is the load balancer in front of the workers' callback
// endpoints: Gupshup calls one URL, whichever replicas are up answer it.
// A replica that does not answer is skipped for the next one.
type balancer struct {
	URL    string
	srv    *httptest.Server
	client *http.Client

	mu       sync.Mutex
	backends []string
	next     int

	served    atomic.Int64 // callbacks forwarded and answered
	failovers atomic.Int64 // a backend did not answer; the next one was tried
	refused   atomic.Int64 // no backend answered: the caller got 502
}

func newBalancer(t *testing.T) *balancer {
	b := &balancer{client: &http.Client{Timeout: 10 * time.Second}}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	b.URL = b.srv.URL
	t.Cleanup(b.srv.Close)
	return b
}

func (b *balancer) set(addrs ...string) {
	b.mu.Lock()
	b.backends = append([]string(nil), addrs...)
	b.mu.Unlock()
}

func (b *balancer) remove(addr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, a := range b.backends {
		if a == addr {
			b.backends = append(b.backends[:i:i], b.backends[i+1:]...)
			return
		}
	}
}

func (b *balancer) add(addr string) {
	b.mu.Lock()
	b.backends = append(b.backends, addr)
	b.mu.Unlock()
}

func (b *balancer) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	backends := append([]string(nil), b.backends...)
	start := b.next
	b.next++
	b.mu.Unlock()
	for i := range backends {
		addr := backends[(start+i)%len(backends)]
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+addr+r.URL.RequestURI(), bytes.NewReader(body))
		req.Header = r.Header.Clone()
		resp, err := b.client.Do(req)
		if err != nil {
			b.failovers.Add(1)
			continue
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		b.served.Add(1)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(out)
		return
	}
	b.refused.Add(1)
	http.Error(w, "no backend", http.StatusBadGateway)
}

// ---- processes ----

// chaosConfig is a worker's settings for a chaos run against sim through
// front: every knob the scenarios do not set is the shared harness's.
func chaosConfig(r *redistest.Server, sim *gupshuptest.Server, apiURL string) worker.Config {
	sc := sim.Config()
	return worker.Config{
		RedisURL: r.URL, APIKey: sc.APIKey, AppName: sc.AppName, Source: testSource, BaseURL: apiURL,
		Timeout: 2 * time.Second, SendRate: 500, SendBurst: 1, Concurrency: 20, RecipientInterval: time.Second,
		WebhookToken: testToken, BreakerOpen: time.Second, BreakerFailures: 5, ShutdownTimeout: 5 * time.Second,
		Ambiguous: "resend", RecordTTL: time.Hour, MaxAttempts: 12, RetryBase: 200 * time.Millisecond,
		WalletLowDelay: 300 * time.Millisecond, LogFormat: "json", LogLevel: "info",
	}
}

// startWorker runs a worker process with cfg (on cfg.HTTPAddr, or a free
// port) and the settings the shared env() does not pass.
func startWorker(t *testing.T, cfg worker.Config) *workerProcess {
	t.Helper()
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	}
	w := &workerProcess{addr: cfg.HTTPAddr, logs: &logging.Buffer{}}
	w.cmd = exec.Command(workerBinary(t))
	w.cmd.Env = append(env(cfg),
		"BREAKER_FAILURES="+strconv.Itoa(cfg.BreakerFailures),
		"RETRY_WALLET_LOW_DELAY="+cfg.WalletLowDelay.String(),
		// The scenarios judge crashes, outages and storms, not the
		// auto-pause, which their injected failures can trip at a
		// campaign's tail (0, chaosConfig's, turns it off).
		"AUTOPAUSE_FAILURE_SHARE="+strconv.FormatFloat(cfg.AutoPauseShare, 'f', -1, 64))
	w.cmd.Stderr = w.logs
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.kill()
		keepLogs(t, "worker-"+strings.ReplaceAll(w.addr, ":", "_"), w.logs.String())
	})
	w.waitReady(t)
	return w
}

// keepLogs writes a failed scenario's process logs (every scenario's with
// CHAOS_KEEP_LOGS=1) to $CHAOS_LOGS (default $TMPDIR/waqueue-chaos-logs)
// for a look afterwards.
func keepLogs(t *testing.T, name, logs string) {
	if !t.Failed() && os.Getenv("CHAOS_KEEP_LOGS") == "" {
		return
	}
	dir := os.Getenv("CHAOS_LOGS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "waqueue-chaos-logs")
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, t.Name()+"-"+name+".log")
	if err := os.WriteFile(path, []byte(logs), 0o644); err == nil {
		t.Logf("logs of %s kept in %s", name, path)
	}
}

// alive reports whether the process is still running.
func (w *workerProcess) alive() bool {
	return w.cmd.ProcessState == nil && w.cmd.Process.Signal(syscall.Signal(0)) == nil
}

// healthy reports whether /healthz answers 200.
func (w *workerProcess) healthy() bool {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + w.addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// logLines counts the process's log lines containing every one of subs.
func logLines(logs string, subs ...string) int {
	n := 0
	for _, line := range strings.Split(logs, "\n") {
		all := line != ""
		for _, s := range subs {
			all = all && strings.Contains(line, s)
		}
		if all {
			n++
		}
	}
	return n
}

// enqueuerBinary builds cmd/enqueuer once per test run.
func enqueuerBinary(t *testing.T) string { return binary(t, "github.com/waqueue/waqueue/cmd/enqueuer") }

// ---- campaigns and records ----

func chaosSend(campaign string, i int, dest string) *tasks.Send {
	return &tasks.Send{
		V: tasks.PayloadVersion, CampaignID: campaign, MessageID: fmt.Sprintf("%s:%06d", campaign, i), Family: "selfserve",
		Source: testSource, Destination: dest, Template: &tasks.Template{ID: chaosTemplate, Params: []string{"Asha", strconv.Itoa(i)}},
	}
}

// chaosCampaign is n sends of campaign, message i to dest(i), and their
// message ids in the same order.
func chaosCampaign(campaign string, n int, dest func(int) string) (sends []*tasks.Send, ids []string) {
	sends, ids = make([]*tasks.Send, n), make([]string, n)
	for i := range sends {
		sends[i] = chaosSend(campaign, i, dest(i))
		ids[i] = sends[i].MessageID
	}
	return sends, ids
}

// startWorkers starts n worker processes with cfg behind the balancer.
func (b *balancer) startWorkers(t *testing.T, cfg worker.Config, n int) []*workerProcess {
	t.Helper()
	procs := make([]*workerProcess, n)
	for i := range procs {
		procs[i] = startWorker(t, cfg)
		b.add(procs[i].addr)
	}
	return procs
}

// enqueueCampaign enqueues sends on the bulk queue through the producer,
// the way the enqueuer does, and fails the test on any error.
func enqueueCampaign(t *testing.T, rdb redis.UniversalClient, sends []*tasks.Send) {
	t.Helper()
	if err := enqueueSends(rdb, sends); err != nil {
		t.Fatal(err)
	}
}

// enqueueSends is enqueueCampaign for a goroutine of the test.
func enqueueSends(rdb redis.UniversalClient, sends []*tasks.Send) error {
	items := make(chan tasks.Item)
	go func() {
		defer close(items)
		for _, s := range sends {
			items <- tasks.Item{Send: s, Opts: []tasks.Option{tasks.Queue(tasks.QueueBulk)}}
		}
	}()
	var errs []error
	var dups int
	tasks.NewProducer(rdb).EnqueueAll(context.Background(), items, 8, func(it tasks.Item, r tasks.Result, err error) {
		if err != nil {
			errs = append(errs, err)
		} else if r.Duplicate() {
			dups++
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("enqueue: %d errors, first: %w", len(errs), errs[0])
	}
	if dups > 0 {
		return fmt.Errorf("enqueue: %d duplicates in a fresh campaign", dups)
	}
	return nil
}

// records reads many send records in pipelined batches.
func records(t *testing.T, rdb redis.UniversalClient, ids []string) map[string]store.Record {
	t.Helper()
	ctx := context.Background()
	out := make(map[string]store.Record, len(ids))
	const batch = 1000
	for lo := 0; lo < len(ids); lo += batch {
		hi := min(lo+batch, len(ids))
		pipe := rdb.Pipeline()
		cmds := make([]*redis.MapStringStringCmd, 0, hi-lo)
		for _, id := range ids[lo:hi] {
			cmds = append(cmds, pipe.HGetAll(ctx, store.MessageKey(id)))
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			t.Fatalf("read records: %v", err)
		}
		for i, c := range cmds {
			m := c.Val()
			if len(m) == 0 {
				continue
			}
			rec := store.Record{MessageID: ids[lo+i], State: store.State(m["st"]), GupshupID: m["gs"], Reason: m["r"], CampaignID: m["camp"]}
			rec.Generation, _ = strconv.Atoi(m["n"])
			rec.Code, _ = strconv.Atoi(m["c"])
			rec.Ambiguous, _ = strconv.Atoi(m["amb"])
			out[rec.MessageID] = rec
		}
	}
	return out
}

// settled reports whether no task waits or runs in any queue.
func settled(insp *asynq.Inspector) (bool, string) {
	var parts []string
	busy := false
	for _, q := range []string{tasks.QueueCritical, tasks.QueueDefault, tasks.QueueBulk} {
		qi, err := insp.GetQueueInfo(q)
		if err != nil {
			if strings.Contains(err.Error(), "does not exist") || strings.Contains(err.Error(), "not found") {
				continue
			}
			return false, err.Error()
		}
		if n := qi.Pending + qi.Active + qi.Scheduled + qi.Retry + qi.Aggregating; n > 0 {
			busy = true
			parts = append(parts, fmt.Sprintf("%s: %d pending, %d active, %d scheduled, %d retry", q, qi.Pending, qi.Active, qi.Scheduled, qi.Retry))
		}
	}
	return !busy, strings.Join(parts, "; ")
}

func newInspector(t *testing.T, r *redistest.Server) *asynq.Inspector {
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	t.Cleanup(func() { insp.Close() })
	return insp
}

func deadLetters(t *testing.T, r *redistest.Server, campaign string) []store.DeadLetter {
	t.Helper()
	dls, err := store.New(r.Client()).DeadLetters(context.Background(), campaign)
	if err != nil {
		t.Fatalf("dead letters: %v", err)
	}
	return dls
}

// archived lists the archived tasks of every queue.
func archived(t *testing.T, insp *asynq.Inspector) []*asynq.TaskInfo {
	t.Helper()
	var out []*asynq.TaskInfo
	for _, q := range []string{tasks.QueueCritical, tasks.QueueDefault, tasks.QueueBulk} {
		for page := 1; ; page++ {
			got, err := insp.ListArchivedTasks(q, asynq.PageSize(1000), asynq.Page(page))
			if err != nil {
				break
			}
			out = append(out, got...)
			if len(got) < 1000 {
				break
			}
		}
	}
	return out
}

// sendsByDestination groups the simulator's accepted sends.
func sendsByDestination(sim *gupshuptest.Server) map[string][]gupshuptest.Send {
	out := map[string][]gupshuptest.Send{}
	for _, s := range sim.Sends() {
		out[s.Destination] = append(out[s.Destination], s)
	}
	for _, v := range out {
		sort.Slice(v, func(i, j int) bool { return v[i].Seq < v[j].Seq })
	}
	return out
}

// callbackAttempts makes the simulator offer each callback n times, retry
// apart: Gupshup keeps redelivering a callback the receiver did not take.
func callbackAttempts(n int, retry time.Duration) gupshuptest.Option {
	return func(c *gupshuptest.Config) { c.CallbackAttempts, c.CallbackRetry = n, gupshuptest.D(retry) }
}

func pct(a, b int) string {
	if b == 0 {
		return "0"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}
