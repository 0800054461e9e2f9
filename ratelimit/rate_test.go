package ratelimit_test

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/waqueue/waqueue/ratelimit"
)

// TestAchievedRate drives one key from many goroutines, the way hundreds of
// handlers share one source number, and checks what a provider would see:
// the total close to the rate, and no 1-second window above rate + burst.
func TestAchievedRate(t *testing.T) {
	if testing.Short() {
		t.Skip("timing test")
	}
	t.Parallel()
	const (
		perSec  = 200
		burst   = 1
		workers = 32
		run     = 2 * time.Second
	)
	cases := []struct {
		name    string
		maxWait time.Duration
		minFrac float64 // of rate × the time the process was not held up
	}{
		// Every caller fits within MaxWait: all of them wait their turn.
		{name: "waited", maxWait: time.Second, minFrac: 0.95},
		// 20 callers wait, the rest are turned away and come back after
		// retryAfter, as tasks handed back to the queue do; refusals must
		// not cost slots.
		{name: "handed back", maxWait: 100 * time.Millisecond, minFrac: 0.9},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := ratelimit.New(perSec, ratelimit.Burst(burst), ratelimit.MaxWait(tc.maxWait))
			probe := startStallProbe()
			start := time.Now()
			end := start.Add(run)
			var (
				mu    sync.Mutex
				sends []time.Time
				wg    sync.WaitGroup
			)
			for range workers {
				wg.Go(func() {
					for {
						d, err := l.Wait(t.Context(), "919000000001")
						if err != nil {
							t.Error(err)
							return
						}
						if d > 0 {
							time.Sleep(d)
							continue
						}
						now := time.Now()
						if now.After(end) {
							return
						}
						mu.Lock()
						sends = append(sends, now)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			late, stalled := probe.stop()

			// Sends never come early, so however busy the machine, no more
			// than the schedule allows can fall within the run.
			ideal := float64(perSec) * run.Seconds()
			got := len(sends)
			t.Logf("%d sends in %v (ideal %.0f); timers up to %v late, %v stalled in all",
				got, run, ideal, late, stalled)
			if float64(got) > ideal+burst+1 {
				t.Errorf("%d sends in %v, want at most %.0f", got, run, ideal+burst+1)
			}
			// Slots pass unused while the process is held off the CPU.
			low := tc.minFrac * float64(perSec) * (run - stalled).Seconds()
			if float64(got) < low {
				t.Errorf("%d sends in %v, want at least %.0f", got, run, low)
			}

			// Sends come off timers, and timers that fire late bunch them
			// up: allow what the probe saw plus 20 ms for the scheduler.
			slack := int(math.Ceil(perSec * (late + 20*time.Millisecond).Seconds()))
			w := maxInWindow(sends, time.Second)
			t.Logf("busiest 1 s window: %d sends, bound %d", w, perSec+burst+slack)
			if w > perSec+burst+slack {
				t.Errorf("busiest 1 s window has %d sends, want at most %d", w, perSec+burst+slack)
			}
		})
	}
}

// maxInWindow is the largest number of times in any half-open window of
// length w starting at one of them.
func maxInWindow(ts []time.Time, w time.Duration) int {
	ts = slices.Clone(ts)
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range ts {
		for j < len(ts) && ts[j].Sub(ts[i]) < w {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// stallProbe watches how late a 1 ms timer fires while a timing test runs.
// On a busy machine the whole process can be held off the CPU for tens of
// milliseconds; the bounds allow for that, which no limiter can prevent,
// and nothing else.
type stallProbe struct {
	quit, done    chan struct{}
	late, stalled time.Duration
}

func startStallProbe() *stallProbe {
	p := &stallProbe{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		const tick = time.Millisecond
		for {
			select {
			case <-p.quit:
				return
			default:
			}
			t0 := time.Now()
			time.Sleep(tick)
			late := time.Since(t0) - tick
			p.late = max(p.late, late)
			if late > tick {
				p.stalled += late
			}
		}
	}()
	return p
}

// stop returns the largest lateness seen and the sum of the large ones.
func (p *stallProbe) stop() (late, stalled time.Duration) {
	close(p.quit)
	<-p.done
	return p.late, p.stalled
}
