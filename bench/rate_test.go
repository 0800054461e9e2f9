package bench

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

// benchRate checks that SEND_RATE holds, for Meta's two tiers, with one
// worker process and with a fleet sharing the limit through Redis.
func benchRate(t *testing.T, bins binaries) *section {
	const burst = 1
	var fleets []int
	for _, s := range strings.Split(*rateFleets, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			t.Fatalf("-rate.procs %q", *rateFleets)
		}
		fleets = append(fleets, n)
	}
	s := &section{title: "Rate accuracy"}
	s.method = []string{
		fmt.Sprintf("A campaign of SEND_RATE × the busy period (%v at 80/s, %v at 1,000/s) is queued (paused), then sent by "+
			"worker processes from `cmd/worker` sharing one Redis, with `SEND_BURST=%d`, the default `WORKER_CONCURRENCY=50`, "+
			"the default `SEND_RATE_MARGIN=0.01` (grants scheduled at 99%% of SEND_RATE) "+
			"and recipient pacing off (`RECIPIENT_INTERVAL=0`: every destination is distinct anyway), so that what is measured "+
			"is the send-rate limiter. The achieved rate is "+
			"(messages − 1) / (last − first accepted send), as the simulator recorded them. The simulator also counts the "+
			"busiest one-second window two ways: aligned to whole seconds, as a provider bills, and sliding (any 1 s span, "+
			"to the nanosecond), which also catches a burst straddling a second boundary.", *rateLow, *rateHigh, burst),
		"Targets: the average within 2% of SEND_RATE, and no aligned second above SEND_RATE + burst. A sliding window above " +
			"that is reported with the reason, which is jitter, not pacing: the limiter spaces *grants* 1/rate apart on Redis's " +
			"clock, and a granted send then still has to be scheduled, POSTed and handled by the simulator on a shared two-core " +
			"machine; a few sends delayed by some milliseconds bunch up with the ones granted after them, so a sliding window " +
			"placed across the bunch holds a few more sends than the grants in any 1 s of Redis time. The same bunching pushed an " +
			"aligned second over by 1 to 8 sends at 1,000/s in two of four runs on this machine while the worker scheduled " +
			"grants at exactly SEND_RATE, though the limiter's own schedule never grants more than rate + burst in any second; " +
			"Gupshup counts arrivals, so the worker now leaves `SEND_RATE_MARGIN` (1%, 10 sends a second at 1,000/s) of the " +
			"rate unused on its schedule for that jitter, well inside the 2% the average may miss by.",
	}
	tb := table{header: []string{"SEND_RATE", "processes", "settings", "messages", "busy period", "achieved", "error",
		"max aligned second", "max sliding 1 s", "over rate + burst (sliding)"}}
	run := func(rate, procs, n int, over map[string]string, label string) (float64, float64, int, int) {
		r := startRedis(t)
		sim := startSim(t, bins, gupshuptest.DefaultConfig())
		r.pause(t)
		enqueueCampaign(t, r, benchCampaign, n)
		env := map[string]string{"SEND_RATE": strconv.Itoa(rate), "SEND_BURST": strconv.Itoa(burst)}
		for k, v := range over {
			env[k] = v
		}
		var ws []*proc
		for range procs {
			ws = append(ws, startWorker(t, "worker", bins.worker, r, sim, env))
		}
		r.resume(t)
		r.waitDrained(t, 10*time.Minute, nil)
		st := sim.stats(t)
		for _, w := range ws {
			w.stop()
		}
		sim.kill()
		r.close()
		if st.Accepted != n || len(st.PerDestination) != n {
			t.Fatalf("%d accepted to %d destinations, want %d", st.Accepted, len(st.PerDestination), n)
		}
		span := st.Last.Sub(st.First)
		avg := float64(n-1) / span.Seconds()
		errPct := (avg - float64(rate)) / float64(rate) * 100
		aligned, sliding := st.MaxPerSecond[benchSource], st.MaxSliding[benchSource]
		over2 := sliding - (rate + burst)
		tb.rows = append(tb.rows, []string{strconv.Itoa(rate), strconv.Itoa(procs), label, f(float64(n), 0),
			span.Round(time.Millisecond).String(), fmt.Sprintf("%.2f/s", avg), fmt.Sprintf("%+.2f%%", errPct),
			strconv.Itoa(aligned), strconv.Itoa(sliding), fmt.Sprintf("%+d (%.1f%%)", over2, float64(max(over2, 0))*100/float64(rate))})
		t.Logf("SEND_RATE=%d, %d process(es), %s: %d in %v = %.2f/s (%+.2f%%), aligned max %d, sliding max %d",
			rate, procs, label, n, span.Round(time.Millisecond), avg, errPct, aligned, sliding)
		return avg, errPct, aligned, sliding
	}
	checked := map[string]string{"WORKER_CONCURRENCY": "50", "RECIPIENT_INTERVAL": "0s"}
	for _, tier := range []struct {
		rate int
		dur  time.Duration
	}{{80, *rateLow}, {1000, *rateHigh}} {
		for _, procs := range fleets {
			n := int(float64(tier.rate) * tier.dur.Seconds())
			avg, errPct, aligned, _ := run(tier.rate, procs, n, checked, "concurrency 50, no pacing")
			limit := tier.rate + burst
			name := fmt.Sprintf("SEND_RATE=%d, %d process(es)", tier.rate, procs)
			s.check(check{what: name + ": average", target: fmt.Sprintf("%d/s ± 2%%", tier.rate),
				measured: fmt.Sprintf("%.2f/s", avg), ratio: fmt.Sprintf("%+.2f%%", errPct), pass: errPct >= -2 && errPct <= 2})
			s.check(check{what: name + ": busiest aligned second", target: fmt.Sprintf("≤ %d", limit),
				measured: strconv.Itoa(aligned), pass: aligned <= limit})
		}
	}
	if *rateDiagnose {
		// Two runs that say why SEND_RATE=80 falls short with the defaults.
		n := int(80 * rateLow.Seconds() / 4)
		run(80, 1, n, map[string]string{"WORKER_CONCURRENCY": "40", "RECIPIENT_INTERVAL": "0s"}, "concurrency 40, no pacing (diagnostic)")
		run(80, 1, n/2, map[string]string{"WORKER_CONCURRENCY": "50"}, "all defaults: concurrency 50, RECIPIENT_INTERVAL 6s (diagnostic)")
		s.note("The two diagnostic rows, at SEND_RATE=80 with one process. **Concurrency 40**: the layered limiter lets a " +
			"handler wait at most half of MaxWait (500 ms) in its local bucket, which holds SEND_RATE × 0.5 s = 40 waiting " +
			"sends; with `WORKER_CONCURRENCY` at or below that, every handler waits its turn and the rate is met exactly. With " +
			"the default 50 the handlers beyond 40 are turned away at once (a hand-back, no attempt used), fetch the next task, " +
			"are turned away again, and the campaign churns through asynq's retry set instead of waiting in the bucket: a debug " +
			"log of one such run counted 1,453 hand-backs for 400 sends, and the rate fell to 46-57/s in the runs made here. At 1,000/s the bucket " +
			"holds 500, above any concurrency here, so nothing is handed back there; a shortfall at 1,000/s with one process is that process not keeping up on a loaded machine (it manages about 1,600-2,200 msg/s with no cap at all, see the send path), which three processes absorb. **All defaults** adds recipient pacing: the " +
			"handler takes the recipient's 6 s slot *before* the send-rate limiter, and a task the limiter then hands back keeps " +
			"that slot, so when it returns a second later the pacer turns it away for the rest of the 6 s: every hand-back costs " +
			"a message RECIPIENT_INTERVAL, and a backlog moves in steps of 6-7 s.")
	}
	s.tables = append(s.tables, tb)
	return s
}
