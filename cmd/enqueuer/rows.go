package main

import (
	"bufio"
	"bytes"
	"io"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/tasks"
)

// row is one message read from a campaign file. Either send or err is set:
// err is a problem with this row alone, reported with its line number,
// which does not stop the rows after it.
type row struct {
	line int
	send *tasks.Send
	err  error
}

// rowReader yields the rows of a file one by one, so that a file of any size
// is read in constant memory. Next returns io.EOF at the end, and any other
// error when the file cannot be read further.
type rowReader interface {
	Next() (row, error)
}

// defaults are the campaign-wide values a row may leave out.
type defaults struct {
	campaign  string
	family    gupshup.Family
	source    string
	app       string
	expiresAt time.Time
	// Template of CSV rows.
	templateID string
	language   string
	mediaType  string
}

// finish fills in what a row left out, normalizes and validates it. A
// missing message id is derived from the campaign and the destination.
func (d *defaults) finish(s *tasks.Send) (*tasks.Send, error) {
	if s.Generation != 0 {
		return nil, &tasks.ValidationError{Field: "gen", Problem: "set by the worker for its resends; leave it out"}
	}
	if s.V == 0 {
		s.V = tasks.PayloadVersion
	}
	if s.CampaignID == "" {
		s.CampaignID = d.campaign
	}
	if s.Family == "" {
		s.Family = d.family
	}
	if s.Source == "" {
		s.Source = d.source
	}
	if s.App == "" {
		s.App = d.app
	}
	if s.ExpiresAt == nil {
		exp := d.expiresAt
		s.ExpiresAt = &exp
	}
	s.Normalize()
	if s.MessageID == "" {
		// Checked here so that a bad number is reported as such, not as a
		// missing message id.
		if s.Destination == "" {
			return nil, &tasks.ValidationError{Field: "destination", Problem: "missing"}
		}
		if _, err := gupshup.NormalizePhone(s.Destination); err != nil {
			return nil, &tasks.ValidationError{Field: "destination", Problem: err.Error(), Err: err}
		}
		s.MessageID = tasks.CampaignMessageID(s.CampaignID, s.Destination)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// skipBOM drops the byte order mark spreadsheet programs put at the start
// of a UTF-8 export, which would otherwise end up in the first column name.
func skipBOM(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(r, 64<<10)
	if b, err := br.Peek(len(utf8BOM)); err == nil && bytes.Equal(b, utf8BOM) {
		br.Discard(len(utf8BOM))
	}
	return br
}
