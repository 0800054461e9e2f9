package breaker

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/store"
)

// Redis is a Shared kept in Redis, one key per breaker holding the open
// period as its TTL. Reading the TTL rather than a stored timestamp makes
// every process measure the open period by Redis's clock, so clock skew
// between hosts does not stretch or cut it.
type Redis struct {
	rdb redis.UniversalClient
}

var _ Shared = (*Redis)(nil)

// NewRedis returns a Shared on rdb.
func NewRedis(rdb redis.UniversalClient) *Redis { return &Redis{rdb: rdb} }

// RedisKey is the Redis key for a breaker key, e.g.
// "waq:breaker:{selfserve/myapp}".
func RedisKey(key string) string { return store.Prefix + "breaker:{" + key + "}" }

// OpenUntil implements Shared.
func (r *Redis) OpenUntil(ctx context.Context, key string) (time.Time, error) {
	ttl, err := r.rdb.PTTL(ctx, RedisKey(key)).Result()
	if err != nil {
		return time.Time{}, err
	}
	// A missing key is -2, a key without expiry -1: neither is an open
	// breaker, and a key left without TTL must not stop sends for good.
	if ttl <= 0 {
		return time.Time{}, nil
	}
	return time.Now().Add(ttl), nil
}

// extendOpen sets the TTL unless the key already lives longer, so that a
// process that opened a little earlier is never cut short. The value is
// the end of the open period in unix milliseconds, for people reading Redis.
var extendOpen = redis.NewScript(`
local left = redis.call('PTTL', KEYS[1])
if left >= tonumber(ARGV[1]) then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
return 1
`)

// SetOpenUntil implements Shared.
func (r *Redis) SetOpenUntil(ctx context.Context, key string, t time.Time) error {
	ttl := time.Until(t).Milliseconds()
	if ttl <= 0 {
		return nil
	}
	return extendOpen.Run(ctx, r.rdb, []string{RedisKey(key)}, ttl, strconv.FormatInt(t.UnixMilli(), 10)).Err()
}
