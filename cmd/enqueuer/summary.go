package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// counts is what became of the rows of a campaign. Its JSON form is what
// --json prints; scripts read it, so the names are stable.
type counts struct {
	File       string  `json:"file"`
	Campaign   string  `json:"campaign"`
	DryRun     bool    `json:"dry_run"`
	Read       int64   `json:"read"`
	Valid      int64   `json:"valid"`
	Enqueued   int64   `json:"enqueued"`
	Duplicates int64   `json:"duplicates"`
	Rejected   int64   `json:"rejected"`
	Failed     int64   `json:"failed"`
	Seconds    float64 `json:"seconds"`
	Error      string  `json:"error,omitempty"`
}

// summary collects the counts of a run; rows are counted from the reader
// and from the enqueue workers at once.
type summary struct {
	mu sync.Mutex
	counts
	// fatal is why the run stopped early: Redis failed, the file could not
	// be read, or the run was interrupted.
	fatal error
}

// add changes the counters under the lock.
func (s *summary) add(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

func (s *summary) finish(start time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Seconds = math.Round(time.Since(start).Seconds()*1000) / 1000
	if !s.DryRun {
		s.Valid = s.Enqueued + s.Duplicates
	}
	if s.fatal != nil {
		s.Error = s.fatal.Error()
	}
}

func (s *summary) print(w io.Writer, asJSON bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if asJSON {
		b, _ := json.Marshal(s.counts)
		fmt.Fprintf(w, "%s\n", b)
		return
	}
	if s.DryRun {
		fmt.Fprintf(w, "dry run: read %d, valid %d, rejected %d in %.1fs; nothing was enqueued\n",
			s.Read, s.Valid, s.Rejected, s.Seconds)
	} else {
		fmt.Fprintf(w, "read %d, enqueued %d, duplicates skipped %d, rejected %d in %.1fs\n",
			s.Read, s.Enqueued, s.Duplicates, s.Rejected, s.Seconds)
	}
	if s.fatal != nil {
		fmt.Fprintf(w, "stopped early: %v; %d rows read were not enqueued\n", s.fatal, s.Failed)
	}
}

// progress logs the counters every interval until the returned stop is
// called, so that a long file shows it is moving and how fast.
func (s *summary) progress(log zerolog.Logger, every time.Duration, start time.Time) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				s.mu.Lock()
				read, enq, dup, rej := s.Read, s.Enqueued, s.Duplicates, s.Rejected
				s.mu.Unlock()
				elapsed := time.Since(start).Seconds()
				log.Info().Int64("read", read).Int64("enqueued", enq).Int64("duplicates", dup).
					Int64("rejected", rej).Float64("rows_per_second", math.Round(float64(read)/elapsed)).Msg("progress")
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
