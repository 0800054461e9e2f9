package gupshup

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Family names one of the three Gupshup API families. It is part of the task
// payload schema, so the string values are stable.
type Family string

const (
	// SelfServe is the apikey-authenticated gupshup.io API (/wa/api/v1, legacy /sm/api/v1).
	SelfServe Family = "selfserve"
	// Enterprise is the userid/password Enterprise Gateway API (GatewayAPI/rest).
	Enterprise Family = "enterprise"
	// Partner is the partner passthrough v3 API in Meta format.
	Partner Family = "partner"
)

// Valid reports whether f is one of the known families.
func (f Family) Valid() bool {
	switch f {
	case SelfServe, Enterprise, Partner:
		return true
	}
	return false
}

// Error is the one error type every call of this package returns for a failed
// exchange with Gupshup. Callers inspect its fields (errors.As) instead of
// matching strings: the retry classifier decides on HTTPStatus, Code,
// Transport and Timeout alone.
type Error struct {
	Family Family
	// Op is the operation that failed ("send", "template", "optin", "token", ...).
	Op string
	// HTTPStatus is the status of the response, 0 when none arrived.
	HTTPStatus int
	// Code is the Gupshup or Meta error code carried by the response, 0 when none.
	Code int
	// Message is the text Gupshup gave (status message, details, Meta title).
	Message string
	// Transport is true when no HTTP response arrived (refused, reset, DNS,
	// TLS, a body cut short). Such a send may or may not have reached Gupshup.
	Transport bool
	// Timeout is true when the call ran out of time (client timeout or ctx
	// deadline). Like Transport, the outcome of the request is unknown.
	Timeout bool
	// RetryAfter is what a 429 or 503 response asked for, 0 when it said nothing.
	RetryAfter time.Duration
	// Err is the underlying cause, if any (never contains credentials).
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gupshup ")
	b.WriteString(string(e.Family))
	if e.Op != "" {
		b.WriteByte(' ')
		b.WriteString(e.Op)
	}
	b.WriteString(": ")
	switch {
	case e.Timeout:
		b.WriteString("timeout")
	case e.Transport:
		b.WriteString("transport error")
	default:
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(e.HTTPStatus))
	}
	if e.Code != 0 {
		b.WriteString(" code ")
		b.WriteString(strconv.Itoa(e.Code))
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.Err != nil && (e.Transport || e.Timeout) {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Unknown reports whether the request may have been accepted by Gupshup even
// though no answer says so: a timeout or a transport failure after the
// request was written. Callers that must not send twice treat such a send
// as ambiguous.
func (e *Error) Unknown() bool { return e.Transport || e.Timeout }

// AsError returns the *Error in err's chain, if there is one.
func AsError(err error) (*Error, bool) {
	var ge *Error
	if errors.As(err, &ge) {
		return ge, true
	}
	return nil, false
}

// ValidationError is returned before anything is sent when a request is
// incomplete or malformed. Field names the offending field the way the
// Gupshup API spells it (for example "destination" or "message.image.link").
type ValidationError struct {
	Field   string
	Problem string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("gupshup: invalid %s: %s", e.Field, e.Problem)
}

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}
