//go:build race

package worker_test

// raceEnabled: the race detector slows the worker several times over, so
// tests keep their correctness bounds (never over the rate) but drop the
// throughput ones (close to the rate), which belong to make bench.
const raceEnabled = true
