package redisconn_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/redisconn"
)

var incrTo = redis.NewScript(`return redis.call('INCRBY', KEYS[1], ARGV[1])`)

// pipeCallers runs n callers at once through p, each writing and reading
// back keys of its own with a script and plain commands, and checks that
// every caller got its own replies.
func pipeCallers(t *testing.T, p *redisconn.Pipe, n int) {
	t.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			key := fmt.Sprintf("pipe:{caller%d}", i)
			if got, err := p.Eval(ctx, incrTo, []string{key + ":n"}, i).Int(); err != nil || got != i {
				t.Errorf("caller %d: script says %d, %v", i, got, err)
			}
			var get *redis.StringCmd
			_, err := p.Pipelined(ctx, func(pipe redis.Pipeliner) error {
				pipe.Set(ctx, key, "v"+strconv.Itoa(i), 0)
				get = pipe.Get(ctx, key)
				return nil
			})
			if err != nil || get.Val() != "v"+strconv.Itoa(i) {
				t.Errorf("caller %d: read back %q, %v", i, get.Val(), err)
			}
		})
	}
	close(start)
	wg.Wait()
}

// TestPipeSharesRoundTrips checks that callers arriving together share
// pipelines, each with its own replies, in fewer round trips than calls.
func TestPipeSharesRoundTrips(t *testing.T) {
	rdb := redistest.Start(t).Client()
	p := redisconn.NewPipe(rdb)
	ctx := context.Background()
	// Load the script first: a fresh server's NOSCRIPT is another test.
	if err := incrTo.Load(ctx, rdb).Err(); err != nil {
		t.Fatal(err)
	}
	reads := func() int64 {
		info, err := rdb.Info(ctx, "stats").Result()
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, line := range strings.Split(info, "\n") {
			if _, err := fmt.Sscanf(line, "total_reads_processed:%d", &n); err == nil {
				return n
			}
		}
		t.Fatal("no total_reads_processed in INFO stats")
		return 0
	}
	const callers = 40
	before := reads()
	pipeCallers(t, p, callers)
	trips := reads() - before - 1 // the INFO call itself
	t.Logf("%d callers, 2 calls each: %d round trips", callers, trips)
	if trips >= 2*callers {
		t.Fatalf("%d round trips for %d calls arriving together: nothing was shared", trips, 2*callers)
	}
}

func TestPipeLoadsAMissingScript(t *testing.T) {
	rdb := redistest.Start(t).Client()
	p := redisconn.NewPipe(rdb)
	ctx := context.Background()
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := p.Eval(ctx, incrTo, []string{"pipe:n"}, 5).Int(); err != nil || got != 5 {
		t.Fatalf("after SCRIPT FLUSH: %d, %v; want 5 (the script loaded and run once)", got, err)
	}
}

func TestPipeSendsNothingWhenFnFails(t *testing.T) {
	rdb := redistest.Start(t).Client()
	p := redisconn.NewPipe(rdb)
	ctx := context.Background()
	boom := errors.New("boom")
	if _, err := p.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.Set(ctx, "pipe:k", "v", 0)
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("err %v, want boom", err)
	}
	if n, err := rdb.Exists(ctx, "pipe:k").Result(); err != nil || n != 0 {
		t.Fatalf("the command of a failed fn was sent: exists %d, %v", n, err)
	}
}

// TestPipeOnACluster: callers' keys fall in many slots on three masters;
// go-redis splits each shared pipeline by node.
func TestPipeOnACluster(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	rdb := c.Client()
	defer rdb.Close()
	pipeCallers(t, redisconn.NewPipe(rdb), 30)
}
