package retry

import (
	"strings"
	"testing"
	"time"
)

func fixed(u float64) Policy {
	p := DefaultPolicy()
	p.uniform = func() float64 { return u }
	return p
}

const almostOne = 0.999999

func TestBackoffGrowsThenCaps(t *testing.T) {
	v := Verdict{Class: Retryable}
	p := fixed(0.5)
	prev := time.Duration(0)
	for n := 0; n <= 8; n++ {
		d := p.Backoff(v, n)
		if d <= prev {
			t.Fatalf("attempt %d: %v, not above %v", n, d, prev)
		}
		prev = d
	}
	for _, n := range []int{9, 20, 62, 63, 64, 1000, 1 << 30} {
		if d := p.Backoff(v, n); d != prev {
			t.Errorf("attempt %d: %v, want the capped %v", n, d, prev)
		}
	}
	for _, n := range []int{0, 5, 8, 100, 1 << 30} {
		if d := fixed(almostOne).Backoff(v, n); d > time.Hour {
			t.Errorf("attempt %d: %v above Cap", n, d)
		}
	}
}

func TestBackoffBounds(t *testing.T) {
	v := Verdict{Class: Retryable}
	tests := []struct {
		attempt int
		hi      time.Duration
	}{
		{0, 20 * time.Second},
		{1, 40 * time.Second},
		{2, 80 * time.Second},
		{7, 2560 * time.Second},
		{8, time.Hour},
		{-3, 20 * time.Second},
	}
	for _, tt := range tests {
		if lo := fixed(0).Backoff(v, tt.attempt); lo != 10*time.Second {
			t.Errorf("attempt %d: lowest %v, want Base", tt.attempt, lo)
		}
		if hi := fixed(almostOne).Backoff(v, tt.attempt); hi >= tt.hi || hi < tt.hi-time.Second/10 {
			t.Errorf("attempt %d: highest %v, want just under %v", tt.attempt, hi, tt.hi)
		}
		p := DefaultPolicy() // the real random source
		for range 2000 {
			d := p.Backoff(v, tt.attempt)
			if d < 10*time.Second || d >= tt.hi {
				t.Fatalf("attempt %d: %v outside [10s, %v)", tt.attempt, d, tt.hi)
			}
		}
	}
}

func TestBackoffNeverUnderDelay(t *testing.T) {
	tests := []struct {
		v      Verdict
		lo, hi time.Duration
	}{
		{ClassifyCode(131049, ""), 24 * time.Hour, 24*time.Hour + 24*time.Hour/10},
		{ClassifyCode(131056, ""), 6 * time.Second, 10 * time.Second},
		{Verdict{Class: Throttled, Delay: 30 * time.Second}, 30 * time.Second, 33 * time.Second},
		{Verdict{Class: Retryable, Delay: 5 * time.Minute}, 5 * time.Minute, 5*time.Minute + 30*time.Second},
		// A Delay below the computed wait changes nothing.
		{Verdict{Class: Retryable, Delay: time.Second}, 10 * time.Second, 20 * time.Second},
	}
	for _, tt := range tests {
		for _, u := range []float64{0, 0.5, almostOne} {
			if d := fixed(u).Backoff(tt.v, 0); d < tt.lo || d >= tt.hi {
				t.Errorf("%v u=%v: %v outside [%v, %v)", tt.v, u, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestBackoffLongWaits(t *testing.T) {
	tests := []struct {
		v      Verdict
		lo, hi time.Duration
	}{
		{ClassifyCode(1003, ""), 30 * time.Minute, 37*time.Minute + 30*time.Second},
		{ClassifyCode(131048, ""), time.Hour, 75 * time.Minute},
		{ClassifyCode(130429, ""), 5 * time.Second, 10 * time.Second},
		{ClassifyCode(4001, ""), 5 * time.Second, 10 * time.Second},
	}
	for _, tt := range tests {
		for _, attempt := range []int{0, 3, 11} {
			for _, u := range []float64{0, 0.5, almostOne} {
				if d := fixed(u).Backoff(tt.v, attempt); d < tt.lo || d >= tt.hi {
					t.Errorf("%v attempt %d u=%v: %v outside [%v, %v)", tt.v, attempt, u, d, tt.lo, tt.hi)
				}
			}
		}
	}
}

func TestZeroPolicyUsesDefaults(t *testing.T) {
	var p Policy
	p.uniform = func() float64 { return 0 }
	if d := p.Backoff(Verdict{Class: Retryable}, 0); d != 10*time.Second {
		t.Errorf("zero policy backoff %v, want 10s", d)
	}
	if d := (Policy{}).Decide(Verdict{Class: Retryable}, 11); d.Action != GiveUp {
		t.Errorf("zero policy gives %v at the 12th try, want give up", d.Action)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("default policy: %v", err)
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("zero policy: %v", err)
	}
	bad := Policy{Base: time.Minute, Cap: time.Second, MaxAttempts: AsynqMaxRetry, UnknownCodeAttempts: AsynqMaxRetry + 1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad policy passed")
	}
	for _, want := range []string{"Cap", "MaxAttempts", "UnknownCodeAttempts"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
