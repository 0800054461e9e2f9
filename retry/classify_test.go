package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"github.com/waqueue/waqueue/gupshup"
)

func httpErr(status, code int, msg string) *gupshup.Error {
	return &gupshup.Error{Family: gupshup.SelfServe, Op: "send", HTTPStatus: status, Code: code, Message: msg}
}

func TestClassify(t *testing.T) {
	ra := func(e *gupshup.Error, d time.Duration) *gupshup.Error { e.RetryAfter = d; return e }
	timeout := &gupshup.Error{Family: gupshup.SelfServe, Op: "send", Timeout: true, Err: context.DeadlineExceeded}
	transport := &gupshup.Error{Family: gupshup.Partner, Op: "send", Transport: true, Err: io.ErrUnexpectedEOF}
	canceledSend := &gupshup.Error{Family: gupshup.SelfServe, Op: "send", Transport: true, Err: context.Canceled}
	validation := &gupshup.ValidationError{Field: "destination", Problem: "empty"}

	tests := []struct {
		name string
		err  error
		want Verdict
	}{
		{"nil", nil, Verdict{Class: Ok}},
		{"401", httpErr(401, 0, "Authentication Failed"),
			Verdict{Class: Terminal, HTTPStatus: 401, Reason: "Authentication Failed", Alarm: true, AccountWide: true}},
		{"401 wrapped", fmt.Errorf("worker: %w", httpErr(401, 0, "")),
			Verdict{Class: Terminal, HTTPStatus: 401, Reason: "Unauthorized", Alarm: true, AccountWide: true}},
		{"403", httpErr(403, 0, ""),
			Verdict{Class: Terminal, HTTPStatus: 403, Reason: "Forbidden", Alarm: true, AccountWide: true}},
		{"400 invalid destination", httpErr(400, 0, "Invalid Destination"),
			Verdict{Class: Terminal, HTTPStatus: 400, Reason: "Invalid Destination"}},
		{"400 invalid app details", httpErr(400, 0, "Invalid App Details"),
			Verdict{Class: Terminal, HTTPStatus: 400, Reason: "Invalid App Details", Alarm: true, AccountWide: true}},
		{"404", httpErr(404, 0, ""), Verdict{Class: Terminal, HTTPStatus: 404, Reason: "Not Found"}},
		{"429", httpErr(429, 0, "Too Many Requests"),
			Verdict{Class: Throttled, HTTPStatus: 429, Reason: "Too Many Requests"}},
		{"429 retry-after", ra(httpErr(429, 0, ""), 30*time.Second),
			Verdict{Class: Throttled, HTTPStatus: 429, Reason: "Too Many Requests", Delay: 30 * time.Second}},
		{"429 unknown code", httpErr(429, 77, "slow"),
			Verdict{Class: Throttled, HTTPStatus: 429, Code: 77, Reason: "slow"}},
		{"429 code 130429", httpErr(429, 130429, ""),
			Verdict{Class: Throttled, HTTPStatus: 429, Code: 130429, Reason: "Meta throughput reached"}},
		{"500", httpErr(500, 0, ""), Verdict{Class: Retryable, HTTPStatus: 500, Reason: "Internal Server Error"}},
		{"500 unknown code", httpErr(500, 9999, "boom"),
			Verdict{Class: Retryable, HTTPStatus: 500, Code: 9999, Reason: "boom"}},
		{"502", httpErr(502, 0, ""),
			Verdict{Class: Retryable, HTTPStatus: 502, Reason: "Bad Gateway", Ambiguous: true}},
		{"503 retry-after", ra(httpErr(503, 0, ""), 20*time.Second),
			Verdict{Class: Retryable, HTTPStatus: 503, Reason: "Service Unavailable", Delay: 20 * time.Second}},
		{"504", httpErr(504, 0, ""),
			Verdict{Class: Retryable, HTTPStatus: 504, Reason: "Gateway Timeout", Ambiguous: true}},
		{"timeout", timeout,
			Verdict{Class: Retryable, Reason: "timeout: context deadline exceeded", Ambiguous: true}},
		{"transport", transport,
			Verdict{Class: Retryable, Reason: "transport error: unexpected EOF", Ambiguous: true}},
		{"transport wrapped", fmt.Errorf("a: %w", fmt.Errorf("b: %w", transport)),
			Verdict{Class: Retryable, Reason: "transport error: unexpected EOF", Ambiguous: true}},
		{"send canceled", canceledSend, Verdict{Class: Throttled, Reason: "canceled", Ambiguous: true}},
		{"context canceled", context.Canceled, Verdict{Class: Throttled, Reason: "canceled"}},
		{"context canceled wrapped", fmt.Errorf("wait: %w", context.Canceled), Verdict{Class: Throttled, Reason: "canceled"}},
		{"validation", validation, Verdict{Class: Terminal, Reason: "gupshup: invalid destination: empty"}},
		{"validation wrapped", fmt.Errorf("build: %w", validation),
			Verdict{Class: Terminal, Reason: "gupshup: invalid destination: empty"}},
		{"400 closed window", httpErr(400, 131047, "Re-engagement message"),
			Verdict{Class: Terminal, HTTPStatus: 400, Code: 131047, Reason: "Re-engagement message", ClosedWindow: true}},
		{"200 body code 1002", httpErr(200, 1002, ""),
			Verdict{Class: Terminal, HTTPStatus: 200, Code: 1002, Reason: "number does not exist on WhatsApp"}},
		{"200 body code 4001", httpErr(200, 4001, ""),
			Verdict{Class: Throttled, HTTPStatus: 200, Code: 4001, Reason: "API rate limited"}},
		{"400 pair rate with retry-after", ra(httpErr(400, 131056, ""), 10*time.Second),
			Verdict{Class: Throttled, HTTPStatus: 400, Code: 131056, Reason: "pair rate limit (same recipient too often)", Delay: 10 * time.Second}},
		{"400 pair rate short retry-after", ra(httpErr(400, 131056, ""), time.Second),
			Verdict{Class: Throttled, HTTPStatus: 400, Code: 131056, Reason: "pair rate limit (same recipient too often)", Delay: 6 * time.Second}},
		{"400 unknown code", httpErr(400, 99999, "what"),
			Verdict{Class: Retryable, HTTPStatus: 400, Code: 99999, Reason: "what", Unknown: true}},
		{"200 no code", httpErr(200, 0, "Invalid credentials?"),
			Verdict{Class: Retryable, HTTPStatus: 200, Reason: "Invalid credentials?", Unknown: true}},
		{"breaker open", gobreaker.ErrOpenState, Verdict{Class: Throttled, Reason: "circuit breaker open"}},
		{"breaker half-open", fmt.Errorf("send: %w", gobreaker.ErrTooManyRequests),
			Verdict{Class: Throttled, Reason: "circuit breaker open"}},
		{"other", errors.New("redis: connection pool timeout"),
			Verdict{Class: Retryable, Reason: "redis: connection pool timeout"}},
		{"deadline", context.DeadlineExceeded, Verdict{Class: Retryable, Reason: "context deadline exceeded"}},
		{"own error", fmt.Errorf("x: %w", Dead(ClassifyCode(1002, ""))), ClassifyCode(1002, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.err); got != tt.want {
				t.Errorf("Classify()\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestClassifyGatewayCodes(t *testing.T) {
	tests := []struct {
		code        int
		class       Class
		accountWide bool
	}{
		{gupshup.EnterpriseCodeAuthFailed, Terminal, true},
		{gupshup.EnterpriseCodeNoCredits, Terminal, true},
		{gupshup.EnterpriseCodeServiceDisabled, Terminal, true},
		{gupshup.EnterpriseCodeInvalidPhone, Terminal, false},
		{gupshup.EnterpriseCodeMissingParameter, Terminal, false},
		{gupshup.EnterpriseCodeUnknown, Retryable, false},
	}
	for _, tt := range tests {
		v := Classify(&gupshup.Error{Family: gupshup.Enterprise, HTTPStatus: 200, Code: tt.code})
		if v.Class != tt.class || v.AccountWide != tt.accountWide || v.Alarm != tt.accountWide {
			t.Errorf("enterprise code %d: %+v, want class %v account-wide %v", tt.code, v, tt.class, tt.accountWide)
		}
	}
	// The same number from another family keeps the WhatsApp table's meaning
	// (an unknown code there).
	if v := Classify(&gupshup.Error{Family: gupshup.SelfServe, HTTPStatus: 400, Code: 102}); v.AccountWide {
		t.Errorf("self-serve code 102 classified as a Gateway code: %+v", v)
	}
	// A 5xx from the Gateway is a service failure whatever code it carries.
	if v := Classify(&gupshup.Error{Family: gupshup.Enterprise, HTTPStatus: 503, Code: 102}); v.Class != Retryable {
		t.Errorf("enterprise 503: %+v", v)
	}
}
