//go:build chaos

package worker_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/internal/poll"
	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/store"
)

// TestChaosOutage takes the simulated Gupshup down for 30 s in the middle
// of a campaign, answering 503 for the first half and holding requests
// unanswered for the second. The circuit breakers open and, while they
// are open, the fleet sends about one probe per open period per replica;
// nothing is dead-lettered, and everything is delivered once Gupshup is
// back, each message exactly once.
func TestChaosOutage(t *testing.T) {
	const (
		messages    = 2500
		sendRate    = 200
		replicas    = 2
		outage      = 30 * time.Second
		fivexx      = 15 * time.Second // then hang for the rest
		breakerOpen = 5 * time.Second
		failures    = 5
		timeout     = 2 * time.Second
		// margin per replica: requests already on their way when the
		// breaker counted its fifth failure (about rate x latency).
		margin = 3
	)
	sc := newScenario(t, "3-outage", "Gupshup outage of 30 s",
		"During an outage the circuit breakers open and stop the fleet: requests reaching Gupshup stay at about one "+
			"probe per open period per replica (at most ceil(outage / BREAKER_OPEN) + BREAKER_FAILURES per replica, plus "+
			"a small margin for requests already on their way). Nothing is dead-lettered, and once Gupshup is back "+
			"every message is delivered, each exactly once.")

	r := redistest.Start(t)
	front := newSimFront(t, 5*time.Millisecond, 20*time.Millisecond)
	lb := newBalancer(t)
	sim := gupshuptest.NewServer(
		gupshuptest.WithCallbackURL(lb.URL+"/webhooks/gupshup/"+testToken),
		gupshuptest.WithCallbackDelays(5*time.Millisecond, 20*time.Millisecond, 40*time.Millisecond, 60*time.Millisecond),
	)
	t.Cleanup(sim.Close)
	front.sim.Store(sim)
	cfg := chaosConfig(r, sim, front.URL)
	cfg.SendRate, cfg.Concurrency, cfg.Timeout = sendRate, 20, timeout
	cfg.BreakerOpen, cfg.BreakerFailures = breakerOpen, failures
	cfg.RecipientInterval = 0
	procs := lb.startWorkers(t, cfg, replicas)
	sc.Setup = []string{
		fmt.Sprintf("%d messages, %d worker processes (SEND_RATE %d fleet-wide, BREAKER_OPEN %v, BREAKER_FAILURES %d, GUPSHUP_TIMEOUT %v, RETRY_MAX_ATTEMPTS %d)",
			messages, replicas, sendRate, breakerOpen, failures, timeout, cfg.MaxAttempts),
		fmt.Sprintf("once a third of the campaign is accepted, the simulator answers 503 for %v, then holds every request unanswered for the remaining %v", fivexx, outage-fivexx),
		"every request reaching the simulator is logged by a front that also sees the ones the client gave up on",
	}

	dest := func(i int) string { return fmt.Sprintf("9177%08d", i) }
	sends, ids := chaosCampaign("outage", messages, dest)
	enqueueCampaign(t, r.Client(), sends)

	poll.Until(t, "a third of the campaign accepted", time.Minute, 5*time.Millisecond, func() (bool, string) {
		n := front.accepted.Load()
		return n >= messages/3, fmt.Sprintf("%d accepted", n)
	})
	start := time.Now()
	sim.StartOutage("5xx", fivexx)
	sim.StartOutage("hang", outage)
	end := start.Add(outage)
	acceptedBefore := front.accepted.Load()
	time.Sleep(time.Until(end))

	insp := newInspector(t, r)
	var recs map[string]store.Record
	poll.Until(t, "every message read and every queue empty", 3*time.Minute, time.Second, func() (bool, string) {
		recs = records(t, r.Client(), ids)
		open := 0
		hist := map[store.State]int{}
		for _, id := range ids {
			if st := recs[id].State; st != store.StateRead {
				open++
				hist[st]++
			}
		}
		if open > 0 {
			return false, fmt.Sprintf("%d not read: %v", open, hist)
		}
		return settled(insp)
	})
	sc.done()

	// What reached Gupshup during the outage.
	var phase5xx, phaseHang, hung, answered503, acceptedDuring int
	var trip int
	var probeAt []string
	for _, q := range front.requests(start, end) {
		t.Logf("during the outage: +%v %s answered %d after %v", q.At.Sub(start).Round(time.Millisecond), q.Path, q.Status, q.Took.Round(time.Millisecond))
		if q.At.Before(start.Add(time.Second)) {
			trip++
		} else {
			probeAt = append(probeAt, fmt.Sprintf("%.1f", q.At.Sub(start).Seconds()))
		}
		if q.At.Before(start.Add(fivexx)) {
			phase5xx++
		} else {
			phaseHang++
		}
		switch {
		case q.Status == 0:
			hung++
		case q.Status == http.StatusServiceUnavailable:
			answered503++
		case q.Status >= 200 && q.Status < 300:
			acceptedDuring++
		}
	}
	during := phase5xx + phaseHang
	perReplica := int(math.Ceil(float64(outage)/float64(breakerOpen))) + failures
	bound := replicas * (perReplica + margin)
	if during > bound {
		t.Errorf("%d requests reached Gupshup during the %v outage, over %d (%d replicas x (ceil(%v/%v) + %d failures + %d margin))",
			during, outage, bound, replicas, outage, breakerOpen, failures, margin)
	}
	if acceptedDuring != 0 {
		t.Errorf("%d sends accepted during the outage", acceptedDuring)
	}
	if phase5xx == 0 || phaseHang == 0 {
		t.Errorf("the outage saw %d requests in its 5xx phase and %d in its hang phase: the scenario did not exercise both", phase5xx, phaseHang)
	}

	// After it: everything delivered, each message once, no dead letter.
	byDest := sendsByDestination(sim)
	var wrong int
	for i := range ids {
		if n := len(byDest[dest(i)]); n != 1 {
			wrong++
			t.Errorf("%s: %d accepted sends, want exactly 1", ids[i], n)
		}
	}
	dls := deadLetters(t, r, "outage")
	arch := archived(t, insp)
	if len(dls) != 0 || len(arch) != 0 {
		t.Errorf("the outage dead-lettered %d messages (%d archived tasks)", len(dls), len(arch))
	}
	var firstAfter time.Time
	for _, s := range sim.Sends() {
		if !s.Time.Before(end) && (firstAfter.IsZero() || s.Time.Before(firstAfter)) {
			firstAfter = s.Time
		}
	}
	opened, probes := 0, 0
	for _, p := range procs {
		logs := p.logs.String()
		opened += logLines(logs, "circuit breaker changed state", `"to":"open"`)
		probes += logLines(logs, "circuit breaker changed state", `"to":"half-open"`)
	}
	if opened == 0 {
		t.Errorf("no circuit breaker opened")
	}

	sc.Add("requests reaching Gupshup during the outage (fleet)", during, fmt.Sprintf("<= %d = %d x (%d + %d + %d)", bound, replicas, perReplica-failures, failures, margin))
	sc.Add("  in the 503 phase / in the hang phase", fmt.Sprintf("%d / %d", phase5xx, phaseHang), "> 0 each")
	sc.Add("  answered 503 / held until the client gave up (GUPSHUP_TIMEOUT)", fmt.Sprintf("%d / %d", answered503, hung), "reported")
	sc.Add("  in the first second, until the breakers opened", trip, fmt.Sprintf("<= %d x (%d + %d)", replicas, failures, margin))
	sc.Add("  after it: probes, at seconds into the outage", fmt.Sprintf("%d: %s", len(probeAt), strings.Join(probeAt, ", ")), fmt.Sprintf("about 1 per replica per %v", breakerOpen))
	sc.Add("sends accepted during the outage", acceptedDuring, "= 0")
	sc.Add("breaker openings / half-open probes logged (all replicas)", fmt.Sprintf("%d / %d", opened, probes), ">= 1 opening")
	sc.Add("messages accepted before the outage", acceptedBefore, "reported")
	sc.Add("first accepted send after the outage ended", firstAfter.Sub(end).Round(10*time.Millisecond), fmt.Sprintf("reported (BREAKER_OPEN %v)", breakerOpen))
	sc.Add("messages read / with exactly one accepted send", fmt.Sprintf("%d / %d", messages, messages-wrong), fmt.Sprintf("= %d each", messages))
	sc.Add("dead letters / archived tasks", fmt.Sprintf("%d / %d", len(dls), len(arch)), "= 0")
	sc.Add("time from the outage's end to every message read", time.Since(end).Round(time.Second), "< 3 min")
	sc.Notes = append(sc.Notes, "The breaker's open state is shared through Redis, so a replica that saw no failure of its own stops too; "+
		"a request refused by an open breaker is handed back without using an attempt, which is why an outage of any length "+
		"dead-letters nothing.")
}
