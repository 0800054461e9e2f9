package worker

import (
	"context"
	"time"
)

// recordRetryFor bounds how long a handler keeps trying to write down what
// Gupshup already did. A Redis restart takes a second or two, a Sentinel
// failover up to about half a minute; giving up sooner turns a message
// Gupshup has into an ambiguous one.
const recordRetryFor = 30 * time.Second

// retryRecord runs write until it succeeds or recordRetryFor has passed,
// with backoff from 50 ms to 2 s, and returns the last error. It ignores
// ctx's cancellation: the outcome it records happened whatever the task's
// context says now.
func retryRecord(ctx context.Context, write func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordRetryFor)
	defer cancel()
	wait := 50 * time.Millisecond
	for {
		err := write(ctx)
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Second)
	}
}
