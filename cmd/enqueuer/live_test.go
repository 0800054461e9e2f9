package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
)

// campaignFromPipe runs the campaign command on a CSV written into the
// returned pipe, with ctx; the result comes on the channel once the pipe
// is closed.
func campaignFromPipe(ctx context.Context, env map[string]string, campaign string) (*io.PipeWriter, <-chan result) {
	pr, pw := io.Pipe()
	done := make(chan result, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := run(ctx, []string{"campaign", "--file", "-", "--format", "csv", "--campaign", campaign, "--template-id", "tpl", "--json"},
			pr, &out, &errOut, func(k string) string { return env[k] })
		pr.Close()
		done <- result{code, out.String(), errOut.String()}
	}()
	fmt.Fprintln(pw, "destination,param1")
	return pw, done
}

func writeRows(t *testing.T, w io.Writer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if _, err := fmt.Fprintf(w, "%s,Name %d\n", destination(i), i); err != nil {
			t.Fatal(err)
		}
	}
}

// status shows queued while a long file is still being read, and the
// exact count once it is done.
func TestQueuedCountsAsTheFileGoes(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	const half, total = 700, 1500
	pw, done := campaignFromPipe(context.Background(), env, "live")
	writeRows(t, pw, 0, half)
	// The rest of the file has not been written: the command is still
	// reading it.
	waitUntil(t, "queued counted before the end of the file", 10*time.Second, func() (bool, string) {
		cs, err := store.New(srv.Client()).CampaignStatus(context.Background(), "live")
		return err == nil && cs.Queued > 0, fmt.Sprintf("queued %d, %v", cs.Queued, err)
	})
	if v := statusOf(t, env, "live"); v.Queued <= 0 || v.Queued >= total {
		t.Fatalf("queued %d in the middle of the file, want between 0 and %d", v.Queued, total)
	}
	writeRows(t, pw, half, total)
	pw.Close()
	r := <-done
	if r.code != exitOK || parseSummary(t, r.stdout).Enqueued != total {
		t.Fatalf("campaign: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if v := statusOf(t, env, "live"); v.Queued != total {
		t.Fatalf("queued %d at the end, want %d", v.Queued, total)
	}
	// The same file again enqueues nothing and counts nothing.
	pw, done = campaignFromPipe(context.Background(), env, "live")
	writeRows(t, pw, 0, total)
	pw.Close()
	if r := <-done; r.code != exitOK || parseSummary(t, r.stdout).Duplicates != total {
		t.Fatalf("again: %d %q", r.code, r.stdout)
	}
	if v := statusOf(t, env, "live"); v.Queued != total {
		t.Fatalf("queued %d after a rerun of the file, want %d", v.Queued, total)
	}
}

// An interrupted run counts exactly what it enqueued before it stopped,
// the rows enqueued since the last count included.
func TestQueuedExactWhenInterrupted(t *testing.T) {
	srv := redistest.Start(t)
	env := testEnv(srv)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pw, done := campaignFromPipe(ctx, env, "cut")
	writeRows(t, pw, 0, 400)
	waitUntil(t, "a first count", 10*time.Second, func() (bool, string) {
		v, _ := store.New(srv.Client()).CampaignStatus(context.Background(), "cut")
		return v.Queued > 0, fmt.Sprintf("queued %d", v.Queued)
	})
	// More rows, and the interrupt right behind them: some are enqueued
	// after the last count.
	writeRows(t, pw, 400, 600)
	cancel()
	// The command stops reading: these may or may not get through.
	for i := 600; i < 700; i++ {
		if _, err := fmt.Fprintf(pw, "%s,Name %d\n", destination(i), i); err != nil {
			break
		}
	}
	pw.Close()
	r := <-done
	sum := parseSummary(t, r.stdout)
	if r.code != exitUsage || sum.Error != "interrupted" || sum.Enqueued == 0 {
		t.Fatalf("interrupted campaign: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if v := statusOf(t, env, "cut"); v.Queued != sum.Enqueued {
		t.Fatalf("queued %d, want the %d enqueued", v.Queued, sum.Enqueued)
	}
}

// Rows added from many goroutines while counts go out are each counted
// once: by size and by time, and the rest at close.
func TestQueuedCounter(t *testing.T) {
	srv := redistest.Start(t)
	st := store.New(srv.Client())
	cases := []struct {
		name  string
		every time.Duration
		rows  int64
		adds  int
		// midway is the least the counter must show before close.
		midway int64
	}{
		{"by rows", time.Hour, 10, 95, 90},
		{"by time", 20 * time.Millisecond, 1 << 40, 95, 95},
		{"only at close", time.Hour, 1 << 40, 95, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "counter-" + tc.name
			q := &queuedCounter{book: &campaignBook{st: st, id: id}, log: zerolog.Nop(), every: tc.every, rows: tc.rows,
				kick: make(chan struct{}, 1), stop: make(chan struct{})}
			q.start(context.Background())
			var wg sync.WaitGroup
			for g := range 5 {
				wg.Go(func() {
					for i := g; i < tc.adds; i += 5 {
						q.add(1)
					}
				})
			}
			wg.Wait()
			if tc.midway > 0 {
				waitUntil(t, "counts before close", 5*time.Second, func() (bool, string) {
					cs, _ := st.CampaignStatus(context.Background(), id)
					return cs.Queued >= tc.midway, fmt.Sprintf("queued %d", cs.Queued)
				})
			} else if cs, _ := st.CampaignStatus(context.Background(), id); cs.Queued != 0 {
				t.Fatalf("queued %d before close", cs.Queued)
			}
			counted, lost := q.close(context.Background())
			cs, _ := st.CampaignStatus(context.Background(), id)
			if counted != int64(tc.adds) || lost != 0 || cs.Queued != int64(tc.adds) {
				t.Fatalf("counted %d, lost %d, queued %d; want %d", counted, lost, cs.Queued, tc.adds)
			}
		})
	}
}
