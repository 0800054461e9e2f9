// Command worker sends the WhatsApp messages queued in Redis through
// Gupshup and takes Gupshup's callbacks. Settings are environment variables
// or flags; run it with -h for the list.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := loadConfig(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	// "service" names the process; the worker's parts add "component"
	// (send, webhook, campaign, ...) to theirs. zerolog appends fields, so
	// one key for both would appear twice in a line.
	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel).With().Str("service", "worker").Logger()
	if err := worker.Run(ctx, *cfg, log); err != nil {
		log.Error().Err(err).Msg("worker failed")
		return 1
	}
	return 0
}
