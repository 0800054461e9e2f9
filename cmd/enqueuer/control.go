package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/worker"
)

// Operator commands on a running campaign: pause, resume, cancel (this
// file), status (status.go) and redrive (redrive.go). They talk to Redis
// only; the workers see a change within a second.

const pauseAbout = `
Pauses a campaign: every worker hands its messages back to the queue
without sending them and without using an attempt, until resume. A send
already in flight finishes. The workers see the pause within a second.

Exit status: 0 paused (or paused already), 1 the campaign is cancelled,
2 usage error or Redis unreachable.`

const resumeAbout = `
Resumes a paused campaign (paused by an operator or by the worker's
auto-pause), and wakes the messages the workers handed back, so they go at
once rather than when their wait ends. The auto-pause then judges only what
happens after the resume.

With --account FAMILY/APP instead, releases an account the workers hold
because Gupshup refused its sends as a whole (wallet low, bad credentials),
without waiting for a probe send to succeed, and wakes the sends the
workers handed back while it was held.

Exit status: 0 resumed (or running already), 1 the campaign is cancelled
(cancel is final), 2 usage error or Redis unreachable.`

const cancelAbout = `
Cancels a campaign for good: every message not sent yet is dropped when a
worker takes it (recorded as cancelled, counted, never sent); messages
already accepted by Gupshup are not recalled. The campaign's messages that
wait in asynq's scheduled and retry sets (resends waiting out a backoff,
messages handed back by a pause or a hold, a campaign scheduled for later)
are woken so that they are dropped now, not when each is due. Cancel is
final: to send the campaign's messages after all, enqueue them under a new
campaign id.

Exit status: 0 cancelled (or cancelled already), 2 usage error or Redis
unreachable.`

// opsFlags are the flags of the operator commands.
type opsFlags struct {
	redisURL string
	campaign string
	json     bool
}

func (o *opsFlags) register(fs *flag.FlagSet, campaignHelp string) {
	fs.StringVar(&o.redisURL, "redis-url", "", "Redis URL, redis://[user:password@]host:port[/db] or rediss:// for TLS (default $"+envRedisURL+")")
	fs.StringVar(&o.campaign, "campaign", "", campaignHelp)
}

// openRedis connects to Redis. A setting that cannot work is a usage error
// (bad is true); otherwise Redis did not answer. Errors never contain the
// URL, which may hold a password.
func openRedis(ctx context.Context, c *cli, url string) (rdb redis.UniversalClient, bad bool, err error) {
	if url == "" {
		url = c.getenv(envRedisURL)
	}
	if url == "" {
		return nil, true, errors.New("--redis-url (or $" + envRedisURL + ") is required")
	}
	opt, err := redisconn.Parse(url)
	if err != nil {
		return nil, true, err
	}
	rdb = redisconn.Client(opt)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := rdb.Ping(pctx).Err(); err != nil {
		rdb.Close()
		return nil, false, fmt.Errorf("redis: %w", err)
	}
	return rdb, false, nil
}

// connect opens Redis for an operator command, reporting failures the way
// the other commands do; ok false means return code.
func connect(ctx context.Context, c *cli, cmd, url string) (rdb redis.UniversalClient, code int, ok bool) {
	rdb, bad, err := openRedis(ctx, c, url)
	if bad {
		return nil, usageError(c, cmd, "%v", err), false
	}
	if err != nil {
		log := newLogger(c, cmd)
		log.Error().Err(err).Msg("cannot reach Redis")
		return nil, exitUsage, false
	}
	return rdb, 0, true
}

// operator names who changed a campaign's state, for status and logs.
func operator(c *cli) string {
	if u := c.getenv("USER"); u != "" {
		return "enqueuer:" + u
	}
	return "enqueuer"
}

func runPause(ctx context.Context, c *cli, args []string) int {
	return runControl(ctx, c, "pause", store.CampaignPaused, pauseAbout, args)
}

func runResume(ctx context.Context, c *cli, args []string) int {
	return runControl(ctx, c, "resume", store.CampaignRunning, resumeAbout, args)
}

func runCancel(ctx context.Context, c *cli, args []string) int {
	return runControl(ctx, c, "cancel", store.CampaignCancelled, cancelAbout, args)
}

// controlResult is what --json prints.
type controlResult struct {
	Campaign string `json:"campaign,omitempty"`
	Account  string `json:"account,omitempty"`
	State    string `json:"state"`
	Before   string `json:"before,omitempty"`
	Changed  bool   `json:"changed"`
	Woken    int    `json:"woken"`
	Error    string `json:"error,omitempty"`
}

func runControl(ctx context.Context, c *cli, cmd string, to store.CampaignState, about string, args []string) int {
	var o opsFlags
	var reason, account string
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	o.register(fs, "campaign id (required)")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON line")
	synopsis := cmd + " --campaign ID [flags]"
	if to != store.CampaignRunning {
		fs.StringVar(&reason, "reason", "", "why, shown by status")
	} else {
		fs.StringVar(&account, "account", "", "release this held account (FAMILY/APP, as status shows it) instead of resuming a campaign")
		synopsis = "resume (--campaign ID | --account FAMILY/APP) [flags]"
	}
	if code, done := parseFlags(c, fs, synopsis, about, args); done {
		return code
	}
	if (o.campaign == "") == (account == "") {
		if to == store.CampaignRunning {
			return usageError(c, cmd, "give one of --campaign and --account")
		}
		return usageError(c, cmd, "--campaign is required")
	}
	rdb, code, ok := connect(ctx, c, cmd, o.redisURL)
	if !ok {
		return code
	}
	defer rdb.Close()
	st := store.New(rdb)
	log := newLogger(c, cmd)

	if account != "" {
		released, err := st.ReleaseAccount(ctx, account, "", "")
		if err != nil {
			log.Error().Err(err).Msg("cannot release the account")
			return exitUsage
		}
		r := controlResult{Account: account, State: "released", Changed: released}
		// Woken even when the hold was gone already: a worker's probe may
		// have released it a moment ago, with its wake still to come.
		r.Woken, err = worker.WakeHeld(ctx, asynq.NewInspectorFromRedisClient(rdb), account)
		if err != nil {
			log.Warn().Err(err).Int("woken", r.Woken).Msg("could not wake every handed-back send; the rest return when their wait ends (5 min at most)")
		}
		log.Info().Str("account", account).Bool("changed", released).Int("woken", r.Woken).Msg(cmd)
		switch {
		case o.json:
			printJSON(c, r)
		case released:
			fmt.Fprintf(c.stdout, "account %s released: its sends go again; %d handed-back sends woken\n", account, r.Woken)
		default:
			fmt.Fprintf(c.stdout, "account %s was not held; %d handed-back sends woken\n", account, r.Woken)
		}
		return exitOK
	}

	changed, before, err := st.SetCampaignState(ctx, o.campaign, to, reason, operator(c))
	if err != nil {
		log.Error().Err(err).Msg("cannot change the campaign")
		return exitUsage
	}
	r := controlResult{Campaign: o.campaign, State: string(to), Before: string(before), Changed: changed}
	if before == store.CampaignCancelled && to != store.CampaignCancelled {
		r.State, r.Error = string(before), "the campaign is cancelled, and cancel is final"
		if o.json {
			printJSON(c, r)
		} else {
			fmt.Fprintf(c.stderr, "enqueuer %s: campaign %s is cancelled, and cancel is final: enqueue its messages under a new campaign id\n", cmd, o.campaign)
		}
		return exitRejected
	}
	if to != store.CampaignPaused {
		// The waiting messages are due only when their wait ends: run them
		// now. Resume wakes what the pause handed back; cancel everything
		// that waits, so that the workers drop it. Again when the state was
		// set already: a second run is how an operator asks for it.
		ins := asynq.NewInspectorFromRedisClient(rdb)
		wake := worker.WakePaused
		if to == store.CampaignCancelled {
			wake = worker.WakeCampaign
		}
		r.Woken, err = wake(ctx, ins, o.campaign)
		if err != nil {
			log.Warn().Err(err).Int("woken", r.Woken).Msg("could not wake every waiting message; the rest come back when they are due")
		}
	}
	log.Info().Str("campaign", o.campaign).Str("from", string(before)).Str("to", string(to)).Bool("changed", changed).Int("woken", r.Woken).Msg(cmd)
	if o.json {
		printJSON(c, r)
		return exitOK
	}
	switch {
	case !changed && r.Woken > 0:
		fmt.Fprintf(c.stdout, "campaign %s is %s already; %d waiting messages woken\n", o.campaign, to, r.Woken)
	case !changed:
		fmt.Fprintf(c.stdout, "campaign %s is %s already\n", o.campaign, to)
	case to == store.CampaignPaused:
		fmt.Fprintf(c.stdout, "campaign %s paused (was %s): the workers hand its messages back unsent until resume\n", o.campaign, before)
	case to == store.CampaignRunning:
		fmt.Fprintf(c.stdout, "campaign %s resumed; %d handed-back messages woken\n", o.campaign, r.Woken)
	default:
		fmt.Fprintf(c.stdout, "campaign %s cancelled (was %s): its unsent messages are dropped as the workers take them; %d waiting messages woken to be dropped now\n",
			o.campaign, before, r.Woken)
	}
	return exitOK
}

func printJSON(c *cli, v any) {
	b, _ := json.Marshal(v)
	fmt.Fprintf(c.stdout, "%s\n", b)
}
