package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/rs/zerolog"
	"github.com/waqueue/waqueue/tasks"
)

const consentAbout = `
Enqueues an %[1]s of a phone number with the sender's app and prints the
task id, or "duplicate" when the same %[1]s is already waiting today.

Exit status: 0 enqueued or duplicate, 1 rejected, 2 usage error or Redis
unreachable.`

func runConsent(ctx context.Context, c *cli, kind string, args []string) int {
	typ, what := tasks.TypeOptIn, "opt-in"
	if kind == "optout" {
		typ, what = tasks.TypeOptOut, "opt-out"
	}
	var st settings
	var phone, queue string
	fs := flag.NewFlagSet(kind, flag.ContinueOnError)
	st.register(fs, false)
	fs.StringVar(&phone, "phone", "", "the user's phone number, E.164 (required)")
	fs.StringVar(&queue, "queue", tasks.QueueDefault, "queue: critical, default or bulk")
	if code, done := parseFlags(c, fs, kind+" --phone P [flags]", fmt.Sprintf(consentAbout, what), args); done {
		return code
	}
	st.fill(c.getenv)
	if phone == "" {
		return usageError(c, kind, "--phone is required")
	}
	family, err := st.checkFamily()
	if err != nil {
		return usageError(c, kind, "%v", err)
	}
	consent := &tasks.Consent{V: tasks.PayloadVersion, Family: family, App: st.app, Phone: phone}
	opts := []tasks.Option{tasks.Queue(queue)}
	if _, err := tasks.NewConsentTask(typ, consent, opts...); err != nil {
		if isFlagError(err) {
			return usageError(c, kind, "%v", flagError(err))
		}
		return rejected(c, kind, err)
	}
	log := newLogger(c, kind)
	p, bad, err := st.open(ctx, 2)
	if bad {
		return usageError(c, kind, "%v", err)
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot reach Redis")
		return exitUsage
	}
	defer p.Close()
	r, err := p.EnqueueConsent(ctx, typ, consent, opts...)
	if err != nil {
		log.Error().Err(err).Msg("cannot enqueue")
		return exitUsage
	}
	report(c, log, r)
	return exitOK
}

// report prints what a one-message command did: the task id, or
// "duplicate" (scripts test for that word).
func report(c *cli, log zerolog.Logger, r tasks.Result) {
	if r.Duplicate() {
		fmt.Fprintln(c.stdout, "duplicate")
		log.Info().Str("task_id", r.TaskID).Str("queue", r.Queue).Str("outcome", r.Outcome.String()).Msg("not enqueued again")
		return
	}
	fmt.Fprintln(c.stdout, r.TaskID)
	log.Info().Str("task_id", r.TaskID).Str("queue", r.Queue).Msg("enqueued")
}
