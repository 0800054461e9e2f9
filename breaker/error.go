package breaker

import (
	"fmt"
	"time"
)

// OpenError is returned by Do, without calling fn, while the breaker for Key
// is open, or half-open with its probes already under way.
type OpenError struct {
	Key string
	// RetryIn is how long until the breaker lets a probe through: the rest
	// of the open period, or a short wait for the outcome of the probe in
	// flight.
	RetryIn time.Duration
}

func (e *OpenError) Error() string {
	return fmt.Sprintf("breaker %s open, retry in %v", e.Key, e.RetryIn.Round(time.Millisecond))
}
