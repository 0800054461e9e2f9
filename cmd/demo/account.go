package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// account is what became of the campaign, read back from the send records,
// the dead-letter log, asynq's archive and the simulator's own record of
// what it was sent.
type account struct {
	campaign string
	redis    string
	rate     float64
	took     time.Duration
	outage   time.Duration

	messages  int
	states    map[store.State]int
	open      int
	accepted  int
	delivered int // delivered or read
	// generations adds up the resends of all messages: the sends the
	// simulator should have accepted beyond one per message.
	generations int

	retried int
	// resentBy counts the messages resent after a failed callback, by the
	// callback's code.
	resentBy map[int]int
	resent   int
	// refusedThenSent counts the messages whose send call was refused at
	// least once before one went through.
	refusedThenSent int
	rejections      []rejection

	deadBy      map[int]int // dead letters by code
	deadLetters int
	// uninjected counts dead letters of messages the faults meant to
	// deliver, or with another code: what an outage must never cause.
	uninjected    int
	injectedDead  map[int]int
	archived      int
	breakerOpened int64

	burst   int
	busiest int           // sends in the busiest sliding second
	span    time.Duration // from the first accepted send to the last

	duplicates   []string // messages accepted more often than they had generations
	wrongResends []string // messages resent a different number of times than their fault asks
	unrefused    []string // messages whose injected refusal the simulator never recorded
}

type rejection struct {
	status int
	reason string
	count  int
}

// collect reads the account back from Redis and the simulator.
func (d *demo) collect(ctx context.Context) (*account, error) {
	stats := d.sim.Stats()
	a := &account{
		campaign: d.campaign, messages: len(d.msgs), states: map[store.State]int{},
		accepted: stats.Accepted, busiest: stats.MaxSliding[source],
		resentBy: map[int]int{}, deadBy: map[int]int{}, injectedDead: map[int]int{},
	}
	a.span = stats.Last.Sub(stats.First)
	failedCodes := map[string][]int{}
	for _, s := range d.sim.Sends() {
		if s.FailCode != 0 {
			failedCodes[s.Destination] = append(failedCodes[s.Destination], s.FailCode)
		}
	}
	refusedDest := map[string]int{}
	byReason := map[rejection]int{}
	for _, r := range d.sim.Rejections() {
		if r.Destination != "" {
			refusedDest[r.Destination]++
		}
		byReason[rejection{status: r.HTTPStatus, reason: r.Reason}]++
	}
	for k, n := range byReason {
		k.count = n
		a.rejections = append(a.rejections, k)
	}
	slices.SortFunc(a.rejections, func(x, y rejection) int {
		if x.status != y.status {
			return x.status - y.status
		}
		return y.count - x.count
	})

	for _, m := range d.msgs {
		if m.expect.deadCode != 0 {
			a.injectedDead[m.expect.deadCode]++
		}
		rec, ok, err := d.store.Get(ctx, m.send.MessageID)
		if err != nil {
			return nil, err
		}
		if !ok {
			a.open++
			continue
		}
		a.states[rec.State]++
		switch rec.State {
		case store.StateDelivered, store.StateRead:
			a.delivered++
		case store.StateDead, store.StateExpired:
		default:
			a.open++
		}
		a.generations += rec.Generation
		dest, id := m.send.Destination, m.send.MessageID
		accepted, refused := stats.PerDestination[dest], refusedDest[dest]
		if rec.Generation > 0 || accepted > 1 || refused > 0 {
			a.retried++
		}
		if rec.Generation > 0 && rec.State != store.StateDead {
			a.resent++
			for _, c := range failedCodes[dest] {
				a.resentBy[c]++
			}
		}
		if refused > 0 && accepted > 0 {
			a.refusedThenSent++
		}
		// Every generation is submitted once; more accepted sends than
		// generations is a message someone got twice.
		if accepted > rec.Generation+1 {
			a.duplicates = append(a.duplicates, id)
		}
		if rec.Generation != m.expect.resends {
			a.wrongResends = append(a.wrongResends, fmt.Sprintf("%s (generation %d, want %d)", id, rec.Generation, m.expect.resends))
		}
		if refused < m.expect.refusals {
			a.unrefused = append(a.unrefused, id)
		}
	}

	dls, err := d.store.DeadLetters(ctx, d.campaign)
	if err != nil {
		return nil, err
	}
	want := map[string]int{}
	for _, m := range d.msgs {
		want[m.send.MessageID] = m.expect.deadCode
	}
	a.deadLetters = len(dls)
	for _, dl := range dls {
		a.deadBy[dl.Code]++
		if want[dl.MessageID] != dl.Code {
			a.uninjected++
		}
	}
	if a.archived, err = archived(d.rdb, d.campaign); err != nil {
		return nil, err
	}
	return a, nil
}

// archived counts the campaign's tasks in asynq's archive of the bulk
// queue, where operators see and rerun dead letters.
func archived(rdb redis.UniversalClient, campaignID string) (int, error) {
	insp := asynq.NewInspectorFromRedisClient(rdb)
	n := 0
	for page := 1; ; page++ {
		list, err := insp.ListArchivedTasks(tasks.QueueBulk, asynq.Page(page), asynq.PageSize(1000))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return 0, nil
		}
		if err != nil {
			return n, err
		}
		for _, t := range list {
			if s, err := tasks.DecodeSend(t.Payload); err == nil && s.CampaignID == campaignID {
				n++
			}
		}
		if len(list) < 1000 {
			return n, nil
		}
	}
}

// problems lists every way the campaign differs from what the faults
// asked for.
func (a *account) problems() []string {
	var p []string
	if a.open > 0 {
		p = append(p, fmt.Sprintf("%d messages not final", a.open))
	}
	if dead := a.states[store.StateDead]; a.delivered+dead != a.messages {
		p = append(p, fmt.Sprintf("delivered %d + dead %d != %d messages", a.delivered, dead, a.messages))
	}
	if !maps.Equal(a.deadBy, a.injectedDead) {
		p = append(p, fmt.Sprintf("dead letters by code %v, injected %v", a.deadBy, a.injectedDead))
	}
	if a.uninjected > 0 {
		p = append(p, fmt.Sprintf("%d dead letters the faults did not ask for", a.uninjected))
	}
	if dead := a.states[store.StateDead]; a.deadLetters != dead || a.archived != dead {
		p = append(p, fmt.Sprintf("%d dead messages, %d dead letters, %d archived tasks", dead, a.deadLetters, a.archived))
	}
	if len(a.duplicates) > 0 {
		p = append(p, fmt.Sprintf("%d messages submitted twice, first %s", len(a.duplicates), a.duplicates[0]))
	}
	if len(a.wrongResends) > 0 {
		p = append(p, fmt.Sprintf("%d messages resent other than their fault asks, first %s", len(a.wrongResends), a.wrongResends[0]))
	}
	if len(a.unrefused) > 0 {
		p = append(p, fmt.Sprintf("%d injected refusals not seen, first %s", len(a.unrefused), a.unrefused[0]))
	}
	return p
}

func (a *account) print(w io.Writer) {
	dead := a.states[store.StateDead]
	fmt.Fprintf(w, "\nwaqueue demo · campaign %s\n", a.campaign)
	fmt.Fprintf(w, "Redis %s · SEND_RATE %g/s · %d messages · %.1f s\n\n", a.redis, a.rate, a.messages, a.took.Seconds())
	row := func(label string, n int, note string) {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-32s %6d  %s", label, n, note), " "))
	}
	sub := func(key any, what string, n int) { fmt.Fprintf(w, "    %8v  %-44s %6d\n", key, what, n) }

	row("messages", a.messages, "")
	row("submitted to Gupshup", a.accepted, "sends the simulator accepted, resends included")
	row("delivered", a.delivered, fmt.Sprintf("%d of them read", a.states[store.StateRead]))
	row("dead-lettered", dead, "")
	if a.open > 0 {
		row("NOT FINAL", a.open, fmt.Sprint(a.states))
	}
	row("retried", a.retried, "messages that needed more than one try")
	row("  resent after a failed callback", a.resent, "")
	for _, c := range slices.Sorted(maps.Keys(a.resentBy)) {
		what := retry.Describe(c)
		if retry.ClassifyCode(c, "").ClosedWindow {
			what = "window closed: resent as fallback template"
		}
		sub(c, what, a.resentBy[c])
	}
	row("  send call refused, then sent", a.refusedThenSent, "HTTP 500 or 429 for that number")

	fmt.Fprintf(w, "\ndead letters: %d in the dead-letter log, %d in asynq's archive (queue %s)\n", a.deadLetters, a.archived, tasks.QueueBulk)
	fmt.Fprintf(w, "    %8s  %-44s %6s %9s\n", "code", "meaning", "count", "injected")
	codes := slices.Sorted(maps.Keys(a.deadBy))
	for c := range a.injectedDead {
		if !slices.Contains(codes, c) {
			codes = append(codes, c)
		}
	}
	slices.Sort(codes)
	for _, c := range codes {
		fmt.Fprintf(w, "    %8d  %-44s %6d %9d\n", c, retry.Describe(c), a.deadBy[c], a.injectedDead[c])
	}

	fmt.Fprintf(w, "\nsend calls Gupshup refused (each retried, or throttled without using an attempt)\n")
	if len(a.rejections) == 0 {
		fmt.Fprintf(w, "    none\n")
	}
	for _, r := range a.rejections {
		sub(fmt.Sprintf("HTTP %d", r.status), r.reason, r.count)
	}
	fmt.Fprintf(w, "the %s outage opened the circuit breaker %s; dead letters not injected: %d\n",
		a.outage, times(a.breakerOpened), a.uninjected)

	fmt.Fprintf(w, "\nsend rate: busiest second at Gupshup %d sends (SEND_RATE %g/s, burst %d); %d sends in %.1f s, first to last\n",
		a.busiest, a.rate, a.burst, a.accepted, a.span.Seconds())
	switch {
	case len(a.duplicates) > 0:
		fmt.Fprintf(w, "%d MESSAGES WERE SUBMITTED MORE OFTEN THAN THEY WERE RESENT, first %s\n", len(a.duplicates), a.duplicates[0])
	case a.accepted == a.messages+a.generations:
		fmt.Fprintf(w, "no message was submitted twice: each number got 1 send + 1 per resend its failed callbacks asked for (%d = %d + %d)\n",
			a.accepted, a.messages, a.generations)
	default:
		fmt.Fprintf(w, "no message was submitted twice so far (%d sends accepted for %d messages and %d resends)\n",
			a.accepted, a.messages, a.generations)
	}
}

func times(n int64) string {
	if n == 1 {
		return "once"
	}
	return fmt.Sprintf("%d times", n)
}
