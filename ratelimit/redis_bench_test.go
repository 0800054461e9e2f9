package ratelimit_test

import (
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

// The Redis limiter's hot path is one EVALSHA round trip to a local
// redis-server. The rate, 10^6 a second (the most Redis's microsecond
// clock allows), is above what one client can do, so no call waits:
// what is measured is the round trip and the script.
const benchFleetRate = 1e6

func BenchmarkRedisWaitOneKey(b *testing.B) {
	l := ratelimit.NewRedis(redistest.Start(b).Client(), benchFleetRate)
	ctx := b.Context()
	for b.Loop() {
		if d, err := l.Wait(ctx, "919000000001"); d != 0 || err != nil {
			b.Fatalf("%v, %v", d, err)
		}
	}
}

func BenchmarkRedisWaitManyKeys(b *testing.B) {
	l := ratelimit.NewRedis(redistest.Start(b).Client(), benchFleetRate)
	keys := benchKeys(10000)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		l.Wait(ctx, keys[i%len(keys)])
		i++
	}
}

// Concurrent callers on one key, as a worker's handlers share a source:
// the calls queue on one Redis key, and on the client's connection pool.
func BenchmarkRedisWaitParallelOneKey(b *testing.B) {
	l := ratelimit.NewRedis(redistest.Start(b).Client(), benchFleetRate)
	ctx := b.Context()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Wait(ctx, "919000000001")
		}
	})
}

func BenchmarkRedisWaitParallelManyKeys(b *testing.B) {
	l := ratelimit.NewRedis(redistest.Start(b).Client(), benchFleetRate)
	keys := benchKeys(10000)
	ctx := b.Context()
	var next atomic.Uint64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) * 7919
		for pb.Next() {
			l.Wait(ctx, keys[i%uint64(len(keys))])
			i++
		}
	})
}

// Turned away by Redis: the path a fleet-wide backlog takes for every task
// beyond MaxWait, when the local layer does not stop it first.
func BenchmarkRedisWaitHandedBack(b *testing.B) {
	l := ratelimit.NewRedis(redistest.Start(b).Client(), rate.Every(time.Hour), ratelimit.MaxWait(0))
	ctx := b.Context()
	l.Wait(ctx, "919000000001")
	for b.Loop() {
		if d, _ := l.Wait(ctx, "919000000001"); d == 0 {
			b.Fatal("not handed back")
		}
	}
}

// The Layered limiter when neither layer waits: the local bookkeeping
// plus the round trip.
func BenchmarkLayeredWaitOneKey(b *testing.B) {
	l := ratelimit.NewLayered(redistest.Start(b).Client(), benchFleetRate)
	ctx := b.Context()
	for b.Loop() {
		l.Wait(ctx, "919000000001")
	}
}

// A backlog held by the local layer: turned away in memory, no Redis call.
func BenchmarkLayeredWaitHandedBackLocally(b *testing.B) {
	l := ratelimit.NewLayered(redistest.Start(b).Client(), rate.Every(time.Hour), ratelimit.MaxWait(0))
	ctx := b.Context()
	l.Wait(ctx, "919000000001")
	for b.Loop() {
		if d, _ := l.Wait(ctx, "919000000001"); d == 0 {
			b.Fatal("not handed back")
		}
	}
}
