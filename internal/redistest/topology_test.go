package redistest_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/internal/redistest"
)

// TestStartCluster checks that the cluster is a real one: keys spread over
// every master, and a command across slots is refused.
func TestStartCluster(t *testing.T) {
	start := time.Now()
	c := redistest.StartCluster(t, 3)
	t.Logf("3-master cluster up in %v: %s", time.Since(start).Round(time.Millisecond), c.URL())
	if !strings.HasPrefix(c.URL(), "redis-cluster://127.0.0.1:") || len(c.Nodes) != 3 {
		t.Fatalf("URL %s, %d nodes", c.URL(), len(c.Nodes))
	}
	ctx := context.Background()
	cc := c.Client()
	for i := range 300 {
		if err := cc.Set(ctx, fmt.Sprintf("k%d", i), i, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range c.Nodes {
		size, err := n.Client().DBSize(ctx).Result()
		if err != nil || size == 0 {
			t.Errorf("node %s holds %d keys (%v): the keys did not spread", n.Addr, size, err)
		}
	}
	err := cc.Do(ctx, "MSET", "a", "1", "b", "2").Err()
	if err == nil || !strings.Contains(err.Error(), "CROSSSLOT") {
		t.Errorf("MSET across slots: %v, want CROSSSLOT", err)
	}
	c.Stop()
	for _, n := range c.Nodes {
		if n.Running() {
			t.Errorf("node %s still running after Stop", n.Addr)
		}
	}
}

// TestStartSentinel runs a failover: what the replica had when the master
// was killed is on the new master, and the sentinels agree on it within a
// few seconds.
func TestStartSentinel(t *testing.T) {
	start := time.Now()
	s := redistest.StartSentinel(t)
	t.Logf("sentinel topology up in %v: %s", time.Since(start).Round(time.Millisecond), s.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old, err := s.MasterAddr(ctx)
	if err != nil || old != s.Data[0].Addr {
		t.Fatalf("master %s (%v), want %s", old, err, s.Data[0].Addr)
	}
	fc := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: s.MasterName, SentinelAddrs: s.SentinelAddrs()})
	defer fc.Close()
	for i := range 100 {
		if err := fc.Set(ctx, fmt.Sprintf("k%d", i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	off, err := s.SyncReplica(ctx, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	killed := s.KillMaster()
	if killed != old {
		t.Fatalf("killed %s, master was %s", killed, old)
	}
	kill := time.Now()
	addr, err := s.WaitFailover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("failover from %s to %s in %v (replication offset %d at the kill)", old, addr, time.Since(kill).Round(time.Millisecond), off)
	if addr != s.Data[1].Addr {
		t.Fatalf("new master %s, want the replica %s", addr, s.Data[1].Addr)
	}
	n, err := fc.DBSize(ctx).Result()
	if err != nil || n != 100 {
		t.Fatalf("new master holds %d keys (%v), want 100", n, err)
	}
	if err := fc.Set(ctx, "after", 1, 0).Err(); err != nil {
		t.Fatalf("write after the failover: %v", err)
	}
}
