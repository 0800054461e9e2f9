package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/worker"
)

// A campaign scheduled for later and then cancelled is dropped at once,
// not when its messages come due.
func TestCancelDropsWhatWaitsNow(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	sim := startWorker(t, srv, nil)
	const n = 6
	at := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if r := enqueuer(t, env, "campaign", "--file", campaignFile(t, n), "--campaign", "later", "--template-id", "tpl", "--at", at); r.code != exitOK {
		t.Fatalf("campaign: %d %s", r.code, r.stderr)
	}
	if v := statusOf(t, env, "later"); v.WaitingScheduled != n || v.Remaining != n {
		t.Fatalf("status before the cancel %+v", v)
	}
	r := enqueuer(t, env, "cancel", "--campaign", "later", "--json")
	var cr controlResult
	if err := json.Unmarshal([]byte(r.stdout), &cr); err != nil || r.code != exitOK || cr.Woken != n {
		t.Fatalf("cancel: %d %q %v", r.code, r.stdout, err)
	}
	waitUntil(t, "the scheduled messages dropped", 10*time.Second, func() (bool, string) {
		v := statusOf(t, env, "later")
		return v.Cancelled == n && v.Remaining == 0 && v.WaitingScheduled == 0, fmt.Sprintf("%+v", v)
	})
	if got := sim.Stats().Accepted; got != 0 {
		t.Fatalf("%d sent", got)
	}
}

// resume --account wakes the sends the workers handed back while the
// account was held: they go now, not up to 5 minutes later.
func TestReleaseByHandWakesHeldSends(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	// No probe for a minute: only the command can release the account.
	sim := startWorker(t, srv, func(c *worker.Config) { c.AccountProbeInterval = time.Minute })
	acct := "selfserve/" + sim.Config().AppName
	ctx := context.Background()
	// Held for ten minutes already: its sends are handed back for 5.
	old := store.New(srv.Client(), store.WithClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }))
	if _, err := old.HoldAccount(ctx, acct, 1003, "wallet balance low", store.HoldSync, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client().HSet(ctx, store.AccountHoldKey(acct), "pt", strconv.FormatInt(time.Now().UnixMilli(), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 8
	if r := enqueuer(t, env, "campaign", "--file", campaignFile(t, n), "--campaign", "held", "--template-id", "tpl"); r.code != exitOK {
		t.Fatalf("campaign: %d %s", r.code, r.stderr)
	}
	waitUntil(t, "the sends handed back", 10*time.Second, func() (bool, string) {
		v := statusOf(t, env, "held")
		return v.WaitingRetry == n && v.WaitingLastDue.After(time.Now().Add(3*time.Minute)), fmt.Sprintf("%+v", v)
	})
	r := enqueuer(t, env, "resume", "--account", acct)
	if r.code != exitOK || !strings.Contains(r.stdout, fmt.Sprintf("account %s released: its sends go again; %d handed-back sends woken", acct, n)) {
		t.Fatalf("release: %d %q %q", r.code, r.stdout, r.stderr)
	}
	waitUntil(t, "the held sends sent", 10*time.Second, func() (bool, string) {
		return sim.Stats().Accepted == n, fmt.Sprintf("%d sent", sim.Stats().Accepted)
	})
}
