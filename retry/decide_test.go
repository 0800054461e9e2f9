package retry

import (
	"testing"
	"time"
)

func TestDecideRetryableBudget(t *testing.T) {
	p := fixed(0.5)
	v := ClassifyCode(4002, "")
	for retried := 0; retried < 11; retried++ {
		d := p.Decide(v, retried)
		if d.Action != Retry || d.Attempts != retried+1 || d.Delay < p.Base {
			t.Fatalf("retried %d: %+v, want a retry", retried, d)
		}
	}
	for _, retried := range []int{11, 12, 30} {
		d := p.Decide(v, retried)
		if d.Action != GiveUp || !d.Exhausted || d.Attempts != retried+1 {
			t.Errorf("retried %d: %+v, want exhausted", retried, d)
		}
	}
}

func TestDecideUnknownBudget(t *testing.T) {
	p := fixed(0.5)
	for _, v := range []Verdict{ClassifyCode(131999, ""), ClassifyCode(132017, ""), Classify(httpErr(200, 0, ""))} {
		for retried := 0; retried < 4; retried++ {
			if d := p.Decide(v, retried); d.Action != Retry {
				t.Fatalf("%v retried %d: %+v, want a retry", v, retried, d)
			}
		}
		if d := p.Decide(v, 4); d.Action != GiveUp || !d.Exhausted || d.Attempts != 5 {
			t.Errorf("%v retried 4: %+v, want exhausted after 5", v, d)
		}
	}
	// UnknownCodeAttempts never exceeds MaxAttempts.
	q := Policy{MaxAttempts: 3, UnknownCodeAttempts: 5}
	if d := q.Decide(ClassifyCode(424242, ""), 2); d.Action != GiveUp {
		t.Errorf("unknown code outlived MaxAttempts: %+v", d)
	}
}

func TestDecideThrottledNeverGivesUp(t *testing.T) {
	p := fixed(0.5)
	for _, v := range []Verdict{ClassifyCode(4001, ""), ClassifyCode(130429, ""), ClassifyCode(131056, ""), Classify(httpErr(429, 0, ""))} {
		for _, retried := range []int{0, 11, 12, 100, 1 << 20} {
			d := p.Decide(v, retried)
			if d.Action != Wait || d.Exhausted || d.Attempts != 0 || d.Delay < 5*time.Second || d.Delay < v.Delay {
				t.Errorf("%v retried %d: %+v, want a wait", v, retried, d)
			}
		}
	}
}

func TestDecideTerminalAndOk(t *testing.T) {
	p := DefaultPolicy()
	if d := p.Decide(Verdict{Class: Ok}, 3); d != (Decision{Action: Done}) {
		t.Errorf("ok: %+v", d)
	}
	for _, code := range []int{1002, 131047, 132000} {
		if d := p.Decide(ClassifyCode(code, ""), 0); d != (Decision{Action: GiveUp}) {
			t.Errorf("%d: %+v, want give up at once", code, d)
		}
	}
}

func TestDecideCustomBudget(t *testing.T) {
	p := Policy{MaxAttempts: 3}
	v := Verdict{Class: Retryable}
	got := [3]Action{p.Decide(v, 0).Action, p.Decide(v, 1).Action, p.Decide(v, 2).Action}
	if got != [3]Action{Retry, Retry, GiveUp} {
		t.Errorf("MaxAttempts 3: %v", got)
	}
}
