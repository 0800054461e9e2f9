package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/rs/zerolog"
	"github.com/waqueue/waqueue/tasks"
)

// feed streams the rows into the producer and counts what became of each;
// queued (nil in a dry run) learns of every row enqueued, as it is.
func feed(ctx context.Context, c *cli, log zerolog.Logger, name string, rows rowReader, p *tasks.Producer, opts []tasks.Option, f campaignFlags, queued *queuedCounter) *summary {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	sum := &summary{counts: counts{File: name, Campaign: f.campaign, DryRun: f.dryRun}}

	reject := func(line int, err error) {
		sum.add(func() { sum.Rejected++ })
		fmt.Fprintf(c.stderr, "%s:%d: %v\n", name, line, err)
	}
	stopProgress := sum.progress(log, f.progress, start)
	defer stopProgress()

	items := make(chan tasks.Item, 4*f.workers)
	readErr := make(chan error, 1)
	go func() {
		defer close(items)
		for ctx.Err() == nil {
			r, err := rows.Next()
			if err == io.EOF {
				readErr <- nil
				return
			}
			if err != nil {
				readErr <- err
				return
			}
			sum.add(func() { sum.Read++ })
			if r.err != nil {
				reject(r.line, r.err)
				continue
			}
			if p == nil {
				if _, err := tasks.NewSendTask(r.send, opts...); err != nil {
					reject(r.line, err)
				} else {
					sum.add(func() { sum.Valid++ })
				}
				continue
			}
			select {
			case items <- tasks.Item{Send: r.send, Opts: opts, Ref: r.line}:
			case <-ctx.Done():
				sum.add(func() { sum.Failed++ })
			}
		}
		readErr <- nil
	}()

	if p == nil {
		for range items {
		}
	} else {
		p.EnqueueAll(ctx, items, f.workers, func(it tasks.Item, r tasks.Result, err error) {
			switch {
			case err == nil && r.Duplicate():
				sum.add(func() { sum.Duplicates++ })
			case err == nil:
				sum.add(func() { sum.Enqueued++ })
				queued.add(1)
			case tasks.IsValidation(err):
				reject(it.Ref.(int), err)
			default:
				sum.add(func() {
					sum.Failed++
					if sum.fatal == nil && !errors.Is(err, context.Canceled) {
						sum.fatal = err
						log.Error().Err(err).Int("line", it.Ref.(int)).Msg("cannot enqueue; stopping")
						cancel()
					}
				})
			}
		})
	}
	if err := <-readErr; err != nil {
		log.Error().Err(err).Msg("cannot read the file")
		sum.add(func() {
			if sum.fatal == nil {
				sum.fatal = err
			}
		})
	}
	if ctx.Err() != nil {
		sum.add(func() {
			if sum.fatal == nil {
				sum.fatal = errors.New("interrupted")
				log.Warn().Msg("interrupted; the summary counts the rows read so far")
			}
		})
	}
	sum.finish(start)
	return sum
}
