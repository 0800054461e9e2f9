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

	"github.com/waqueue/waqueue/store"
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
when it finishes a file.

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
	// SendsLastMinute and RatePerSecond are the submits of the last 60 s.
	SendsLastMinute int64   `json:"sends_last_minute"`
	RatePerSecond   float64 `json:"rate_per_second"`
	// ETASeconds is remaining / rate; null when nothing is moving.
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
	v := statusView{
		Campaign: cs.ID, State: string(cs.Control.State), Reason: cs.Control.Reason, By: cs.Control.By, Since: cs.Control.Since,
		Queued: cs.Queued, Submitted: cs.Submitted, Delivered: cs.Delivered, Read: cs.Read,
		Failed: byCode(cs.Failed), FailedAfter: cs.FailedCallback, DeadLettered: cs.Dead, DeadByCode: byCode(cs.DeadByCode),
		Expired: cs.Expired, Cancelled: cs.Cancelled, Rerun: cs.Rerun, Redriven: cs.Redriven,
		Remaining: cs.Remaining(), SendsLastMinute: cs.SendsLastMinute,
		RatePerSecond: math.Round(rate(cs)*10) / 10,
		AccountHolds:  holds,
	}
	if v.AccountHolds == nil {
		v.AccountHolds = []store.AccountHold{}
	}
	switch {
	case v.Remaining == 0:
		zero := 0.0
		v.ETASeconds = &zero
	case cs.SendsLastMinute > 0 && cs.Control.State == store.CampaignRunning:
		eta := math.Round(float64(v.Remaining) / rate(cs))
		v.ETASeconds = &eta
	}
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
	printStatus(c.stdout, v)
	return exitOK
}

func printStatus(w io.Writer, v statusView) {
	state := v.State
	if v.Reason != "" {
		state += " (" + v.Reason + ")"
	}
	if !v.Since.IsZero() {
		state += " since " + v.Since.Local().Format(time.DateTime)
	}
	fmt.Fprintf(w, "campaign %s: %s\n", v.Campaign, state)
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
	row("remaining", v.Remaining, "")
	eta := "unknown: nothing sent in the last minute"
	switch {
	case v.ETASeconds != nil && *v.ETASeconds == 0:
		eta = "done"
	case v.ETASeconds != nil:
		eta = (time.Duration(*v.ETASeconds) * time.Second).String()
	case v.State != string(store.CampaignRunning):
		eta = "unknown: the campaign is " + v.State
	}
	fmt.Fprintf(w, "  %-14s %s\n", "time to finish", eta)
	for _, h := range v.AccountHolds {
		fmt.Fprintf(w, "account %s held since %s: code %d (%s), refusals from %ss; a probe send every interval; enqueuer resume --account %s releases it\n",
			h.Account, h.Since.Local().Format(time.DateTime), h.Code, h.Reason, h.Source, h.Account)
	}
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
