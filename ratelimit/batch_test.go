package ratelimit_test

import (
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

// TestConcurrentCallersShareCalls lets many callers of one key arrive at
// once: they share reserve calls, and each fares as it would calling
// alone. At 10/s with MaxWait 250 ms, the slots now, +100 ms and +200 ms
// can be waited for; everyone else is turned away, into a line a little
// over an interval apart per caller, whatever the batches were.
func TestConcurrentCallersShareCalls(t *testing.T) {
	t.Parallel()
	const callers = 24
	rdb := redistest.Start(t).Client()
	rec := &cmdRecorder{}
	rdb.AddHook(rec)
	l := ratelimit.NewRedis(rdb, rate.Every(100*time.Millisecond), ratelimit.MaxWait(250*time.Millisecond))

	sent, retries := callTogether(t, callers, func(int) (time.Duration, error) { return l.Wait(t.Context(), "917834811114") })

	calls := 0
	for _, args := range rec.get() {
		if name := args[0].(string); name == "evalsha" || name == "eval" {
			calls++
		}
	}
	t.Logf("%d callers: %d reserve calls, %d sent at %v, %d turned away", callers, calls, len(sent), sent, len(retries))
	if calls >= callers {
		t.Errorf("%d reserve calls for %d callers arriving together: they did not share them", calls, callers)
	}
	if len(sent) != 3 || len(retries) != callers-3 {
		t.Fatalf("%d sent, %d turned away; want 3 and %d, as single calls would fare", len(sent), len(retries), callers-3)
	}
	// Each waited out its own slot, an interval apart.
	if sent[2] < 180*time.Millisecond {
		t.Errorf("the third caller went after %v; its slot was 200 ms on", sent[2])
	}
	// Those turned away got places of their own, not one shared delay.
	seen := map[time.Duration]bool{}
	for _, d := range retries {
		seen[d.Round(10*time.Millisecond)] = true
	}
	if len(seen) < len(retries)/2 {
		t.Errorf("the callers turned away were told %d distinct delays among %d: %v", len(seen), len(retries), retries)
	}
}
