// Package logging sets up the zerolog logger every command uses and keeps
// personal data out of it: JSON by default, LOG_FORMAT=console for people,
// phone numbers masked.
package logging

import (
	"io"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// New returns a logger writing to w: JSON lines, or a coloured console
// format when format is "console". level is a zerolog level name; an
// unknown or empty one means info.
func New(w io.Writer, format, level string) zerolog.Logger {
	if strings.EqualFold(format, "console") {
		w = zerolog.ConsoleWriter{Out: w, TimeFormat: time.TimeOnly}
	}
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || level == "" {
		lvl = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Logger()
}

// FromEnv builds the logger of a process named service from LOG_FORMAT and
// LOG_LEVEL, writing to stderr. The name goes under "service": "component"
// is left to the parts of the process, since zerolog appends a field
// again rather than replace it, and a key twice in a line is read
// differently by every log collector.
func FromEnv(service string) zerolog.Logger {
	return New(os.Stderr, os.Getenv("LOG_FORMAT"), os.Getenv("LOG_LEVEL")).With().Str("service", service).Logger()
}

// Mask hides the middle of a phone number, keeping the country code and the
// last digits that people use to tell numbers apart: 919876543210 becomes
// 91******3210.
func Mask(phone string) string {
	n := len(phone)
	switch {
	case n == 0:
		return ""
	case n <= 4:
		return strings.Repeat("*", n)
	case n <= 8:
		return strings.Repeat("*", n-2) + phone[n-2:]
	}
	return phone[:2] + strings.Repeat("*", n-6) + phone[n-4:]
}
