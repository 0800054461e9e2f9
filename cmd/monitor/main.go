// Command monitor serves the asynq UI (asynqmon) on its own, against
// REDIS_URL: the worker's /monitor without a worker, with the same basic
// auth and the same masking of phone numbers. Run it with -h for the
// settings; `make monitor` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
	stop()
	os.Exit(code)
}

type settings struct {
	redisURL, addr, user, password, logFormat string
	readOnly                                  bool
}

// load reads the environment (secrets also from <VAR>_FILE), then flags.
func load(args []string, getenv func(string) string, stderr io.Writer) (*settings, error) {
	env := func(name, def string, secret bool) (string, error) {
		if v := getenv(name); v != "" {
			return v, nil
		}
		if p := getenv(name + "_FILE"); secret && p != "" {
			b, err := os.ReadFile(p)
			if err != nil {
				return "", fmt.Errorf("%s_FILE: %w", name, err)
			}
			return strings.TrimSpace(string(b)), nil
		}
		return def, nil
	}
	var s settings
	var err error
	get := func(dst *string, name, def string, secret bool) {
		if err == nil {
			*dst, err = env(name, def, secret)
		}
	}
	var ro string
	get(&s.redisURL, "REDIS_URL", "redis://127.0.0.1:6379/0", true)
	get(&s.addr, "MONITOR_ADDR", "127.0.0.1:8081", false)
	get(&s.user, "MONITOR_USER", "admin", false)
	get(&s.password, "MONITOR_PASSWORD", "", true)
	get(&ro, "MONITOR_READ_ONLY", "true", false)
	get(&s.logFormat, "LOG_FORMAT", "console", false)
	if err != nil {
		return nil, err
	}
	readOnly, perr := strconv.ParseBool(ro)
	if perr != nil {
		return nil, fmt.Errorf("MONITOR_READ_ONLY: not true or false: %q", ro)
	}
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&s.redisURL, "redis-url", s.redisURL, "Redis of the queues, as the worker's REDIS_URL (env REDIS_URL or REDIS_URL_FILE)")
	fs.StringVar(&s.addr, "addr", s.addr, "listen address (env MONITOR_ADDR)")
	fs.StringVar(&s.user, "user", s.user, "basic auth user (env MONITOR_USER)")
	fs.StringVar(&s.password, "password", s.password, "basic auth password, required (env MONITOR_PASSWORD or MONITOR_PASSWORD_FILE)")
	fs.BoolVar(&s.readOnly, "read-only", readOnly, "only show tasks; false lets the UI run, delete and archive them (env MONITOR_READ_ONLY)")
	fs.StringVar(&s.logFormat, "log-format", s.logFormat, "json or console (env LOG_FORMAT)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "monitor: the asynq UI for waqueue's queues, behind basic auth, with phone numbers masked.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &s, nil
}

// run serves until ctx ends; ready, when set, is told the address.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string)) int {
	s, err := load(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "monitor:", err)
		return 2
	}
	log := logging.New(stderr, s.logFormat, "info").With().Str("service", "monitor").Logger()
	opt, err := redisconn.Parse(s.redisURL)
	if err != nil {
		fmt.Fprintln(stderr, "monitor: REDIS_URL:", err)
		return 2
	}
	mon, err := worker.NewMonitor(opt, worker.MonitorOptions{User: s.user, Password: s.password, ReadOnly: s.readOnly})
	if err != nil {
		fmt.Fprintln(stderr, "monitor:", err)
		return 2
	}
	defer mon.Close()
	mux := http.NewServeMux()
	mon.Register(mux)
	mux.Handle("GET /{$}", http.RedirectHandler(mon.Path()+"/", http.StatusFound))
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		fmt.Fprintf(stderr, "monitor: MONITOR_ADDR %s: %v\n", s.addr, err)
		return 2
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info().Str("url", "http://"+ln.Addr().String()+mon.Path()+"/").Bool("read_only", s.readOnly).Str("user", s.user).Msg("asynq UI ready")
	if ready != nil {
		ready(ln.Addr().String())
	}
	select {
	case <-ctx.Done():
	case err := <-done:
		log.Error().Err(err).Msg("HTTP server stopped")
		return 1
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return 0
}
