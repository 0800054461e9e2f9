package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

const redriveAbout = `
Sends a campaign's dead letters again, once the cause is fixed (the wallet
topped up, the template approved): every durable dead letter of the
campaign, or only those with --code, that was not redriven before.

A dead letter whose task is still in asynq's archive is run from there;
one the archive has trimmed is enqueued afresh from the payload kept with
the dead letter. Either way the worker treats it as a dead message run
again: a message Gupshup has accepted meanwhile is never sent twice. Each
dead letter is marked redriven first, so running the command twice sends
nothing twice; a message that dies again gets a new dead letter, which a
later redrive sends again. Dead letters past their expires_at are left
alone. A cancelled campaign is not redriven.

--dry-run counts what would be redriven, by code, and changes nothing.

Exit status: 0 done (or nothing to do), 1 some dead letters could not be
redriven or the campaign is cancelled, 2 usage error or Redis unreachable.`

// redriveCounts is what --json prints.
type redriveCounts struct {
	Campaign string `json:"campaign"`
	Code     *int   `json:"code,omitempty"`
	DryRun   bool   `json:"dry_run"`
	// Matching dead letters (by code), of which Eligible were to be sent.
	Matching int64            `json:"matching"`
	Eligible int64            `json:"eligible"`
	ByCode   map[string]int64 `json:"eligible_by_code"`
	// AlreadyRedriven and Expired were left alone.
	AlreadyRedriven int64 `json:"already_redriven"`
	Expired         int64 `json:"expired"`
	// FromArchive ran archived tasks; Enqueued built fresh ones; Queued
	// found a redrive task already waiting; Changed found the dead letter
	// changed since it was read (another redrive); Failed could not be
	// redriven and stay as they were.
	FromArchive int64  `json:"from_archive"`
	Enqueued    int64  `json:"enqueued"`
	Queued      int64  `json:"already_queued"`
	Changed     int64  `json:"changed"`
	Failed      int64  `json:"failed"`
	Error       string `json:"error,omitempty"`
}

// RedriveTaskID is the id of a task that redrive builds afresh for a dead
// letter of generation gen: apart from the send's own and the dead-letter
// carrier's, and one per dead message generation, so that two redrives
// racing on the same letter enqueue one task.
func redriveTaskID(messageID string, gen int) string {
	id := "redrive:" + messageID
	if gen > 0 {
		id += "{" + strconv.Itoa(gen) + "}"
	}
	return id
}

func runRedrive(ctx context.Context, c *cli, args []string) int {
	var o opsFlags
	var code int
	var dryRun bool
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	o.register(fs, "campaign id (required)")
	fs.IntVar(&code, "code", -1, "only dead letters with this Gupshup code (0: those without a code, such as HTTP errors); default all")
	fs.BoolVar(&dryRun, "dry-run", false, "count what would be redriven, change nothing")
	fs.BoolVar(&o.json, "json", false, "print the counts as one JSON line")
	if code, done := parseFlags(c, fs, "redrive --campaign ID [--code N] [--dry-run] [--json]", redriveAbout, args); done {
		return code
	}
	if o.campaign == "" {
		return usageError(c, "redrive", "--campaign is required")
	}
	if code < -1 {
		return usageError(c, "redrive", "--code %d: want a code of 0 or more", code)
	}
	rdb, ec, ok := connect(ctx, c, "redrive", o.redisURL)
	if !ok {
		return ec
	}
	defer rdb.Close()
	st := store.New(rdb)
	log := newLogger(c, "redrive").With().Str("campaign", o.campaign).Logger()

	r := redriveCounts{Campaign: o.campaign, DryRun: dryRun, ByCode: map[string]int64{}}
	if code >= 0 {
		r.Code = &code
	}
	ctl, err := st.CampaignControl(ctx, o.campaign)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the campaign")
		return exitUsage
	}
	if ctl.State == store.CampaignCancelled {
		r.Error = "the campaign is cancelled: its messages would be dropped"
		if o.json {
			printJSON(c, r)
		} else {
			fmt.Fprintf(c.stderr, "enqueuer redrive: campaign %s is cancelled: its redriven messages would be dropped\n", o.campaign)
		}
		return exitRejected
	}
	letters, err := st.DeadLetterEntries(ctx, o.campaign)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the dead letters")
		return exitUsage
	}
	now := time.Now()
	var todo []store.DeadLetterEntry
	for _, d := range letters {
		if code >= 0 && d.Code != code {
			continue
		}
		r.Matching++
		if !d.RedrivenAt.IsZero() {
			r.AlreadyRedriven++
			continue
		}
		s, err := tasks.DecodeSend(d.Payload)
		if err != nil {
			log.Warn().Err(err).Str("message_id", d.MessageID).Msg("dead letter with an unreadable payload: left alone")
			r.Failed++
			continue
		}
		if s.ExpiresAt != nil && !s.ExpiresAt.After(now) {
			r.Expired++
			continue
		}
		r.Eligible++
		r.ByCode[strconv.Itoa(d.Code)]++
		todo = append(todo, d)
	}
	if !dryRun && len(todo) > 0 {
		rd := &redriver{st: st, rdb: rdb, ins: asynq.NewInspectorFromRedisClient(rdb), client: asynq.NewClientFromRedisClient(rdb)}
		var rerun int64
		for _, d := range todo {
			if ctx.Err() != nil {
				r.Error = "interrupted"
				break
			}
			how, fresh, err := rd.redrive(ctx, d, now)
			switch {
			case err != nil:
				r.Failed++
				log.Error().Err(err).Str("message_id", d.MessageID).Msg("cannot redrive; the dead letter stays as it was")
			case how == redriveChanged:
				r.Changed++
			case how == redriveArchive:
				r.FromArchive++
			case how == redriveEnqueued:
				r.Enqueued++
			case how == redriveQueued:
				r.Queued++
			}
			if err == nil && how != redriveChanged && fresh {
				rerun++
			}
		}
		sent := r.FromArchive + r.Enqueued + r.Queued
		ts := []store.Tally{{Kind: store.TallyRedriven, N: sent}}
		if rerun > 0 {
			// The worker counts a dead message run again from its record;
			// these had none left (older than RECORD_TTL).
			ts = append(ts, store.Tally{Kind: store.TallyRerun, N: rerun})
		}
		if sent > 0 {
			if err := st.Tally(context.WithoutCancel(ctx), o.campaign, ts...); err != nil {
				log.Warn().Err(err).Msg("campaign counters not updated")
			}
		}
	}
	log.Info().Int64("eligible", r.Eligible).Int64("from_archive", r.FromArchive).Int64("enqueued", r.Enqueued).
		Int64("failed", r.Failed).Bool("dry_run", dryRun).Msg("redrive")
	if o.json {
		printJSON(c, r)
	} else {
		printRedrive(c, r, ctl)
	}
	if r.Failed > 0 || r.Error != "" {
		return exitRejected
	}
	return exitOK
}

func printRedrive(c *cli, r redriveCounts, ctl store.CampaignControl) {
	which := "dead letters"
	if r.Code != nil {
		which = fmt.Sprintf("dead letters with code %d", *r.Code)
	}
	if r.Eligible == 0 {
		printNothingToRedrive(c, r)
		return
	}
	fmt.Fprintf(c.stdout, "campaign %s: %d %s; %d to send again (%s)", r.Campaign, r.Matching, which, r.Eligible, codes(r.ByCode))
	if r.AlreadyRedriven > 0 || r.Expired > 0 {
		fmt.Fprintf(c.stdout, "; left alone: %d redriven before, %d past their expiry", r.AlreadyRedriven, r.Expired)
	}
	fmt.Fprintln(c.stdout)
	if r.DryRun {
		fmt.Fprintln(c.stdout, "dry run: nothing was sent")
		return
	}
	fmt.Fprintf(c.stdout, "redriven: %d run from the archive, %d enqueued afresh, %d already queued; %d changed meanwhile, %d failed\n",
		r.FromArchive, r.Enqueued, r.Queued, r.Changed, r.Failed)
	if ctl.State == store.CampaignPaused {
		fmt.Fprintf(c.stdout, "campaign %s is paused: the redriven messages wait for enqueuer resume --campaign %s\n", r.Campaign, r.Campaign)
	}
}

// printNothingToRedrive says why a redrive found nothing to send: no dead
// letter matched the filter, or every one that did was left alone.
func printNothingToRedrive(c *cli, r redriveCounts) {
	code := " (any code)"
	if r.Code != nil {
		code = fmt.Sprintf(" with code %d", *r.Code)
	}
	if r.Matching == 0 {
		fmt.Fprintf(c.stdout, "campaign %s: nothing to redrive: no dead letters%s\n", r.Campaign, code)
		return
	}
	var why []string
	if r.AlreadyRedriven > 0 {
		why = append(why, fmt.Sprintf("%d redriven before", r.AlreadyRedriven))
	}
	if r.Expired > 0 {
		why = append(why, fmt.Sprintf("%d past their expiry", r.Expired))
	}
	if r.Failed > 0 {
		why = append(why, fmt.Sprintf("%d with an unreadable payload", r.Failed))
	}
	noun := "dead letters"
	if r.Matching == 1 {
		noun = "dead letter"
	}
	fmt.Fprintf(c.stdout, "campaign %s: nothing to redrive: %d %s%s, all left alone: %s\n",
		r.Campaign, r.Matching, noun, code, strings.Join(why, ", "))
}

type redriveHow int

const (
	redriveChanged redriveHow = iota
	redriveArchive
	redriveEnqueued
	redriveQueued
)

type redriver struct {
	st     *store.Store
	rdb    redis.UniversalClient
	ins    *asynq.Inspector
	client *asynq.Client
}

// redrive marks one dead letter redriven, then runs its archived task or
// enqueues a fresh one; when that fails, the mark is taken back. norecord
// says the message's send record is gone, so the worker will not see a
// dead message run again.
func (rd *redriver) redrive(ctx context.Context, d store.DeadLetterEntry, now time.Time) (how redriveHow, norecord bool, err error) {
	marked, ok, err := rd.st.MarkRedriven(ctx, d, now)
	if err != nil {
		return 0, false, err
	}
	if !ok {
		return redriveChanged, false, nil
	}
	how, norecord, err = rd.send(ctx, d)
	if err != nil {
		if uerr := rd.st.UnmarkRedriven(context.WithoutCancel(ctx), marked); uerr != nil {
			err = fmt.Errorf("%w (and the redrive mark stays: %v)", err, uerr)
		}
	}
	return how, norecord, err
}

func (rd *redriver) send(ctx context.Context, d store.DeadLetterEntry) (redriveHow, bool, error) {
	s, err := tasks.DecodeSend(d.Payload)
	if err != nil {
		return 0, false, err
	}
	s.Generation = d.Generation
	q := d.Queue
	if q == "" {
		q = tasks.QueueDefault
	}
	n, err := rd.rdb.Exists(ctx, store.MessageKey(d.MessageID)).Result()
	if err != nil {
		return 0, false, err
	}
	norecord := n == 0
	// The archived task: the send's own (a synchronous dead letter), the
	// carrier of a callback's dead letter, or an earlier redrive's.
	for _, id := range []string{tasks.SendTaskID(s), tasks.DeadLetterTaskID(s), redriveTaskID(s.MessageID, s.Generation)} {
		info, err := rd.ins.GetTaskInfo(q, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		if info.State != asynq.TaskStateArchived {
			continue
		}
		if err := rd.ins.RunTask(q, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
			return 0, false, err
		}
		return redriveArchive, norecord, nil
	}
	// Trimmed from the archive: a fresh task of the same generation, which
	// the worker's claim takes for a dead message run again.
	t, err := tasks.NewDeadLetterTask(s, tasks.Queue(q))
	if err != nil {
		return 0, false, err
	}
	_, err = rd.client.EnqueueContext(ctx, t, asynq.TaskID(redriveTaskID(s.MessageID, s.Generation)))
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return redriveQueued, norecord, nil
	case err != nil:
		return 0, false, err
	}
	return redriveEnqueued, norecord, nil
}
