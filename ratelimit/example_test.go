package ratelimit_test

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/ratelimit"
)

func Example() {
	// 80 sends a second per business number, waiting up to a second.
	sources := ratelimit.New(80)
	// One message every 6 seconds per user; never wait that long in a handler.
	recipients := ratelimit.New(rate.Every(6*time.Second), ratelimit.MaxWait(0))

	ctx := context.Background()
	for range 2 {
		if d, err := recipients.Wait(ctx, "919876543210"); err != nil {
			return
		} else if d > 0 {
			// Hand the task back for d without using an attempt.
			fmt.Println("recipient paced, retry in about", d.Round(time.Second))
			continue
		}
		if d, err := sources.Wait(ctx, "917834811114"); err != nil || d > 0 {
			return
		}
		fmt.Println("send")
	}
	// Output:
	// send
	// recipient paced, retry in about 6s
}
