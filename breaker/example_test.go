package breaker_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/waqueue/waqueue/breaker"
)

func Example() {
	errUnavailable := errors.New("HTTP 503")
	breakers := breaker.New(
		breaker.Timeout(30*time.Second),
		// Only service-side failures count.
		breaker.IsSuccessful(func(err error) bool { return !errors.Is(err, errUnavailable) }),
		breaker.OnStateChange(func(key string, from, to breaker.State) {
			fmt.Printf("%s: %v -> %v\n", key, from, to)
		}),
	)
	send := func() error { return errUnavailable }

	for range 6 {
		err := breakers.Do(context.Background(), breaker.Key("selfserve", "shop"), send)
		if oe, ok := errors.AsType[*breaker.OpenError](err); ok {
			// Hand the task back for oe.RetryIn without using an attempt.
			fmt.Println("refused, retry in about", oe.RetryIn.Round(time.Second))
		}
	}
	// Output:
	// selfserve/shop: closed -> open
	// refused, retry in about 30s
}
