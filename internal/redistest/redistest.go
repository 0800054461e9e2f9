// Package redistest starts a throwaway redis-server for a test: on a free
// loopback port, in a temporary directory, stopped when the test ends. Tests
// never touch a shared Redis and never flush data they did not create.
//
// StartCluster and StartSentinel build the other two topologies the same
// way, from the same redis-server binary.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// readyTimeout bounds how long a redis-server may take to answer after it
// was started. A loaded CI machine with two cores can take seconds.
const readyTimeout = 20 * time.Second

// startAttempts is how many ports a server is tried on: a port FreePort
// found free may be taken by another test process before redis-server
// binds it.
const startAttempts = 4

// Server is one running redis-server.
type Server struct {
	Addr string // 127.0.0.1:port
	URL  string // redis://127.0.0.1:port
	Dir  string
	Port int

	proc *process
	bin  string
	args []string
	tb   testing.TB
	// user and pass authenticate the readiness check and Client, for
	// servers started with ACL users (the sentinel topology's data nodes).
	user, pass string
}

// Start runs a redis-server with the given extra arguments (for example
// "--appendonly", "yes") and stops it when tb ends. It fails the test when
// redis-server is missing: .ci/run installs it, so a missing binary is a
// broken machine, not a reason to skip.
func Start(tb testing.TB, extra ...string) *Server {
	tb.Helper()
	s, err := start(tb, serverSpec{extra: func(int) []string { return extra }})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// serverSpec describes a server for start.
type serverSpec struct {
	// extra returns the arguments after the common ones, for the port the
	// server gets (a cluster node needs a bus port chosen with it).
	extra      func(port int) []string
	user, pass string
}

// start runs a redis-server on a free port, trying another port when the
// server does not come up, and stops it when tb ends.
func start(tb testing.TB, spec serverSpec) (*Server, error) {
	tb.Helper()
	bin := redisServer(tb)
	var errs []error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port := FreePort(tb)
		dir := tb.TempDir()
		args := append([]string{
			"--port", strconv.Itoa(port),
			"--bind", "127.0.0.1",
			"--dir", dir,
			"--save", "",
			"--appendonly", "no",
			"--daemonize", "no",
			"--logfile", filepath.Join(dir, "redis.log"),
		}, spec.extra(port)...)
		s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), Dir: dir, Port: port, bin: bin, args: args, tb: tb, user: spec.user, pass: spec.pass}
		s.URL = "redis://" + s.Addr
		err := s.launch()
		if err == nil {
			tb.Cleanup(s.Stop)
			return s, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("redis-server did not start in %d attempts: %w", startAttempts, errors.Join(errs...))
}

func redisServer(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		tb.Fatalf("redis-server not found on PATH (install Debian's redis-server package): %v", err)
	}
	return bin
}

// launch starts the process and waits until it answers; on failure the
// process is gone.
func (s *Server) launch() error {
	p, err := spawn(s.bin, s.args...)
	if err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	s.proc = p
	if err := waitUp(p, s.Addr, s.user, s.pass, filepath.Join(s.Dir, "redis.log")); err != nil {
		p.kill()
		s.proc = nil
		return err
	}
	return nil
}

// waitUp waits until the server at addr answers PING, the process exits
// or readyTimeout passes. An authentication error counts as an answer: a
// server whose default user is off is up.
func waitUp(p *process, addr, user, pass, logFile string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, Username: user, Password: pass, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	deadline := time.Now().Add(readyTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil || isAuthError(err) {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("redis-server for %s exited: %v\n%s", addr, p.wait(), tail(logFile))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on %s not ready after %v: %v\n%s", addr, readyTimeout, err, tail(logFile))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isAuthError(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "NOAUTH") || strings.HasPrefix(msg, "WRONGPASS")
}

// tail returns the end of a log file, for failure messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Stop kills the server; it is safe to call twice.
func (s *Server) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.kill()
	s.proc = nil
}

// Restart stops the server and starts it again on the same port and
// directory: with --appendonly yes, what Redis persisted comes back.
func (s *Server) Restart() {
	s.tb.Helper()
	if s.proc != nil {
		s.proc.interrupt()
		s.proc = nil
	}
	if err := s.launch(); err != nil {
		s.tb.Fatal(err)
	}
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool { return s.proc != nil && !s.proc.exited() }

// Client returns a go-redis client for the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.user, Password: s.pass})
	s.tb.Cleanup(func() { c.Close() })
	return c
}

// FreePort asks the kernel for a free loopback port.
func FreePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
