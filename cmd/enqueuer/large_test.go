package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/tasks"
)

// TestCampaign100kRows measures a 100,000-row CSV against a local
// redis-server, end to end through the command, and again for a re-run
// where every row is a duplicate. It reports the figures with -v.
func TestCampaign100kRows(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 rows: not in -short")
	}
	const n = 100000
	var b strings.Builder
	b.WriteString("destination,param1,param2,media_url\n")
	for i := range n {
		fmt.Fprintf(&b, "%s,\"Name, %d\",CODE%d,https://cdn.example.com/%d.jpg\n", destination(i), i, i, i)
	}
	file := writeFile(t, "big.csv", b.String())
	srv := redistest.Start(t)
	env := testEnv(srv)
	args := []string{"campaign", "--file", file, "--campaign", "big", "--template-id", "tpl", "--media-type", "image", "--json", "--progress", "0"}

	start := time.Now()
	r := enqueuer(t, env, args...)
	first := time.Since(start)
	s := parseSummary(t, r.stdout)
	if r.code != exitOK || s.Enqueued != n {
		t.Fatalf("exit %d summary %+v\n%s", r.code, s, r.stderr)
	}

	start = time.Now()
	r = enqueuer(t, env, args...)
	again := time.Since(start)
	if s := parseSummary(t, r.stdout); r.code != exitOK || s.Duplicates != n || s.Enqueued != 0 {
		t.Fatalf("re-run: exit %d summary %+v", r.code, s)
	}
	t.Logf("100,000 rows: %v (%.0f rows/s); re-run, all duplicates: %v", first.Round(time.Millisecond), n/first.Seconds(), again.Round(time.Millisecond))

	q, err := inspector(t, srv).GetQueueInfo(tasks.QueueBulk)
	if err != nil || q.Size != n {
		t.Fatalf("bulk queue %+v %v", q, err)
	}
	// Seconds, not minutes: generous enough for a loaded CI machine.
	if first > 60*time.Second {
		t.Fatalf("100,000 rows took %v", first)
	}
}
