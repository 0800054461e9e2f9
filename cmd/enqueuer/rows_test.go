package main

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/tasks"
)

var testExpiry = time.Date(2099, 1, 2, 15, 4, 5, 0, time.UTC)

func testDefaults() *defaults {
	return &defaults{
		campaign:   "spring",
		family:     gupshup.SelfServe,
		source:     "14155550100",
		app:        "DemoAPI",
		expiresAt:  testExpiry,
		templateID: "tpl-1",
		mediaType:  "image",
	}
}

// want is what a test expects of one row: an error containing err, or a
// message with this id and these params.
type want struct {
	line   int
	err    string
	id     string
	dest   string
	params []string
}

func readAll(t *testing.T, r rowReader) []row {
	t.Helper()
	var rows []row
	for {
		r, err := r.Next()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, r)
		if len(rows) > 1000 {
			t.Fatal("runaway reader")
		}
	}
}

func check(t *testing.T, got []row, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		for _, r := range got {
			t.Logf("line %d: %+v %v", r.line, r.send, r.err)
		}
		t.Fatalf("%d rows, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		r := got[i]
		if r.line != w.line {
			t.Errorf("row %d: line %d, want %d", i, r.line, w.line)
		}
		if w.err != "" {
			if r.err == nil || !strings.Contains(r.err.Error(), w.err) {
				t.Errorf("line %d: error %v, want %q", r.line, r.err, w.err)
			}
			continue
		}
		if r.err != nil {
			t.Errorf("line %d: %v", r.line, r.err)
			continue
		}
		s := r.send
		if s.MessageID != w.id || (w.dest != "" && s.Destination != w.dest) {
			t.Errorf("line %d: id %q dest %q, want %q %q", r.line, s.MessageID, s.Destination, w.id, w.dest)
		}
		if w.params != nil && strings.Join(s.Template.Params, "|") != strings.Join(w.params, "|") {
			t.Errorf("line %d: params %q, want %q", r.line, s.Template.Params, w.params)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("line %d: reader returned an invalid send: %v", r.line, err)
		}
	}
}

func TestDefaultsFinish(t *testing.T) {
	d := testDefaults()
	s, err := d.finish(&tasks.Send{Destination: "+91 98765 43210", Template: &tasks.Template{ID: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	if s.V != tasks.PayloadVersion || s.CampaignID != "spring" || s.Family != gupshup.SelfServe ||
		s.Source != "14155550100" || s.App != "DemoAPI" || !s.ExpiresAt.Equal(testExpiry) ||
		s.MessageID != "spring:919876543210" {
		t.Fatalf("finish: %+v", s)
	}
	if _, err := d.finish(&tasks.Send{Template: &tasks.Template{ID: "t"}}); err == nil || err.Error() != "destination: missing" {
		t.Fatalf("no destination: %v", err)
	}
}
