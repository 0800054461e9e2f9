// Package redisconn turns REDIS_URL into the connection options asynq and
// go-redis need, so that the worker, the enqueuer and the tools agree on
// what an address means.
package redisconn

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Parse reads a Redis URL: redis://[user:password@]host:port[/db] and
// rediss:// (TLS). The error never repeats the URL, which may hold a password.
func Parse(raw string) (asynq.RedisConnOpt, error) {
	if raw == "" {
		return nil, fmt.Errorf("REDIS_URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL is not a URL")
	}
	opt, err := asynq.ParseRedisURI(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL with scheme %q: %v", u.Scheme, redact(err, u))
	}
	return opt, nil
}

// Client opens a go-redis client from asynq connection options.
func Client(opt asynq.RedisConnOpt) redis.UniversalClient {
	return opt.MakeRedisClient().(redis.UniversalClient)
}

func redact(err error, u *url.URL) string {
	msg := err.Error()
	if p, ok := u.User.Password(); ok && p != "" {
		msg = strings.ReplaceAll(msg, p, "xxxxx")
	}
	return msg
}
