// Package retry is the one place that decides what a send outcome means:
// ok, retryable, throttled or terminal. Everything else (the worker, the
// callback handler, the circuit breaker, asynq itself) asks this package
// instead of looking at HTTP statuses or Gupshup codes on its own, so that
// a code is never treated one way in one path and another way elsewhere.
//
// The flow for a send is:
//
//	v := retry.Classify(err)                    // or ClassifyCode for a failed callback
//	return policy.OutcomeContext(ctx, v)        // nil, Later, Throttle or Dead
//
// and the asynq server is configured with IsFailure and Policy.RetryDelay,
// which read back the decision carried by the returned error.
//
// Attempt budgets are enforced here, not by asynq's MaxRetry: see
// AsynqMaxRetry for why.
package retry
