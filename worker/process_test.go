package worker_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/worker"
)

// builds holds one build per command package, by import path.
var builds sync.Map

type build struct {
	once sync.Once
	path string
	err  error
}

// binary builds a command of the module once per test run: fleet, crash
// and chaos tests run real processes, which a goroutine cannot stand in
// for (kill -9, one Redis client and one limiter per process).
func binary(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		dir, err := os.MkdirTemp("", "waqueue-bin")
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(dir, filepath.Base(pkg))
		out, err := exec.Command("go", "build", "-o", b.path, pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

func workerBinary(t *testing.T) string { return binary(t, "github.com/waqueue/waqueue/cmd/worker") }

// workerProcess is one worker started from the binary.
type workerProcess struct {
	cmd  *exec.Cmd
	addr string
	logs *logging.Buffer
}

// env turns a worker.Config into the environment cmd/worker reads.
func env(c worker.Config) []string {
	return []string{
		"REDIS_URL=" + c.RedisURL, "GUPSHUP_API_KEY=" + c.APIKey, "GUPSHUP_APP_NAME=" + c.AppName,
		"GUPSHUP_SOURCE=" + c.Source, "GUPSHUP_BASE_URL=" + c.BaseURL,
		"GUPSHUP_TIMEOUT=" + c.Timeout.String(), "SEND_RATE=" + fmt.Sprint(c.SendRate),
		"SEND_BURST=" + fmt.Sprint(c.SendBurst), "WORKER_CONCURRENCY=" + fmt.Sprint(c.Concurrency),
		"RECIPIENT_INTERVAL=" + c.RecipientInterval.String(), "HTTP_ADDR=" + c.HTTPAddr,
		"WEBHOOK_TOKEN=" + c.WebhookToken, "BREAKER_OPEN=" + c.BreakerOpen.String(),
		"SHUTDOWN_TIMEOUT=" + c.ShutdownTimeout.String(), "AMBIGUOUS_SENDS=" + c.Ambiguous,
		"RECORD_TTL=" + c.RecordTTL.String(), "RETRY_MAX_ATTEMPTS=" + fmt.Sprint(c.MaxAttempts),
		"RETRY_BASE=" + c.RetryBase.String(), "LOG_FORMAT=json", "LOG_LEVEL=info",
		"PATH=" + os.Getenv("PATH"),
	}
}

// startProcess runs a worker process with cfg on its own HTTP port.
func startProcess(t *testing.T, cfg worker.Config) *workerProcess {
	t.Helper()
	cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	w := &workerProcess{addr: cfg.HTTPAddr, logs: &logging.Buffer{}}
	w.cmd = exec.Command(workerBinary(t))
	w.cmd.Env = env(cfg)
	w.cmd.Stderr = w.logs
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.kill() })
	w.waitReady(t)
	return w
}

// waitReady waits until the process answers /readyz with 200.
func (w *workerProcess) waitReady(t *testing.T) {
	t.Helper()
	poll.Until(t, "worker process ready", 15*time.Second, 20*time.Millisecond, func() (bool, string) {
		resp, err := http.Get("http://" + w.addr + "/readyz")
		if err != nil {
			return false, err.Error() + "\n" + w.logs.String()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status + "\n" + w.logs.String()
	})
}

// kill ends the process at once, as a crash or an OOM kill would.
func (w *workerProcess) kill() {
	if w.cmd.Process != nil && w.cmd.ProcessState == nil {
		w.cmd.Process.Signal(syscall.SIGKILL)
		w.cmd.Wait()
	}
}

// terminate sends SIGTERM and waits for a graceful exit.
func (w *workerProcess) terminate(t *testing.T) int {
	t.Helper()
	w.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- w.cmd.Wait() }()
	select {
	case <-done:
		return w.cmd.ProcessState.ExitCode()
	case <-time.After(30 * time.Second):
		t.Fatalf("worker did not exit within 30 s of SIGTERM")
		return -1
	}
}
