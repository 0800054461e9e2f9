package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Failure detection of the sentinel topology: a master that does not
// answer for downAfter is down for one sentinel, and for the quorum (2 of
// 3) about a second later; an election that fails is tried again after
// twice failoverTimeout. A failover then completes in 2 to 5 s. A shorter
// downAfter risks a failover nobody asked for on a loaded machine.
const (
	sentinelQuorum      = 2
	sentinelDownAfter   = 1000 * time.Millisecond
	sentinelFailoverTTL = 3000 * time.Millisecond
	// sentinelReadyTimeout bounds the wait for the sentinels to find the
	// replica and each other (hello messages go out every 2 s).
	sentinelReadyTimeout = 45 * time.Second
)

// DefaultMasterName is the name the sentinels monitor the master under.
const DefaultMasterName = "waqmaster"

// SentinelOption configures StartSentinel.
type SentinelOption func(*sentinelConfig)

type sentinelConfig struct {
	master       string
	user, pass   string
	sentinelPass string
}

// MasterName sets the name the sentinels monitor the master under.
func MasterName(name string) SentinelOption { return func(c *sentinelConfig) { c.master = name } }

// DataACL protects the master and the replica with an ACL user holding
// every right, and turns their default user off: nothing gets in without
// user and password. The replica and the sentinels authenticate as user.
func DataACL(user, pass string) SentinelOption {
	return func(c *sentinelConfig) { c.user, c.pass = user, pass }
}

// SentinelPassword makes the sentinels require a password of their own
// (requirepass), distinct from the data nodes' credentials.
func SentinelPassword(pass string) SentinelOption {
	return func(c *sentinelConfig) { c.sentinelPass = pass }
}

// Sentinel is a master, one replica and three sentinels (quorum 2) on
// loopback.
type Sentinel struct {
	MasterName string
	// Data holds the master and the replica, in the order they were
	// started; which one is the master changes with a failover.
	Data      []*Server
	Sentinels []*Server

	cfg       sentinelConfig
	tb        testing.TB
	oldMaster string // the master before the last KillMaster
}

// StartSentinel starts the topology and returns once the replica is in
// sync and every sentinel knows the master, the replica and the two other
// sentinels, so that a failover can be elected. Everything is stopped when
// tb ends.
func StartSentinel(tb testing.TB, opts ...SentinelOption) *Sentinel {
	tb.Helper()
	cfg := sentinelConfig{master: DefaultMasterName}
	for _, o := range opts {
		o(&cfg)
	}
	s := &Sentinel{MasterName: cfg.master, cfg: cfg, tb: tb}

	var acl []string
	if cfg.user != "" {
		acl = []string{"--user", "default", "off", "--user", cfg.user, "on", ">" + cfg.pass, "~*", "&*", "+@all"}
	}
	// A replica's first sync waits repl-diskless-sync-delay (5 s by
	// default) for more replicas to join; there is only one.
	common := append([]string{"--repl-diskless-sync-delay", "0"}, acl...)
	master, err := start(tb, serverSpec{user: cfg.user, pass: cfg.pass, extra: func(int) []string { return common }})
	if err != nil {
		tb.Fatal(err)
	}
	replicaArgs := append(append([]string{}, common...), "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	if cfg.user != "" {
		replicaArgs = append(replicaArgs, "--masteruser", cfg.user, "--masterauth", cfg.pass)
	}
	replica, err := start(tb, serverSpec{user: cfg.user, pass: cfg.pass, extra: func(int) []string { return replicaArgs }})
	if err != nil {
		tb.Fatal(err)
	}
	s.Data = []*Server{master, replica}
	s.oldMaster = master.Addr

	ctx, cancel := context.WithTimeout(context.Background(), sentinelReadyTimeout)
	defer cancel()
	if err := s.waitReplicaOnline(ctx, master, replica); err != nil {
		tb.Fatal(err)
	}
	for range 3 {
		sn, err := startSentinelProcess(tb, cfg, master.Port)
		if err != nil {
			tb.Fatal(err)
		}
		s.Sentinels = append(s.Sentinels, sn)
	}
	if err := s.waitSentinelsReady(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// startSentinelProcess runs one sentinel, trying another port if the one
// picked was taken. A sentinel rewrites its configuration file, so each
// has its own in its own directory.
func startSentinelProcess(tb testing.TB, cfg sentinelConfig, masterPort int) (*Server, error) {
	bin := redisServer(tb)
	var errs []error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := FreePort(tb)
		dir := tb.TempDir()
		lines := []string{
			"port " + strconv.Itoa(port),
			"bind 127.0.0.1",
			"daemonize no",
			"dir " + dir,
			"logfile " + filepath.Join(dir, "redis.log"),
			"sentinel resolve-hostnames no",
			fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d %d", cfg.master, masterPort, sentinelQuorum),
			fmt.Sprintf("sentinel down-after-milliseconds %s %d", cfg.master, sentinelDownAfter.Milliseconds()),
			fmt.Sprintf("sentinel failover-timeout %s %d", cfg.master, sentinelFailoverTTL.Milliseconds()),
			fmt.Sprintf("sentinel parallel-syncs %s 1", cfg.master),
		}
		if cfg.user != "" {
			lines = append(lines,
				fmt.Sprintf("sentinel auth-user %s %s", cfg.master, cfg.user),
				fmt.Sprintf("sentinel auth-pass %s %s", cfg.master, cfg.pass))
		}
		if cfg.sentinelPass != "" {
			lines = append(lines, "requirepass "+cfg.sentinelPass, "sentinel sentinel-pass "+cfg.sentinelPass)
		}
		conf := filepath.Join(dir, "sentinel.conf")
		if err := os.WriteFile(conf, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		sn := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Port: port, bin: bin,
			args: []string{conf, "--sentinel"}, tb: tb, pass: cfg.sentinelPass}
		sn.URL = "redis://" + sn.Addr
		if err := sn.launch(); err != nil {
			errs = append(errs, err)
			continue
		}
		tb.Cleanup(sn.Stop)
		return sn, nil
	}
	return nil, fmt.Errorf("sentinel did not start in %d attempts: %w", startAttempts, errors.Join(errs...))
}

// URL is the REDIS_URL of the topology:
// redis-sentinel://[user:password@]s1,s2,s3?master=NAME[&sentinel_password=...].
func (s *Sentinel) URL() string {
	var b strings.Builder
	b.WriteString("redis-sentinel://")
	if s.cfg.user != "" {
		b.WriteString(url.UserPassword(s.cfg.user, s.cfg.pass).String() + "@")
	}
	b.WriteString(strings.Join(s.SentinelAddrs(), ","))
	b.WriteString("?master=" + url.QueryEscape(s.MasterName))
	if s.cfg.sentinelPass != "" {
		b.WriteString("&sentinel_password=" + url.QueryEscape(s.cfg.sentinelPass))
	}
	return b.String()
}

// SentinelAddrs lists the sentinels' addresses.
func (s *Sentinel) SentinelAddrs() []string {
	out := make([]string, len(s.Sentinels))
	for i, sn := range s.Sentinels {
		out[i] = sn.Addr
	}
	return out
}

func (s *Sentinel) sentinelClient(sn *Server) *redis.SentinelClient {
	return redis.NewSentinelClient(&redis.Options{Addr: sn.Addr, Password: s.cfg.sentinelPass, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
}

func (s *Sentinel) dataClient(n *Server) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr, Username: s.cfg.user, Password: s.cfg.pass, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: 2 * time.Second})
}

// MasterAddr is the master's address as the first sentinel that answers
// reports it.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var errs []error
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		addr, err := s.masterAddrFrom(ctx, sn)
		if err == nil {
			return addr, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("no sentinel reports the master: %w", errors.Join(errs...))
}

func (s *Sentinel) masterAddrFrom(ctx context.Context, sn *Server) (string, error) {
	c := s.sentinelClient(sn)
	defer c.Close()
	hp, err := c.GetMasterAddrByName(ctx, s.MasterName).Result()
	if err != nil {
		return "", fmt.Errorf("sentinel %s: %w", sn.Addr, err)
	}
	if len(hp) != 2 {
		return "", fmt.Errorf("sentinel %s: master address %v", sn.Addr, hp)
	}
	return net.JoinHostPort(hp[0], hp[1]), nil
}

// Master is the data node the sentinels report as master.
func (s *Sentinel) Master(ctx context.Context) (*Server, error) {
	addr, err := s.MasterAddr(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range s.Data {
		if n.Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("the sentinels report master %s, which is none of the data nodes", addr)
}

// SyncReplica makes the master lose nothing if it is killed next: it
// pauses writes on the master for pause (CLIENT PAUSE ... WRITE; reads go
// on, writers wait) and returns once every live replica has applied the
// master's replication stream to its last byte, with that offset.
//
// Redis replicates asynchronously and asynq does not WAIT for replicas, so
// a master killed without this loses the writes it had not sent yet, as
// any asynchronous replication would. Killing the master within pause
// makes the clients' waiting writes fail instead: they were never
// executed, and their callers see an error and try again on the new
// master.
func (s *Sentinel) SyncReplica(ctx context.Context, pause time.Duration) (int64, error) {
	m, err := s.Master(ctx)
	if err != nil {
		return 0, err
	}
	mc := s.dataClient(m)
	defer mc.Close()
	if pause > 0 {
		if err := mc.Do(ctx, "CLIENT", "PAUSE", pause.Milliseconds(), "WRITE").Err(); err != nil {
			return 0, fmt.Errorf("CLIENT PAUSE on the master %s: %w", m.Addr, err)
		}
	}
	var replicas []*redis.Client
	for _, n := range s.Data {
		if n != m && n.Running() {
			c := s.dataClient(n)
			defer c.Close()
			replicas = append(replicas, c)
		}
	}
	if len(replicas) == 0 {
		return 0, errors.New("the master has no live replica")
	}
	var state string
	for {
		info, err := mc.Info(ctx, "replication").Result()
		if err != nil {
			return 0, fmt.Errorf("INFO on the master: %w", err)
		}
		moff, _ := strconv.ParseInt(infoFields(info)["master_repl_offset"], 10, 64)
		caught := true
		for _, rc := range replicas {
			ri, err := rc.Info(ctx, "replication").Result()
			if err != nil {
				return 0, fmt.Errorf("INFO on a replica: %w", err)
			}
			f := infoFields(ri)
			roff, _ := strconv.ParseInt(f["slave_repl_offset"], 10, 64)
			if f["master_link_status"] != "up" || roff < moff {
				caught = false
				state = fmt.Sprintf("master offset %d, replica %s at %s (link %s)", moff, rc.Options().Addr, f["slave_repl_offset"], f["master_link_status"])
			}
		}
		if caught {
			return moff, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("replica did not catch up: %s: %w", state, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// KillMaster kills the current master's process (SIGKILL, as a crash
// would) and returns its address.
func (s *Sentinel) KillMaster() string {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := s.Master(ctx)
	if err != nil {
		s.tb.Fatalf("KillMaster: %v", err)
	}
	m.Stop()
	s.oldMaster = m.Addr
	return m.Addr
}

// WaitFailover waits until every live sentinel reports the same master,
// other than the one KillMaster killed (or the first master), and that
// node says it is a master; it returns its address.
func (s *Sentinel) WaitFailover(ctx context.Context) (string, error) {
	var state string
	for {
		addr, why := s.agreedMaster(ctx)
		if addr != "" && addr != s.oldMaster {
			for _, n := range s.Data {
				if n.Addr != addr || !n.Running() {
					continue
				}
				c := s.dataClient(n)
				info, err := c.Info(ctx, "replication").Result()
				c.Close()
				if err == nil && infoFields(info)["role"] == "master" {
					return addr, nil
				}
				why = fmt.Sprintf("%s is reported as master but is not one yet (%v)", addr, err)
			}
		} else if addr != "" {
			why = "the sentinels still report " + addr
		}
		state = why
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no failover: %s: %w\n%s", state, ctx.Err(), s.sentinelLogs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// agreedMaster returns the master every live sentinel reports, or "" and
// why not.
func (s *Sentinel) agreedMaster(ctx context.Context) (string, string) {
	agreed := ""
	for _, sn := range s.Sentinels {
		if !sn.Running() {
			continue
		}
		addr, err := s.masterAddrFrom(ctx, sn)
		if err != nil {
			return "", err.Error()
		}
		if agreed != "" && addr != agreed {
			return "", fmt.Sprintf("sentinels disagree: %s and %s", agreed, addr)
		}
		agreed = addr
	}
	if agreed == "" {
		return "", "no live sentinel"
	}
	return agreed, ""
}

// waitReplicaOnline waits until the replica has completed its first sync.
func (s *Sentinel) waitReplicaOnline(ctx context.Context, master, replica *Server) error {
	mc, rc := s.dataClient(master), s.dataClient(replica)
	defer mc.Close()
	defer rc.Close()
	var state string
	for {
		mi, err1 := mc.Info(ctx, "replication").Result()
		ri, err2 := rc.Info(ctx, "replication").Result()
		if err := errors.Join(err1, err2); err != nil {
			state = err.Error()
		} else {
			mf, rf := infoFields(mi), infoFields(ri)
			if mf["connected_slaves"] == "1" && strings.Contains(mf["slave0"], "state=online") && rf["master_link_status"] == "up" {
				return nil
			}
			state = fmt.Sprintf("master: %s slaves, slave0 %q; replica link %s", mf["connected_slaves"], mf["slave0"], rf["master_link_status"])
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica not in sync: %s\n%s\n%s", state, tail(filepath.Join(master.Dir, "redis.log")), tail(filepath.Join(replica.Dir, "redis.log")))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// waitSentinelsReady waits until every sentinel sees the master up, the
// replica connected and the two other sentinels: before that, a failover
// could not gather its quorum or its votes, or would find no replica.
func (s *Sentinel) waitSentinelsReady(ctx context.Context) error {
	var state string
	for {
		ok := true
		for _, sn := range s.Sentinels {
			why := s.sentinelReady(ctx, sn)
			if why != "" {
				ok, state = false, sn.Addr+": "+why
				break
			}
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sentinels not ready: %s\n%s", state, s.sentinelLogs())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (s *Sentinel) sentinelReady(ctx context.Context, sn *Server) string {
	c := s.sentinelClient(sn)
	defer c.Close()
	m, err := c.Master(ctx, s.MasterName).Result()
	if err != nil {
		return err.Error()
	}
	if m["flags"] != "master" || m["num-other-sentinels"] != strconv.Itoa(len(s.Sentinels)-1) || m["num-slaves"] != "1" {
		return fmt.Sprintf("master flags %s, %s other sentinels, %s replicas", m["flags"], m["num-other-sentinels"], m["num-slaves"])
	}
	reps, err := c.Replicas(ctx, s.MasterName).Result()
	if err != nil {
		return err.Error()
	}
	if len(reps) != 1 || reps[0]["flags"] != "slave" || reps[0]["master-link-status"] != "ok" {
		return fmt.Sprintf("replicas %v", reps)
	}
	return ""
}

func (s *Sentinel) sentinelLogs() string {
	var b strings.Builder
	for _, sn := range s.Sentinels {
		b.WriteString("--- sentinel " + sn.Addr + "\n" + tail(filepath.Join(sn.Dir, "redis.log")) + "\n")
	}
	return b.String()
}
