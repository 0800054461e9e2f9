package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/tasks"
)

const sendAbout = `
Enqueues one message and prints its task id, or "duplicate" when the
message id is already queued or was already handled (status 0 in both
cases: enqueueing again is harmless). Give exactly one of --text, --image
or --template-id. Without --message-id a random one is used, so running
the command twice sends twice.

Exit status: 0 enqueued or duplicate, 1 message rejected, 2 usage error or
Redis unreachable.`

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type sendFlags struct {
	settings
	timing
	to         string
	text       string
	image      string
	caption    string
	templateID string
	params     stringList
	language   string
	mediaType  string
	mediaURL   string
	queue      string
	messageID  string
	campaign   string
}

func runSend(ctx context.Context, c *cli, args []string) int {
	var f sendFlags
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	f.settings.register(fs, true)
	f.timing.register(fs)
	fs.StringVar(&f.to, "to", "", "recipient phone number, E.164 (required)")
	fs.StringVar(&f.text, "text", "", "send this text as a session message")
	fs.StringVar(&f.image, "image", "", "send the image at this http(s) URL as a session message")
	fs.StringVar(&f.caption, "caption", "", "caption of --image")
	fs.StringVar(&f.templateID, "template-id", "", "send this template (self-serve uuid or partner template name)")
	fs.Var(&f.params, "param", "template parameter; repeat in order: --param Asha --param 42")
	fs.StringVar(&f.language, "language", "", "template language code, like en or pt_BR; empty is the worker's default (en)")
	fs.StringVar(&f.mediaType, "media-type", "", "image, video or document: header media of the template, with --media-url")
	fs.StringVar(&f.mediaURL, "media-url", "", "header media link of the template, with --media-type")
	fs.StringVar(&f.queue, "queue", tasks.QueueCritical, "queue: critical, default or bulk")
	fs.StringVar(&f.messageID, "message-id", "", "your id of the message, the idempotency key; default a random one")
	fs.StringVar(&f.campaign, "campaign", "", "campaign id to count the message under (optional)")
	if code, done := parseFlags(c, fs, "send --to PHONE (--text T | --image URL [--caption C] | --template-id T [--param P]...) [flags]", sendAbout, args); done {
		return code
	}
	f.settings.fill(c.getenv)
	s, err := f.build()
	if err != nil {
		return usageError(c, "send", "%v", err)
	}
	opts, exp, err := f.timing.resolve(time.Now())
	if err != nil {
		return usageError(c, "send", "%v", err)
	}
	s.ExpiresAt = &exp
	opts = append(opts, tasks.Queue(f.queue))
	if _, err := tasks.NewSendTask(s, opts...); err != nil {
		if isFlagError(err) {
			return usageError(c, "send", "%v", flagError(err))
		}
		return rejected(c, "send", err)
	}

	log := newLogger(c, "send")
	p, bad, err := f.open(ctx, 2)
	if bad {
		return usageError(c, "send", "%v", err)
	}
	if err != nil {
		log.Error().Err(err).Msg("cannot reach Redis")
		return exitUsage
	}
	defer p.Close()
	r, err := p.Enqueue(ctx, s, opts...)
	if err != nil {
		if tasks.IsValidation(err) {
			return rejected(c, "send", err)
		}
		log.Error().Err(err).Msg("cannot enqueue")
		return exitUsage
	}
	report(c, log, r)
	return exitOK
}

// build turns the flags into a message; its errors are usage errors.
func (f *sendFlags) build() (*tasks.Send, error) {
	if f.to == "" {
		return nil, errors.New("--to is required")
	}
	family, err := f.checkFamily()
	if err != nil {
		return nil, err
	}
	if err := f.checkSource(); err != nil {
		return nil, err
	}
	kinds := 0
	for _, set := range []bool{f.text != "", f.image != "", f.templateID != ""} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return nil, errors.New("give exactly one of --text, --image and --template-id")
	}
	if f.caption != "" && f.image == "" {
		return nil, errors.New("--caption goes with --image")
	}
	if f.templateID == "" && (len(f.params) > 0 || f.language != "" || f.mediaType != "" || f.mediaURL != "") {
		return nil, errors.New("--param, --language, --media-type and --media-url go with --template-id")
	}
	if (f.mediaType == "") != (f.mediaURL == "") {
		return nil, errors.New("--media-type and --media-url go together")
	}
	id := f.messageID
	if id == "" {
		id = uuid.NewString()
	}
	s := &tasks.Send{
		V:           tasks.PayloadVersion,
		CampaignID:  f.campaign,
		MessageID:   id,
		Family:      family,
		Source:      f.source,
		App:         f.app,
		Destination: f.to,
	}
	switch {
	case f.text != "":
		s.Session, err = tasks.TextSession(family, f.text)
	case f.image != "":
		s.Session, err = tasks.ImageSession(family, f.image, f.caption)
	default:
		t := &tasks.Template{ID: f.templateID, Language: f.language, Params: f.params}
		if family == gupshup.Enterprise {
			return nil, errors.New("the enterprise family sends templates by their filled-in text: use a JSONL campaign file")
		}
		if f.mediaURL != "" {
			t.Media = &tasks.Media{Type: f.mediaType, Link: f.mediaURL}
		}
		s.Template = t
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// rejected reports a message the payload rules refuse.
func rejected(c *cli, cmd string, err error) int {
	fmt.Fprintf(c.stderr, "enqueuer %s: rejected: %v\n", cmd, err)
	return exitRejected
}
