// Package bench holds the end-to-end benchmarks that `make bench` runs and
// that write BENCHMARKS.md: enqueue throughput, the send path against a
// bare asynq handler, rate accuracy, Redis and worker memory, latency, and
// CPU and allocation profiles of the send path.
//
// Everything lives in the package's tests, which skip unless WAQUEUE_BENCH
// is set, so `make test` compiles and vets them without running them.
// Every benchmark starts what it measures as separate processes on
// loopback: a throwaway redis-server (internal/redistest), the simulator
// (cmd/gupshup-sim), workers built from cmd/worker, the baseline worker
// of bench/cmd/bareworker and the enqueuer from cmd/enqueuer. Sizes and
// rounds are flags; see bench_test.go and BENCHMARKS.md.
//
// The machine these run on is shared and noisy, so no figure is judged by
// itself: every speed is a ratio against a baseline measured in the same
// run, and rounds of the two alternate.
package bench
