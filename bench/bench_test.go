package bench

import (
	"flag"
	"os"
	"strings"
	"testing"
	"time"
)

// Sizes and rounds. The defaults are what the benchmarks promise (a
// million-message campaign for the worker's memory) and keep the whole of
// `make bench` within about twenty minutes on two cores; BENCH_FLAGS in
// the Makefile passes others, e.g. BENCH_FLAGS='-rss.messages=200000' for
// a quicker look.
var (
	only = flag.String("only", "", "comma-separated benchmarks to run: micro,enqueue,send,rate,footprint,rss,latency,profile (default: all)")
	out  = flag.String("out", "", "write the report here (BENCHMARKS.md); empty: log it only")
	raw  = flag.String("micro.raw", "", "write the raw `go test -bench` output here, for benchstat")

	microCount     = flag.Int("micro.count", 5, "go test -count for the Go benchmarks")
	microBenchtime = flag.String("micro.benchtime", "300ms", "go test -benchtime for the Go benchmarks")

	enqueueRows   = flag.Int("enqueue.rows", 100_000, "rows of the enqueue benchmark's CSV")
	enqueueRounds = flag.Int("enqueue.rounds", 3, "rounds of enqueuer and baseline, alternating")

	sendMessages    = flag.Int("send.messages", 40_000, "messages per send-path run")
	sendRounds      = flag.Int("send.rounds", 5, "rounds of worker and bare handler, each first in every other round")
	sendConcurrency = flag.Int("send.concurrency", 50, "WORKER_CONCURRENCY of both")

	rateLow      = flag.Duration("rate.low", 20*time.Second, "busy period at SEND_RATE=80")
	rateHigh     = flag.Duration("rate.high", 10*time.Second, "busy period at SEND_RATE=1000")
	rateFleets   = flag.String("rate.procs", "1,3", "worker process counts of the rate benchmark")
	rateDiagnose = flag.Bool("rate.diagnose", true, "add the diagnostic runs at SEND_RATE=80 (concurrency 40; all defaults)")
	footprintN   = flag.Int("footprint.messages", 50_000, "messages queued for the Redis footprint")
	rssMessages  = flag.Int("rss.messages", 1_000_000, "messages of the worker RSS campaign")
	latencyRate  = flag.Int("latency.rate", 20, "messages per second of the latency benchmark")
	latencyFor   = flag.Duration("latency.duration", 30*time.Second, "how long the latency benchmark enqueues")
	profileN     = flag.Int("profile.messages", 20_000, "messages sent while profiling")
	profileBench = flag.Bool("profile.keep", false, "keep the binary profiles (their paths are logged)")
)

// TestBenchmarks runs the end-to-end benchmarks and writes the report. It
// runs only with WAQUEUE_BENCH set: `make bench` sets it, `make test` does not.
func TestBenchmarks(t *testing.T) {
	if os.Getenv("WAQUEUE_BENCH") == "" {
		t.Skip("benchmarks run with `make bench` (WAQUEUE_BENCH=1)")
	}
	rep := newReport()
	start := time.Now()
	bins := buildBinaries(t)
	steps := []struct {
		name string
		run  func(*testing.T, binaries) *section
	}{
		{"micro", benchMicro},
		{"enqueue", benchEnqueue},
		{"send", benchSendPath},
		{"rate", benchRate},
		{"footprint", benchFootprint},
		{"rss", benchRSS},
		{"latency", benchLatency},
		{"profile", benchProfile},
	}
	for _, s := range steps {
		if !selected(s.name) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			began := time.Now()
			sec := s.run(t, bins)
			if sec != nil {
				sec.took = time.Since(began)
				rep.add(sec)
				t.Logf("%s done in %v", s.name, sec.took.Round(time.Second))
			}
		})
	}
	rep.took = time.Since(start)
	text := rep.render(t)
	if *out == "" {
		t.Log("\n" + text)
		return
	}
	if err := os.WriteFile(*out, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s in %v; targets met: %s", *out, rep.took.Round(time.Second), rep.score())
}

func selected(name string) bool {
	if *only == "" {
		return true
	}
	for _, s := range strings.Split(*only, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}
