// Package poll waits in tests for a condition that other processes or
// goroutines bring about: a message delivered, a worker ready.
package poll

import (
	"testing"
	"time"
)

// Until calls cond every interval until it holds, and returns how long that
// took. Past timeout it fails tb, naming what it waited for and the last
// state cond reported.
func Until(tb testing.TB, what string, timeout, interval time.Duration, cond func() (ok bool, state string)) time.Duration {
	tb.Helper()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			tb.Fatalf("timed out after %v waiting for %s: %s", timeout, what, state)
		}
		time.Sleep(interval)
	}
}
