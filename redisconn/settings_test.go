package redisconn

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/internal/redistest"
)

func TestSettings(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		args  []string
		want  []string // settings advised, in order
		risky bool
	}{
		{"defaults", nil, []string{"hash-max-listpack-value"}, false},
		{"tuned", []string{"--hash-max-listpack-value", "1024"}, nil, false},
		{"evicting", []string{"--maxmemory-policy", "allkeys-lru", "--hash-max-listpack-value", "2048"}, []string{"maxmemory-policy"}, true},
		// The ACL the README suggests has no CONFIG: no advice, no error.
		{"no CONFIG", []string{"--maxmemory-policy", "allkeys-lru"}, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t, tt.args...)
			var rdb redis.UniversalClient = srv.Client()
			if tt.name == "no CONFIG" {
				admin := srv.Client()
				if err := admin.Do(ctx, "ACL", "SETUSER", "waq", "on", ">pw", "~*", "&*", "+@all", "-@dangerous", "+info").Err(); err != nil {
					t.Fatal(err)
				}
				rdb = redis.NewClient(&redis.Options{Addr: srv.Addr, Username: "waq", Password: "pw"})
				t.Cleanup(func() { rdb.Close() })
			}
			got := Settings(ctx, rdb)
			var names []string
			risky := false
			for _, a := range got {
				names = append(names, a.Setting)
				risky = risky || a.Risk
				if !strings.Contains(a.String(), a.Want) || !strings.Contains(a.String(), a.Now) {
					t.Errorf("advice %q does not say what to set", a)
				}
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") || risky != tt.risky {
				t.Fatalf("advice %v (risk %v), want %v (risk %v)", names, risky, tt.want, tt.risky)
			}
		})
	}
}
