package bench

import (
	"cmp"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

// sendRun is one run of a campaign through one kind of worker.
type sendRun struct {
	rate float64                  // messages per second at the simulator
	cpu  map[string]time.Duration // per process over the busy period
	form map[string]string        // the form the simulator recorded for destination 0
	work redisWork                // what Redis did over the busy period
}

// unlimited is SEND_RATE for runs that must not be rate-limited: Redis's
// microsecond clock makes 10^6 the highest rate the limiter can pace.
const unlimited = "1000000"

// runCampaign queues n messages on a paused queue, starts the worker, and
// releases the queue; it returns the rate and the CPU use of the busy
// period.
func runCampaign(t *testing.T, bins binaries, bare bool, n, concurrency int) sendRun {
	t.Helper()
	r := startRedis(t)
	defer r.close()
	sim := startSim(t, bins, gupshuptest.DefaultConfig())
	defer sim.kill()
	r.pause(t)
	enqueueCampaign(t, r, benchCampaign, n)
	var w *proc
	if bare {
		w = startWorker(t, "bareworker", bins.bare, r, sim, map[string]string{"WORKER_CONCURRENCY": fmt.Sprint(concurrency)})
	} else {
		w = startWorker(t, "worker", bins.worker, r, sim, map[string]string{
			"WORKER_CONCURRENCY": fmt.Sprint(concurrency), "SEND_RATE": unlimited, "RECIPIENT_INTERVAL": "0s",
		})
	}
	defer w.stop()
	m := newCPUMeter(map[string]int{"worker": w.pid(), "redis": r.pid, "simulator": sim.pid()})
	r.resetStats(t)
	m.begin(t)
	r.resume(t)
	r.waitDrained(t, 10*time.Minute, nil)
	cpu := m.end(t)
	work := r.workDone(t)
	st := sim.stats(t)
	if st.Accepted != n || st.Rejected != 0 || len(st.PerDestination) != n {
		t.Fatalf("simulator: %d accepted, %d rejected, %d destinations; want %d, 0, %d\n%s", st.Accepted, st.Rejected, len(st.PerDestination), n, n, w.logs)
	}
	sends := sim.sends(t, "?destination="+destination(0))
	if len(sends) != 1 {
		t.Fatalf("%d sends to %s", len(sends), destination(0))
	}
	return sendRun{rate: float64(n-1) / st.Last.Sub(st.First).Seconds(), cpu: cpu, form: sends[0].Payload, work: work}
}

func perK(d time.Duration, n int) float64 { return d.Seconds() * 1000 / float64(n) }

// perMessage lists the commands Redis ran per message, most first.
func perMessage(cmds map[string]int64, n int) string {
	names := slices.Collect(maps.Keys(cmds))
	slices.SortFunc(names, func(a, b string) int { return cmp.Compare(cmds[b], cmds[a]) })
	var out []string
	for _, name := range names {
		if per := float64(cmds[name]) / float64(n); per >= 0.01 {
			out = append(out, fmt.Sprintf("%s %.2f", name, per))
		}
	}
	return strings.Join(out, ", ")
}

// benchSendPath compares the worker with the bare handler, alternating.
func benchSendPath(t *testing.T, bins binaries) *section {
	n, c := *sendMessages, *sendConcurrency
	var wRate, bRate, ratios []float64
	cpuW := map[string][]float64{}
	cpuB := map[string][]float64{}
	// Redis round trips and asynq dequeue calls per message, by round.
	var tripsW, tripsB, dequeuesW, dequeuesB []float64
	var formW, formB map[string]string
	for round := range *sendRounds {
		// Each goes first in every other round, so that a machine getting
		// busier or quieter through the benchmark favours neither.
		var b, w sendRun
		if round%2 == 0 {
			b, w = runCampaign(t, bins, true, n, c), runCampaign(t, bins, false, n, c)
		} else {
			w, b = runCampaign(t, bins, false, n, c), runCampaign(t, bins, true, n, c)
		}
		if round == 0 {
			formW, formB = w.form, b.form
		}
		bRate, wRate, ratios = append(bRate, b.rate), append(wRate, w.rate), append(ratios, w.rate/b.rate)
		tripsW, tripsB = append(tripsW, w.work.perMessage(n)), append(tripsB, b.work.perMessage(n))
		dequeuesW, dequeuesB = append(dequeuesW, w.work.dequeues(n)), append(dequeuesB, b.work.dequeues(n))
		for name, d := range w.cpu {
			cpuW[name] = append(cpuW[name], perK(d, n))
		}
		for name, d := range b.cpu {
			cpuB[name] = append(cpuB[name], perK(d, n))
		}
		t.Logf("round %d: worker %.0f/s (cpu/1k: worker %.3f s, redis %.3f s, sim %.3f s), bare %.0f/s (cpu/1k: %.3f, %.3f, %.3f): %.2fx",
			round+1, w.rate, perK(w.cpu["worker"], n), perK(w.cpu["redis"], n), perK(w.cpu["simulator"], n),
			b.rate, perK(b.cpu["worker"], n), perK(b.cpu["redis"], n), perK(b.cpu["simulator"], n), w.rate/b.rate)
		t.Logf("round %d: Redis per message: worker %.2f round trips, %v; bare %.2f round trips, %v",
			round+1, w.work.perMessage(n), perMessage(w.work.commands, n), b.work.perMessage(n), perMessage(b.work.commands, n))
	}
	if !maps.Equal(formW, formB) {
		t.Fatalf("the two sent different forms:\nworker %v\nbare   %v", formW, formB)
	}
	r := median(ratios)
	s := &section{title: "Send path"}
	s.method = []string{
		fmt.Sprintf("%s messages are queued (paused) and then sent by one worker process with `WORKER_CONCURRENCY=%d`, "+
			"against the simulator as a separate process (no callbacks). The worker is the real `cmd/worker` with no rate cap "+
			"(`SEND_RATE=%s`, `RECIPIENT_INTERVAL=0`) and everything else on: strict payload decoding, the idempotency claim "+
			"and the submitted record in Redis, the layered limiter (local bucket + Redis GCRA), the circuit breaker "+
			"with its shared state, classification and logging at `info`. The baseline is `bench/cmd/bareworker`: an "+
			"asynq server with the same queues and concurrency whose handler decodes the payload, POSTs the same form "+
			"with the same tuned `http.Client` and reads the answer, and nothing else. %d rounds, the baseline first in the odd ones and the worker first in the even ones.",
			f(float64(n), 0), c, unlimited, *sendRounds),
		"The rate is (messages − 1) / (last − first accepted send) at the simulator. CPU is per process over the busy period, " +
			"in CPU-seconds per 1,000 messages; Redis and the simulator are separate processes, so their shares are apart " +
			"from the worker's. Checked: the simulator recorded byte-for-byte the same form fields from both for the same message.",
		"Redis's own counters (`CONFIG RESETSTAT` before, `INFO stats` and `INFO commandstats` after) give the round trips per " +
			"message (`total_reads_processed`: a pipeline is one) and asynq's dequeue calls per message (each runs one `RPOPLPUSH` " +
			"on the queue it tries).",
	}
	s.check(check{
		what: "worker vs bare asynq handler, msg/s", target: "≥ 0.8x",
		measured: f(median(wRate), 0) + " msg/s", baseline: f(median(bRate), 0) + " msg/s",
		ratio: ratio(r), pass: r >= 0.8,
	})
	rows := [][]string{
		{"messages/s", joinF(wRate, 0), f(median(wRate), 0), joinF(bRate, 0), f(median(bRate), 0)},
	}
	for _, name := range []string{"worker", "redis", "simulator"} {
		rows = append(rows, []string{"CPU-s / 1,000 msgs: " + name, joinF(cpuW[name], 3), f(median(cpuW[name]), 3), joinF(cpuB[name], 3), f(median(cpuB[name]), 3)})
	}
	tot := func(m map[string][]float64) []float64 {
		out := make([]float64, len(m["worker"]))
		for i := range out {
			out[i] = m["worker"][i] + m["redis"][i]
		}
		return out
	}
	rows = append(rows, []string{"CPU-s / 1,000 msgs: worker + redis", joinF(tot(cpuW), 3), f(median(tot(cpuW)), 3), joinF(tot(cpuB), 3), f(median(tot(cpuB)), 3)})
	rows = append(rows,
		[]string{"Redis round trips / msg", joinF(tripsW, 2), f(median(tripsW), 2), joinF(tripsB, 2), f(median(tripsB), 2)},
		[]string{"of which asynq dequeue calls / msg", joinF(dequeuesW, 2), f(median(dequeuesW), 2), joinF(dequeuesB, 2), f(median(dequeuesB), 2)},
		[]string{"ratio worker / bare (rate)", joinF(ratios, 2), f(r, 2), "", ""})
	s.tables = append(s.tables, table{
		header: []string{"", "worker (rounds)", "worker (median)", "bare (rounds)", "bare (median)"},
		rows:   rows,
	})
	all := func(m map[string][]float64) float64 {
		return median(m["worker"]) + median(m["redis"]) + median(m["simulator"])
	}
	s.note("All three processes share the machine's %d cores, which the runs keep busy, so the rate follows the CPU all of them "+
		"spend per message: %s CPU-s per 1,000 for the worker's run against %s for the baseline's, which alone would predict a "+
		"ratio of %s (measured: %s). A measured ratio above that says the baseline was held back by more than CPU: asynq fetches "+
		"every task from one goroutine, one round trip per queue it tries, so the dequeue calls of a task happen one after "+
		"another and bound the rate of a server that makes many of them. Much of the CPU is system calls, on both sides of each "+
		"Redis round trip: %s per message for the "+
		"worker, %s for the baseline. The worker's own are the claim before the send, the fleet limiter's GCRA and the "+
		"record after it, which make a send idempotent, fleet-limited and countable, and which the baseline has none of; "+
		"handlers that reach the limiter together share one call, and claims and records made together share one pipeline "+
		"(`internal/coalesce`). Both pay asynq's completion and its dequeue calls, one per queue tried: "+
		"%s per message for the baseline, a plain asynq server, which asks critical and default before bulk for most tasks; "+
		"%s for the worker, which does not ask again a queue it found empty less than 50 ms before (`worker/idlequeues.go`).",
		runtime.NumCPU(), f(all(cpuW), 3), f(all(cpuB), 3), f(all(cpuB)/all(cpuW), 2), f(r, 2),
		f(median(tripsW), 2), f(median(tripsB), 2), f(median(dequeuesB), 2), f(median(dequeuesW), 2))
	s.check(check{
		what: "worker CPU per 1,000 messages (worker process)", target: "reported",
		measured: f(median(cpuW["worker"]), 3) + " CPU-s", baseline: f(median(cpuB["worker"]), 3) + " CPU-s",
		ratio: ratio(median(cpuW["worker"]) / median(cpuB["worker"])), pass: true,
	})
	return s
}
