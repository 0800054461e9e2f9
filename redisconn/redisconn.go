// Package redisconn turns REDIS_URL into the connection options asynq and
// go-redis need, so that the worker, the enqueuer and the tools agree on
// what an address means.
//
// Three topologies, each with a TLS variant:
//
//	redis://[user:password@]host[:port][/db]
//	rediss://[user:password@]host[:port][/db]
//	redis-sentinel://[user:password@]host1[:port1],host2[:port2][/db]?master=NAME[&sentinel_username=U][&sentinel_password=P]
//	rediss-sentinel://...   (TLS to the sentinels and to the data nodes)
//	redis-cluster://[user:password@]host1[:port1],host2[:port2]
//	rediss-cluster://...
//
// The user and password always belong to the data nodes (a Redis ACL user,
// or only a password for the default user). Sentinels have credentials of
// their own, given as query parameters, since they usually differ: a
// sentinel's requirepass is not the data nodes' ACL. Missing ports are 6379
// for data nodes and 26379 for sentinels. A cluster has database 0 only.
//
// The TLS schemes verify the server's certificate against the system roots
// and the host name the client dials (for a sentinel or cluster that is
// each node's address as the topology reports it, so those certificates
// must name the announced addresses). Two query parameters adjust it:
// ca_file=PATH trusts the PEM certificates in PATH instead of the system
// roots (a private CA, as Google Memorystore and most self-hosted setups
// use), and insecure_skip_verify=true turns verification off, for tests and
// local experiments only: it lets anyone on the path read the traffic,
// password included. Any other query parameter is an error, so that a typo
// does not silently connect with other settings than intended.
//
// An error names the problem and never repeats the URL or any part of it
// that could hold a secret: only the scheme, parameter names, the
// position of a bad address and the ca_file path are quoted.
package redisconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// Kind is a Redis topology.
type Kind string

const (
	Standalone Kind = "standalone"
	Sentinel   Kind = "sentinel"
	Cluster    Kind = "cluster"
)

// Default ports when an address gives none.
const (
	DefaultPort         = "6379"
	DefaultSentinelPort = "26379"
)

type scheme struct {
	kind Kind
	tls  bool
}

var schemes = map[string]scheme{
	"redis":           {Standalone, false},
	"rediss":          {Standalone, true},
	"redis-sentinel":  {Sentinel, false},
	"rediss-sentinel": {Sentinel, true},
	"redis-cluster":   {Cluster, false},
	"rediss-cluster":  {Cluster, true},
}

const schemeList = "redis://, rediss://, redis-sentinel://, rediss-sentinel://, redis-cluster:// or rediss-cluster://"

// Parse reads a Redis URL (see the package documentation) into
// asynq.RedisClientOpt, asynq.RedisFailoverClientOpt or
// asynq.RedisClusterClientOpt. Surrounding white space, as a secret file
// often ends with, is ignored.
func Parse(raw string) (asynq.RedisConnOpt, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("REDIS_URL is empty")
	}
	// The scheme is quoted in errors only when it is one: without "://"
	// the text before the first colon may be a user name and password
	// (someone pasted "user:password@host").
	name, _, ok := strings.Cut(raw, "://")
	if !ok || strings.ContainsAny(name, "@/:?#") {
		return nil, fmt.Errorf("REDIS_URL must start with %s", schemeList)
	}
	sc, ok := schemes[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("REDIS_URL with scheme %q: unsupported; use %s", name, schemeList)
	}
	if strings.Contains(raw, "#") {
		// A URL fragment is meaningless here: this is a '#' in a password
		// or a parameter that should have been written %23.
		return nil, fmt.Errorf("REDIS_URL contains a #; percent-encode # in a password as %%23")
	}
	p := &parser{scheme: strings.ToLower(name), kind: sc.kind, tls: sc.tls}
	p.split(raw[len(name)+len("://"):])
	return p.parse()
}

// parser reads the parts of a URL after the scheme. It does not use
// url.Parse, which refuses lists of IPv6 addresses and quotes the text it
// chokes on in its errors; the split is the same as url.Parse's: the
// authority ends at the first '/' or '?', and the user information at the
// last '@' of the authority.
type parser struct {
	scheme string
	kind   Kind
	tls    bool

	userinfo string
	hasUser  bool
	host     string
	path     string
	rawQuery string
}

func (p *parser) split(rest string) {
	auth := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		auth, rest = rest[:i], rest[i:]
	} else {
		rest = ""
	}
	if i := strings.LastIndex(auth, "@"); i >= 0 {
		p.userinfo, p.hasUser, auth = auth[:i], true, auth[i+1:]
	}
	p.host = auth
	p.path, p.rawQuery, _ = strings.Cut(rest, "?")
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("REDIS_URL ("+p.scheme+"://): "+format, args...)
}

func (p *parser) parse() (asynq.RedisConnOpt, error) {
	user, pass, err := p.credentials()
	if err != nil {
		return nil, err
	}
	defPort := DefaultPort
	if p.kind == Sentinel {
		defPort = DefaultSentinelPort
	}
	addrs, err := p.addrs(defPort)
	if err != nil {
		return nil, err
	}
	db, err := p.db()
	if err != nil {
		return nil, err
	}
	q, err := p.query()
	if err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if p.tls {
		serverName := ""
		if p.kind == Standalone {
			// Sentinels and cluster nodes are many hosts: an empty
			// ServerName makes crypto/tls check each against the address
			// it dials.
			serverName, _, _ = net.SplitHostPort(addrs[0])
		}
		if tlsCfg, err = p.tlsConfig(serverName, q); err != nil {
			return nil, err
		}
	} else {
		for _, k := range []string{"ca_file", "insecure_skip_verify"} {
			if _, ok := q[k]; ok {
				return nil, p.errorf("%s applies to TLS only; use rediss%s://", k, strings.TrimPrefix(p.scheme, "redis"))
			}
		}
	}

	switch p.kind {
	case Standalone:
		if len(addrs) > 1 {
			return nil, p.errorf("has %d addresses; a list of addresses needs redis-sentinel:// or redis-cluster://", len(addrs))
		}
		if err := p.only(q, "ca_file", "insecure_skip_verify"); err != nil {
			return nil, err
		}
		return asynq.RedisClientOpt{Addr: addrs[0], Username: user, Password: pass, DB: db, TLSConfig: tlsCfg}, nil
	case Sentinel:
		if err := p.only(q, "master", "sentinel_username", "sentinel_password", "ca_file", "insecure_skip_verify"); err != nil {
			return nil, err
		}
		master, ok := q["master"]
		if !ok || master == "" {
			return nil, p.errorf("needs ?master=NAME, the name the sentinels monitor the master under")
		}
		if strings.ContainsAny(master, " \t\r\n") {
			return nil, p.errorf("the master name contains white space")
		}
		sUser, hasSUser := q["sentinel_username"]
		sPass, hasSPass := q["sentinel_password"]
		if hasSUser && sUser != "" && (!hasSPass || sPass == "") {
			return nil, p.errorf("sentinel_username needs sentinel_password")
		}
		return asynq.RedisFailoverClientOpt{
			MasterName: master, SentinelAddrs: addrs,
			SentinelUsername: sUser, SentinelPassword: sPass,
			Username: user, Password: pass, DB: db, TLSConfig: tlsCfg,
		}, nil
	default: // Cluster
		if db != 0 {
			return nil, p.errorf("a Redis Cluster has database 0 only; remove the /db from the URL")
		}
		if err := p.only(q, "ca_file", "insecure_skip_verify"); err != nil {
			return nil, err
		}
		return asynq.RedisClusterClientOpt{Addrs: addrs, Username: user, Password: pass, TLSConfig: tlsCfg}, nil
	}
}

func (p *parser) credentials() (user, pass string, err error) {
	if !p.hasUser {
		return "", "", nil
	}
	rawUser, rawPass, hasPass := strings.Cut(p.userinfo, ":")
	if user, err = url.PathUnescape(rawUser); err == nil {
		pass, err = url.PathUnescape(rawPass)
	}
	if err != nil {
		return "", "", p.errorf("the user name or password has a malformed %%-escape")
	}
	if user != "" && (!hasPass || pass == "") {
		// "redis://secret@host" is most often a password without its
		// leading colon; sending it as a user name would fail with a
		// confusing error, and naming it here would print it.
		return "", "", p.errorf("has a user name but no password; write user:password@, or :password@ for a password alone")
	}
	return user, pass, nil
}

// addrs splits the host list and checks each address, filling in defPort.
func (p *parser) addrs(defPort string) ([]string, error) {
	host := p.host
	if host == "" {
		return nil, p.errorf("has no host")
	}
	parts := strings.Split(host, ",")
	out := make([]string, 0, len(parts))
	seen := map[string]bool{}
	for i, part := range parts {
		where := "the address"
		if len(parts) > 1 {
			where = fmt.Sprintf("address %d of %d", i+1, len(parts))
		}
		a, err := hostPort(part, defPort)
		if err != nil {
			return nil, p.errorf("%s: %v", where, err)
		}
		if seen[a] {
			return nil, p.errorf("%s is listed twice", where)
		}
		seen[a] = true
		out = append(out, a)
	}
	return out, nil
}

func hostPort(s, defPort string) (string, error) {
	if s == "" {
		return "", errors.New("empty")
	}
	h, port := s, ""
	switch {
	case strings.HasPrefix(s, "["):
		end := strings.Index(s, "]")
		if end < 0 {
			return "", errors.New("an IPv6 address misses its closing ]")
		}
		rest := s[end+1:]
		h = s[1:end]
		if rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", errors.New("unexpected text after the IPv6 address")
			}
			port = rest[1:]
		}
		if net.ParseIP(h) == nil {
			return "", errors.New("not an IPv6 address inside [ ]")
		}
		return joinPort(h, port, defPort)
	case strings.Count(s, ":") > 1:
		return "", errors.New("an IPv6 address must be written in brackets: [::1]:6379")
	case strings.Contains(s, ":"):
		h, port, _ = strings.Cut(s, ":")
	}
	if h == "" {
		return "", errors.New("no host name")
	}
	if !validHost(h) {
		// Not quoted: a password with an unescaped '@' or ':' lands here.
		return "", errors.New("the host name has characters a host name cannot have")
	}
	return joinPort(h, port, defPort)
}

// validHost accepts DNS names (letters, digits, '-', '_', '.') and IPv4.
func validHost(h string) bool {
	for _, r := range h {
		if !(r == '-' || r == '_' || r == '.' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func joinPort(h, port, defPort string) (string, error) {
	if port == "" {
		port = defPort
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return "", errors.New("the port must be a number from 1 to 65535")
	}
	return net.JoinHostPort(h, strconv.Itoa(n)), nil
}

func (p *parser) db() (int, error) {
	path := strings.TrimPrefix(p.path, "/")
	if path == "" {
		return 0, nil
	}
	if strings.Contains(path, "/") {
		return 0, p.errorf("the path must be a database number alone, as in /0")
	}
	n, err := strconv.Atoi(path)
	if err != nil || n < 0 {
		// Not quoted: a password with an unescaped '/' lands here.
		return 0, p.errorf("the path must be a database number, as in /0 (is a / in the password not percent-encoded as %%2F?)")
	}
	return n, nil
}

// query returns the query parameters, each given at most once.
func (p *parser) query() (map[string]string, error) {
	if p.rawQuery == "" {
		return map[string]string{}, nil
	}
	vals, err := url.ParseQuery(p.rawQuery)
	if err != nil {
		return nil, p.errorf("the query string (after ?) is malformed")
	}
	out := make(map[string]string, len(vals))
	for k, v := range vals {
		if len(v) > 1 {
			return nil, p.errorf("query parameter %q is given %d times", safeName(k), len(v))
		}
		out[k] = v[0]
	}
	return out, nil
}

// only fails on any parameter not in allowed.
func (p *parser) only(q map[string]string, allowed ...string) error {
	for k := range q {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return p.errorf("unknown query parameter %q (%s accepts %s)", safeName(k), p.scheme+"://", strings.Join(allowed, ", "))
		}
	}
	return nil
}

// safeName quotes a parameter name only if it looks like one: an
// unescaped '&' in a password can turn the rest of it into a "name".
func safeName(k string) string {
	if len(k) > 32 {
		return "(unreadable)"
	}
	for _, r := range k {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "(unreadable)"
		}
	}
	return k
}

func (p *parser) tlsConfig(serverName string, q map[string]string) (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if v, ok := q["insecure_skip_verify"]; ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, p.errorf("insecure_skip_verify must be true or false")
		}
		c.InsecureSkipVerify = b
	}
	if path, ok := q["ca_file"]; ok {
		if path == "" {
			return nil, p.errorf("ca_file is empty")
		}
		pem, err := os.ReadFile(path)
		if err != nil {
			return nil, p.errorf("ca_file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, p.errorf("ca_file %s holds no PEM certificate", path)
		}
		c.RootCAs = pool
	}
	return c, nil
}

// KindOf tells the topology of options Parse returned.
func KindOf(opt asynq.RedisConnOpt) Kind {
	switch opt.(type) {
	case asynq.RedisFailoverClientOpt, *asynq.RedisFailoverClientOpt:
		return Sentinel
	case asynq.RedisClusterClientOpt, *asynq.RedisClusterClientOpt:
		return Cluster
	}
	return Standalone
}

// Client opens a go-redis client from asynq connection options: a
// *redis.Client for a standalone server, a failover *redis.Client that
// follows the sentinels' master, or a *redis.ClusterClient.
func Client(opt asynq.RedisConnOpt) redis.UniversalClient {
	return opt.MakeRedisClient().(redis.UniversalClient)
}

// authTimeout bounds CheckAuth's round trip.
const authTimeout = 5 * time.Second

// CheckAuth pings Redis once and returns an error only when Redis refused
// the credentials or their rights (NOAUTH, WRONGPASS, NOPERM): a wrong
// password never heals, so a process is better off stopping at once with
// Redis's own message, which never contains the password, than retrying
// forever. Any other failure (Redis not up yet, a failover under way)
// returns nil and is left to the client's retries and the readiness check.
func CheckAuth(ctx context.Context, rdb redis.UniversalClient) error {
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	err := rdb.Ping(ctx).Err()
	if err == nil || !IsAuthError(err) {
		return nil
	}
	return fmt.Errorf("REDIS_URL: Redis refused the credentials: %w", err)
}

// IsAuthError reports whether err is Redis refusing a connection's
// credentials or a command for lack of rights.
func IsAuthError(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	for _, code := range []string{"NOAUTH", "WRONGPASS", "NOPERM"} {
		if strings.Contains(msg, code) {
			return true
		}
	}
	return false
}
