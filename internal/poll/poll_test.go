package poll

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	n := 0
	took := Until(t, "three calls", time.Second, time.Millisecond, func() (bool, string) {
		n++
		return n == 3, "not yet"
	})
	if n != 3 || took <= 0 || took > time.Second {
		t.Fatalf("%d calls, took %v", n, took)
	}
}

// fatalTB records a Fatalf instead of stopping the test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(f)
}

func TestUntilFailsNamingWhatItWaitedFor(t *testing.T) {
	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != tb {
				t.Fatalf("recovered %v", r)
			}
		}()
		Until(tb, "the moon", 20*time.Millisecond, time.Millisecond, func() (bool, string) { return false, "waxing" })
	}()
	if !strings.Contains(tb.msg, "the moon") || !strings.Contains(tb.msg, "waxing") {
		t.Fatalf("message %q", tb.msg)
	}
}
