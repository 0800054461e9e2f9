package retry

import (
	"testing"
	"time"
)

type codeWant struct {
	code         int
	class        Class
	closedWindow bool
	accountWide  bool
	minDelay     time.Duration
}

// One row per row of the Gupshup error-code table.
var codeTable = []codeWant{
	{code: 1001, class: Terminal},
	{code: 1002, class: Terminal},
	{code: 1003, class: Retryable, accountWide: true},
	{code: 1004, class: Terminal, closedWindow: true},
	{code: 1005, class: Terminal, closedWindow: true},
	{code: 1006, class: Terminal, closedWindow: true},
	{code: 1007, class: Terminal, closedWindow: true},
	{code: 1008, class: Terminal},
	{code: 1009, class: Terminal},
	{code: 1010, class: Terminal},
	{code: 1011, class: Terminal},
	{code: 1012, class: Terminal},
	{code: 4001, class: Throttled},
	{code: 4002, class: Retryable},
	{code: 4003, class: Terminal},
	{code: 4005, class: Terminal},
	{code: 500, class: Retryable},
	{code: 470, class: Terminal, closedWindow: true},
	{code: 131047, class: Terminal, closedWindow: true},
	{code: 130429, class: Throttled},
	{code: 131056, class: Throttled, minDelay: 6 * time.Second},
	{code: 131048, class: Retryable},
	{code: 131026, class: Terminal},
	{code: 131049, class: Retryable, minDelay: 24 * time.Hour},
	{code: 131050, class: Terminal},
	{code: 132000, class: Terminal},
	{code: 132001, class: Terminal},
	{code: 132008, class: Terminal},
	{code: 132015, class: Terminal},
	{code: 132016, class: Terminal},
}

func TestClassifyCodeTable(t *testing.T) {
	for _, w := range codeTable {
		v := ClassifyCode(w.code, "")
		if v.Class != w.class {
			t.Errorf("%d: class %v, want %v", w.code, v.Class, w.class)
		}
		if v.ClosedWindow != w.closedWindow {
			t.Errorf("%d: ClosedWindow %v, want %v", w.code, v.ClosedWindow, w.closedWindow)
		}
		if v.AccountWide != w.accountWide {
			t.Errorf("%d: AccountWide %v, want %v", w.code, v.AccountWide, w.accountWide)
		}
		if v.Alarm != w.accountWide {
			t.Errorf("%d: Alarm %v, want %v", w.code, v.Alarm, w.accountWide)
		}
		if v.Delay < w.minDelay {
			t.Errorf("%d: Delay %v, want at least %v", w.code, v.Delay, w.minDelay)
		}
		if v.Unknown {
			t.Errorf("%d: marked unknown", w.code)
		}
		if v.Code != w.code || v.Reason == "" || v.Reason != Describe(w.code) {
			t.Errorf("%d: code %d reason %q, want the table's meaning %q", w.code, v.Code, v.Reason, Describe(w.code))
		}
	}
}

// A code added to the table must get a row above.
func TestCodeTableCovered(t *testing.T) {
	tested := map[int]bool{}
	for _, w := range codeTable {
		tested[w.code] = true
	}
	for code := range codes {
		if !tested[code] {
			t.Errorf("code %d has no test row", code)
		}
	}
}

func TestTemplateRange(t *testing.T) {
	for code := templateErrorsFirst; code <= templateErrorsLast; code++ {
		if v := ClassifyCode(code, ""); v.Class != Terminal || v.Unknown || v.Reason == "" {
			t.Errorf("%d: %+v, want a known terminal template error", code, v)
		}
	}
	if got := Describe(132008); got != "template error" {
		t.Errorf("Describe(132008) = %q", got)
	}
}

func TestUnknownCodes(t *testing.T) {
	for _, code := range []int{0, 1, 999, 1000, 1013, 4004, 4006, 131999, 132017, 135000, 999999} {
		v := ClassifyCode(code, "")
		if v.Class != Retryable || !v.Unknown {
			t.Errorf("%d: %v unknown=%v, want retryable and unknown", code, v.Class, v.Unknown)
		}
		if v.ClosedWindow || v.AccountWide || v.Alarm || v.Delay != 0 {
			t.Errorf("%d: unexpected flags %+v", code, v)
		}
		if Describe(code) != "" {
			t.Errorf("Describe(%d) = %q, want empty", code, Describe(code))
		}
		if v.Reason != "unknown code" {
			t.Errorf("%d: reason %q", code, v.Reason)
		}
	}
}

func TestClassifyCodeKeepsReason(t *testing.T) {
	v := ClassifyCode(1002, "Number does not exist")
	if v.Reason != "Number does not exist" {
		t.Errorf("reason %q, want Gupshup's text", v.Reason)
	}
	if v := ClassifyCode(987654, "odd thing"); v.Reason != "odd thing" || !v.Unknown {
		t.Errorf("unknown code lost its reason: %+v", v)
	}
}
