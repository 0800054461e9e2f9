// Command enqueuer puts WhatsApp sends on the queue: one message, an opt-in
// or opt-out, or a whole campaign from a CSV or JSONL file.
//
//	enqueuer campaign --file F.csv --campaign ID --template-id T
//	enqueuer send --to PHONE --text T
//	enqueuer optin --phone P
//	enqueuer optout --phone P
//
// Settings come from flags or the environment: REDIS_URL (--redis-url),
// GUPSHUP_SOURCE (--source), GUPSHUP_APP_NAME (--app). Logs are JSON lines
// on stderr, or human-readable with LOG_FORMAT=console. Run any command
// with -h for its flags.
//
// Exit status: 0 when everything was enqueued or was a harmless duplicate,
// 1 when a message or a row was rejected, 2 on a usage error, an unusable
// file, or when Redis could not be reached.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/redis/go-redis/v9"
)

func main() {
	// go-redis has one logger for the process; tests leave it alone.
	redis.SetLogger(redisLog{newLogger(&cli{stderr: os.Stderr, getenv: os.Getenv}, "redis")})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
