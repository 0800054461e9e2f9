package redisconn

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// ListpackValue is the hash-max-listpack-value this project asks of its
// Redis. asynq keeps every queued task in a hash whose msg field (the task
// with its payload) is 300 to 600 bytes for a template send. Redis keeps a
// hash in its compact listpack form only while every value fits under
// hash-max-listpack-value, 64 bytes by default; past it the hash becomes a
// hash table, and a queued three-parameter template send costs about 800
// bytes of Redis memory instead of about 600 (BENCHMARKS.md, "Redis
// footprint"). With a handful of fields per hash, the listpack's linear
// lookups cost nothing measurable.
const ListpackValue = 1024

// Advice is a Redis setting that works against the project, and why.
type Advice struct {
	Setting string
	Now     string
	Want    string
	Why     string
	// Risk: following it matters for correctness, not only for memory.
	Risk bool
}

func (a Advice) String() string {
	return fmt.Sprintf("Redis %s is %s; set it to %s: %s", a.Setting, a.Now, a.Want, a.Why)
}

// Settings reads the Redis settings the project depends on and returns
// what should change. A Redis that refuses CONFIG (a managed service, or
// an ACL user without it, as the README's suggested ACL has) yields no
// advice and no error: the check is a courtesy, never a reason not to run.
func Settings(ctx context.Context, rdb redis.UniversalClient) []Advice {
	var out []Advice
	if v, ok := configGet(ctx, rdb, "maxmemory-policy"); ok && v != "noeviction" {
		out = append(out, Advice{Setting: "maxmemory-policy", Now: v, Want: "noeviction", Risk: true,
			Why: "under memory pressure Redis would evict queued tasks and send records, and messages would be lost or sent twice without a trace"})
	}
	v, ok := configGet(ctx, rdb, "hash-max-listpack-value")
	if !ok {
		v, ok = configGet(ctx, rdb, "hash-max-ziplist-value") // Redis 6
	}
	if n, err := strconv.Atoi(v); ok && err == nil && n < ListpackValue {
		out = append(out, Advice{Setting: "hash-max-listpack-value", Now: v, Want: strconv.Itoa(ListpackValue),
			Why: "queued tasks are kept as hash tables instead of listpacks, about a third more memory per queued message"})
	}
	return out
}

func configGet(ctx context.Context, rdb redis.UniversalClient, name string) (string, bool) {
	m, err := rdb.ConfigGet(ctx, name).Result()
	if err != nil {
		return "", false
	}
	v, ok := m[name]
	return v, ok
}
