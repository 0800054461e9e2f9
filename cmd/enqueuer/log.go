package main

import (
	"context"
	"io"
	"time"

	"github.com/rs/zerolog"
)

// newLogger writes JSON lines, the format log collectors expect, unless
// LOG_FORMAT=console asks for a human one.
func newLogger(c *cli, cmd string) zerolog.Logger {
	var w io.Writer = c.stderr
	if c.getenv("LOG_FORMAT") == "console" {
		w = zerolog.ConsoleWriter{Out: c.stderr, TimeFormat: time.RFC3339, NoColor: true}
	}
	return zerolog.New(w).Level(zerolog.InfoLevel).With().Timestamp().Str("cmd", cmd).Logger()
}

// redisLog takes go-redis's own messages, which would otherwise go to
// stderr in another format; they repeat what our errors already say (a
// failed dial is retried and logged several times), hence debug level.
type redisLog struct{ log zerolog.Logger }

func (r redisLog) Printf(_ context.Context, format string, v ...any) {
	r.log.Debug().Str("component", "go-redis").Msgf(format, v...)
}
