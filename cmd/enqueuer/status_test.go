package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

func TestStateLine(t *testing.T) {
	at := time.Date(2026, 6, 1, 9, 14, 2, 0, time.Local)
	when := "2026-06-01 09:14:02"
	cases := []struct {
		name string
		v    statusView
		want string
	}{
		{"never steered", statusView{State: "running"}, "running"},
		{"resumed", statusView{State: "running", By: "enqueuer:ops", Since: at}, "running (resumed by ops at " + when + ")"},
		{"paused with a reason", statusView{State: "paused", By: "enqueuer:ops", Since: at, Reason: "waiting for the go"},
			"paused by ops at " + when + ": waiting for the go"},
		{"paused without a reason", statusView{State: "paused", By: "enqueuer:ops", Since: at}, "paused by ops at " + when},
		{"paused by an older enqueuer", statusView{State: "paused", By: "enqueuer:ops", Since: at, Reason: "by enqueuer:ops"},
			"paused by ops at " + when},
		{"resumed by an older enqueuer", statusView{State: "running", By: "enqueuer:ops", Since: at, Reason: "by enqueuer:ops"},
			"running (resumed by ops at " + when + ")"},
		{"auto-paused", statusView{State: "paused", By: "auto", Since: at, Reason: "auto-pause: 45 dead letters in the last 200 outcomes (22%, bound 20%)"},
			"paused by the auto-pause at " + when + ": 45 dead letters in the last 200 outcomes (22%, bound 20%)"},
		{"cancelled with no user known", statusView{State: "cancelled", By: "enqueuer", Since: at, Reason: "wrong template"},
			"cancelled by an operator at " + when + ": wrong template"},
		{"set by another tool", statusView{State: "paused", By: "billing-service", Since: at}, "paused by billing-service at " + when},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := stateLine(tc.v); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestETA(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	running, paused := store.CampaignRunning, store.CampaignPaused
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name      string
		remaining int64
		rate      float64
		state     store.CampaignState
		lastDue   time.Time
		want      *float64
	}{
		{"done", 0, 0, running, time.Time{}, f(0)},
		{"done, whatever waits", 0, 10, running, now.Add(time.Hour), f(0)},
		{"at the rate", 1000, 10, running, time.Time{}, f(100)},
		{"a resend due after the rate would finish", 1000, 10, running, now.Add(5 * time.Minute), f(300)},
		{"a resend due before the rate would finish", 1000, 10, running, now.Add(time.Minute), f(100)},
		{"a resend overdue", 1000, 10, running, now.Add(-time.Minute), f(100)},
		{"nothing sent lately", 1000, 0, running, now.Add(time.Hour), nil},
		{"paused", 1000, 10, paused, now.Add(time.Hour), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := eta(tc.remaining, tc.rate, tc.state, tc.lastDue, now)
			if (got == nil) != (tc.want == nil) || got != nil && *got != *tc.want {
				t.Errorf("eta = %v, want %v", deref(got), deref(tc.want))
			}
		})
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestFinishText(t *testing.T) {
	now := time.Now()
	due := now.Add(10 * time.Minute).Truncate(time.Second)
	dueText := due.Local().Format(time.DateTime)
	f := func(v float64) *float64 { return &v }
	cases := []struct {
		name string
		v    statusView
		want string
	}{
		{"done", statusView{State: "running", ETASeconds: f(0), WaitingLastDue: due}, "done"},
		{"at the rate", statusView{State: "running", ETASeconds: f(90)}, "1m30s"},
		{"set by the last waiting message", statusView{State: "running", ETASeconds: f(600), WaitingLastDue: due},
			"10m0s (the last waiting message is due " + dueText + ")"},
		{"the rate ends later than the wait", statusView{State: "running", ETASeconds: f(3600), WaitingLastDue: due}, "1h0m0s"},
		{"nothing sent lately", statusView{State: "running", WaitingLastDue: due},
			"unknown: nothing sent in the last minute; not before " + dueText + ", when the last waiting message is due"},
		{"paused: the resume wakes what waits", statusView{State: "paused", WaitingLastDue: due}, "unknown: the campaign is paused"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := finishText(tc.v, now); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// status counts the campaign's messages due later and does not promise a
// finish before the last of them.
func TestStatusCountsWaitingMessages(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	ctx := context.Background()
	st := store.New(srv.Client())
	// 100 queued, 10 sent this second: 9 s to go at the rate.
	if err := st.Tally(ctx, "w", store.Tally{Kind: store.TallyQueued, N: 100}, store.Tally{Kind: store.TallySubmitted, N: 10}); err != nil {
		t.Fatal(err)
	}
	prod := tasks.NewProducer(srv.Client())
	last := time.Now().Add(10 * time.Minute).Truncate(time.Second)
	for i, c := range []string{"w", "w", "w", "other"} {
		exp := last.Add(2 * time.Hour)
		s := &tasks.Send{V: tasks.PayloadVersion, CampaignID: c, MessageID: fmt.Sprintf("%s:%d", c, i), Family: "selfserve",
			Source: "14155550100", Destination: destination(i), Template: &tasks.Template{ID: "t"}, ExpiresAt: &exp}
		at := last.Add(-time.Duration(i) * time.Minute)
		if c == "other" {
			at = last.Add(time.Hour)
		}
		if _, err := prod.Enqueue(ctx, s, tasks.Queue(tasks.QueueBulk), tasks.ProcessAt(at)); err != nil {
			t.Fatal(err)
		}
	}
	v := statusOf(t, env, "w")
	if v.WaitingScheduled != 3 || v.WaitingRetry != 0 || !v.WaitingLastDue.Equal(last) || v.ETASeconds == nil ||
		*v.ETASeconds < 590 || *v.ETASeconds > 601 {
		t.Fatalf("status %+v (eta %v)", v, deref(v.ETASeconds))
	}
	human := enqueuer(t, env, "status", "--campaign", "w")
	dueText := last.Local().Format(time.DateTime)
	for _, want := range []string{
		"waiting          3  due later: 0 retrying or handed back, 3 scheduled; the last due " + dueText,
		"(the last waiting message is due " + dueText + ")",
	} {
		if !strings.Contains(human.stdout, want) {
			t.Errorf("status lacks %q:\n%s", want, human.stdout)
		}
	}
}

func TestNothingToRedrive(t *testing.T) {
	code := func(n int) *int { return &n }
	cases := []struct {
		name string
		r    redriveCounts
		want string
	}{
		{"no dead letters", redriveCounts{Campaign: "c"}, "campaign c: nothing to redrive: no dead letters (any code)\n"},
		{"none with the code", redriveCounts{Campaign: "c", Code: code(1003)},
			"campaign c: nothing to redrive: no dead letters with code 1003\n"},
		{"all redriven before", redriveCounts{Campaign: "c", Code: code(1002), Matching: 4, AlreadyRedriven: 4},
			"campaign c: nothing to redrive: 4 dead letters with code 1002, all left alone: 4 redriven before\n"},
		{"one expired", redriveCounts{Campaign: "c", Matching: 1, Expired: 1},
			"campaign c: nothing to redrive: 1 dead letter (any code), all left alone: 1 past their expiry\n"},
		{"mixed", redriveCounts{Campaign: "c", Matching: 6, AlreadyRedriven: 3, Expired: 2, Failed: 1},
			"campaign c: nothing to redrive: 6 dead letters (any code), all left alone: 3 redriven before, 2 past their expiry, 1 with an unreadable payload\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printRedrive(&cli{stdout: &out}, tc.r, store.CampaignControl{State: store.CampaignRunning})
			if out.String() != tc.want {
				t.Errorf("got  %q\nwant %q", out.String(), tc.want)
			}
		})
	}
	// Something to redrive: the counts as before.
	var out bytes.Buffer
	printRedrive(&cli{stdout: &out}, redriveCounts{Campaign: "c", Matching: 2, Eligible: 2, ByCode: map[string]int64{"1002": 2}, FromArchive: 2},
		store.CampaignControl{State: store.CampaignRunning})
	if !strings.HasPrefix(out.String(), "campaign c: 2 dead letters; 2 to send again (1002: 2)\nredriven: 2 run from the archive") {
		t.Errorf("redrive with work: %q", out.String())
	}
}

// The expiry goes into every task: whole seconds of UTC, never shorter
// than asked by a second or more, never at or before the time it counts
// from.
func TestExpiryInWholeSeconds(t *testing.T) {
	now := time.Date(2026, 6, 1, 9, 14, 2, 987654321, time.FixedZone("IST", 5*3600+1800))
	future := now.Add(2 * time.Hour).Truncate(time.Second)
	cases := []struct {
		name     string
		at       string
		validity time.Duration
		want     time.Time
	}{
		{"from now", "", 24 * time.Hour, now.Add(24 * time.Hour).Truncate(time.Second)},
		{"a validity under a second", "", 300 * time.Millisecond, now.Truncate(time.Second).Add(time.Second)},
		{"a validity of one second", "", time.Second, now.Truncate(time.Second).Add(time.Second)},
		{"from --at", future.Format(time.RFC3339), time.Hour, future.Add(time.Hour)},
		{"from now when --at has passed", now.Add(-time.Hour).Format(time.RFC3339), 90 * time.Minute, now.Add(90 * time.Minute).Truncate(time.Second)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tm := timing{at: tc.at, expiresIn: tc.validity}
			_, exp, err := tm.resolve(now)
			if err != nil {
				t.Fatal(err)
			}
			if !exp.Equal(tc.want) || exp.Nanosecond() != 0 || exp.Location() != time.UTC || !exp.After(now) {
				t.Errorf("expiry %v, want %v in UTC, whole seconds, after %v", exp, tc.want.UTC(), now)
			}
		})
	}
}

// In the queued task, the expiry is written without a fraction or a zone
// offset; one in the past is still refused.
func TestExpiryStored(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	r := enqueuer(t, env, "send", "--to", "919876543210", "--text", "hi", "--message-id", "exp-1", "--expires-in", "90m")
	if r.code != exitOK {
		t.Fatalf("send: %d %s", r.code, r.stderr)
	}
	info, err := inspector(t, srv).GetTaskInfo(tasks.QueueCritical, "send:exp-1")
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		ExpiresAt string `json:"expires_at"`
	}
	if err := json.Unmarshal(info.Payload, &raw); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(raw.ExpiresAt) {
		t.Fatalf("expires_at %q: want whole seconds in UTC", raw.ExpiresAt)
	}
	if d := time.Until(mustTime(t, raw.ExpiresAt)); d < 89*time.Minute || d > 90*time.Minute {
		t.Fatalf("expires in %v, want 90m less a fraction of a second", d)
	}
	file := writeFile(t, "old.jsonl", `{"destination":"919876543211","template":{"id":"t"},"expires_at":"2001-01-01T00:00:00Z"}`+"\n")
	r = enqueuer(t, env, "campaign", "--file", file, "--campaign", "old")
	if r.code != exitRejected || !strings.Contains(r.stderr, "expires_at") || !strings.Contains(r.stderr, "is not after the time the message is due") {
		t.Fatalf("an expiry in the past: %d %q", r.code, r.stderr)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
