package worker

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	asynqmetrics "github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/waqueue/waqueue/breaker"
	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/ratelimit"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// MetricsPath is where the worker serves its metrics, on HTTP_ADDR.
const MetricsPath = "/metrics"

// Note is an end of a send task that never reaches a submit, for
// SendHandler.Note.
type Note string

const (
	// NoteAmbiguous: the claim found an earlier submit that died in flight
	// (AMBIGUOUS_SENDS then decides).
	NoteAmbiguous Note = "ambiguous"
	// NoteExpired: the message passed its expires_at unsent.
	NoteExpired Note = "expired"
)

// Metrics is the worker's Prometheus instrumentation. It lives on a
// registry of its own, never the global default, so that two workers in
// one process (tests) do not share counters and a test can read them.
//
// Every label has a bounded set of values: API families, outcome classes,
// codes of the Gupshup table (other codes are kept up to maxCodeLabels,
// then counted as "other"), breaker keys (family/app, few by design),
// callback formats and statuses. No label carries a campaign, a message
// or a phone number: campaign ids are chosen by producers without bound,
// and a series per campaign would grow Prometheus for ever. A campaign's
// progress shows in the bulk queue's asynq_* series and in its send
// records in Redis.
type Metrics struct {
	reg *prometheus.Registry

	sends             *prometheus.CounterVec
	sendSeconds       *prometheus.HistogramVec
	gupshupSeconds    *prometheus.HistogramVec
	sendTasks         *prometheus.CounterVec
	retries           *prometheus.CounterVec
	deadLetters       *prometheus.CounterVec
	ambiguous         *prometheus.CounterVec
	expired           prometheus.Counter
	limiterWait       *prometheus.HistogramVec
	limiterHandBacks  *prometheus.CounterVec
	limiterErrors     *prometheus.CounterVec
	breakerState      *prometheus.GaugeVec
	breakerChanges    *prometheus.CounterVec
	breakerRefusals   *prometheus.CounterVec
	callbackEvents    *prometheus.CounterVec
	callbackDups      *prometheus.CounterVec
	callbackFailures  *prometheus.CounterVec
	callbackFollowUps map[store.FollowUp]bool

	codes labelSet
	names []string
}

// maxCodeLabels bounds the code values outside the Gupshup table (and the
// HTTP statuses) that get a series of their own.
const maxCodeLabels = 50

// NewMetrics builds the worker's metrics on a fresh registry, with the Go
// runtime and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), codes: labelSet{max: maxCodeLabels}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.sends = m.counterVec("waqueue_sends_total",
		"Submit attempts by API family, outcome class (ok, retryable, throttled, terminal) and code (Gupshup/Meta code, http_<status>, or none).",
		"family", "outcome", "code")
	m.sendSeconds = m.histogramVec("waqueue_send_duration_seconds",
		"Time of a send stage, from the recipient pacing through the limiter and breaker to Gupshup's answer, by family and outcome class.",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}, "family", "outcome")
	m.gupshupSeconds = m.histogramVec("waqueue_gupshup_request_duration_seconds",
		"Time of one Gupshup send call (the API alone, no waits of ours), by family.",
		[]float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30}, "family")
	m.sendTasks = m.counterVec("waqueue_send_tasks_total",
		"Runs of send tasks by what became of them: done, retry (an attempt used), handed_back (no attempt used: rate limit, open breaker, busy claim) or dead (archived).",
		"result")
	m.retries = m.counterVec("waqueue_retries_total",
		"Send task runs that failed and will run again, using an attempt, by code.", "code")
	m.deadLetters = m.counterVec("waqueue_dead_letters_total",
		"Send tasks archived as dead letters, by code (synchronous failures, failed callbacks, exhausted retries, ambiguous sends under AMBIGUOUS_SENDS=deadletter, bad payloads).",
		"code")
	m.ambiguous = m.counterVec("waqueue_ambiguous_sends_total",
		"Submits whose outcome is unknown, so Gupshup may have the message: in_flight (an earlier submit died mid-send, found by the claim) or unanswered (timeout, lost connection, gateway error).",
		"kind")
	m.expired = prometheus.NewCounter(prometheus.CounterOpts{Name: "waqueue_expired_total",
		Help: "Messages recorded as expired: past their expires_at before they could be sent."})
	m.register("waqueue_expired_total", m.expired)
	m.limiterWait = m.histogramVec("waqueue_limiter_wait_seconds",
		"Time a send waited in a limiter before it could go (sender: SEND_RATE per sender number; recipient: RECIPIENT_INTERVAL).",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}, "limiter")
	m.limiterHandBacks = m.counterVec("waqueue_limiter_handbacks_total",
		"Sends a limiter turned away for longer than the handler waits: the task was handed back for later without using an attempt.",
		"limiter")
	m.limiterErrors = m.counterVec("waqueue_limiter_redis_errors_total",
		"Redis errors of the fleet-wide limiter; each one hands its task back.", "limiter")
	m.breakerState = m.gaugeVec("waqueue_breaker_state",
		"This replica's circuit breaker per key (family/app): 0 closed, 1 half-open, 2 open.", "key")
	m.breakerChanges = m.counterVec("waqueue_breaker_transitions_total",
		"Circuit breaker state changes by key, from and to.", "key", "from", "to")
	m.breakerRefusals = m.counterVec("waqueue_breaker_refusals_total",
		"Sends an open breaker turned away (this replica's, or the fleet's shared open state), by key.", "key")
	m.callbackEvents = m.counterVec("waqueue_callback_events_total",
		"Callback status events applied, duplicates included, by format (v2, v3, enterprise) and status.",
		"format", "status")
	m.callbackDups = m.counterVec("waqueue_callback_duplicates_total",
		"Callback status events seen before (at-least-once delivery, v2 and v3 copies), by format.", "format")
	m.callbackFailures = m.counterVec("waqueue_callback_failures_total",
		"Failed-status callbacks, duplicates excluded, by code and what followed (resend, dead, none, stale, unknown).",
		"code", "follow_up")
	m.callbackFollowUps = map[store.FollowUp]bool{store.FollowNone: true, store.FollowResend: true, store.FollowDead: true, store.FollowStale: true, store.FollowUnknown: true}

	// Series that exist from the start, so that rate() sees their first
	// increment.
	for _, l := range []string{"sender", "recipient"} {
		m.limiterHandBacks.WithLabelValues(l)
		m.limiterErrors.WithLabelValues(l)
	}
	for _, k := range []string{"in_flight", "unanswered"} {
		m.ambiguous.WithLabelValues(k)
	}
	for _, r := range []string{"done", "retry", "handed_back", "dead"} {
		m.sendTasks.WithLabelValues(r)
	}
	return m
}

// Registry is the registry the metrics are on.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Names lists the names of the worker's own metrics (waqueue_*).
func (m *Metrics) Names() []string { return append([]string(nil), m.names...) }

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg,
		ErrorHandling: promhttp.ContinueOnError,
		// A scrape waits for Redis (the queue metrics): no more than a
		// Prometheus scrape would.
		Timeout: 10 * time.Second,
	})
}

// Register mounts Handler on mux at MetricsPath.
func (m *Metrics) Register(mux *http.ServeMux) { mux.Handle("GET "+MetricsPath, m.Handler()) }

// WatchQueues adds asynq's queue metrics (asynq_queue_size,
// asynq_tasks_enqueued_total{queue,state}, asynq_queue_latency_seconds,
// ...), read from Redis through insp at every scrape. They describe the
// queues, not this replica: every replica reports the same numbers.
func (m *Metrics) WatchQueues(insp *asynq.Inspector) {
	m.reg.MustRegister(asynqmetrics.NewQueueMetricsCollector(insp))
}

// ObserveSend is SendHandler.Observe.
func (m *Metrics) ObserveSend(s *tasks.Send, v retry.Verdict, took time.Duration) {
	fam, out := family(s.Family), v.Class.String()
	m.sends.WithLabelValues(fam, out, m.code(v.Code, v.HTTPStatus)).Inc()
	m.sendSeconds.WithLabelValues(fam, out).Observe(took.Seconds())
	if v.Ambiguous {
		m.ambiguous.WithLabelValues("unanswered").Inc()
	}
}

// Note is SendHandler.Note.
func (m *Metrics) Note(_ *tasks.Send, n Note) {
	switch n {
	case NoteAmbiguous:
		m.ambiguous.WithLabelValues("in_flight").Inc()
	case NoteExpired:
		m.expired.Inc()
	}
}

// ObserveCallback is webhook.Processor.Observe.
func (m *Metrics) ObserveCallback(ev gupshup.Event, res store.EventResult) {
	f := format(ev.Format)
	m.callbackEvents.WithLabelValues(f, status(ev.Status)).Inc()
	if res.Duplicate {
		m.callbackDups.WithLabelValues(f).Inc()
		return
	}
	if ev.Status == gupshup.StatusFailed {
		follow := string(res.FollowUp)
		if !m.callbackFollowUps[res.FollowUp] {
			follow = "other"
		}
		m.callbackFailures.WithLabelValues(m.code(ev.Code, 0), follow).Inc()
	}
}

// BreakerChanged is told of every breaker state change (newBreakers).
func (m *Metrics) BreakerChanged(key string, from, to breaker.State) {
	m.breakerState.WithLabelValues(key).Set(breakerValue(to))
	m.breakerChanges.WithLabelValues(key, from.String(), to.String()).Inc()
}

// LimiterError counts a Redis error of the named limiter (ratelimit.OnError).
func (m *Metrics) LimiterError(name string) { m.limiterErrors.WithLabelValues(name).Inc() }

// Tasks wraps the asynq handler: it sorts what each send task run comes
// to, the way asynq will act on it.
func (m *Metrics) Tasks(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) error {
		err := next.ProcessTask(ctx, t)
		if t.Type() != tasks.TypeSend {
			return err
		}
		result := "done"
		if err != nil {
			v, _ := retry.VerdictOf(err)
			code := m.code(v.Code, v.HTTPStatus)
			retried, _ := asynq.GetRetryCount(ctx)
			maxRetry, ok := asynq.GetMaxRetry(ctx)
			switch {
			// asynq archives a failed task whose count reached MaxRetry
			// whatever the error says (see retry.AsynqMaxRetry).
			case errors.Is(err, asynq.SkipRetry), ok && retried >= maxRetry:
				result = "dead"
				m.deadLetters.WithLabelValues(code).Inc()
			case retry.IsFailure(err):
				result = "retry"
				m.retries.WithLabelValues(code).Inc()
			default:
				result = "handed_back"
			}
		}
		m.sendTasks.WithLabelValues(result).Inc()
		return err
	})
}

// Limiter returns l counting its waits and hand-backs under name
// ("sender", "recipient"); nil stays nil.
func (m *Metrics) Limiter(name string, l ratelimit.Limiter) ratelimit.Limiter {
	if l == nil {
		return nil
	}
	if n, ok := l.(interface{ Len() int }); ok {
		m.register("waqueue_limiter_local_keys", prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "waqueue_limiter_local_keys",
			Help:        "Keys (sender numbers) the in-process layer of the fleet-wide limiter holds.",
			ConstLabels: prometheus.Labels{"limiter": name},
		}, func() float64 { return float64(n.Len()) }))
	}
	return &meteredLimiter{l: l, wait: m.limiterWait.WithLabelValues(name), handBacks: m.limiterHandBacks.WithLabelValues(name)}
}

// Pacer returns p counting its waits and hand-backs as the "recipient"
// limiter; nil stays nil.
func (m *Metrics) Pacer(p RecipientPacer) RecipientPacer {
	if p == nil {
		return nil
	}
	return &meteredPacer{p: p, wait: m.limiterWait.WithLabelValues("recipient"), handBacks: m.limiterHandBacks.WithLabelValues("recipient")}
}

// Breaker returns b counting its refusals per key.
func (m *Metrics) Breaker(b Breaker) Breaker { return &meteredBreaker{b: b, m: m} }

// Sender returns s timing each Gupshup call per family.
func (m *Metrics) Sender(s Sender) Sender { return &meteredSender{s: s, m: m} }

type meteredLimiter struct {
	l         ratelimit.Limiter
	wait      prometheus.Observer
	handBacks prometheus.Counter
}

func (l *meteredLimiter) Wait(ctx context.Context, key string) (time.Duration, error) {
	start := time.Now()
	d, err := l.l.Wait(ctx, key)
	switch {
	case err != nil:
	case d > 0:
		l.handBacks.Inc()
	default:
		l.wait.Observe(time.Since(start).Seconds())
	}
	return d, err
}

type meteredPacer struct {
	p         RecipientPacer
	wait      prometheus.Observer
	handBacks prometheus.Counter
}

func (p *meteredPacer) Take(ctx context.Context, key string) (time.Duration, func(), error) {
	start := time.Now()
	d, release, err := p.p.Take(ctx, key)
	switch {
	case err != nil:
	case d > 0:
		p.handBacks.Inc()
	default:
		p.wait.Observe(time.Since(start).Seconds())
	}
	return d, release, err
}

type meteredBreaker struct {
	b    Breaker
	m    *Metrics
	seen sync.Map // key -> struct{}
}

func (b *meteredBreaker) Do(ctx context.Context, key string, fn func() error) error {
	if _, ok := b.seen.Load(key); !ok {
		b.seen.Store(key, struct{}{})
		// A breaker starts closed: its gauge exists from the first call.
		// WithLabelValues keeps a value a state change has already set.
		b.m.breakerState.WithLabelValues(key)
	}
	err := b.b.Do(ctx, key, fn)
	if _, ok := errors.AsType[*breaker.OpenError](err); ok {
		b.m.breakerRefusals.WithLabelValues(key).Inc()
	}
	return err
}

type meteredSender struct {
	s Sender
	m *Metrics
}

func (s *meteredSender) Send(ctx context.Context, t *tasks.Send, fallback bool) (gupshup.SendResult, error) {
	start := time.Now()
	res, err := s.s.Send(ctx, t, fallback)
	s.m.gupshupSeconds.WithLabelValues(family(t.Family)).Observe(time.Since(start).Seconds())
	return res, err
}

// code is the code label: a code of the Gupshup table as is, other codes
// and HTTP statuses while fewer than maxCodeLabels have been seen, then
// "other"; "none" when there is neither.
func (m *Metrics) code(code, httpStatus int) string {
	switch {
	case code != 0 && retry.Describe(code) != "":
		return strconv.Itoa(code)
	case code != 0:
		return m.codes.admit(strconv.Itoa(code))
	case httpStatus != 0:
		return m.codes.admit("http_" + strconv.Itoa(httpStatus))
	}
	return "none"
}

// labelSet admits up to max distinct values, then answers "other".
type labelSet struct {
	mu   sync.Mutex
	seen map[string]bool
	max  int
}

func (s *labelSet) admit(v string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return v
	}
	if len(s.seen) >= s.max {
		return "other"
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	return v
}

func family(f gupshup.Family) string {
	switch f {
	case gupshup.SelfServe, gupshup.Enterprise, gupshup.Partner:
		return string(f)
	}
	return "other"
}

func format(f gupshup.CallbackFormat) string {
	switch f {
	case gupshup.CallbackV2, gupshup.CallbackV3, gupshup.CallbackEnterprise:
		return string(f)
	}
	return "other"
}

func status(s gupshup.Status) string {
	switch s {
	case gupshup.StatusEnqueued, gupshup.StatusSent, gupshup.StatusDelivered, gupshup.StatusRead, gupshup.StatusFailed, gupshup.StatusDeleted:
		return string(s)
	}
	return "other"
}

func breakerValue(s breaker.State) float64 {
	switch s {
	case breaker.HalfOpen:
		return 1
	case breaker.Open:
		return 2
	}
	return 0
}

func (m *Metrics) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	m.register(name, v)
	return v
}

func (m *Metrics) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	v := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	m.register(name, v)
	return v
}

func (m *Metrics) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	m.register(name, v)
	return v
}

// register adds c; a second collector of the same name with other const
// labels (the local-keys gauge of a second limiter) joins the first.
func (m *Metrics) register(name string, c prometheus.Collector) {
	if err := m.reg.Register(c); err != nil {
		if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
			panic(err)
		}
		return
	}
	for _, n := range m.names {
		if n == name {
			return
		}
	}
	m.names = append(m.names, name)
}
