//go:build race

package worker_test

// raceEnabled: the race detector slows the worker several times over and
// stretches its timing. Correctness bounds stay (never over the rate);
// tests that measure timing skip themselves, and make test runs them a
// second time without the race detector.
const raceEnabled = true
