package redisconn_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/redisconn"
)

// secret is the password of every URL below that has one; no error may
// contain it, nor a piece of it.
const secret = "Zq9xWv7Kp"

func TestParse(t *testing.T) {
	caFile := writeCA(t)
	tlsFor := func(name string) *tls.Config { return &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name} }
	tests := []struct {
		name string
		url  string
		want asynq.RedisConnOpt
		// check looks at what want cannot say (a CA pool).
		check func(t *testing.T, opt asynq.RedisConnOpt)
	}{
		{"host and port", "redis://127.0.0.1:6379", asynq.RedisClientOpt{Addr: "127.0.0.1:6379"}, nil},
		{"default port", "redis://redis.internal", asynq.RedisClientOpt{Addr: "redis.internal:6379"}, nil},
		{"database", "redis://h:6380/3", asynq.RedisClientOpt{Addr: "h:6380", DB: 3}, nil},
		{"trailing slash", "redis://h:6380/", asynq.RedisClientOpt{Addr: "h:6380"}, nil},
		{"password only", "redis://:" + secret + "@h:1/0", asynq.RedisClientOpt{Addr: "h:1", Password: secret}, nil},
		{"ACL user", "redis://waq:" + secret + "@h:1/2", asynq.RedisClientOpt{Addr: "h:1", Username: "waq", Password: secret, DB: 2}, nil},
		{"escaped password", "redis://waq:p%40ss%2Fw%3Ard%23@h:1", asynq.RedisClientOpt{Addr: "h:1", Username: "waq", Password: "p@ss/w:rd#"}, nil},
		{"unescaped @ in password", "redis://waq:p@ss@h:1", asynq.RedisClientOpt{Addr: "h:1", Username: "waq", Password: "p@ss"}, nil},
		{"unescaped : in password", "redis://waq:p:ss@h:1", asynq.RedisClientOpt{Addr: "h:1", Username: "waq", Password: "p:ss"}, nil},
		{"IPv6", "redis://[::1]:7000", asynq.RedisClientOpt{Addr: "[::1]:7000"}, nil},
		{"IPv6 default port", "redis://[fe80::1]", asynq.RedisClientOpt{Addr: "[fe80::1]:6379"}, nil},
		{"upper-case scheme", "REDIS://h:1", asynq.RedisClientOpt{Addr: "h:1"}, nil},
		{"white space around", "  redis://h:1\n", asynq.RedisClientOpt{Addr: "h:1"}, nil},
		{"TLS", "rediss://waq:" + secret + "@cache.example.com:6380/1",
			asynq.RedisClientOpt{Addr: "cache.example.com:6380", Username: "waq", Password: secret, DB: 1, TLSConfig: tlsFor("cache.example.com")}, nil},
		{"TLS skip verify", "rediss://h:6380?insecure_skip_verify=true",
			asynq.RedisClientOpt{Addr: "h:6380", TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, ServerName: "h", InsecureSkipVerify: true}}, nil},
		{"TLS CA file", "rediss://h:6380?ca_file=" + caFile, nil, func(t *testing.T, opt asynq.RedisConnOpt) {
			o := opt.(asynq.RedisClientOpt)
			if o.TLSConfig == nil || o.TLSConfig.RootCAs == nil || o.TLSConfig.ServerName != "h" || o.TLSConfig.InsecureSkipVerify {
				t.Errorf("TLS config %+v, want a CA pool and server name h", o.TLSConfig)
			}
		}},
		{"sentinel", "redis-sentinel://10.0.0.1:26379,10.0.0.2:26380,10.0.0.3?master=mymaster",
			asynq.RedisFailoverClientOpt{MasterName: "mymaster", SentinelAddrs: []string{"10.0.0.1:26379", "10.0.0.2:26380", "10.0.0.3:26379"}}, nil},
		{"sentinel with data and sentinel credentials", "redis-sentinel://waq:" + secret + "@s1:1,s2:2/4?master=m&sentinel_username=sen&sentinel_password=s%26p",
			asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"s1:1", "s2:2"}, Username: "waq", Password: secret,
				SentinelUsername: "sen", SentinelPassword: "s&p", DB: 4}, nil},
		{"sentinel password only", "redis-sentinel://s1?master=m&sentinel_password=x",
			asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"s1:26379"}, SentinelPassword: "x"}, nil},
		{"sentinel IPv6", "redis-sentinel://[::1]:1,[::1]:2?master=m",
			asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"[::1]:1", "[::1]:2"}}, nil},
		{"sentinel TLS", "rediss-sentinel://s1:1,s2:2?master=m",
			asynq.RedisFailoverClientOpt{MasterName: "m", SentinelAddrs: []string{"s1:1", "s2:2"}, TLSConfig: tlsFor("")}, nil},
		{"cluster", "redis-cluster://10.0.0.1:7000,10.0.0.2:7001,10.0.0.3",
			asynq.RedisClusterClientOpt{Addrs: []string{"10.0.0.1:7000", "10.0.0.2:7001", "10.0.0.3:6379"}}, nil},
		{"cluster one seed", "redis-cluster://n1:7000", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}}, nil},
		{"cluster database 0", "redis-cluster://n1:7000/0", asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000"}}, nil},
		{"cluster ACL", "redis-cluster://waq:" + secret + "@n1:7000,n2:7000",
			asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7000"}, Username: "waq", Password: secret}, nil},
		{"cluster TLS", "rediss-cluster://n1:7000,n2:7000?insecure_skip_verify=false",
			asynq.RedisClusterClientOpt{Addrs: []string{"n1:7000", "n2:7000"}, TLSConfig: tlsFor("")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := redisconn.Parse(tt.url)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.check != nil {
				tt.check(t, got)
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	tests := []struct {
		name, url string
		want      string // the error names the problem with this
	}{
		{"empty", "", "REDIS_URL is empty"},
		{"blank", " \n", "REDIS_URL is empty"},
		{"no scheme", "waq:" + secret + "@h:6379", "must start with redis://"},
		{"unknown scheme", "http://waq:" + secret + "@h", `REDIS_URL with scheme "http": unsupported`},
		{"go-redis style sentinel scheme", "redis+sentinel://:" + secret + "@h", `scheme "redis+sentinel"`},
		{"socket scheme", "redis-socket://:" + secret + "@/tmp/redis.sock", `scheme "redis-socket"`},
		{"no host", "redis://:" + secret + "@", "has no host"},
		{"no host, path", "redis:///0", "has no host"},
		{"port not a number", "redis://:" + secret + "@h:port", "the address: the port must be a number"},
		{"port out of range", "redis://h:70000", "the port must be a number from 1 to 65535"},
		{"port zero", "redis://h:0", "the port must be a number from 1 to 65535"},
		{"empty host", "redis://:" + secret + "@:6379", "no host name"},
		{"bad host", "redis://h%20x:1", "characters a host name cannot have"},
		{"unescaped slash in password", "redis://waq:" + secret[:4] + "/" + secret[4:] + "@h:6379", ""},
		{"unescaped question mark in password", "redis://waq:" + secret[:4] + "?" + secret[4:] + "@h:6379", ""},
		{"unescaped hash in password", "redis://waq:" + secret[:4] + "#" + secret[4:] + "@h:6379", "percent-encode # in a password as %23"},
		{"unescaped slash, digits before", "redis://waq:1234/" + secret + "@h:6379", ""},
		{"bad escape in password", "redis://waq:" + secret + "%zz@h", "malformed %-escape"},
		{"user without password", "redis://" + secret + "@h", "has a user name but no password"},
		{"user with empty password", "redis://" + secret + ":@h", "has a user name but no password"},
		{"IPv6 without brackets", "redis://::1:6379", "must be written in brackets"},
		{"IPv6 unclosed", "redis://[::1:6379", "misses its closing ]"},
		{"IPv6 junk", "redis://[::1]x", "unexpected text after the IPv6 address"},
		{"brackets around a name", "redis://[localhost]:1", "not an IPv6 address"},
		{"database not a number", "redis://:" + secret + "@h:1/zero", "the path must be a database number"},
		{"negative database", "redis://h:1/-1", "the path must be a database number"},
		{"path with segments", "redis://h:1/0/1", "a database number alone"},
		{"two hosts for standalone", "redis://:" + secret + "@h1:1,h2:2", "has 2 addresses; a list of addresses needs redis-sentinel:// or redis-cluster://"},
		{"empty address in list", "redis-cluster://h1:1,,h3:3", "address 2 of 3: empty"},
		{"trailing comma", "redis-cluster://h1:1,", "address 2 of 2: empty"},
		{"bad port in list", "redis-cluster://h1:1,h2:x", "address 2 of 2: the port must be a number"},
		{"duplicate address", "redis-cluster://h1:6379,h1", "address 2 of 2 is listed twice"},
		{"unknown parameter", "redis://:" + secret + "@h?timeout=3", `unknown query parameter "timeout"`},
		{"go-redis skip_verify", "rediss://h?skip_verify=true", `unknown query parameter "skip_verify"`},
		{"password spilling into the query", "redis://:" + secret[:3] + "?" + secret[3:] + "&x@h", ""},
		{"repeated parameter", "redis-sentinel://s?master=a&master=b", `"master" is given 2 times`},
		{"malformed query", "redis://h?x=%zz", "the query string (after ?) is malformed"},
		{"TLS option without TLS", "redis://h?insecure_skip_verify=true", "insecure_skip_verify applies to TLS only; use rediss://"},
		{"CA file without TLS", "redis-cluster://h?ca_file=/x", "ca_file applies to TLS only; use rediss-cluster://"},
		{"bad bool", "rediss://h?insecure_skip_verify=yes", "insecure_skip_verify must be true or false"},
		{"missing CA file", "rediss://h?ca_file=/nonexistent/ca.pem", "ca_file: open /nonexistent/ca.pem"},
		{"empty CA file name", "rediss://h?ca_file=", "ca_file is empty"},
		{"CA file not PEM", "rediss://h?ca_file=" + notPEM, "holds no PEM certificate"},
		{"sentinel without master", "redis-sentinel://waq:" + secret + "@s1,s2", "needs ?master=NAME"},
		{"sentinel empty master", "redis-sentinel://s1?master=", "needs ?master=NAME"},
		{"sentinel master with space", "redis-sentinel://s1?master=a%20b", "master name contains white space"},
		{"sentinel user without password", "redis-sentinel://s1?master=m&sentinel_username=u", "sentinel_username needs sentinel_password"},
		{"sentinel unknown parameter", "redis-sentinel://s1?master=m&master_name=m", `unknown query parameter "master_name"`},
		{"master on standalone", "redis://h?master=m", `unknown query parameter "master"`},
		{"sentinel password on cluster", "redis-cluster://h?sentinel_password=" + secret, `unknown query parameter "sentinel_password"`},
		{"cluster database", "redis-cluster://:" + secret + "@n1,n2/1", "a Redis Cluster has database 0 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opt, err := redisconn.Parse(tt.url)
			if err == nil {
				t.Fatalf("Parse accepted it: %#v", opt)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "REDIS_URL") {
				t.Errorf("error %q does not say it is about REDIS_URL", msg)
			}
			if tt.want != "" && !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not say %q", msg, tt.want)
			}
			for i := 0; i+4 <= len(secret); i++ {
				if strings.Contains(msg, secret[i:i+4]) {
					t.Fatalf("error %q repeats part of the password", msg)
				}
			}
		})
	}
}

// TestClient checks that each kind of option gives the client of its
// topology, through asynq's MakeRedisClient.
func TestClient(t *testing.T) {
	tests := []struct {
		url  string
		kind redisconn.Kind
		want any
	}{
		{"redis://127.0.0.1:1", redisconn.Standalone, &redis.Client{}},
		{"redis-sentinel://127.0.0.1:1?master=m", redisconn.Sentinel, &redis.Client{}},
		{"redis-cluster://127.0.0.1:1,127.0.0.1:2", redisconn.Cluster, &redis.ClusterClient{}},
	}
	for _, tt := range tests {
		opt, err := redisconn.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		if k := redisconn.KindOf(opt); k != tt.kind {
			t.Errorf("%s: kind %s, want %s", tt.url, k, tt.kind)
		}
		c := redisconn.Client(opt)
		if reflect.TypeOf(c) != reflect.TypeOf(tt.want) {
			t.Errorf("%s: client %T, want %T", tt.url, c, tt.want)
		}
		c.Close()
	}
}
