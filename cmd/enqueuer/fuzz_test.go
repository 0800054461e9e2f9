package main

import (
	"io"
	"strings"
	"testing"

	"github.com/waqueue/waqueue/tasks"
)

// fuzzHeader has every kind of column, so that a fuzzed row exercises all
// of parseCSVRow.
const fuzzHeader = "destination,param1,param2,media_url,message_id\n"

// FuzzParseCSVRow feeds arbitrary text after a fixed header through the CSV
// reader: it must not panic or loop, must give every row a line number, and
// every row it accepts must be a payload the worker accepts.
func FuzzParseCSVRow(f *testing.F) {
	f.Add("919876543210,A,B,https://x.example/a.jpg,m-1\n")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := newCSVRows(strings.NewReader(fuzzHeader+text), testDefaults())
		if err != nil {
			t.Fatal(err)
		}
		last := 1
		for n := 0; ; n++ {
			row, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if row.line <= last {
				t.Fatalf("row %d: line %d after line %d", n, row.line, last)
			}
			last = row.line
			acceptable(t, row)
		}
	})
}

// FuzzParseJSONLRow does the same for one JSONL line.
func FuzzParseJSONLRow(f *testing.F) {
	f.Add([]byte(`{"destination":"919876543210","template":{"id":"t","params":["A"]}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := parseJSONLRow(line, testDefaults())
		acceptable(t, row{line: 1, send: s, err: err})
	})
}

func acceptable(t *testing.T, r row) {
	t.Helper()
	if (r.send == nil) == (r.err == nil) {
		t.Fatalf("line %d: send %v and error %v", r.line, r.send, r.err)
	}
	if r.err != nil {
		return
	}
	b, err := tasks.EncodeSend(r.send)
	if err != nil {
		t.Fatalf("line %d: accepted row does not encode: %v", r.line, err)
	}
	if _, err := tasks.DecodeSend(b); err != nil {
		t.Fatalf("line %d: accepted row is refused by the worker: %v\n%s", r.line, err, b)
	}
}
