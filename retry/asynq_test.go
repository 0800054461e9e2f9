package retry

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/waqueue/waqueue/gupshup"
)

func TestIsFailure(t *testing.T) {
	v := ClassifyCode(4002, "")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"later", Later(v, time.Minute), true},
		{"throttle", Throttle(ClassifyCode(130429, ""), 0), false},
		{"throttle wrapped", fmt.Errorf("handler: %w", Throttle(v, time.Second)), false},
		{"dead", Dead(ClassifyCode(1002, "")), true},
		{"raw 429", httpErr(429, 0, ""), false},
		{"raw canceled", context.Canceled, false},
		{"raw deadline", context.DeadlineExceeded, true},
		{"raw 500", httpErr(500, 0, ""), true},
		{"raw other", errors.New("boom"), true},
	}
	for _, tt := range tests {
		if got := IsFailure(tt.err); got != tt.want {
			t.Errorf("%s: IsFailure = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRetryDelay(t *testing.T) {
	p := fixed(0)
	v := ClassifyCode(4002, "")
	tests := []struct {
		name string
		n    int
		err  error
		want time.Duration
	}{
		{"later carries delay", 3, Later(v, 42*time.Second), 42 * time.Second},
		{"throttle carries delay", 3, Throttle(v, 7*time.Second), 7 * time.Second},
		{"later without delay", 0, Later(v, 0), 10 * time.Second},
		{"wrapped", 0, fmt.Errorf("x: %w", Later(v, time.Minute)), time.Minute},
		{"raw 429 retry-after", 5, &gupshupErr429, 30 * time.Second},
		{"raw canceled", 5, context.Canceled, 5 * time.Second},
		{"raw other", 0, errors.New("boom"), 10 * time.Second},
		// asynq retries a raw terminal error; it must still back off.
		{"raw terminal", 0, httpErr(400, 0, "Invalid Destination"), 10 * time.Second},
	}
	for _, tt := range tests {
		if got := p.RetryDelay(tt.n, tt.err, asynq.NewTask("send", nil)); got != tt.want {
			t.Errorf("%s: RetryDelay = %v, want %v", tt.name, got, tt.want)
		}
	}
	var f asynq.RetryDelayFunc = p.RetryDelay // the signature asynq wants
	_ = f
}

var gupshupErr429 = *func() *gupshup.Error {
	e := httpErr(429, 0, "")
	e.RetryAfter = 30 * time.Second
	return e
}()

func TestErrors(t *testing.T) {
	dead := Dead(ClassifyCode(1002, ""))
	if !errors.Is(dead, asynq.SkipRetry) || !errors.Is(fmt.Errorf("h: %w", dead), asynq.SkipRetry) {
		t.Error("Dead does not satisfy errors.Is(err, asynq.SkipRetry)")
	}
	if got, want := dead.Error(), "terminal: code 1002: number does not exist on WhatsApp"; got != want {
		t.Errorf("Dead text %q, want %q", got, want)
	}
	if got, want := Dead(Classify(httpErr(401, 0, "Authentication Failed"))).Error(), "terminal: HTTP 401: Authentication Failed"; got != want {
		t.Errorf("Dead text %q, want %q", got, want)
	}
	if got, want := Dead(Classify(httpErr(400, 131047, "Re-engagement message"))).Error(), "terminal: HTTP 400 code 131047: Re-engagement message"; got != want {
		t.Errorf("Dead text %q, want %q", got, want)
	}
	for _, err := range []error{Later(ClassifyCode(4002, ""), time.Second), Throttle(ClassifyCode(4001, ""), 0)} {
		if errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%v wraps SkipRetry", err)
		}
	}
	if got, want := Later(ClassifyCode(4002, ""), 90*time.Second).Error(), "retryable: code 4002: invalid response from WhatsApp (retry in 1m30s)"; got != want {
		t.Errorf("Later text %q, want %q", got, want)
	}
	if got, want := Throttle(ClassifyCode(130429, ""), 5*time.Second).Error(), "throttled: code 130429: Meta throughput reached (retry in 5s, no attempt used)"; got != want {
		t.Errorf("Throttle text %q, want %q", got, want)
	}
	v, ok := VerdictOf(fmt.Errorf("h: %w", dead))
	if !ok || v != ClassifyCode(1002, "") {
		t.Errorf("VerdictOf = %+v, %v", v, ok)
	}
	if _, ok := VerdictOf(errors.New("x")); ok {
		t.Error("VerdictOf found a verdict in a foreign error")
	}
}

func TestOutcome(t *testing.T) {
	p := fixed(0)
	if err := p.Outcome(Verdict{Class: Ok}, 0); err != nil {
		t.Errorf("ok: %v", err)
	}
	later := p.Outcome(ClassifyCode(4002, ""), 0)
	if !IsFailure(later) || errors.Is(later, asynq.SkipRetry) || p.RetryDelay(0, later, nil) != 10*time.Second {
		t.Errorf("retryable: %v", later)
	}
	wait := p.Outcome(ClassifyCode(131056, ""), 20)
	if IsFailure(wait) || p.RetryDelay(20, wait, nil) < 6*time.Second {
		t.Errorf("throttled: %v", wait)
	}
	dead := p.Outcome(ClassifyCode(1012, ""), 0)
	if !errors.Is(dead, asynq.SkipRetry) || dead.Error() != "terminal: code 1012: number opted out" {
		t.Errorf("terminal: %v", dead)
	}
	gone := p.Outcome(ClassifyCode(4002, ""), 11)
	if !errors.Is(gone, asynq.SkipRetry) || gone.Error() != "gave up after 12 attempts: retryable: code 4002: invalid response from WhatsApp" {
		t.Errorf("exhausted: %v", gone)
	}
	unknown := p.Outcome(ClassifyCode(555555, ""), 4)
	if !errors.Is(unknown, asynq.SkipRetry) || !strings.Contains(unknown.Error(), "code 555555") {
		t.Errorf("unknown exhausted: %v", unknown)
	}
}

func TestOutcomeAtAsynqMaxRetry(t *testing.T) {
	p := DefaultPolicy()
	// A task enqueued with a small MaxRetry: asynq archives whatever is
	// returned once the count reaches it, so say it in the text.
	err := p.outcome(ClassifyCode(130429, ""), 3, 3)
	if !errors.Is(err, asynq.SkipRetry) || !strings.HasPrefix(err.Error(), "gave up after 4 attempts: throttled") {
		t.Errorf("throttle at MaxRetry: %v", err)
	}
	if err := p.outcome(ClassifyCode(130429, ""), 2, 3); errors.Is(err, asynq.SkipRetry) {
		t.Errorf("throttle below MaxRetry gave up: %v", err)
	}
	if err := p.outcome(Verdict{Class: Ok}, 3, 3); err != nil {
		t.Errorf("ok at MaxRetry: %v", err)
	}
	// Without asynq metadata the context counts as a first try.
	if err := p.OutcomeContext(context.Background(), ClassifyCode(4002, "")); IsFailure(err) != true || errors.Is(err, asynq.SkipRetry) {
		t.Errorf("OutcomeContext: %v", err)
	}
}

// asynqServer mimics processor.handleFailedMessage of asynq v0.26 for one
// task: archive when Retried >= Retry or on SkipRetry, else count the
// failure when IsFailure says so.
type asynqServer struct {
	retried, maxRetry int
	archived          bool
	lastErr           string
}

func (s *asynqServer) fail(err error) {
	switch {
	case s.retried >= s.maxRetry || errors.Is(err, asynq.SkipRetry):
		s.archived, s.lastErr = true, err.Error()
	case IsFailure(err):
		s.retried++
	}
}

func TestPolicyDecidesNotAsynq(t *testing.T) {
	p := DefaultPolicy()
	s := &asynqServer{maxRetry: AsynqMaxRetry}
	throttled := ClassifyCode(130429, "")
	retryable := ClassifyCode(4002, "")
	// Long throttling never counts and never archives.
	for range 1000 {
		s.fail(p.outcome(throttled, s.retried, s.maxRetry))
	}
	if s.archived || s.retried != 0 {
		t.Fatalf("throttles archived the task or counted: %+v", s)
	}
	// Retryable failures mixed with throttles: the policy gives up at
	// MaxAttempts, with its own text, before asynq's backstop.
	tries := 0
	for !s.archived {
		tries++
		s.fail(p.outcome(retryable, s.retried, s.maxRetry))
		s.fail(p.outcome(throttled, s.retried, s.maxRetry))
	}
	if tries != p.MaxAttempts || !strings.HasPrefix(s.lastErr, "gave up after 12 attempts") {
		t.Errorf("gave up after %d tries with %q", tries, s.lastErr)
	}
}
