package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
)

func TestBreaker(t *testing.T) {
	tests := []struct {
		name              string
		err               error
		failure, excluded bool
	}{
		{"nil", nil, false, false},
		{"500", httpErr(500, 0, ""), true, false},
		{"502", httpErr(502, 0, ""), true, false},
		{"503 wrapped", fmt.Errorf("send: %w", httpErr(503, 0, "")), true, false},
		{"timeout", &gupshup.Error{Timeout: true, Err: context.DeadlineExceeded}, true, false},
		{"transport", &gupshup.Error{Transport: true, Err: errors.New("connection reset")}, true, false},
		{"canceled send", &gupshup.Error{Transport: true, Err: context.Canceled}, false, true},
		{"canceled", context.Canceled, false, true},
		{"429", httpErr(429, 0, ""), false, false},
		{"401", httpErr(401, 0, ""), false, false},
		{"400 invalid destination", httpErr(400, 0, "Invalid Destination"), false, false},
		{"400 code 131047", httpErr(400, 131047, ""), false, false},
		{"200 code 1002", httpErr(200, 1002, ""), false, false},
		{"validation", &gupshup.ValidationError{Field: "message", Problem: "empty"}, false, true},
		{"other", errors.New("boom"), false, false},
	}
	for _, tt := range tests {
		if got := BreakerFailure(tt.err); got != tt.failure {
			t.Errorf("%s: BreakerFailure = %v, want %v", tt.name, got, tt.failure)
		}
		if got := BreakerExcluded(tt.err); got != tt.excluded {
			t.Errorf("%s: BreakerExcluded = %v, want %v", tt.name, got, tt.excluded)
		}
	}
}
