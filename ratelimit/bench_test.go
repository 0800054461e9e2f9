package ratelimit_test

import (
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/ratelimit"
)

// The rate is high enough that no call waits: what is measured is the
// bookkeeping each send pays, not the pacing.
const benchRate = 1e9

func BenchmarkWaitOneKey(b *testing.B) {
	l := ratelimit.New(benchRate)
	ctx := b.Context()
	for b.Loop() {
		l.Wait(ctx, "919000000001")
	}
}

func BenchmarkWaitManyKeys(b *testing.B) {
	l := ratelimit.New(benchRate)
	keys := benchKeys(10000)
	ctx := b.Context()
	i := 0
	for b.Loop() {
		l.Wait(ctx, keys[i%len(keys)])
		i++
	}
}

func BenchmarkWaitParallelOneKey(b *testing.B) {
	l := ratelimit.New(benchRate)
	ctx := b.Context()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Wait(ctx, "919000000001")
		}
	})
}

func BenchmarkWaitParallelManyKeys(b *testing.B) {
	l := ratelimit.New(benchRate)
	keys := benchKeys(10000)
	ctx := b.Context()
	var next atomic.Uint64
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1) * 7919
		for pb.Next() {
			l.Wait(ctx, keys[i%uint64(len(keys))])
			i++
		}
	})
}

// Turned away: the path a backlog takes for every task beyond MaxWait.
func BenchmarkWaitHandedBack(b *testing.B) {
	l := ratelimit.New(rate.Every(time.Hour), ratelimit.MaxWait(0))
	ctx := b.Context()
	l.Wait(ctx, "919000000001")
	for b.Loop() {
		l.Wait(ctx, "919000000001")
	}
}

// A new key every call, as recipient pacing sees during a campaign, with
// the sweeper dropping them again.
func BenchmarkWaitNewKeys(b *testing.B) {
	l := ratelimit.New(benchRate, ratelimit.IdleTTL(10*time.Millisecond))
	ctx := b.Context()
	i := 0
	for b.Loop() {
		l.Wait(ctx, strconv.Itoa(i))
		i++
	}
}

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "91900" + strconv.Itoa(1000000+i)
	}
	return keys
}
