package worker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/waqueue/waqueue/breaker"
	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// scrape reads the worker's /metrics into metric families.
func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + worker.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mf
}

// value is the value of the series of name with exactly the given labels
// among others; -1 when there is none.
func value(mf map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := mf[name]
	if f == nil {
		return -1
	}
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	total, found := 0.0, false
	for _, m := range f.GetMetric() {
		ok := true
		for k, v := range want {
			has := false
			for _, l := range m.GetLabel() {
				if l.GetName() == k && l.GetValue() == v {
					has = true
				}
			}
			ok = ok && has
		}
		if !ok {
			continue
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		}
	}
	if !found {
		return -1
	}
	return total
}

// The pipeline end to end: sends accepted, dead-lettered by a failed
// callback and by a synchronous 400, an expired message, callbacks; then
// /metrics on HTTP_ADDR says so, next to asynq's queue metrics.
func TestMetricsEndpoint(t *testing.T) {
	p := startPipeline(t, nil, gupshuptest.WithFaults(
		gupshuptest.Fault{Match: "*0002", Code: 1002},
		gupshuptest.Fault{Match: "*0003", HTTPStatus: 400, Reason: "Invalid Destination"},
	))
	p.enqueue(templateSend("m-ok", "919800000001"))
	p.enqueue(templateSend("m-cb-dead", "919800000002"))
	p.enqueue(templateSend("m-sync-dead", "919800000003"))
	// The producer refuses a message already past its expires_at: this
	// one is enqueued by hand, as a producer in another language might.
	expired := templateSend("m-expired", "919800000004")
	past := time.Now().Add(-time.Minute)
	expired.ExpiresAt = &past
	payload, err := json.Marshal(expired)
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClientFromRedisClient(p.redis.Client())
	defer client.Close()
	if _, err := client.Enqueue(asynq.NewTask(tasks.TypeSend, payload), asynq.TaskID("send:m-expired"), asynq.MaxRetry(25)); err != nil {
		t.Fatal(err)
	}

	p.waitFor("every message settled", 20*time.Second, func() (bool, string) {
		var states []string
		done := true
		for id, want := range map[string]store.State{"m-ok": store.StateRead, "m-cb-dead": store.StateDead, "m-sync-dead": store.StateDead, "m-expired": store.StateExpired} {
			st := p.record(id).State
			states = append(states, id+"="+string(st))
			done = done && st == want
		}
		arch, _ := p.insp.ListArchivedTasks("default")
		states = append(states, "archived="+itoa(len(arch)))
		return done && len(arch) == 2, strings.Join(states, " ")
	})

	// Counters that the run fixes exactly.
	want := `
# HELP waqueue_dead_letters_total Send tasks archived as dead letters, by code (synchronous failures, failed callbacks, exhausted retries, ambiguous sends under AMBIGUOUS_SENDS=deadletter, bad payloads).
# TYPE waqueue_dead_letters_total counter
waqueue_dead_letters_total{code="1002"} 1
waqueue_dead_letters_total{code="http_400"} 1
# HELP waqueue_expired_total Messages recorded as expired: past their expires_at before they could be sent.
# TYPE waqueue_expired_total counter
waqueue_expired_total 1
# HELP waqueue_sends_total Submit attempts by API family, outcome class (ok, retryable, throttled, terminal) and code (Gupshup/Meta code, http_<status>, or none).
# TYPE waqueue_sends_total counter
waqueue_sends_total{code="http_400",family="selfserve",outcome="terminal"} 1
waqueue_sends_total{code="none",family="selfserve",outcome="ok"} 2
`
	url := "http://" + p.cfg.HTTPAddr + worker.MetricsPath
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if err = testutil.ScrapeAndCompare(url, strings.NewReader(want), "waqueue_dead_letters_total", "waqueue_expired_total", "waqueue_sends_total"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	p.waitFor("the read receipt and the failed callback counted", 10*time.Second, func() (bool, string) {
		mf := scrape(t, p.cfg.HTTPAddr)
		read := value(mf, "waqueue_callback_events_total", "format", "v2", "status", "read")
		failed := value(mf, "waqueue_callback_failures_total", "code", "1002", "follow_up", "dead")
		return read == 1 && failed == 1, fmt.Sprintf("read %v, failed 1002 %v", read, failed)
	})
	mf := scrape(t, p.cfg.HTTPAddr)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		// Three submits went through the limiter and the pacer; nothing
		// was handed back.
		{"waqueue_limiter_wait_seconds", []string{"limiter", "sender"}, 3},
		{"waqueue_limiter_wait_seconds", []string{"limiter", "recipient"}, 3},
		{"waqueue_limiter_handbacks_total", []string{"limiter", "sender"}, 0},
		{"waqueue_gupshup_request_duration_seconds", []string{"family", "selfserve"}, 3},
		{"waqueue_send_duration_seconds", []string{"family", "selfserve", "outcome", "ok"}, 2},
		{"waqueue_send_tasks_total", []string{"result", "dead"}, 2},
		{"waqueue_ambiguous_sends_total", []string{"kind", "in_flight"}, 0},
		{"waqueue_breaker_state", []string{"key", "selfserve/" + p.sim.Config().AppName}, 0},
		{"waqueue_callback_events_total", []string{"status", "failed"}, 1},
		// asynq's queue metrics, read from Redis.
		{"asynq_tasks_enqueued_total", []string{"queue", "default", "state", "archived"}, 2},
		{"asynq_queue_size", []string{"queue", "default"}, 2},
	} {
		if got := value(mf, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "asynq_queue_latency_seconds", "waqueue_limiter_local_keys"} {
		if mf[name] == nil {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// The breaker's state and transitions reach /metrics: an outage opens the
// breaker, which turns sends away, and closes it once the API is back.
func TestMetricsBreakerThroughOutage(t *testing.T) {
	p := startPipeline(t, func(c *worker.Config) { c.BreakerFailures = 2 },
		gupshuptest.WithOutage(gupshuptest.Outage{Start: gupshuptest.D(0), Duration: gupshuptest.D(1500 * time.Millisecond), Mode: "5xx"}))
	for i := range 6 {
		p.enqueue(templateSend(fmt.Sprintf("o-%d", i), fmt.Sprintf("91980000010%d", i)))
	}
	key := "selfserve/" + p.sim.Config().AppName
	p.waitFor("the breaker open, then closed again", 30*time.Second, func() (bool, string) {
		mf := scrape(t, p.cfg.HTTPAddr)
		opened := value(mf, "waqueue_breaker_transitions_total", "key", key, "from", "closed", "to", "open")
		closed := value(mf, "waqueue_breaker_transitions_total", "key", key, "from", "half-open", "to", "closed")
		state := value(mf, "waqueue_breaker_state", "key", key)
		return opened >= 1 && closed >= 1 && state == 0, fmt.Sprintf("opened %v, closed %v, state %v", opened, closed, state)
	})
	mf := scrape(t, p.cfg.HTTPAddr)
	if got := value(mf, "waqueue_sends_total", "outcome", "retryable", "code", "http_503"); got < 2 {
		t.Errorf("retryable 503 sends: %v", got)
	}
	if got := value(mf, "waqueue_retries_total", "code", "http_503"); got < 2 {
		t.Errorf("retries with 503: %v", got)
	}
	p.waitFor("every message read", 30*time.Second, func() (bool, string) {
		for i := range 6 {
			if st := p.record(fmt.Sprintf("o-%d", i)).State; st != store.StateRead {
				return false, fmt.Sprintf("o-%d %s", i, st)
			}
		}
		return true, ""
	})
}

// Unit level: each hook counts what it is told, with bounded labels.
func TestMetricsHooks(t *testing.T) {
	m := worker.NewMetrics()
	s := &tasks.Send{Family: gupshup.SelfServe}
	m.ObserveSend(s, retry.Verdict{Class: retry.Ok}, 120*time.Millisecond)
	m.ObserveSend(s, retry.ClassifyCode(1002, ""), 80*time.Millisecond)
	m.ObserveSend(&tasks.Send{Family: gupshup.Partner}, retry.Verdict{Class: retry.Retryable, HTTPStatus: 503, Ambiguous: true}, time.Second)
	m.ObserveSend(&tasks.Send{Family: "martian"}, retry.Verdict{Class: retry.Throttled}, 0)
	m.Note(s, worker.NoteAmbiguous)
	m.Note(s, worker.NoteExpired)
	m.Note(s, worker.NoteExpired)

	ev := gupshup.Event{Kind: gupshup.EventStatus, Format: gupshup.CallbackV3, Status: gupshup.StatusFailed, Code: 131047}
	m.ObserveCallback(ev, store.EventResult{FollowUp: store.FollowResend})
	m.ObserveCallback(ev, store.EventResult{FollowUp: store.FollowResend, Duplicate: true})
	m.ObserveCallback(gupshup.Event{Format: gupshup.CallbackV2, Status: gupshup.StatusDelivered}, store.EventResult{FollowUp: store.FollowNone})
	m.ObserveCallback(gupshup.Event{Format: "v9", Status: "teleported"}, store.EventResult{FollowUp: store.FollowNone})

	want := `
# HELP waqueue_sends_total Submit attempts by API family, outcome class (ok, retryable, throttled, terminal) and code (Gupshup/Meta code, http_<status>, or none).
# TYPE waqueue_sends_total counter
waqueue_sends_total{code="1002",family="selfserve",outcome="terminal"} 1
waqueue_sends_total{code="http_503",family="partner",outcome="retryable"} 1
waqueue_sends_total{code="none",family="other",outcome="throttled"} 1
waqueue_sends_total{code="none",family="selfserve",outcome="ok"} 1
# HELP waqueue_ambiguous_sends_total Submits whose outcome is unknown, so Gupshup may have the message: in_flight (an earlier submit died mid-send, found by the claim) or unanswered (timeout, lost connection, gateway error).
# TYPE waqueue_ambiguous_sends_total counter
waqueue_ambiguous_sends_total{kind="in_flight"} 1
waqueue_ambiguous_sends_total{kind="unanswered"} 1
# HELP waqueue_expired_total Messages recorded as expired: past their expires_at before they could be sent.
# TYPE waqueue_expired_total counter
waqueue_expired_total 2
# HELP waqueue_callback_events_total Callback status events applied, duplicates included, by format (v2, v3, enterprise) and status.
# TYPE waqueue_callback_events_total counter
waqueue_callback_events_total{format="other",status="other"} 1
waqueue_callback_events_total{format="v2",status="delivered"} 1
waqueue_callback_events_total{format="v3",status="failed"} 2
# HELP waqueue_callback_duplicates_total Callback status events seen before (at-least-once delivery, v2 and v3 copies), by format.
# TYPE waqueue_callback_duplicates_total counter
waqueue_callback_duplicates_total{format="v3"} 1
# HELP waqueue_callback_failures_total Failed-status callbacks, duplicates excluded, by code and what followed (resend, dead, none, stale, unknown).
# TYPE waqueue_callback_failures_total counter
waqueue_callback_failures_total{code="131047",follow_up="resend"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"waqueue_sends_total", "waqueue_ambiguous_sends_total", "waqueue_expired_total",
		"waqueue_callback_events_total", "waqueue_callback_duplicates_total", "waqueue_callback_failures_total"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "waqueue_send_duration_seconds"); err != nil || n != 4 {
		t.Fatalf("send duration series: %d, %v", n, err)
	}
}

// Codes outside the Gupshup table get series of their own up to a bound,
// then share "other"; codes of the table always keep theirs.
func TestMetricsCodeLabelsBounded(t *testing.T) {
	m := worker.NewMetrics()
	s := &tasks.Send{Family: gupshup.Enterprise}
	for code := 900000; code < 900100; code++ {
		m.ObserveSend(s, retry.ClassifyCode(code, ""), 0)
	}
	m.ObserveSend(s, retry.ClassifyCode(1002, ""), 0)
	n, err := testutil.GatherAndCount(m.Registry(), "waqueue_sends_total")
	if err != nil {
		t.Fatal(err)
	}
	if n != 50+1+1 { // 50 codes of their own, "other", 1002
		t.Fatalf("%d series", n)
	}
	mf, _ := m.Registry().Gather()
	other := 0.0
	for _, f := range mf {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if f.GetName() == "waqueue_sends_total" && l.GetName() == "code" && l.GetValue() == "other" {
					other = s.GetCounter().GetValue()
				}
			}
		}
	}
	if other != 50 {
		t.Fatalf("other: %v", other)
	}
}

// The task middleware sorts results the way asynq acts on them.
func TestMetricsTasks(t *testing.T) {
	m := worker.NewMetrics()
	results := []error{
		nil,
		retry.Dead(retry.ClassifyCode(1002, "")),
		retry.Later(retry.ClassifyCode(4002, ""), 0),
		retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "send rate"}, time.Second),
		errors.New("redis: connection refused"),
	}
	i := 0
	h := m.Tasks(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		if i == len(results) {
			return nil
		}
		i++
		return results[i-1]
	}))
	for range results {
		h.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeSend, nil))
	}
	h.ProcessTask(context.Background(), asynq.NewTask(tasks.TypeOptIn, nil)) // not a send: not counted
	want := `
# HELP waqueue_send_tasks_total Runs of send tasks by what became of them: done, retry (an attempt used), handed_back (no attempt used: rate limit, open breaker, busy claim) or dead (archived).
# TYPE waqueue_send_tasks_total counter
waqueue_send_tasks_total{result="dead"} 1
waqueue_send_tasks_total{result="done"} 1
waqueue_send_tasks_total{result="handed_back"} 1
waqueue_send_tasks_total{result="retry"} 2
# HELP waqueue_dead_letters_total Send tasks archived as dead letters, by code (synchronous failures, failed callbacks, exhausted retries, ambiguous sends under AMBIGUOUS_SENDS=deadletter, bad payloads).
# TYPE waqueue_dead_letters_total counter
waqueue_dead_letters_total{code="1002"} 1
# HELP waqueue_retries_total Send task runs that failed and will run again, using an attempt, by code.
# TYPE waqueue_retries_total counter
waqueue_retries_total{code="4002"} 1
waqueue_retries_total{code="none"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "waqueue_send_tasks_total", "waqueue_dead_letters_total", "waqueue_retries_total"); err != nil {
		t.Fatal(err)
	}
}

type fakeLimiter struct {
	d   time.Duration
	err error
}

func (f fakeLimiter) Wait(context.Context, string) (time.Duration, error) { return f.d, f.err }

type fakePacer struct {
	d       time.Duration
	release func()
}

func (f fakePacer) Take(context.Context, string) (time.Duration, func(), error) {
	return f.d, f.release, nil
}

// keyedLimiter has a Len, as ratelimit.Layered does.
type keyedLimiter struct{ fakeLimiter }

func (keyedLimiter) Len() int { return 3 }

// allMetrics is a Metrics with every collector registered.
func allMetrics() *worker.Metrics {
	m := worker.NewMetrics()
	m.Limiter("sender", keyedLimiter{})
	return m
}

func TestMetricsLimiterAndBreaker(t *testing.T) {
	m := worker.NewMetrics()
	ctx := context.Background()
	if m.Limiter("sender", nil) != nil || m.Pacer(nil) != nil {
		t.Fatal("a nil limiter must stay nil")
	}
	released := false
	pacer := m.Pacer(fakePacer{d: 4 * time.Second})
	if d, _, _ := pacer.Take(ctx, "919876543210"); d != 4*time.Second {
		t.Fatalf("pacer wrapper changed the wait: %v", d)
	}
	if _, rel, _ := m.Pacer(fakePacer{release: func() { released = true }}).Take(ctx, "919876543210"); rel == nil {
		t.Fatal("pacer wrapper lost the release")
	} else if rel(); !released {
		t.Fatal("pacer wrapper's release does not release")
	}
	for _, f := range []fakeLimiter{{}, {}, {d: 3 * time.Second}, {err: context.Canceled}} {
		m.Limiter("sender", f).Wait(ctx, "14155550100")
	}
	m.LimiterError("sender")

	set := breaker.New(breaker.ConsecutiveFailures(2), breaker.Timeout(50*time.Millisecond), breaker.OnStateChange(m.BreakerChanged))
	b := m.Breaker(set)
	boom := errors.New("503")
	b.Do(ctx, "selfserve/app", func() error { return nil })
	b.Do(ctx, "selfserve/app", func() error { return boom })
	b.Do(ctx, "selfserve/app", func() error { return boom })
	if err := b.Do(ctx, "selfserve/app", func() error { return nil }); err == nil {
		t.Fatal("open breaker let a call through")
	}
	open := `
# HELP waqueue_breaker_state This replica's circuit breaker per key (family/app): 0 closed, 1 half-open, 2 open.
# TYPE waqueue_breaker_state gauge
waqueue_breaker_state{key="selfserve/app"} 2
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(open), "waqueue_breaker_state"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(60 * time.Millisecond)
	if err := b.Do(ctx, "selfserve/app", func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	want := `
# HELP waqueue_limiter_handbacks_total Sends a limiter turned away for longer than the handler waits: the task was handed back for later without using an attempt.
# TYPE waqueue_limiter_handbacks_total counter
waqueue_limiter_handbacks_total{limiter="recipient"} 1
waqueue_limiter_handbacks_total{limiter="sender"} 1
# HELP waqueue_limiter_redis_errors_total Redis errors of the fleet-wide limiter; each one hands its task back.
# TYPE waqueue_limiter_redis_errors_total counter
waqueue_limiter_redis_errors_total{limiter="recipient"} 0
waqueue_limiter_redis_errors_total{limiter="sender"} 1
# HELP waqueue_breaker_state This replica's circuit breaker per key (family/app): 0 closed, 1 half-open, 2 open.
# TYPE waqueue_breaker_state gauge
waqueue_breaker_state{key="selfserve/app"} 0
# HELP waqueue_breaker_transitions_total Circuit breaker state changes by key, from and to.
# TYPE waqueue_breaker_transitions_total counter
waqueue_breaker_transitions_total{from="closed",key="selfserve/app",to="open"} 1
waqueue_breaker_transitions_total{from="half-open",key="selfserve/app",to="closed"} 1
waqueue_breaker_transitions_total{from="open",key="selfserve/app",to="half-open"} 1
# HELP waqueue_breaker_refusals_total Sends an open breaker turned away (this replica's, or the fleet's shared open state), by key.
# TYPE waqueue_breaker_refusals_total counter
waqueue_breaker_refusals_total{key="selfserve/app"} 1
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want),
		"waqueue_limiter_handbacks_total", "waqueue_limiter_redis_errors_total", "waqueue_breaker_state",
		"waqueue_breaker_transitions_total", "waqueue_breaker_refusals_total"); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(m.Registry(), "waqueue_limiter_wait_seconds"); n != 2 {
		t.Fatalf("wait series: %d", n)
	}
	var _ ratelimit.Limiter = fakeLimiter{}
}

// Two workers in one process keep their own counts: the registry is not
// the global one.
func TestMetricsRegistryIsOwn(t *testing.T) {
	a, b := worker.NewMetrics(), worker.NewMetrics()
	a.Note(nil, worker.NoteExpired)
	if n, _ := testutil.GatherAndCount(b.Registry(), "waqueue_expired_total"); n != 1 {
		t.Fatal("expired counter missing")
	}
	mf, _ := b.Registry().Gather()
	for _, f := range mf {
		if f.GetName() == "waqueue_expired_total" && f.GetMetric()[0].GetCounter().GetValue() != 0 {
			t.Fatal("metrics shared between registries")
		}
	}
	if mfs, _ := prometheus.DefaultGatherer.Gather(); slices.ContainsFunc(mfs, func(f *dto.MetricFamily) bool { return strings.HasPrefix(f.GetName(), "waqueue_") }) {
		t.Fatal("waqueue metrics on the default registry")
	}
}

// The README's Observability section lists every metric of the worker,
// and only those.
func TestMetricsInREADME(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	in := false
	sc := bufio.NewScanner(f)
	row := regexp.MustCompile("^\\| `(waqueue_[a-z_]+)`")
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "## ") {
			in = line == "## Observability"
		}
		if m := row.FindStringSubmatch(line); in && m != nil {
			listed[m[1]] = true
		}
	}
	for _, name := range allMetrics().Names() {
		if !listed[name] {
			t.Errorf("README's Observability section does not list %s", name)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("README lists %s, which the worker does not have", name)
	}
}

// The Grafana dashboard is valid JSON, takes its data source from a
// variable, and every metric its queries name is one the worker serves.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "deploy", "grafana", "waqueue.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title      string `json:"title"`
		UID        string `json:"uid"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("waqueue.json: %v", err)
	}
	dsVar := ""
	for _, v := range dash.Templating.List {
		if v.Type == "datasource" && v.Query == "prometheus" {
			dsVar = v.Name
		}
	}
	if dsVar == "" {
		t.Fatal("no datasource variable of type prometheus")
	}

	// Every metric the registry can hold: the worker's own, asynq's queue
	// metrics (present once a queue exists), the Go and process ones.
	r := redistest.Start(t)
	if _, err := tasks.NewProducer(r.Client()).Enqueue(context.Background(), templateSend("dash-1", "919800000009")); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	defer insp.Close()
	m := allMetrics()
	m.WatchQueues(insp)
	have := map[string]bool{}
	for _, n := range m.Names() {
		have[n] = true
	}
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range mfs {
		have[f.GetName()] = true
	}
	if !have["asynq_queue_size"] {
		t.Fatal("asynq queue metrics not gathered")
	}
	histograms := map[string]bool{}
	for _, f := range mfs {
		if f.GetType() == dto.MetricType_HISTOGRAM {
			histograms[f.GetName()] = true
		}
	}
	for _, n := range []string{"waqueue_send_duration_seconds", "waqueue_gupshup_request_duration_seconds", "waqueue_limiter_wait_seconds"} {
		histograms[n] = true
	}

	var panels []map[string]any
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, p := range raw {
			var panel map[string]any
			if err := json.Unmarshal(p, &panel); err != nil {
				t.Fatal(err)
			}
			panels = append(panels, panel)
			if sub, ok := panel["panels"]; ok {
				b, _ := json.Marshal(sub)
				var rows []json.RawMessage
				json.Unmarshal(b, &rows)
				walk(rows)
			}
		}
	}
	walk(dash.Panels)
	metricName := regexp.MustCompile(`\b((?:waqueue|asynq|go|process)_[a-zA-Z0-9_]+)`)
	queries := 0
	for _, panel := range panels {
		if panel["type"] == "row" {
			continue
		}
		ds, _ := json.Marshal(panel["datasource"])
		if !strings.Contains(string(ds), "${"+dsVar+"}") {
			t.Errorf("panel %q does not use the ${%s} data source: %s", panel["title"], dsVar, ds)
		}
		targets, _ := panel["targets"].([]any)
		if len(targets) == 0 {
			t.Errorf("panel %q has no query", panel["title"])
		}
		for _, tg := range targets {
			expr, _ := tg.(map[string]any)["expr"].(string)
			if expr == "" {
				t.Errorf("panel %q: a target without expr", panel["title"])
			}
			queries++
			for _, m := range metricName.FindAllString(expr, -1) {
				name := m
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if base, ok := strings.CutSuffix(m, suf); ok && histograms[base] {
						name = base
					}
				}
				if !have[name] {
					t.Errorf("panel %q: %s is not a metric of the registry (in %s)", panel["title"], m, expr)
				}
			}
		}
	}
	if queries < 8 {
		t.Fatalf("only %d queries", queries)
	}
}
