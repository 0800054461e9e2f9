package worker_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

const (
	testSource = "917834811114"
	testToken  = "cb-secret-token"
)

// pipeline is a whole deployment on loopback: a throwaway redis-server, the
// Gupshup simulator and a worker process in this test binary.
type pipeline struct {
	t        *testing.T
	redis    *redistest.Server
	sim      *gupshuptest.Server
	cfg      worker.Config
	producer *tasks.Producer
	store    *store.Store
	insp     *asynq.Inspector
	stop     context.CancelFunc
	done     chan error
	logs     *logging.Buffer
}

func startPipeline(t *testing.T, mutate func(*worker.Config), simOpts ...gupshuptest.Option) *pipeline {
	t.Helper()
	r := redistest.Start(t)
	port := redistest.FreePort(t)
	hook := fmt.Sprintf("http://127.0.0.1:%d/webhooks/gupshup/%s", port, testToken)
	sim := gupshuptest.NewServer(append([]gupshuptest.Option{
		gupshuptest.WithCallbackURL(hook),
		gupshuptest.WithCallbackDelays(5*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond, 60*time.Millisecond),
	}, simOpts...)...)
	t.Cleanup(sim.Close)
	sc := sim.Config()
	cfg := worker.Config{
		RedisURL: r.URL, APIKey: sc.APIKey, AppName: sc.AppName, Source: testSource, BaseURL: sim.URL,
		EnterpriseURL: sim.URL + gupshuptest.EnterprisePath, EnterpriseUserID: sc.EnterpriseUserID, EnterprisePassword: sc.EnterprisePassword,
		PartnerURL: sim.URL, PartnerAppID: sc.PartnerAppID, PartnerEmail: sc.PartnerEmail, PartnerPassword: sc.PartnerPassword,
		Timeout: 2 * time.Second, SendRate: 500, SendBurst: 1, Concurrency: 20, RecipientInterval: time.Second,
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", port), WebhookToken: testToken,
		BreakerOpen: time.Second, BreakerFailures: 5, ShutdownTimeout: 5 * time.Second,
		Ambiguous: "resend", RecordTTL: time.Hour, MaxAttempts: 6, RetryBase: 200 * time.Millisecond,
		LogFormat: "json", LogLevel: "info",
	}
	if mutate != nil {
		mutate(&cfg)
	}
	p := &pipeline{t: t, redis: r, sim: sim, cfg: cfg, logs: &logging.Buffer{}}
	p.producer = tasks.NewProducer(r.Client())
	p.store = store.New(r.Client())
	p.insp = asynq.NewInspector(asynq.RedisClientOpt{Addr: r.Addr})
	t.Cleanup(func() { p.insp.Close() })
	p.start()
	return p
}

// start runs the worker until stopWorker or the end of the test.
func (p *pipeline) start() {
	p.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p.stop, p.done = cancel, make(chan error, 1)
	var w io.Writer = p.logs
	if os.Getenv("WORKER_TEST_LOGS") != "" {
		w = io.MultiWriter(p.logs, os.Stderr)
	}
	log := logging.New(w, p.cfg.LogFormat, p.cfg.LogLevel)
	go func() { p.done <- worker.Run(ctx, p.cfg, log) }()
	p.t.Cleanup(p.stopWorker)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + p.cfg.HTTPAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("worker not ready: %v\n%s", err, p.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *pipeline) stopWorker() {
	if p.stop == nil {
		return
	}
	p.stop()
	p.stop = nil
	select {
	case err := <-p.done:
		if err != nil {
			p.t.Errorf("worker.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		p.t.Errorf("worker did not stop within 30 s")
	}
}

// waitFor polls cond until it holds or the timeout passes.
func (p *pipeline) waitFor(what string, timeout time.Duration, cond func() (bool, string)) {
	p.t.Helper()
	poll.Until(p.t, what, timeout, 100*time.Millisecond, cond)
}

func (p *pipeline) enqueue(s *tasks.Send, opts ...tasks.Option) {
	p.t.Helper()
	if _, err := p.producer.Enqueue(context.Background(), s, opts...); err != nil {
		p.t.Fatalf("enqueue %s: %v", s.MessageID, err)
	}
}

func (p *pipeline) record(id string) store.Record {
	p.t.Helper()
	rec, _, err := p.store.Get(context.Background(), id)
	if err != nil {
		p.t.Fatal(err)
	}
	return rec
}

func templateSend(id, dest string) *tasks.Send {
	return &tasks.Send{
		V: tasks.PayloadVersion, CampaignID: "camp", MessageID: id, Family: "selfserve", Source: testSource,
		Destination: dest, Template: &tasks.Template{ID: "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b", Params: []string{"Asha", "42"}},
	}
}
