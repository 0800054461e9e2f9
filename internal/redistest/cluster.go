package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterTimeout bounds creating a cluster and waiting for every node to
// agree on it.
const clusterTimeout = 60 * time.Second

// Cluster is a Redis Cluster of masters without replicas on loopback,
// each node a Server in a temporary directory of its own.
type Cluster struct {
	Nodes []*Server
	tb    testing.TB
}

// StartCluster starts masters cluster-enabled redis-servers (at least 3,
// which redis-cli requires), joins them with redis-cli --cluster create,
// waits until every node reports cluster_state:ok and they all agree on
// who serves which slots, and stops them all when tb ends.
func StartCluster(tb testing.TB, masters int) *Cluster {
	tb.Helper()
	if masters < 3 {
		tb.Fatalf("StartCluster: a Redis Cluster needs at least 3 masters, got %d", masters)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		tb.Fatalf("redis-cli not found on PATH (Debian's redis-tools package): %v", err)
	}
	c := &Cluster{tb: tb}
	for range masters {
		s, err := start(tb, serverSpec{extra: func(port int) []string {
			bus := FreePort(tb)
			for bus == port {
				bus = FreePort(tb)
			}
			return []string{
				"--cluster-enabled", "yes",
				// Relative to --dir.
				"--cluster-config-file", "nodes.conf",
				"--cluster-port", strconv.Itoa(bus),
				"--cluster-node-timeout", "5000",
			}
		}})
		if err != nil {
			tb.Fatal(err)
		}
		c.Nodes = append(c.Nodes, s)
	}

	ctx, cancel := context.WithTimeout(context.Background(), clusterTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "All 16384 slots covered") {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	if err := c.waitConsistent(ctx); err != nil {
		tb.Fatal(err)
	}
	return c
}

// Addrs lists the nodes' addresses.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// URL is the REDIS_URL of the cluster: redis-cluster://host1:port1,...
func (c *Cluster) URL() string { return "redis-cluster://" + strings.Join(c.Addrs(), ",") }

// Client returns a cluster client, closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	c.tb.Cleanup(func() { cc.Close() })
	return cc
}

// Stop kills every node; it is safe to call twice.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// waitConsistent waits until every node says the cluster is ok, knows
// every other node, and maps all 16384 slots to the same masters as the
// others do. redis-cli checks this once before it returns; a client that
// asks a node still catching up would be sent MOVED back and forth.
func (c *Cluster) waitConsistent(ctx context.Context) error {
	clients := make([]*redis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		clients[i] = redis.NewClient(&redis.Options{Addr: n.Addr, MaxRetries: -1})
		defer clients[i].Close()
	}
	var state string
	for {
		ok, why := c.consistent(ctx, clients)
		if ok {
			return nil
		}
		state = why
		select {
		case <-ctx.Done():
			logs := ""
			for _, n := range c.Nodes {
				logs += "\n--- " + n.Addr + "\n" + tail(n.Dir+"/redis.log")
			}
			return fmt.Errorf("cluster not consistent within %v: %s%s", clusterTimeout, state, logs)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) consistent(ctx context.Context, clients []*redis.Client) (bool, string) {
	var first string
	for i, cl := range clients {
		info, err := cl.ClusterInfo(ctx).Result()
		if err != nil {
			return false, fmt.Sprintf("%s: CLUSTER INFO: %v", c.Nodes[i].Addr, err)
		}
		f := infoFields(info)
		if f["cluster_state"] != "ok" || f["cluster_slots_ok"] != "16384" || f["cluster_known_nodes"] != strconv.Itoa(len(c.Nodes)) {
			return false, fmt.Sprintf("%s: state %s, %s slots ok, %s nodes known", c.Nodes[i].Addr, f["cluster_state"], f["cluster_slots_ok"], f["cluster_known_nodes"])
		}
		slots, err := cl.ClusterSlots(ctx).Result()
		if err != nil {
			return false, fmt.Sprintf("%s: CLUSTER SLOTS: %v", c.Nodes[i].Addr, err)
		}
		covered := 0
		var m []string
		for _, s := range slots {
			covered += int(s.End - s.Start + 1)
			if len(s.Nodes) == 0 {
				return false, fmt.Sprintf("%s: slots %d-%d have no node", c.Nodes[i].Addr, s.Start, s.End)
			}
			m = append(m, fmt.Sprintf("%d-%d@%s", s.Start, s.End, s.Nodes[0].Addr))
		}
		slices.Sort(m)
		view := strings.Join(m, " ")
		if covered != 16384 {
			return false, fmt.Sprintf("%s: %d slots mapped", c.Nodes[i].Addr, covered)
		}
		if i == 0 {
			first = view
		} else if view != first {
			return false, fmt.Sprintf("%s maps slots as %s, %s as %s", c.Nodes[0].Addr, first, c.Nodes[i].Addr, view)
		}
	}
	return true, ""
}

// infoFields reads "key:value" lines of INFO or CLUSTER INFO.
func infoFields(info string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok {
			m[k] = v
		}
	}
	return m
}
