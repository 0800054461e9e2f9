package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/worker"
)

const statusAbout = `
Shows where a campaign stands: its state (running, paused, cancelled, with
the reason), what became of its messages (queued, submitted, delivered,
read, failed attempts by code, dead-lettered by code, expired, cancelled),
the sends of the last minute, and the time to finish at that rate. It also
lists the accounts the workers hold (Gupshup refusing every send of an
account: wallet low, bad credentials), which stall every campaign of that
account.

Counters count transitions, each once, however often a task is redelivered
or a callback repeated: a message retried after a failed callback is
submitted twice and counted failed once. queued is counted by the enqueuer
as it enqueues a file, about once a second.

waiting counts the campaign's messages due later: in asynq's retry sets
(a backoff after a failure, or handed back by a pause, a hold or the rate
limit) and scheduled sets (a resend after a failed callback, or a send
scheduled with --at), with the time the last of them is due. The time to
finish is never before that.

Exit status: 0 shown, 1 nothing was ever counted for the campaign, 2 usage
error or Redis unreachable.`

// statusView is what --json prints; scripts read it, so the names are
// stable.
type statusView struct {
	Campaign  string    `json:"campaign"`
	State     string    `json:"state"`
	Reason    string    `json:"reason,omitempty"`
	By        string    `json:"by,omitempty"`
	Since     time.Time `json:"since,omitzero"`
	Queued    int64     `json:"queued"`
	Submitted int64     `json:"submitted"`
	Delivered int64     `json:"delivered"`
	Read      int64     `json:"read"`
	// Failed counts failed attempts by code ("0": no Gupshup code, as for
	// a timeout or an HTTP error).
	Failed       map[string]int64 `json:"failed_by_code"`
	FailedAfter  int64            `json:"failed_after_submit"`
	DeadLettered int64            `json:"dead_lettered"`
	DeadByCode   map[string]int64 `json:"dead_lettered_by_code"`
	Expired      int64            `json:"expired"`
	Cancelled    int64            `json:"cancelled"`
	Rerun        int64            `json:"rerun"`
	Redriven     int64            `json:"redriven"`
	Remaining    int64            `json:"remaining"`
	// WaitingRetry and WaitingScheduled count the messages due later
	// (see worker.Waiting); WaitingLastDue is when the last is due.
	WaitingRetry     int64     `json:"waiting_retry"`
	WaitingScheduled int64     `json:"waiting_scheduled"`
	WaitingLastDue   time.Time `json:"waiting_last_due,omitzero"`
	// SendsLastMinute and RatePerSecond are the submits of the last 60 s.
	SendsLastMinute int64   `json:"sends_last_minute"`
	RatePerSecond   float64 `json:"rate_per_second"`
	// ETASeconds is remaining / rate, or the time until the last waiting
	// message is due when that is later; null when nothing is moving.
	ETASeconds   *float64            `json:"eta_seconds"`
	AccountHolds []store.AccountHold `json:"account_holds"`
}

func byCode(m map[int]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[strconv.Itoa(k)] = v
	}
	return out
}

func runStatus(ctx context.Context, c *cli, args []string) int {
	var o opsFlags
	fs := flag.NewFlagSet("status", flag.ContinueOnError)
	o.register(fs, "campaign id (required)")
	fs.BoolVar(&o.json, "json", false, "print the status as one JSON line")
	if code, done := parseFlags(c, fs, "status --campaign ID [--json]", statusAbout, args); done {
		return code
	}
	if o.campaign == "" {
		return usageError(c, "status", "--campaign is required")
	}
	rdb, code, ok := connect(ctx, c, "status", o.redisURL)
	if !ok {
		return code
	}
	defer rdb.Close()
	st := store.New(rdb)
	log := newLogger(c, "status")
	cs, err := st.CampaignStatus(ctx, o.campaign)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the campaign")
		return exitUsage
	}
	holds, err := st.AccountHolds(ctx)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the account holds")
		return exitUsage
	}
	waiting, err := worker.CampaignWaiting(ctx, asynq.NewInspectorFromRedisClient(rdb), o.campaign)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the campaign's waiting messages")
		return exitUsage
	}
	now := time.Now()
	v := statusView{
		Campaign: cs.ID, State: string(cs.Control.State), Reason: cs.Control.Reason, By: cs.Control.By, Since: cs.Control.Since,
		Queued: cs.Queued, Submitted: cs.Submitted, Delivered: cs.Delivered, Read: cs.Read,
		Failed: byCode(cs.Failed), FailedAfter: cs.FailedCallback, DeadLettered: cs.Dead, DeadByCode: byCode(cs.DeadByCode),
		Expired: cs.Expired, Cancelled: cs.Cancelled, Rerun: cs.Rerun, Redriven: cs.Redriven,
		Remaining: cs.Remaining(), SendsLastMinute: cs.SendsLastMinute,
		RatePerSecond:    math.Round(rate(cs)*10) / 10,
		WaitingRetry:     waiting.Retry,
		WaitingScheduled: waiting.Scheduled,
		WaitingLastDue:   waiting.LastDue,
		AccountHolds:     holds,
	}
	if v.AccountHolds == nil {
		v.AccountHolds = []store.AccountHold{}
	}
	v.ETASeconds = eta(v.Remaining, rate(cs), cs.Control.State, waiting.LastDue, now)
	if !cs.Exists {
		if o.json {
			printJSON(c, v)
		}
		fmt.Fprintf(c.stderr, "enqueuer status: nothing was ever counted for campaign %s\n", o.campaign)
		return exitRejected
	}
	if o.json {
		printJSON(c, v)
		return exitOK
	}
	printStatus(c.stdout, v, now)
	return exitOK
}

// eta is the time to finish in seconds: remaining at the current rate,
// but never before the last waiting message is due, since the campaign is
// not done until that one has gone. nil when it cannot be told: nothing
// sent in the last minute, or the campaign is not running.
func eta(remaining int64, perSecond float64, state store.CampaignState, lastDue, now time.Time) *float64 {
	if remaining == 0 {
		zero := 0.0
		return &zero
	}
	if perSecond <= 0 || state != store.CampaignRunning {
		return nil
	}
	secs := math.Round(float64(remaining) / perSecond)
	if wait := math.Ceil(lastDue.Sub(now).Seconds()); wait > secs {
		secs = wait
	}
	return &secs
}

// stateLine says who put the campaign in its state, when and why:
// "running", "running (resumed by ops at 2026-06-01 09:14:02)",
// "paused by ops at 2026-06-01 09:14:02: waiting for the go",
// "paused by the auto-pause at ...: 45 dead letters in ...".
func stateLine(v statusView) string {
	if v.Since.IsZero() {
		// Never steered: running since the first message.
		return v.State
	}
	who, reason := v.By, v.Reason
	switch {
	case who == "auto":
		who = "the auto-pause"
		reason = strings.TrimPrefix(reason, "auto-pause: ")
	case who == "", who == "enqueuer":
		who = "an operator"
	default:
		who = strings.TrimPrefix(who, "enqueuer:")
	}
	// Older enqueuers stored "by <who>" as the reason when none was given.
	if reason == "by "+v.By {
		reason = ""
	}
	at := v.Since.Local().Format(time.DateTime)
	if v.State == string(store.CampaignRunning) {
		line := "running (resumed by " + who + " at " + at
		if reason != "" {
			line += ": " + reason
		}
		return line + ")"
	}
	line := v.State + " by " + who + " at " + at
	if reason != "" {
		line += ": " + reason
	}
	return line
}

func printStatus(w io.Writer, v statusView, now time.Time) {
	fmt.Fprintf(w, "campaign %s: %s\n", v.Campaign, stateLine(v))
	width := len(strconv.FormatInt(max(v.Queued, v.Submitted, v.Remaining, 1), 10))
	row := func(name string, n int64, note string) {
		line := fmt.Sprintf("  %-14s %*d", name, width, n)
		if note != "" {
			line += "  " + note
		}
		fmt.Fprintln(w, line)
	}
	row("queued", v.Queued, "")
	row("submitted", v.Submitted, fmt.Sprintf("%d in the last minute, %.1f/s", v.SendsLastMinute, v.RatePerSecond))
	row("delivered", v.Delivered, "")
	row("read", v.Read, "")
	row("failed", sum(v.Failed), codes(v.Failed))
	row("dead-lettered", v.DeadLettered, codes(v.DeadByCode))
	row("expired", v.Expired, "")
	row("cancelled", v.Cancelled, "")
	if v.Rerun > 0 || v.Redriven > 0 {
		row("run again", v.Rerun, fmt.Sprintf("%d redriven", v.Redriven))
	}
	waiting := v.WaitingRetry + v.WaitingScheduled
	note := ""
	if waiting > 0 {
		note = fmt.Sprintf("due later: %d retrying or handed back, %d scheduled; the last due %s",
			v.WaitingRetry, v.WaitingScheduled, v.WaitingLastDue.Local().Format(time.DateTime))
	}
	row("waiting", waiting, note)
	row("remaining", v.Remaining, "")
	fmt.Fprintf(w, "  %-14s %s\n", "time to finish", finishText(v, now))
	for _, h := range v.AccountHolds {
		fmt.Fprintf(w, "account %s held since %s: code %d (%s), refusals from %ss; a probe send every interval; enqueuer resume --account %s releases it\n",
			h.Account, h.Since.Local().Format(time.DateTime), h.Code, h.Reason, h.Source, h.Account)
	}
}

// finishText is the time to finish for people.
func finishText(v statusView, now time.Time) string {
	last := ""
	// A pause's hand-backs wait for the resume, which wakes them: their
	// time says nothing of when a paused campaign ends.
	if v.WaitingLastDue.After(now) && v.State == string(store.CampaignRunning) {
		last = "the last waiting message is due " + v.WaitingLastDue.Local().Format(time.DateTime)
	}
	switch {
	case v.ETASeconds != nil && *v.ETASeconds == 0:
		return "done"
	case v.ETASeconds != nil:
		d := time.Duration(*v.ETASeconds) * time.Second
		if last != "" && now.Add(d).Sub(v.WaitingLastDue).Abs() <= time.Second {
			// The wait sets it, not the rate.
			return d.String() + " (" + last + ")"
		}
		return d.String()
	}
	text := "unknown: nothing sent in the last minute"
	if v.State != string(store.CampaignRunning) {
		text = "unknown: the campaign is " + v.State
	}
	if last != "" {
		text += "; not before " + v.WaitingLastDue.Local().Format(time.DateTime) + ", when the last waiting message is due"
	}
	return text
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// codes renders counts by code, largest first: "1002: 30, 1003: 12".
func codes(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		label := k
		if k == "0" {
			label = "no code"
		}
		parts = append(parts, fmt.Sprintf("%s: %d", label, m[k]))
	}
	return strings.Join(parts, ", ")
}

// rate is the campaign's submits per second over the span they came in:
// a campaign in its first minute is not divided by the whole minute.
func rate(cs store.CampaignStatus) float64 {
	if cs.RateSeconds <= 0 {
		return 0
	}
	return float64(cs.SendsLastMinute) / float64(cs.RateSeconds)
}
