package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/tasks"
)

const campaignAbout = `
Enqueues one template message per row of a file. Every row is validated;
a bad row is reported on stderr as FILE:LINE: reason and does not stop the
others. A row without a message id gets one derived from the campaign and
the destination, so running the same file again enqueues nothing twice and
a number listed twice in a campaign gets the message once (counted as a
duplicate).

CSV (--template-id required): a header row with the columns
  destination          recipient phone number, E.164
  param1..paramN       template parameters, in order; every row must fill all
  media_url            header media link, with --media-type (optional)
  message_id           your id of the message (optional)
in any order; any other column is an error.

JSONL: one message per line, an object with the fields of the task payload
(destination, template or session, fallback_template, message_id,
expires_at, ...); campaign_id, family, source, app and expires_at default
to the flags.

At the end a summary goes to stdout (one JSON line with --json).
Exit status: 0 all rows good, 1 some rows rejected, 2 usage error,
unusable file, or Redis unreachable.`

type campaignFlags struct {
	settings
	timing
	file       string
	format     string
	campaign   string
	templateID string
	mediaType  string
	language   string
	queue      string
	workers    int
	dryRun     bool
	json       bool
	progress   time.Duration
}

func runCampaign(ctx context.Context, c *cli, args []string) int {
	var f campaignFlags
	fs := flag.NewFlagSet("campaign", flag.ContinueOnError)
	f.settings.register(fs, true)
	f.timing.register(fs)
	fs.StringVar(&f.file, "file", "", "the campaign file, .csv or .jsonl (.ndjson); - reads stdin and needs --format")
	fs.StringVar(&f.format, "format", "", "csv or jsonl; default from the file name")
	fs.StringVar(&f.campaign, "campaign", "", "campaign id (required): groups the messages and seeds derived message ids")
	fs.StringVar(&f.templateID, "template-id", "", "template id (self-serve uuid or partner template name) of CSV rows")
	fs.StringVar(&f.mediaType, "media-type", "", "image, video or document: type of the media_url column of CSV rows")
	fs.StringVar(&f.language, "language", "", "template language code of CSV rows, like en or pt_BR; empty is the worker's default (en)")
	fs.StringVar(&f.queue, "queue", tasks.QueueBulk, "queue: critical, default or bulk")
	fs.IntVar(&f.workers, "workers", 32, "concurrent enqueue connections")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate every row and print the summary without connecting to Redis")
	fs.BoolVar(&f.json, "json", false, "print the summary as one JSON line")
	fs.DurationVar(&f.progress, "progress", 5*time.Second, "interval of progress log lines; 0 turns them off")
	if code, done := parseFlags(c, fs, "campaign --file F.csv|F.jsonl --campaign ID [--template-id T] [flags]", campaignAbout, args); done {
		return code
	}
	f.settings.fill(c.getenv)

	d, format, err := f.check()
	if err != nil {
		return usageError(c, "campaign", "%v", err)
	}
	// The expiry is fixed once for the run, so that every row of a
	// campaign expires at the same moment.
	opts, exp, err := f.timing.resolve(time.Now())
	if err != nil {
		return usageError(c, "campaign", "%v", err)
	}
	d.expiresAt = exp
	opts = append(opts, tasks.Queue(f.queue))
	var in io.Reader = c.stdin
	name := "stdin"
	if f.file != "-" {
		file, err := os.Open(f.file)
		if err != nil {
			return usageError(c, "campaign", "%v", err)
		}
		defer file.Close()
		in, name = file, f.file
	}
	var bar *progressBar
	if stderrIsTerminal(c.stderr) {
		// A bar on the terminal instead of the progress log lines.
		bar = newProgressBar(c, name, in)
		in = bar.reader(in)
		cc := *c
		cc.stderr = bar
		c, f.progress = &cc, 0
	}
	var rows rowReader
	if format == "csv" {
		cr, err := newCSVRows(in, d)
		if err != nil {
			fmt.Fprintf(c.stderr, "%s:%s\n", name, strings.TrimPrefix(err.Error(), "line "))
			return exitUsage
		}
		rows = cr
	} else {
		rows = newJSONLRows(in, d)
	}
	if bar != nil {
		rows = bar.rowsOf(rows)
	}

	log := newLogger(c, "campaign").With().Str("file", name).Str("campaign", f.campaign).Logger()
	var p *tasks.Producer
	var book *campaignBook
	if !f.dryRun {
		// One connection per worker, plus slack, so that no worker waits
		// for the pool.
		var bad bool
		p, bad, err = f.open(ctx, f.workers+2)
		if bad {
			return usageError(c, "campaign", "%v", err)
		}
		if err != nil {
			log.Error().Err(err).Msg("cannot reach Redis")
			return exitUsage
		}
		defer p.Close()
		if book, err = openBook(ctx, c, f.redisURL, f.campaign); err != nil {
			log.Error().Err(err).Msg("cannot reach Redis")
			return exitUsage
		}
		defer book.Close()
		if code, ok := book.open(ctx, c, log); !ok {
			return code
		}
	}
	if bar != nil {
		bar.run()
	}
	var queued *queuedCounter
	if book != nil {
		queued = book.countQueued(ctx, log)
	}
	sum := feed(ctx, c, log, name, rows, p, opts, f, queued)
	bar.finish()
	if _, lost := queued.close(ctx); lost > 0 {
		log.Warn().Int64("rows", lost).Msg("some enqueued rows are missing from the campaign's queued counter: Redis failed to count them")
	}
	sum.print(c.stdout, f.json)
	log.Info().Int64("read", sum.Read).Int64("enqueued", sum.Enqueued).Int64("duplicates", sum.Duplicates).
		Int64("rejected", sum.Rejected).Int64("failed", sum.Failed).Float64("seconds", sum.Seconds).Msg("done")
	switch {
	case sum.fatal != nil:
		return exitUsage
	case sum.Rejected > 0:
		return exitRejected
	}
	return exitOK
}

// check turns the flags into campaign defaults and the file format.
func (f *campaignFlags) check() (*defaults, string, error) {
	if f.file == "" {
		return nil, "", errors.New("--file is required")
	}
	if f.campaign == "" {
		return nil, "", errors.New("--campaign is required")
	}
	family, err := f.checkFamily()
	if err != nil {
		return nil, "", err
	}
	format := f.format
	if format == "" {
		switch strings.ToLower(filepath.Ext(f.file)) {
		case ".csv":
			format = "csv"
		case ".jsonl", ".ndjson":
			format = "jsonl"
		default:
			return nil, "", fmt.Errorf("cannot tell the format of %q from its name: give --format csv or --format jsonl", f.file)
		}
	}
	switch format {
	case "csv":
		if f.templateID == "" {
			return nil, "", errors.New("a CSV campaign needs --template-id")
		}
		if family == gupshup.Enterprise {
			return nil, "", errors.New("the enterprise family sends templates by their filled-in text, which a CSV row does not carry: use a JSONL file")
		}
		if err := f.checkSource(); err != nil {
			return nil, "", err
		}
		switch f.mediaType {
		case "", "image", "video", "document":
		default:
			return nil, "", fmt.Errorf("--media-type %q: want image, video or document", f.mediaType)
		}
	case "jsonl":
		if f.templateID != "" || f.mediaType != "" || f.language != "" {
			return nil, "", errors.New("--template-id, --media-type and --language apply to CSV files; a JSONL row carries its own template")
		}
	default:
		return nil, "", fmt.Errorf("--format %q: want csv or jsonl", format)
	}
	if f.workers < 1 {
		return nil, "", fmt.Errorf("--workers %d: want at least 1", f.workers)
	}
	// The flag values go into every row: check them once, on a message
	// that is otherwise valid, rather than reject every row for them.
	probe := probeSend()
	probe.CampaignID, probe.Family, probe.App = f.campaign, family, f.app
	if f.source != "" {
		probe.Source = f.source
	}
	if _, err := tasks.NewSendTask(probe, tasks.Queue(f.queue)); err != nil {
		return nil, "", flagError(err)
	}
	return &defaults{
		campaign:   f.campaign,
		family:     family,
		source:     f.source,
		app:        f.app,
		templateID: f.templateID,
		language:   f.language,
		mediaType:  f.mediaType,
	}, format, nil
}

// probeSend is a valid message for checking flag values alone.
func probeSend() *tasks.Send {
	exp := time.Now().Add(time.Hour)
	return &tasks.Send{V: tasks.PayloadVersion, MessageID: "probe", Family: gupshup.SelfServe,
		Source: "14155550100", Destination: "14155550101", Template: &tasks.Template{ID: "t", Text: "t"}, ExpiresAt: &exp}
}
