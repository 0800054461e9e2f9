package retry

import (
	"context"
	"errors"
	"testing"

	"github.com/waqueue/waqueue/gupshup"
)

// One sub-benchmark per kind of outcome, so that benchstat compares like
// with like (BenchmarkClassify cycles through a mix).
func BenchmarkClassifyOutcome(b *testing.B) {
	cases := []struct {
		name string
		err  error
	}{
		{"ok", nil},
		{"http429", httpErr(429, 0, "Too Many Requests")},
		{"http503", httpErr(503, 0, "")},
		{"code1002", httpErr(400, 1002, "")},
		{"closed_window", httpErr(400, 131047, "")},
		{"timeout", &gupshup.Error{Timeout: true, Err: context.DeadlineExceeded}},
		{"wrapped401", errors.Join(errors.New("send"), httpErr(401, 0, ""))},
		{"validation", &gupshup.ValidationError{Field: "destination", Problem: "empty"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				sink = Classify(c.err)
			}
		})
	}
}
