//go:build chaos

package worker_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
)

// TestChaosRedisRestart restarts Redis twice in the middle of a campaign
// that the enqueuer CLI is still feeding while the worker sends it: once
// gracefully (SIGINT) and once by a crash (SIGKILL, then down for a second),
// with appendonly yes and appendfsync always. The worker and the enqueuer
// reconnect on their own; with every write fsynced Redis loses nothing, so
// nothing is lost: every row is enqueued once, every message ends read, and
// none is sent twice except counted ambiguous ones.
func TestChaosRedisRestart(t *testing.T) {
	const (
		messages = 8000
		rowRate  = 1000 // rows per second fed to the enqueuer
		sendRate = 500
		downFor  = time.Second
	)
	sc := newScenario(t, "2-redis-restart", "Redis restart mid-campaign",
		"With appendonly yes and appendfsync always, Redis restarted (gracefully, then by SIGKILL) while the enqueuer "+
			"feeds a campaign and the worker sends it loses nothing, and neither process needs a restart: every row is "+
			"enqueued exactly once, every message ends read, and none is sent twice except counted ambiguous ones.")

	r := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	front := newSimFront(t, 5*time.Millisecond, 20*time.Millisecond)
	workerAddr := fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t))
	sim := gupshuptest.NewServer(
		gupshuptest.WithCallbackURL("http://"+workerAddr+"/webhooks/gupshup/"+testToken),
		gupshuptest.WithCallbackDelays(5*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond, 60*time.Millisecond),
		// Gupshup offers a callback again while the receiver answers 503
		// (Redis down): 100 tries 200 ms apart cover the restarts.
		callbackAttempts(100, 200*time.Millisecond),
	)
	t.Cleanup(sim.Close)
	front.sim.Store(sim)
	cfg := chaosConfig(r, sim, front.URL)
	cfg.SendRate, cfg.Concurrency, cfg.HTTPAddr = sendRate, 20, workerAddr
	w := startWorker(t, cfg)
	sc.Setup = []string{
		fmt.Sprintf("redis-server with --appendonly yes --appendfsync always; one worker process (SEND_RATE %d, WORKER_CONCURRENCY %d)", sendRate, cfg.Concurrency),
		fmt.Sprintf("the enqueuer CLI (cmd/enqueuer campaign, CSV on stdin) fed %d rows at %d rows/s while the worker sends", messages, rowRate),
		fmt.Sprintf("restart 1 at 2.5 s: SIGINT, started again at once; restart 2 at 5.5 s: SIGKILL, down for %v, started again", downFor),
		"simulator latency 5-20 ms; callbacks refused with 503 while Redis is down are offered again (as Gupshup does)",
	}

	// The enqueuer, fed through a pipe so that it is mid-campaign at each restart.
	enq := exec.Command(enqueuerBinary(t), "campaign", "--file", "-", "--format", "csv", "--campaign", "rr",
		"--template-id", chaosTemplate, "--queue", "bulk", "--workers", "8", "--json", "--progress", "0")
	enq.Env = []string{"REDIS_URL=" + r.URL, "GUPSHUP_SOURCE=" + testSource, "GUPSHUP_APP_NAME=" + cfg.AppName, "PATH=" + os.Getenv("PATH")}
	var enqOut, enqErr bytes.Buffer
	enq.Stdout, enq.Stderr = &enqOut, &enqErr
	stdin, err := enq.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := enq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if enq.ProcessState == nil {
			enq.Process.Kill()
			enq.Wait()
		}
	})
	dest := func(i int) string { return fmt.Sprintf("9188%08d", i) }
	fed := make(chan error, 1)
	start := time.Now()
	go func() {
		bw := bufio.NewWriter(stdin)
		fmt.Fprintln(bw, "destination,param1,param2")
		for i := 0; i < messages; i++ {
			fmt.Fprintf(bw, "%s,Asha,%d\n", dest(i), i)
			if i%10 == 9 {
				bw.Flush()
				time.Sleep(time.Until(start.Add(time.Duration(i+1) * time.Second / rowRate)))
			}
		}
		bw.Flush()
		fed <- stdin.Close()
	}()

	// Restart 1: graceful.
	time.Sleep(time.Until(start.Add(2500 * time.Millisecond)))
	t0 := time.Now()
	r.Restart()
	down1 := time.Since(t0)
	// Restart 2: a crash, down for a while.
	time.Sleep(time.Until(start.Add(5500 * time.Millisecond)))
	t0 = time.Now()
	r.Stop()
	time.Sleep(downFor)
	r.Restart()
	down2 := time.Since(t0)
	t.Logf("Redis down %v (SIGINT restart) and %v (SIGKILL restart)", down1.Round(time.Millisecond), down2.Round(time.Millisecond))

	if err := <-fed; err != nil {
		t.Fatalf("feeding the enqueuer: %v", err)
	}
	fedAt := time.Now()
	exited := make(chan error, 1)
	go func() { exited <- enq.Wait() }()
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the enqueuer did not finish\nstderr: %s", tailString(enqErr.String(), 3000))
	}
	var sum struct {
		Read, Enqueued, Duplicates, Rejected, Failed int
		Error                                        string
	}
	if err := json.Unmarshal(lastLine(enqOut.String()), &sum); err != nil {
		t.Errorf("enqueuer summary %q: %v", enqOut.String(), err)
	}
	enqExit := enq.ProcessState.ExitCode()
	if enqExit != 0 || sum.Read != messages || sum.Enqueued+sum.Duplicates != messages || sum.Failed != 0 {
		t.Errorf("enqueuer exit %d, summary %+v: want exit 0 and all %d rows enqueued\nstderr: %s", enqExit, sum, messages, tailString(enqErr.String(), 3000))
	}

	ids := make([]string, messages)
	for i := range ids {
		ids[i] = "rr:" + dest(i)
	}
	insp := newInspector(t, r)
	var recs map[string]store.Record
	var allRead, lastLog time.Time
	var lastOpen string
	// A task whose dequeue Redis ran but whose reply the crash cut off sits
	// in asynq's active list, handled by nobody, until asynq's recoverer
	// finds its lease expired: 30 s of lease, 30 s of allowed clock skew and
	// up to a minute between the recoverer's runs. Every worker that is busy
	// at the crash has such a dequeue in flight.
	poll.Until(t, "every message read and every queue empty", 4*time.Minute, time.Second, func() (bool, string) {
		recs = records(t, r.Client(), ids)
		open := 0
		hist := map[store.State]int{}
		example := ""
		for _, id := range ids {
			rec := recs[id]
			if rec.State != store.StateRead {
				open++
				hist[rec.State]++
				example = fmt.Sprintf("%s: %+v", id, rec)
			}
		}
		if open > 0 {
			lastOpen = fmt.Sprintf("%d not read %v (%s)", open, hist, example)
			if time.Since(lastLog) > 10*time.Second {
				t.Logf("waiting: %s", lastOpen)
				lastLog = time.Now()
			}
			return false, lastOpen
		}
		if allRead.IsZero() {
			allRead = time.Now()
		}
		ok, state := settled(insp)
		if !ok && time.Since(lastLog) > 10*time.Second {
			t.Logf("every message read; still in the queues: %s", state)
			lastLog = time.Now()
		}
		return ok, state
	})
	settledAt := time.Now()
	sc.done()

	byDest := sendsByDestination(sim)
	var lost, duplicates, unexplained, ambiguousMsgs, ambiguousSum int
	for i, id := range ids {
		rec := recs[id]
		n := len(byDest[dest(i)])
		ambiguousSum += rec.Ambiguous
		if rec.Ambiguous > 0 {
			ambiguousMsgs++
		}
		switch {
		case n == 0:
			lost++
			t.Errorf("%s: never sent", id)
		case n > 1:
			duplicates += n - 1
			if n-1 > rec.Ambiguous {
				unexplained += n - 1 - rec.Ambiguous
				t.Errorf("%s: sent %d times with %d ambiguous submits", id, n, rec.Ambiguous)
			}
		}
		if rec.Generation != 0 {
			t.Errorf("%s: generation %d, want 0", id, rec.Generation)
		}
	}
	if dls := deadLetters(t, r, "rr"); len(dls) != 0 {
		t.Errorf("%d dead letters, want 0", len(dls))
	}
	if arch := archived(t, insp); len(arch) != 0 {
		t.Errorf("%d archived tasks, want 0", len(arch))
	}
	if !w.alive() {
		t.Errorf("the worker process exited:\n%s", tailString(w.logs.String(), 3000))
	}
	logs := w.logs.String()
	// A result the worker could not write down while Redis was away would
	// leave a message "sending" (a submit) or make it look ambiguous (a
	// failure); both are retried until Redis is back.
	unrecordedSubmit := logLines(logs, "submitted, but the record failed")
	unrecordedFailure := logLines(logs, "could not record the failure")
	if unrecordedSubmit+unrecordedFailure > 0 {
		t.Errorf("the worker gave up recording %d submits and %d failures while Redis restarted", unrecordedSubmit, unrecordedFailure)
	}
	sc.Add("Redis down during the SIGINT restart / the SIGKILL restart", fmt.Sprintf("%v / %v", down1.Round(time.Millisecond), down2.Round(time.Millisecond)), "reported")
	sc.Add("enqueuer: exit status", enqExit, "= 0")
	sc.Add("enqueuer: rows read / enqueued / duplicates / failed", fmt.Sprintf("%d / %d / %d / %d", sum.Read, sum.Enqueued, sum.Duplicates, sum.Failed), fmt.Sprintf("%d read, enqueued + duplicates = %d, 0 failed", messages, messages))
	sc.Add("messages read", fmt.Sprintf("%d / %d", messages-lost, messages), "all")
	sc.Add("every message read / every queue empty, after the feed ended", fmt.Sprintf("%v / %v", allRead.Sub(fedAt).Round(time.Second), settledAt.Sub(fedAt).Round(time.Second)), "reported")
	sc.Add("messages never sent (lost)", lost, "= 0")
	sc.Add("messages with an ambiguous submit / sum of record.Ambiguous", fmt.Sprintf("%d / %d", ambiguousMsgs, ambiguousSum), "reported")
	sc.Add("duplicate sends at the simulator / not explained by an ambiguous submit", fmt.Sprintf("%d / %d", duplicates, unexplained), "<= Ambiguous / = 0")
	sc.Add("dead letters", 0, "= 0")
	sc.Add("worker process restarts needed", 0, "= 0 (it is the same process)")
	sc.Add("worker log lines with level error", logLines(logs, `"level":"error"`), "reported")
	sc.Add("submits / failures the worker gave up recording", fmt.Sprintf("%d / %d", unrecordedSubmit, unrecordedFailure), "= 0 / 0")
	sc.Add("callbacks answered 503 while Redis was down (offered again)", logLines(logs, "callback not recorded; asking for redelivery"), "reported")
	sc.Add("accepted sends at the simulator", sim.Stats().Accepted, fmt.Sprintf("= %d + duplicates", messages))
	sc.Notes = append(sc.Notes, "When every message is read only a minute or two after the feed ended, a task was "+
		"dequeued at the moment Redis went down: Redis ran asynq's dequeue (the task moved to the active set, under a "+
		"lease) but its answer never reached the worker, so nobody renews the lease. asynq's recoverer gives the task "+
		"back once the lease is 30 s past its end, checking every minute: the message is late, never lost, and its "+
		"send record shows it was not submitted before.")
}

func lastLine(s string) []byte {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return []byte(lines[len(lines)-1])
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
