package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/tasks"
)

// Environment variables the enqueuer reads. They are a contract shared
// with the worker's deployment: never rename them.
const (
	envRedisURL = "REDIS_URL"
	envSource   = "GUPSHUP_SOURCE"
	envApp      = "GUPSHUP_APP_NAME"
)

// settings are the flags every command has: where Redis is and who sends.
type settings struct {
	redisURL string
	source   string
	app      string
	family   string
}

// register adds the flags with empty defaults; fill takes the environment
// afterwards. Taking the environment as the flag default would print it in
// -h, and REDIS_URL may hold a password.
// Consent commands have no sender number, hence withSource.
func (s *settings) register(fs *flag.FlagSet, withSource bool) {
	fs.StringVar(&s.redisURL, "redis-url", "", "Redis URL, redis://[user:password@]host:port[/db] or rediss:// for TLS (default $"+envRedisURL+")")
	if withSource {
		fs.StringVar(&s.source, "source", "", "business phone number that sends, E.164 (default $"+envSource+")")
	}
	fs.StringVar(&s.app, "app", "", "self-serve app name or partner app id; empty lets the worker use its default (default $"+envApp+")")
	fs.StringVar(&s.family, "family", string(gupshup.SelfServe), "Gupshup API family: selfserve, enterprise or partner")
}

func (s *settings) fill(getenv func(string) string) {
	if s.redisURL == "" {
		s.redisURL = getenv(envRedisURL)
	}
	if s.source == "" {
		s.source = getenv(envSource)
	}
	if s.app == "" {
		s.app = getenv(envApp)
	}
}

func (s *settings) checkFamily() (gupshup.Family, error) {
	f := gupshup.Family(s.family)
	if !f.Valid() {
		return "", fmt.Errorf("--family %q: want selfserve, enterprise or partner", s.family)
	}
	return f, nil
}

func (s *settings) checkSource() error {
	if s.source == "" {
		return errors.New("--source (or $" + envSource + ") is required")
	}
	return nil
}

// open connects a producer with poolSize connections. A setting that
// cannot work is a usage error (bad is true); otherwise Redis did not
// answer. Errors never contain the URL, which may hold a password.
func (s *settings) open(ctx context.Context, poolSize int) (p *tasks.Producer, bad bool, err error) {
	if s.redisURL == "" {
		return nil, true, errors.New("--redis-url (or $" + envRedisURL + ") is required")
	}
	opt, err := redisconn.Parse(s.redisURL)
	if err != nil {
		return nil, true, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	p, err = tasks.OpenProducer(ctx, opt, poolSize)
	return p, false, err
}

// timing is when the messages are due and until when they are worth
// sending: --at (RFC 3339, default now) and --expires-in counted from it, so
// that a campaign scheduled for tomorrow is not already half expired.
type timing struct {
	at        string
	expiresIn time.Duration
}

func (t *timing) register(fs *flag.FlagSet) {
	fs.StringVar(&t.at, "at", "", "send at this time, RFC 3339 (2025-06-01T09:00:00+05:30); default now")
	fs.DurationVar(&t.expiresIn, "expires-in", 24*time.Hour, "validity period counted from --at: past it a message is not sent and is recorded as expired")
}

// resolve returns the task options and the expiry for now.
func (t *timing) resolve(now time.Time) ([]tasks.Option, time.Time, error) {
	if t.expiresIn <= 0 {
		return nil, time.Time{}, fmt.Errorf("--expires-in %v: want a positive duration", t.expiresIn)
	}
	if t.at == "" {
		return nil, expiry(now, t.expiresIn), nil
	}
	at, err := time.Parse(time.RFC3339, t.at)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("--at %q: want an RFC 3339 time like 2025-06-01T09:00:00Z", t.at)
	}
	base := at
	if base.Before(now) {
		base = now
	}
	return []tasks.Option{tasks.ProcessAt(at)}, expiry(base, t.expiresIn), nil
}

// expiry is base + validity in whole seconds of UTC: it is written into
// every queued task, where nanoseconds and a zone offset are bytes that
// change nothing. It is cut down to the second, not past base: a
// validity under a second would otherwise expire as it is enqueued.
func expiry(base time.Time, validity time.Duration) time.Time {
	exp := base.Add(validity).Truncate(time.Second).UTC()
	if !exp.After(base) {
		exp = exp.Add(time.Second)
	}
	return exp
}

// flagOf names the flag a payload field comes from.
var flagOf = map[string]string{
	"campaign_id": "--campaign",
	"source":      "--source",
	"app":         "--app",
	"family":      "--family",
	"queue":       "--queue",
}

// flagError restates a validation error of a field that comes from a flag
// in terms of that flag.
func flagError(err error) error {
	var ve *tasks.ValidationError
	if errors.As(err, &ve) {
		if name, ok := flagOf[ve.Field]; ok {
			return fmt.Errorf("%s: %s", name, ve.Problem)
		}
	}
	return err
}

// isFlagError reports whether a validation error is about a setting (a
// queue, a source) rather than the message.
func isFlagError(err error) bool {
	var ve *tasks.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	_, ok := flagOf[ve.Field]
	return ok
}
