package retry

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
)

var sink Verdict

func BenchmarkClassify(b *testing.B) {
	errs := []error{
		nil,
		httpErr(429, 0, "Too Many Requests"),
		httpErr(503, 0, ""),
		httpErr(400, 131047, ""),
		&gupshup.Error{Timeout: true, Err: context.DeadlineExceeded},
		fmt.Errorf("send: %w", httpErr(401, 0, "")),
		&gupshup.ValidationError{Field: "destination", Problem: "empty"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink = Classify(errs[i%len(errs)])
	}
}

func BenchmarkClassifyCode(b *testing.B) {
	codes := []int{1002, 1003, 470, 131056, 132005, 424242}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sink = ClassifyCode(codes[i%len(codes)], "")
	}
}

func BenchmarkBackoff(b *testing.B) {
	p := DefaultPolicy()
	v := Verdict{Class: Retryable}
	var d time.Duration
	for i := 0; b.Loop(); i++ {
		d += p.Backoff(v, i%12)
	}
	_ = d
}
