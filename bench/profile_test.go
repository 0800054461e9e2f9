package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/worker"
)

// benchProfile runs the worker in this process (worker.Run, as cmd/worker
// does) against Redis and the simulator as processes, so that the CPU and
// allocation profiles of this process are the worker's send path.
func benchProfile(t *testing.T, bins binaries) *section {
	n := *profileN
	r := startRedis(t)
	defer r.close()
	sim := startSim(t, bins, gupshuptest.DefaultConfig())
	defer sim.kill()
	r.pause(t)
	enqueueCampaign(t, r, benchCampaign, n)

	addr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	cfg := worker.Config{
		RedisURL: r.srv.URL, APIKey: sim.cfg.APIKey, AppName: sim.cfg.AppName, Source: benchSource, BaseURL: sim.url,
		EnterpriseURL: "https://media.smsgupshup.com/GatewayAPI/rest", PartnerURL: "https://partner.gupshup.io",
		Timeout: 15 * time.Second, SendRate: 1e6, SendBurst: 1, RecipientInterval: 0, Concurrency: *sendConcurrency,
		HTTPAddr: addr, WebhookToken: "bench-webhook-token", BreakerOpen: 30 * time.Second, BreakerFailures: 5,
		ShutdownTimeout: 20 * time.Second, Ambiguous: "resend", RecordTTL: 192 * time.Hour, MaxAttempts: 12,
		RetryBase: 10 * time.Second, WalletLowDelay: 30 * time.Minute, LogFormat: "json", LogLevel: "info",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, logging.New(io.Discard, "json", "info")) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("worker.Run: %v", err)
		}
	}()
	waitReady(t, "http://"+addr+"/readyz")

	dir := t.TempDir()
	if *profileBench {
		var err error
		if dir, err = os.MkdirTemp("", "waqueue-profiles"); err != nil {
			t.Fatal(err)
		}
		t.Logf("profiles kept in %s", dir)
	}
	cpuPath, heap0, heap1 := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "heap0.pprof"), filepath.Join(dir, "heap1.pprof")
	writeHeap(t, heap0)
	cpuFile, err := os.Create(cpuPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := pprof.StartCPUProfile(cpuFile); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r.resume(t)
	r.waitDrained(t, 10*time.Minute, nil)
	took := time.Since(start)
	pprof.StopCPUProfile()
	cpuFile.Close()
	writeHeap(t, heap1)
	if st := sim.stats(t); st.Accepted != n {
		t.Fatalf("%d of %d accepted", st.Accepted, n)
	}

	s := &section{title: "Profiles of the send path"}
	s.method = []string{fmt.Sprintf("The worker runs in the benchmark's own process (`worker.Run`, the same code `cmd/worker` runs, "+
		"with the settings of the send-path benchmark) while Redis and the simulator run as processes, so this process's "+
		"profiles are the worker's. %s queued messages are released and sent (%v, %.0f msg/s while profiled); "+
		"the CPU profile covers that period, the allocation profile is the difference of two heap profiles taken before "+
		"and after it. Top entries by flat and by cumulative share; `go tool pprof -top`.", f(float64(n), 0), took.Round(time.Millisecond), float64(n)/took.Seconds())}
	s.pre = append(s.pre,
		pre{"CPU, flat:", pprofTop(t, "-top", "-nodecount=25", cpuPath)},
		pre{"CPU, cumulative (the send path's own frames):", pprofTop(t, "-top", "-cum", "-nodecount=40", "-focus=waqueue|asynq|go-redis|net/http", cpuPath)},
		pre{"Allocations, bytes (alloc_space, flat):", pprofTop(t, "-top", "-nodecount=20", "-sample_index=alloc_space", "-base", heap0, heap1)},
		pre{"Allocations, count (alloc_objects, cumulative, waqueue frames):", pprofTop(t, "-top", "-cum", "-nodecount=25", "-sample_index=alloc_objects", "-focus=waqueue", "-base", heap0, heap1)},
	)
	return s
}

func waitReady(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", url, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeHeap(t *testing.T, path string) {
	t.Helper()
	runtime.GC()
	file, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	if err := pprof.Lookup("heap").WriteTo(file, 0); err != nil {
		t.Fatal(err)
	}
}

// pprofTop runs go tool pprof and keeps the table (and the lines above it
// that say what was sampled).
func pprofTop(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"tool", "pprof"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof %v: %v\n%s", args, err, out)
	}
	var keep []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "File:") || strings.HasPrefix(line, "Build ID:") || strings.HasPrefix(line, "Time:") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.Join(keep, "\n")
}
