package redisconn_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/redisconn"
)

// ping writes and reads a key through a client made from url.
func ping(t *testing.T, rawURL string) error {
	t.Helper()
	opt, err := redisconn.Parse(rawURL)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	c := redisconn.Client(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Set(ctx, "redisconn:{ping}", "1", time.Minute).Err(); err != nil {
		return err
	}
	return c.Get(ctx, "redisconn:{ping}").Err()
}

// noSecret fails when err shows any of the secrets.
func noSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Fatalf("error %q shows a password", err)
		}
	}
}

// TestTopologyACL: a standalone Redis whose default user is off takes the
// ACL user of the URL; a wrong password or none fails, and the error does
// not show the password.
func TestTopologyACL(t *testing.T) {
	const pass, wrong = "acl-Pw-4821", "not-Pw-9317"
	srv := redistest.Start(t)
	admin := srv.Client()
	ctx := context.Background()
	if err := admin.Do(ctx, "ACL", "SETUSER", "waq", "on", ">"+pass, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	if err := admin.Do(ctx, "ACL", "SETUSER", "default", "off").Err(); err != nil {
		t.Fatal(err)
	}
	if err := ping(t, "redis://waq:"+pass+"@"+srv.Addr+"/0"); err != nil {
		t.Fatalf("ACL user: %v", err)
	}
	err := ping(t, "redis://waq:"+wrong+"@"+srv.Addr)
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("wrong password: %v, want WRONGPASS", err)
	}
	noSecret(t, err, pass, wrong)
	// The password alone is for the default user, which is off.
	err = ping(t, "redis://:"+pass+"@"+srv.Addr)
	if err == nil {
		t.Fatal("password without the user connected")
	}
	noSecret(t, err, pass)
	if err := ping(t, "redis://"+srv.Addr); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("no credentials: %v, want NOAUTH", err)
	}

	// CheckAuth stops a process on refused credentials only.
	check := func(rawURL string) error {
		opt, err := redisconn.Parse(rawURL)
		if err != nil {
			t.Fatal(err)
		}
		c := redisconn.Client(opt)
		defer c.Close()
		return redisconn.CheckAuth(ctx, c)
	}
	if err := check("redis://waq:" + pass + "@" + srv.Addr); err != nil {
		t.Errorf("CheckAuth with the right password: %v", err)
	}
	err = check("redis://waq:" + wrong + "@" + srv.Addr)
	if err == nil || !redisconn.IsAuthError(err) {
		t.Errorf("CheckAuth with a wrong password: %v", err)
	} else {
		noSecret(t, err, pass, wrong)
	}
	if err := check("redis://127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))); err != nil {
		t.Errorf("CheckAuth with nothing listening: %v, want nil (left to retries)", err)
	}
}

// TestSentinelACL: the URL's user and password go to the data nodes and
// sentinel_password to the sentinels, and neither stands in for the other.
func TestSentinelACL(t *testing.T) {
	const pass, sentinelPass, wrong = "data-Pw-5531", "sent-Pw-7712", "not-Pw-9317"
	s := redistest.StartSentinel(t, redistest.DataACL("waq", pass), redistest.SentinelPassword(sentinelPass))
	hosts := strings.Join(s.SentinelAddrs(), ",")
	if err := ping(t, s.URL()); err != nil {
		t.Fatalf("%v", err)
	}
	master := "?master=" + s.MasterName
	tests := []struct {
		name, url string
		// sentinelSide: the sentinels turn the client away; otherwise the
		// sentinels answer and the master refuses.
		sentinelSide bool
	}{
		{"wrong data password", "redis-sentinel://waq:" + wrong + "@" + hosts + master + "&sentinel_password=" + sentinelPass, false},
		{"no data credentials", "redis-sentinel://" + hosts + master + "&sentinel_password=" + sentinelPass, false},
		{"sentinel password given to the data nodes", "redis-sentinel://waq:" + sentinelPass + "@" + hosts + master + "&sentinel_password=" + sentinelPass, false},
		{"wrong sentinel password", "redis-sentinel://waq:" + pass + "@" + hosts + master + "&sentinel_password=" + wrong, true},
		{"no sentinel password", "redis-sentinel://waq:" + pass + "@" + hosts + master, true},
		{"data password given to the sentinels", "redis-sentinel://waq:" + pass + "@" + hosts + master + "&sentinel_password=" + url.QueryEscape(pass), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ping(t, tt.url)
			if err == nil {
				t.Fatal("connected")
			}
			noSecret(t, err, pass, sentinelPass, wrong)
			if !redisconn.IsAuthError(err) {
				t.Errorf("%v is not an authentication error", err)
			}
			if fromSentinels := strings.Contains(err.Error(), "sentinels"); fromSentinels != tt.sentinelSide {
				t.Errorf("error %q: from the sentinels %v, want %v", err, fromSentinels, tt.sentinelSide)
			}
		})
	}
}

// TestClusterClient: a redis-cluster:// URL gives a cluster client that
// reaches every master.
func TestClusterClient(t *testing.T) {
	c := redistest.StartCluster(t, 3)
	opt, err := redisconn.Parse(c.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redisconn.Client(opt)
	defer rdb.Close()
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("client %T, want *redis.ClusterClient", rdb)
	}
	ctx := context.Background()
	// ForEachMaster calls the function from one goroutine per master.
	var masters atomic.Int32
	err = cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		masters.Add(1)
		return m.Ping(ctx).Err()
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("%d masters reached (%v), want 3", masters.Load(), err)
	}
	if err := ping(t, c.URL()); err != nil {
		t.Fatal(err)
	}
}
