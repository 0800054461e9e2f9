package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/redistest"
)

// binaries are the commands the benchmarks run as processes, built once.
type binaries struct {
	worker, sim, enqueuer, bare string
}

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
)

func buildBinaries(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "waqueue-bench-bin")
		if err != nil {
			buildErr = err
			return
		}
		built = binaries{
			worker:   filepath.Join(dir, "worker"),
			sim:      filepath.Join(dir, "gupshup-sim"),
			enqueuer: filepath.Join(dir, "enqueuer"),
			bare:     filepath.Join(dir, "bareworker"),
		}
		for pkg, out := range map[string]string{
			"github.com/waqueue/waqueue/cmd/worker":           built.worker,
			"github.com/waqueue/waqueue/cmd/gupshup-sim":      built.sim,
			"github.com/waqueue/waqueue/cmd/enqueuer":         built.enqueuer,
			"github.com/waqueue/waqueue/bench/cmd/bareworker": built.bare,
		} {
			b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput()
			if err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// proc is one child process.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *tailBuffer
	addr string // its HTTP address, when it has one
	done chan struct{}
}

// startProc runs bin and waits until readyURL answers 200 (when given).
// The process dies with the test binary (Pdeathsig) and at the end of t.
func startProc(t *testing.T, name, bin string, args, env []string, readyURL string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), logs: &tailBuffer{max: 1 << 20}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	if readyURL == "" {
		return p
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(readyURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", name, p.cmd.ProcessState, p.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v\n%s", name, err, p.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop asks for a graceful exit and waits, killing after 30 s.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
	}
}

func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (w *tailBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b = append(w.b, p...)
	if len(w.b) > 2*w.max {
		w.b = append(w.b[:0], w.b[len(w.b)-w.max:]...)
	}
	return len(p), nil
}

func (w *tailBuffer) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.b) > w.max {
		return string(w.b[len(w.b)-w.max:])
	}
	return string(w.b)
}

// clockTick is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// 100 on every Linux this runs on.
const clockTick = 10 * time.Millisecond

// cpuTime is the user plus system CPU time a process has used so far.
func cpuTime(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("cpu time of %d: %v", pid, err)
	}
	// The command name may hold spaces; the fields count from after ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	// utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * clockTick
}

// rssBytes is VmRSS of a process.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuMeter reads the CPU time of several processes at once.
type cpuMeter struct {
	pids  map[string]int
	start map[string]time.Duration
}

func newCPUMeter(pids map[string]int) *cpuMeter { return &cpuMeter{pids: pids} }

func (m *cpuMeter) begin(t *testing.T) {
	m.start = map[string]time.Duration{}
	for name, pid := range m.pids {
		m.start[name] = cpuTime(t, pid)
	}
}

func (m *cpuMeter) end(t *testing.T) map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pid := range m.pids {
		out[name] = cpuTime(t, pid) - m.start[name]
	}
	return out
}

// redisEnv is one throwaway redis-server with what the benchmarks ask of it.
type redisEnv struct {
	srv  *redistest.Server
	rdb  *redis.Client
	insp *asynq.Inspector
	pid  int
}

func startRedis(t *testing.T, args ...string) *redisEnv {
	t.Helper()
	s := redistest.Start(t, args...)
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: 64})
	insp := asynq.NewInspector(asynq.RedisClientOpt{Addr: s.Addr})
	e := &redisEnv{srv: s, rdb: rdb, insp: insp}
	t.Cleanup(e.close)
	info, err := rdb.Info(context.Background(), "server").Result()
	if err != nil {
		t.Fatal(err)
	}
	e.pid, _ = strconv.Atoi(infoField(info, "process_id"))
	if e.pid == 0 {
		t.Fatalf("no process_id in INFO server")
	}
	return e
}

// close stops the server early: a benchmark with rounds starts a fresh one
// per round.
func (e *redisEnv) close() {
	if e.srv == nil {
		return
	}
	e.insp.Close()
	e.rdb.Close()
	e.srv.Stop()
	e.srv = nil
}

func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}

func (e *redisEnv) usedMemory(t *testing.T) int64 {
	t.Helper()
	info, err := e.rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(infoField(info, "used_memory"), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// left is what is still to do in a queue, read from asynq's keys
// directly: the Inspector's queue info also samples memory, which is
// too heavy to poll.
func (e *redisEnv) left(t *testing.T, queue string) (pending, active, later int) {
	t.Helper()
	p, a, l, err := e.leftErr(queue)
	if err != nil {
		t.Fatal(err)
	}
	return p, a, l
}

func (e *redisEnv) leftErr(queue string) (pending, active, later int, err error) {
	ctx := context.Background()
	pipe := e.rdb.Pipeline()
	p := pipe.LLen(ctx, "asynq:{"+queue+"}:pending")
	a := pipe.LLen(ctx, "asynq:{"+queue+"}:active")
	s := pipe.ZCard(ctx, "asynq:{"+queue+"}:scheduled")
	r := pipe.ZCard(ctx, "asynq:{"+queue+"}:retry")
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, 0, 0, err
	}
	return int(p.Val()), int(a.Val()), int(s.Val() + r.Val()), nil
}

// waitDrained waits until the bulk queue has nothing left, calling tick
// every period.
func (e *redisEnv) waitDrained(t *testing.T, timeout time.Duration, tick func()) {
	e.waitQueue(t, "bulk", timeout, tick)
}

func (e *redisEnv) waitQueue(t *testing.T, queue string, timeout time.Duration, tick func()) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p, a, l := e.left(t, queue)
		if p+a+l == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained after %v: %d pending, %d active, %d scheduled or retrying", timeout, p, a, l)
		}
		if tick != nil {
			tick()
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// simProc is cmd/gupshup-sim running as its own process, so that its CPU
// and memory are not the worker's.
type simProc struct {
	*proc
	url string
	cfg gupshuptest.Config
}

func startSim(t *testing.T, bins binaries, cfg gupshuptest.Config) *simProc {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sim.json")
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	url := "http://" + addr
	p := startProc(t, "gupshup-sim", bins.sim, []string{"--addr", addr, "--config", path}, nil, url+"/_sim/health")
	return &simProc{proc: p, url: url, cfg: cfg}
}

func (s *simProc) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(s.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func (s *simProc) stats(t *testing.T) gupshuptest.Stats {
	var st gupshuptest.Stats
	s.getJSON(t, "/_sim/stats", &st)
	return st
}

func (s *simProc) sends(t *testing.T, query string) []gupshuptest.Send {
	var out []gupshuptest.Send
	s.getJSON(t, "/_sim/sends"+query, &out)
	return out
}

// benchSource is the business number every benchmark sends from.
const benchSource = "917834811114"

// workerEnv is the environment of a worker process (cmd/worker) against
// r and sim; over replaces or adds settings.
func workerEnv(r *redisEnv, sim *simProc, httpAddr string, over map[string]string) []string {
	m := map[string]string{
		"REDIS_URL": r.srv.URL, "GUPSHUP_API_KEY": sim.cfg.APIKey, "GUPSHUP_APP_NAME": sim.cfg.AppName,
		"GUPSHUP_SOURCE": benchSource, "GUPSHUP_BASE_URL": sim.url, "HTTP_ADDR": httpAddr,
		"WEBHOOK_TOKEN": "bench-webhook-token", "LOG_FORMAT": "json", "LOG_LEVEL": "info",
		"PATH": os.Getenv("PATH"),
	}
	for k, v := range over {
		m[k] = v
	}
	env := make([]string, 0, len(m))
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}

// startWorker runs a worker process (the real one, or the bare baseline)
// and waits until it is ready.
func startWorker(t *testing.T, name, bin string, r *redisEnv, sim *simProc, over map[string]string) *proc {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	p := startProc(t, name, bin, nil, workerEnv(r, sim, addr, over), "http://"+addr+"/readyz")
	p.addr = addr
	return p
}

// redisWork is what Redis did over a period: the commands it ran, by
// name, and the client reads it served, each a round trip (a pipeline of
// several commands is one read).
type redisWork struct {
	reads    int64
	commands map[string]int64
}

// resetStats zeroes Redis's counters so that workDone counts from here.
func (e *redisEnv) resetStats(t *testing.T) {
	t.Helper()
	if err := e.rdb.ConfigResetStat(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
}

func (e *redisEnv) workDone(t *testing.T) redisWork {
	t.Helper()
	ctx := context.Background()
	stats, err := e.rdb.Info(ctx, "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := e.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	w := redisWork{commands: map[string]int64{}}
	w.reads, _ = strconv.ParseInt(infoField(stats, "total_reads_processed"), 10, 64)
	for _, line := range strings.Split(cmds, "\n") {
		// cmdstat_evalsha:calls=40000,usec=...
		name, rest, ok := strings.Cut(strings.TrimPrefix(strings.TrimSpace(line), "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		w.commands[name], _ = strconv.ParseInt(calls, 10, 64)
	}
	return w
}

func (w redisWork) perMessage(n int) float64 { return float64(w.reads) / float64(n) }

// dequeues is asynq's dequeue calls per message: its dequeue script runs
// one RPOPLPUSH on the queue it tries, found empty or not.
func (w redisWork) dequeues(n int) float64 { return float64(w.commands["rpoplpush"]) / float64(n) }
