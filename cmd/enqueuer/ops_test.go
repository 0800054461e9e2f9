package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/logging"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
	"github.com/waqueue/waqueue/worker"
)

// Tests of the operator commands (status, pause, resume, cancel, redrive)
// against a real worker and the Gupshup simulator where the workers'
// side matters.

const opsToken = "ops-token"

// startWorker runs a worker on srv, sending to a simulator with faults.
func startWorker(t *testing.T, srv *redistest.Server, mutate func(*worker.Config), faults ...gupshuptest.Fault) *gupshuptest.Server {
	t.Helper()
	port := redistest.FreePort(t)
	sim := gupshuptest.NewServer(
		gupshuptest.WithCallbackURL(fmt.Sprintf("http://127.0.0.1:%d/webhooks/gupshup/%s", port, opsToken)),
		gupshuptest.WithCallbackDelays(5*time.Millisecond, 10*time.Millisecond, 20*time.Millisecond, 30*time.Millisecond),
		gupshuptest.WithFaults(faults...),
	)
	t.Cleanup(sim.Close)
	sc := sim.Config()
	cfg := worker.Config{
		RedisURL: srv.URL, APIKey: sc.APIKey, AppName: sc.AppName, BaseURL: sim.URL,
		Timeout: 2 * time.Second, SendRate: 200, SendBurst: 1, Concurrency: 10,
		HTTPAddr: fmt.Sprintf("127.0.0.1:%d", port), WebhookToken: opsToken,
		BreakerOpen: time.Second, BreakerFailures: 5, ShutdownTimeout: 5 * time.Second,
		Ambiguous: "resend", RecordTTL: time.Hour, MaxAttempts: 6, RetryBase: 200 * time.Millisecond,
		LogFormat: "json", LogLevel: "info", AccountProbeInterval: time.Second,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &logging.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, cfg, logging.New(logs, "json", "info")) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("worker did not stop")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + cfg.HTTPAddr + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return sim
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	poll.Until(t, what, timeout, 100*time.Millisecond, cond)
}

func statusOf(t *testing.T, env map[string]string, campaign string) statusView {
	t.Helper()
	r := enqueuer(t, env, "status", "--campaign", campaign, "--json")
	if r.code != exitOK {
		t.Fatalf("status: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	var v statusView
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("status %q: %v", r.stdout, err)
	}
	return v
}

// campaignFile is a CSV of n rows; numbers ending in 0 do not exist at the
// simulator (1002, the first attempt only when fixed).
func campaignFile(t *testing.T, n int) string {
	var b strings.Builder
	b.WriteString("destination,param1\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,Name %d\n", destination(i), i)
	}
	return writeFile(t, "c.csv", b.String())
}

func TestPauseResumeCancelAndStatus(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	env["USER"] = "ops"
	sim := startWorker(t, srv, nil, gupshuptest.Fault{Match: "*0", Code: 1002})
	const n = 40
	file := campaignFile(t, n)

	// Paused before a single message is enqueued: they all wait.
	r := enqueuer(t, env, "pause", "--campaign", "spring", "--reason", "waiting for the go")
	if r.code != exitOK || !strings.Contains(r.stdout, "campaign spring paused (was running)") {
		t.Fatalf("pause: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := enqueuer(t, env, "pause", "--campaign", "spring"); r.code != exitOK || !strings.Contains(r.stdout, "is paused already") {
		t.Fatalf("pause again: %d %q", r.code, r.stdout)
	}
	r = enqueuer(t, env, "campaign", "--file", file, "--campaign", "spring", "--template-id", "tpl", "--json")
	if r.code != exitOK || parseSummary(t, r.stdout).Enqueued != n || !strings.Contains(r.stderr, "the campaign is paused") {
		t.Fatalf("campaign: %d %q %q", r.code, r.stdout, r.stderr)
	}
	time.Sleep(1500 * time.Millisecond)
	if got := sim.Stats().Accepted; got != 0 {
		t.Fatalf("%d sent while paused", got)
	}
	v := statusOf(t, env, "spring")
	if v.State != "paused" || v.Reason != "waiting for the go" || v.By != "enqueuer:ops" || v.Queued != n || v.Submitted != 0 || v.Remaining != n ||
		v.ETASeconds != nil || v.WaitingRetry != n {
		t.Fatalf("paused status %+v", v)
	}
	human := enqueuer(t, env, "status", "--campaign", "spring")
	for _, want := range []string{"campaign spring: paused by ops at ", ": waiting for the go\n", "queued", "40", "remaining",
		"waiting        40  due later: 40 retrying or handed back, 0 scheduled", "time to finish unknown: the campaign is paused\n"} {
		if !strings.Contains(human.stdout, want) {
			t.Fatalf("status lacks %q:\n%s", want, human.stdout)
		}
	}

	// Resume wakes the handed-back messages: they go at once, not when
	// their wait ends.
	start := time.Now()
	r = enqueuer(t, env, "resume", "--campaign", "spring", "--json")
	var cr controlResult
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil || r.code != exitOK || !cr.Changed || cr.Woken == 0 {
		t.Fatalf("resume: %d %q %v", r.code, r.stdout, err)
	}
	waitUntil(t, "the campaign done", 20*time.Second, func() (bool, string) {
		v := statusOf(t, env, "spring")
		return v.Remaining == 0, fmt.Sprintf("%+v", v)
	})
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("resumed campaign took %v: the handed-back messages were not woken", took)
	}
	v = statusOf(t, env, "spring")
	if v.State != "running" || v.Submitted != n || v.DeadLettered != n/10 || v.DeadByCode["1002"] != n/10 || v.Failed["1002"] != n/10 ||
		v.SendsLastMinute != n || v.RatePerSecond == 0 || v.ETASeconds == nil || *v.ETASeconds != 0 {
		t.Fatalf("done status %+v", v)
	}
	waitUntil(t, "deliveries counted", 10*time.Second, func() (bool, string) {
		v := statusOf(t, env, "spring")
		return v.Delivered == n-n/10 && v.Read == n-n/10, fmt.Sprintf("delivered %d read %d", v.Delivered, v.Read)
	})
	human = enqueuer(t, env, "status", "--campaign", "spring")
	if !strings.Contains(human.stdout, "1002: 4") || !strings.Contains(human.stdout, "time to finish done") ||
		!strings.Contains(human.stdout, "campaign spring: running (resumed by ops at ") {
		t.Fatalf("status:\n%s", human.stdout)
	}

	// A second campaign, paused, then cancelled: nothing is sent, every
	// message is counted cancelled.
	enqueuer(t, env, "pause", "--campaign", "autumn")
	file2 := writeFile(t, "d.csv", "destination,param1\n919800000001,A\n919800000002,B\n919800000003,C\n")
	if r := enqueuer(t, env, "campaign", "--file", file2, "--campaign", "autumn", "--template-id", "tpl"); r.code != exitOK {
		t.Fatalf("campaign: %d %s", r.code, r.stderr)
	}
	time.Sleep(1200 * time.Millisecond)
	r = enqueuer(t, env, "cancel", "--campaign", "autumn")
	if r.code != exitOK || !strings.Contains(r.stdout, "campaign autumn cancelled (was paused)") {
		t.Fatalf("cancel: %d %q %q", r.code, r.stdout, r.stderr)
	}
	waitUntil(t, "the cancelled messages dropped", 10*time.Second, func() (bool, string) {
		v := statusOf(t, env, "autumn")
		return v.Cancelled == 3 && v.Remaining == 0, fmt.Sprintf("%+v", v)
	})
	if got := sim.Stats().Accepted; got != n {
		t.Fatalf("%d sends, want only the first campaign's %d", got, n)
	}
	// Cancel is final.
	if r := enqueuer(t, env, "resume", "--campaign", "autumn"); r.code != exitRejected || !strings.Contains(r.stderr, "cancel is final") {
		t.Fatalf("resume a cancelled campaign: %d %q", r.code, r.stderr)
	}
	if r := enqueuer(t, env, "campaign", "--file", file2, "--campaign", "autumn", "--template-id", "tpl"); r.code != exitUsage || !strings.Contains(r.stderr, "was cancelled") {
		t.Fatalf("enqueue into a cancelled campaign: %d %q", r.code, r.stderr)
	}
	if r := enqueuer(t, env, "redrive", "--campaign", "autumn"); r.code != exitRejected || !strings.Contains(r.stderr, "cancelled") {
		t.Fatalf("redrive a cancelled campaign: %d %q", r.code, r.stderr)
	}
}

// Numbers that failed with 1002 are fixed (say, the list was cleaned):
// redrive sends their dead letters again, once.
func TestRedriveAfterTheCauseIsFixed(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	sim := startWorker(t, srv, nil, gupshuptest.Fault{Match: "*0", Code: 1002, First: 1})
	const n, dead = 30, 3
	file := campaignFile(t, n)
	if r := enqueuer(t, env, "campaign", "--file", file, "--campaign", "fix", "--template-id", "tpl"); r.code != exitOK {
		t.Fatalf("campaign: %d %s", r.code, r.stderr)
	}
	ins := inspector(t, srv)
	waitUntil(t, "the dead letters archived", 20*time.Second, func() (bool, string) {
		v := statusOf(t, env, "fix")
		arch, _ := ins.ListArchivedTasks(tasks.QueueBulk)
		return v.Remaining == 0 && v.DeadLettered == dead && len(arch) == dead, fmt.Sprintf("%+v, %d archived", v, len(arch))
	})

	r := enqueuer(t, env, "redrive", "--campaign", "fix", "--code", "1003", "--json")
	var rc redriveCounts
	json.Unmarshal([]byte(r.stdout), &rc)
	if r.code != exitOK || rc.Matching != 0 || rc.Eligible != 0 {
		t.Fatalf("redrive code 1003: %d %q", r.code, r.stdout)
	}
	r = enqueuer(t, env, "redrive", "--campaign", "fix", "--code", "1002", "--dry-run")
	if r.code != exitOK || !strings.Contains(r.stdout, "3 dead letters with code 1002; 3 to send again (1002: 3)") || !strings.Contains(r.stdout, "dry run") {
		t.Fatalf("dry run: %d %q", r.code, r.stdout)
	}
	if got := sim.Stats().Accepted; got != n {
		t.Fatalf("the dry run sent: %d", got)
	}
	r = enqueuer(t, env, "redrive", "--campaign", "fix", "--code", "1002", "--json")
	rc = redriveCounts{}
	if err := json.Unmarshal([]byte(r.stdout), &rc); err != nil || r.code != exitOK || rc.Eligible != dead || rc.FromArchive != dead || rc.Failed != 0 {
		t.Fatalf("redrive: %d %q %v", r.code, r.stdout, err)
	}
	// Running it again sends nothing twice.
	r = enqueuer(t, env, "redrive", "--campaign", "fix", "--json")
	rc = redriveCounts{}
	json.Unmarshal([]byte(r.stdout), &rc)
	if r.code != exitOK || rc.Eligible != 0 || rc.AlreadyRedriven != dead {
		t.Fatalf("second redrive: %d %q", r.code, r.stdout)
	}
	waitUntil(t, "the redriven messages delivered", 20*time.Second, func() (bool, string) {
		v := statusOf(t, env, "fix")
		return v.Delivered == n && v.Remaining == 0, fmt.Sprintf("%+v", v)
	})
	v := statusOf(t, env, "fix")
	if v.Rerun != dead || v.Redriven != dead || v.Submitted != n+dead || v.DeadLettered != dead {
		t.Fatalf("status %+v", v)
	}
	if got := sim.Stats().Accepted; got != n+dead {
		t.Fatalf("%d sends, want %d", got, n+dead)
	}
	// The dead letters keep their mark.
	letters, _ := store.New(srv.Client()).DeadLetterEntries(context.Background(), "fix")
	for _, d := range letters {
		if d.RedrivenAt.IsZero() {
			t.Fatalf("dead letter %s not marked", d.MessageID)
		}
	}
}

// Redrive without a worker: a dead letter the archive still holds is run
// from there, one it trimmed is enqueued afresh, and a second run finds
// nothing to do.
func TestRedriveFromArchiveOrAfresh(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	ctx := context.Background()
	st := store.New(srv.Client())
	ins := inspector(t, srv)
	client := asynq.NewClientFromRedisClient(srv.Client())
	exp := time.Now().Add(time.Hour)
	past := time.Now().Add(-time.Hour)
	for i := range 6 {
		s := &tasks.Send{V: tasks.PayloadVersion, CampaignID: "c", MessageID: fmt.Sprintf("c:%d", i), Family: "selfserve",
			Source: "14155550100", Destination: destination(i), Template: &tasks.Template{ID: "t"}, ExpiresAt: &exp}
		code := 1002
		switch i {
		case 4:
			code = 1003
		case 5:
			s.ExpiresAt = &past
		}
		b, _ := tasks.EncodeSend(s)
		if err := st.AddDeadLetter(ctx, store.DeadLetter{MessageID: s.MessageID, CampaignID: "c", Destination: s.Destination,
			Code: code, Reason: "r", Queue: tasks.QueueBulk, Payload: b}); err != nil {
			t.Fatal(err)
		}
		if i < 2 { // still in the archive, as the carrier of a callback's dead letter
			task, err := tasks.NewDeadLetterTask(s, tasks.Queue(tasks.QueueBulk))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := client.Enqueue(task); err != nil {
				t.Fatal(err)
			}
			if err := ins.ArchiveTask(tasks.QueueBulk, tasks.DeadLetterTaskID(s)); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := enqueuer(t, env, "redrive", "--campaign", "c", "--code", "1002", "--json")
	var rc redriveCounts
	if err := json.Unmarshal([]byte(r.stdout), &rc); err != nil || r.code != exitOK {
		t.Fatalf("redrive: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if rc.Matching != 5 || rc.Eligible != 4 || rc.Expired != 1 || rc.FromArchive != 2 || rc.Enqueued != 2 || rc.Failed != 0 {
		t.Fatalf("counts %+v", rc)
	}
	pending, err := ins.ListPendingTasks(tasks.QueueBulk)
	if err != nil || len(pending) != 4 {
		t.Fatalf("pending %d %v", len(pending), err)
	}
	ids := map[string]bool{}
	for _, p := range pending {
		ids[p.ID] = true
		s, err := tasks.DecodeSend(p.Payload)
		if err != nil || s.CampaignID != "c" || p.MaxRetry != 25 {
			t.Fatalf("task %s: %+v %v", p.ID, p, err)
		}
	}
	for _, want := range []string{"dead:c:0", "dead:c:1", "redrive:c:2", "redrive:c:3"} {
		if !ids[want] {
			t.Fatalf("pending %v lacks %s", ids, want)
		}
	}
	// Again: nothing more.
	r = enqueuer(t, env, "redrive", "--campaign", "c", "--code", "1002")
	if r.code != exitOK || !strings.Contains(r.stdout, "campaign c: nothing to redrive: 5 dead letters with code 1002, all left alone: 4 redriven before, 1 past their expiry") {
		t.Fatalf("again: %d %q", r.code, r.stdout)
	}
	if pending, _ := ins.ListPendingTasks(tasks.QueueBulk); len(pending) != 4 {
		t.Fatalf("pending %d after a second redrive", len(pending))
	}
	// Every code, and the record-less ones count as run again.
	r = enqueuer(t, env, "redrive", "--campaign", "c", "--json")
	rc = redriveCounts{}
	json.Unmarshal([]byte(r.stdout), &rc)
	if rc.Eligible != 1 || rc.Enqueued != 1 || rc.ByCode["1003"] != 1 {
		t.Fatalf("all codes: %+v", rc)
	}
	cs, _ := st.CampaignStatus(ctx, "c")
	if cs.Redriven != 5 || cs.Rerun != 5 {
		t.Fatalf("counters %+v", cs.CampaignCounts)
	}
}

func TestOpsUsage(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"status"}, exitUsage, "--campaign is required"},
		{[]string{"pause"}, exitUsage, "--campaign is required"},
		{[]string{"cancel"}, exitUsage, "--campaign is required"},
		{[]string{"resume"}, exitUsage, "give one of --campaign and --account"},
		{[]string{"resume", "--campaign", "a", "--account", "selfserve/x"}, exitUsage, "give one of"},
		{[]string{"redrive"}, exitUsage, "--campaign is required"},
		{[]string{"redrive", "--campaign", "c", "--code", "-5"}, exitUsage, "--code -5"},
		{[]string{"status", "--campaign", "nobody"}, exitRejected, "nothing was ever counted for campaign nobody"},
	} {
		r := enqueuer(t, env, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.err) {
			t.Errorf("%v: exit %d %q, want %d with %q", tc.args, r.code, r.stderr, tc.code, tc.err)
		}
	}
	if r := enqueuer(t, map[string]string{}, "status", "--campaign", "c"); r.code != exitUsage || !strings.Contains(r.stderr, "--redis-url") {
		t.Errorf("no redis: %d %q", r.code, r.stderr)
	}
	for _, cmd := range []string{"status", "pause", "resume", "cancel", "redrive"} {
		r := enqueuer(t, env, cmd, "-h")
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "usage: enqueuer "+cmd) || !strings.Contains(r.stdout, "-campaign") {
			t.Errorf("%s -h: %d %q", cmd, r.code, r.stdout)
		}
	}
	if r := enqueuer(t, env, "--help"); !strings.Contains(r.stdout, "redrive") || !strings.Contains(r.stdout, "status") {
		t.Errorf("help lacks the operator commands: %s", r.stdout)
	}
	// Releasing an account by hand.
	st := store.New(srv.Client())
	st.HoldAccount(context.Background(), "selfserve/DemoAPI", 1003, "wallet balance low", store.HoldCallback, time.Hour)
	st.Tally(context.Background(), "c", store.Tally{Kind: store.TallyQueued, N: 1})
	if human := enqueuer(t, env, "status", "--campaign", "c"); !strings.Contains(human.stdout, "account selfserve/DemoAPI held since") {
		t.Errorf("status does not show the hold:\n%s", human.stdout)
	}
	if v := statusOf(t, env, "c"); len(v.AccountHolds) != 1 || v.AccountHolds[0].Code != 1003 {
		t.Errorf("holds %+v", v.AccountHolds)
	}
	if r := enqueuer(t, env, "resume", "--account", "selfserve/DemoAPI"); r.code != exitOK || !strings.Contains(r.stdout, "released") {
		t.Errorf("release: %d %q", r.code, r.stdout)
	}
	if r := enqueuer(t, env, "resume", "--account", "selfserve/DemoAPI"); r.code != exitOK || !strings.Contains(r.stdout, "was not held") {
		t.Errorf("release again: %d %q", r.code, r.stdout)
	}
}

// On a terminal the campaign command draws a bar instead of progress lines.
func TestProgressBar(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	old := stderrIsTerminal
	stderrIsTerminal = func(io.Writer) bool { return true }
	t.Cleanup(func() { stderrIsTerminal = old })
	var b strings.Builder
	b.WriteString("destination,param1\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "%s,Name %d\n", destination(i), i)
	}
	b.WriteString("bad,row\n")
	file := writeFile(t, "big.csv", b.String())
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"campaign", "--file", file, "--campaign", "bar", "--template-id", "t", "--progress", "1ms"},
		strings.NewReader(""), &out, &errOut, func(k string) string { return env[k] })
	if code != exitRejected {
		t.Fatalf("exit %d\n%s", code, errOut.String())
	}
	stderr := errOut.String()
	if !strings.Contains(stderr, "\r\x1b[K") || !strings.Contains(stderr, "100% [========================] 3,001 rows") || !strings.Contains(stderr, "rows/s") {
		t.Fatalf("no bar on stderr: %q", stderr)
	}
	// The rejected row is on a line of its own, and no progress log lines.
	bad := file + ":3002: destination"
	if !strings.HasPrefix(stderr, bad) && !strings.Contains(stderr, "\r\x1b[K"+bad) && !strings.Contains(stderr, "\n"+bad) {
		t.Fatalf("rejected row mixed with the bar: %q", stderr)
	}
	if strings.Contains(stderr, `"message":"progress"`) {
		t.Fatalf("progress log lines with a bar: %q", stderr)
	}
	if !strings.Contains(out.String(), "read 3001, enqueued 3000") {
		t.Fatalf("summary %q", out.String())
	}
	cs, _ := store.New(srv.Client()).CampaignStatus(context.Background(), "bar")
	if cs.Queued != 3000 {
		t.Fatalf("queued %d", cs.Queued)
	}
	// Not a terminal: log lines as before.
	stderrIsTerminal = func(io.Writer) bool { return false }
	file2 := writeFile(t, "small.csv", "destination,param1\n919800000009,A\n")
	r := enqueuer(t, env, "campaign", "--file", file2, "--campaign", "bar", "--template-id", "t")
	if strings.Contains(r.stderr, "\r") || r.code != exitOK {
		t.Fatalf("bar without a terminal: %q", r.stderr)
	}
	if cs, _ := store.New(srv.Client()).CampaignStatus(context.Background(), "bar"); cs.Queued != 3001 {
		t.Fatalf("queued %d after a second file", cs.Queued)
	}
}

func TestProgressBarLine(t *testing.T) {
	b := &progressBar{name: "spring.csv", size: 1000, start: time.Unix(100, 0)}
	b.bytes.Store(250)
	b.rows.Store(12345)
	got := b.line(time.Unix(110, 0))
	want := "spring.csv  25% [======>                 ] 12,345 rows  1,234 rows/s  ETA 30s"
	if got != want {
		t.Fatalf("line\n%q\nwant\n%q", got, want)
	}
	b.size = 0
	if got := b.line(time.Unix(110, 0)); got != "spring.csv 12,345 rows  1,234 rows/s" {
		t.Fatalf("stdin line %q", got)
	}
	// Anything else written to stderr clears the bar first; the next tick
	// draws it again.
	var term bytes.Buffer
	b.w, b.now = &term, func() time.Time { return time.Unix(110, 0) }
	b.draw()
	fmt.Fprintf(b, "f.csv:7: bad row\n")
	fmt.Fprintf(b, "another line\n")
	if want := "\r\x1b[Kspring.csv 12,345 rows  1,234 rows/s\r\x1b[Kf.csv:7: bad row\nanother line\n"; term.String() != want {
		t.Fatalf("terminal %q\nwant     %q", term.String(), want)
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q", n, got)
		}
	}
}
