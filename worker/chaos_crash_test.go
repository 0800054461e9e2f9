//go:build chaos

package worker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
)

// TestChaosCrash kills worker processes with SIGKILL three times during a
// 20,000-message campaign, each time while sends are in flight, and
// restarts them. Nothing is lost, nothing whose submit had completed is
// sent again, and the sends that were cut mid-flight are counted as
// ambiguous (AMBIGUOUS_SENDS=resend: sent again, so a duplicate is
// possible only for them).
func TestChaosCrash(t *testing.T) {
	const (
		messages    = 20000
		sendRate    = 1500
		concurrency = 50
		replicas    = 2
		kills       = 3
		timeout     = 2 * time.Second
	)
	sc := newScenario(t, "1-crash", "Crash: kill -9 during a campaign",
		"A worker killed with SIGKILL mid-campaign loses nothing: every message ends delivered and read, or dead-lettered "+
			"only for an injected terminal code. A message whose submit had completed is never submitted again; a second "+
			"accepted send exists only for a submit cut in flight by the kill (record.Ambiguous > 0) or for an injected "+
			"retryable failure. Ambiguous in-flight sends are counted.")

	// Injected faults, by the last two digits of the destination: 1% each.
	const (
		terminalSuffix = "17" // failed callback 1002: dead letter
		callbackSuffix = "42" // failed callback 4002 once, then delivered: one resend
		syncSuffix     = "63" // HTTP 500 once, then accepted: one retry, no extra accepted send
	)
	r := redistest.Start(t)
	front := newSimFront(t, 5*time.Millisecond, 20*time.Millisecond)
	lb := newBalancer(t)
	sim := gupshuptest.NewServer(
		gupshuptest.WithCallbackURL(lb.URL+"/webhooks/gupshup/"+testToken),
		gupshuptest.WithCallbackDelays(5*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond, 60*time.Millisecond),
		gupshuptest.WithFaults(
			gupshuptest.Fault{Match: "*" + terminalSuffix, Code: 1002},
			gupshuptest.Fault{Match: "*" + callbackSuffix, Code: 4002, First: 1},
			gupshuptest.Fault{Match: "*" + syncSuffix, HTTPStatus: 500, First: 1},
		),
		callbackAttempts(50, 200*time.Millisecond),
	)
	t.Cleanup(sim.Close)
	front.sim.Store(sim)

	cfg := chaosConfig(r, sim, front.URL)
	cfg.SendRate, cfg.Concurrency, cfg.Timeout = sendRate, concurrency, timeout
	cfg.RecipientInterval = 0
	procs := lb.startWorkers(t, cfg, replicas)
	sc.Setup = []string{
		fmt.Sprintf("%d messages on the bulk queue, %d worker processes from cmd/worker (SEND_RATE %d fleet-wide, WORKER_CONCURRENCY %d each, GUPSHUP_TIMEOUT %v, AMBIGUOUS_SENDS resend)", messages, replicas, sendRate, concurrency, timeout),
		"simulator latency 5-20 ms per call (random), callbacks through a load balancer to whichever worker is up",
		"faults: 1% of numbers fail with 1002 (terminal, by callback), 1% with 4002 once (retryable, by callback), 1% with HTTP 500 once (retryable, synchronous)",
		fmt.Sprintf("%d kills with SIGKILL at 20%%, 45%% and 70%% of the campaign, alternating between the processes; each is restarted at once", kills),
		"orphaned tasks come back through asynq's lease expiry (30 s lease, 30 s clock-skew margin, recoverer every minute)",
	}

	dest := func(i int) string { return fmt.Sprintf("9199%08d", i) }
	sends, ids := chaosCampaign("crash", messages, dest)
	enqueueStart := time.Now()
	enqueueCampaign(t, r.Client(), sends)
	t.Logf("enqueued %d in %v", messages, time.Since(enqueueStart).Round(time.Millisecond))

	// The kills.
	var killTimes [][2]time.Time // the kill signal sent, the process gone
	var inflightAtKill []int64
	victim := 0
	for k, at := range []float64{0.20, 0.45, 0.70} {
		threshold := int64(at * messages)
		poll.Until(t, fmt.Sprintf("%d accepted sends before kill %d", threshold, k+1), 2*time.Minute, 5*time.Millisecond, func() (bool, string) {
			n := front.accepted.Load()
			return n >= threshold, fmt.Sprintf("%d accepted", n)
		})
		// Kill while sends are on their way to Gupshup.
		poll.Until(t, "a send in flight", 10*time.Second, time.Millisecond, func() (bool, string) {
			return front.inflight.Load() > 0, "none in flight"
		})
		p := procs[victim]
		lb.remove(p.addr)
		inflightAtKill = append(inflightAtKill, front.inflight.Load())
		killStart := time.Now()
		p.kill()
		killTimes = append(killTimes, [2]time.Time{killStart, time.Now()})
		t.Logf("kill %d: process on %s killed with %d requests in flight at the simulator", k+1, p.addr, inflightAtKill[k])
		procs[victim] = startWorker(t, cfg)
		lb.add(procs[victim].addr)
		victim = (victim + 1) % replicas
	}
	lastKill := killTimes[len(killTimes)-1][1]

	// Every message final, every queue empty.
	isTerminal := func(i int) bool { return strings.HasSuffix(dest(i), terminalSuffix) }
	var recs map[string]store.Record
	insp := newInspector(t, r)
	poll.Until(t, "every message final and every queue empty", 5*time.Minute, 2*time.Second, func() (bool, string) {
		recs = records(t, r.Client(), ids)
		open := 0
		example := ""
		for i, id := range ids {
			want := store.StateRead
			if isTerminal(i) {
				want = store.StateDead
			}
			if recs[id].State != want {
				open++
				example = fmt.Sprintf("%s is %q", id, recs[id].State)
			}
		}
		if open > 0 {
			return false, fmt.Sprintf("%d not final (%s)", open, example)
		}
		return settled(insp)
	})
	sc.done()
	t.Logf("final %v after the last kill", time.Since(lastKill).Round(time.Second))

	// Per message: the simulator's accepted sends against the plan.
	byDest := sendsByDestination(sim)
	var ambiguousMsgs, ambiguousSum, duplicates, terminal, resent, wrongState, unexplained, lost, notAtKill int
	for i, id := range ids {
		rec := recs[id]
		d := dest(i)
		expect, gen := 1, 0
		switch {
		case strings.HasSuffix(d, callbackSuffix):
			expect, gen = 2, 1
			resent++
		case isTerminal(i):
			terminal++
			if rec.Code != 1002 {
				t.Errorf("%s: dead with code %d, want 1002", id, rec.Code)
				wrongState++
			}
		}
		if rec.Generation != gen && !(gen == 1 && rec.Generation == 0 && rec.Ambiguous > 0) {
			// The exception: the first submit died in flight, before its
			// Gupshup id was recorded, so its failed callback has no message
			// to apply to (it stays parked), and the ambiguous resend of
			// generation 0 (AMBIGUOUS_SENDS=resend) is the second send.
			t.Errorf("%s: generation %d, want %d", id, rec.Generation, gen)
		}
		if rec.Ambiguous > 0 {
			ambiguousMsgs++
			ambiguousSum += rec.Ambiguous
		}
		got := len(byDest[d])
		switch {
		case got < expect:
			lost++
			t.Errorf("%s: %d accepted sends, want %d: lost", id, got, expect)
		case got > expect:
			extra := got - expect
			duplicates += extra
			if extra > rec.Ambiguous {
				unexplained += extra - rec.Ambiguous
				t.Errorf("%s: %d accepted sends, want %d, and only %d ambiguous submits to explain the extra", id, got, expect, rec.Ambiguous)
			}
			// The duplicated submit was in flight when a process died: it
			// reached the simulator at most a request's time before the
			// kill, or just after it (the request was on its way).
			for _, s := range byDest[d][:extra] {
				near := false
				for _, k := range killTimes {
					if s.Time.After(k[0].Add(-timeout-time.Second)) && s.Time.Before(k[1].Add(time.Second)) {
						near = true
					}
				}
				if !near {
					notAtKill++
					t.Errorf("%s: a duplicated send at %s was not in flight at any kill %v", id, s.Time.Format("15:04:05.000"), killTimes)
				}
			}
		}
	}
	dls := deadLetters(t, r, "crash")
	arch := archived(t, insp)
	if len(dls) != terminal {
		t.Errorf("%d dead letters, want exactly %d (the injected terminal codes)", len(dls), terminal)
	}
	if len(arch) != terminal {
		t.Errorf("%d archived tasks, want exactly %d", len(arch), terminal)
	}
	for k, n := range inflightAtKill {
		if n == 0 {
			t.Errorf("kill %d found no request in flight: the scenario did not cut a send", k+1)
		}
	}
	if ambiguousMsgs > kills*concurrency {
		t.Errorf("%d ambiguous messages, more than %d kills x %d concurrency could strand", ambiguousMsgs, kills, concurrency)
	}

	stats := sim.Stats()
	sc.Add("messages final (read, or dead for injected 1002)", fmt.Sprintf("%d / %d", messages-lost-wrongState, messages), "all")
	sc.Add("messages lost", lost, "= 0")
	sc.Add("kills (SIGKILL) / requests in flight at the simulator at each kill", fmt.Sprintf("%d / %v", kills, inflightAtKill), "> 0 each")
	sc.Add("accepted sends at the simulator", stats.Accepted, fmt.Sprintf("= %d + %d resends + duplicates", messages, resent))
	sc.Add("messages with an ambiguous in-flight submit (record.Ambiguous > 0)", ambiguousMsgs, fmt.Sprintf("<= %d (kills x concurrency)", kills*concurrency))
	sc.Add("sum of record.Ambiguous", ambiguousSum, "reported")
	sc.Add("duplicate sends at the simulator, all attributable to ambiguous submits", duplicates, "<= sum of Ambiguous")
	sc.Add("duplicates not explained by an ambiguous submit", unexplained, "= 0")
	sc.Add("duplicated submits not in flight at a kill", notAtKill, "= 0")
	sc.Add("resends after a failed 4002 callback (generation 1)", resent, fmt.Sprintf("= %d", resent))
	sc.Add("dead letters (log) / archived tasks", fmt.Sprintf("%d / %d", len(dls), len(arch)), fmt.Sprintf("= %d each", terminal))
	sc.Add("synchronous HTTP 500 rejections (retried, never doubled)", stats.RejectedByStatus[500], "reported")
	sc.Add("callbacks a dead backend did not take (balancer failovers)", lb.failovers.Load(), "reported")
	sc.Add("time from the last kill to every message final", time.Since(lastKill).Round(time.Second), "< 5 min")
	sc.Notes = append(sc.Notes,
		"A duplicate is possible only where Gupshup accepted a submit and the process died before recording it: with "+
			"no idempotency key at Gupshup, AMBIGUOUS_SENDS=resend sends such a message again after the in-flight window "+
			"(GUPSHUP_TIMEOUT + 5 s) and counts it; AMBIGUOUS_SENDS=deadletter would dead-letter it instead. The tasks a "+
			"killed process held come back when asynq's lease expires, which is why the run takes a minute or two past the kills.")
}
