// Command bareworker is the baseline of the send-path benchmark (see
// bench/ and BENCHMARKS.md): an asynq server whose handler does only what
// a send cannot do without. It reads the task payload, builds the same
// self-serve template form the worker's Gupshup client builds, POSTs it
// with the same tuned HTTP client, and reads the answer. No limiter, no
// circuit breaker, no idempotency record, no logging, no classification.
//
// It handles self-serve template sends only, which is what the benchmark
// queues. Settings come from the same environment variables as the
// worker's: REDIS_URL, GUPSHUP_API_KEY, GUPSHUP_APP_NAME, GUPSHUP_BASE_URL,
// WORKER_CONCURRENCY, HTTP_ADDR (for /readyz only).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/tasks"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bareworker:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	concurrency, err := strconv.Atoi(os.Getenv("WORKER_CONCURRENCY"))
	if err != nil || concurrency < 1 {
		return fmt.Errorf("WORKER_CONCURRENCY %q: want a positive number", os.Getenv("WORKER_CONCURRENCY"))
	}
	opt, err := asynq.ParseRedisURI(os.Getenv("REDIS_URL"))
	if err != nil {
		return err
	}
	h := &handler{
		client: gupshup.NewHTTPClient(),
		url:    os.Getenv("GUPSHUP_BASE_URL") + "/wa/api/v1/template/msg",
		apiKey: os.Getenv("GUPSHUP_API_KEY"),
		app:    os.Getenv("GUPSHUP_APP_NAME"),
	}
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: concurrency,
		Queues:      tasks.Queues(),
		LogLevel:    asynq.ErrorLevel,
	})
	mux := asynq.NewServeMux()
	mux.Handle(tasks.TypeSend, h)
	if err := srv.Start(mux); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", os.Getenv("HTTP_ADDR"))
	if err != nil {
		return err
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

type handler struct {
	client      *http.Client
	url         string
	apiKey, app string
}

// payload is the part of a send payload the POST needs.
type payload struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
	Template    struct {
		ID     string   `json:"id"`
		Params []string `json:"params"`
	} `json:"template"`
}

func (h *handler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%v: %w", err, asynq.SkipRetry)
	}
	tpl, err := json.Marshal(struct {
		ID     string   `json:"id"`
		Params []string `json:"params"`
	}{p.Template.ID, p.Template.Params})
	if err != nil {
		return err
	}
	form := url.Values{
		"channel":     {"whatsapp"},
		"source":      {p.Source},
		"src.name":    {h.app},
		"destination": {p.Destination},
		"template":    {string(tpl)},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("apikey", h.apiKey)
	req.Header.Set("User-Agent", "waqueue-gupshup/1")
	resp, err := h.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return errors.New("HTTP " + resp.Status + ": " + string(body))
	}
	return nil
}
