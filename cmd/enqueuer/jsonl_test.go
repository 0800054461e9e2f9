package main

import (
	"strings"
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup"
)

func TestJSONLRows(t *testing.T) {
	long := `{"destination":"919876543210","template":{"id":"t","params":["` + strings.Repeat("x", maxJSONLLine) + `"]}}`
	tests := []struct {
		name string
		file string
		rows []want
	}{
		{
			name: "defaults fill a minimal row",
			file: `{"destination":"+91 98765 43210","template":{"id":"t","params":["A"]}}` + "\n",
			rows: []want{{line: 1, id: "spring:919876543210", dest: "919876543210", params: []string{"A"}}},
		},
		{
			name: "full rows, session and fallback",
			file: `{"v":1,"message_id":"m-1","campaign_id":"other","destination":"919876543210","session":{"type":"text","text":"hi"},"fallback_template":{"id":"t"},"expires_at":"2099-05-01T00:00:00Z"}` + "\n" +
				`{"message_id":"m-2","destination":"919876543211","template":{"id":"t","media":{"type":"video","link":"https://x.example/v.mp4"}}}` + "\n",
			rows: []want{{line: 1, id: "m-1"}, {line: 2, id: "m-2"}},
		},
		{
			name: "BOM, CRLF, blank lines, no final newline",
			file: "\xef\xbb\xbf" + `{"destination":"919876543210","template":{"id":"t"}}` + "\r\n\r\n   \n" +
				`{"destination":"919876543211","template":{"id":"t"}}`,
			rows: []want{{line: 1, id: "spring:919876543210"}, {line: 4, id: "spring:919876543211"}},
		},
		{
			name: "bad rows of every kind",
			file: `{"destination":"919876543210","template":{"id":"t"}}` + "\n" + // 1 good
				`{"destination":"919876543211","template":{"id":"t"}` + "\n" + // 2 truncated
				`not json` + "\n" + // 3
				`["919876543212"]` + "\n" + // 4 not an object
				`{"destinaton":"919876543213","template":{"id":"t"}}` + "\n" + // 5 misspelt
				`{"destination":"9198x","template":{"id":"t"}}` + "\n" + // 6 bad phone
				`{"destination":"919876543214"}` + "\n" + // 7 no content
				`{"destination":"919876543215","session":"hi"}` + "\n" + // 8 session not object
				`{"destination":"919876543216","template":{"id":"t","params":["a",""]}}` + "\n" + // 9 empty param
				`{"v":2,"destination":"919876543217","template":{"id":"t"}}` + "\n" + // 10 newer
				`{"destination":"919876543218","template":{"id":"t"},"expires_at":"tomorrow"}` + "\n" + // 11
				`{"destination":919876543219,"template":{"id":"t"}}` + "\n" + // 12 number
				`{"destination":"919876543220","family":"sms","template":{"id":"t"}}` + "\n" + // 13
				long + "\n" + // 14 too long
				`{"destination":"919876543221","template":{"id":"t"}}` + "\n" + // 15 good
				`{"destination":"919876543222","template":{"id":"t"},"gen":2}` + "\n", // 16 worker's field
			rows: []want{
				{line: 1, id: "spring:919876543210"},
				{line: 2, err: "payload is not valid JSON"},
				{line: 3, err: "payload is not valid JSON"},
				{line: 4, err: "payload is not a JSON object"},
				{line: 5, err: "destinaton: unknown field"},
				{line: 6, err: "destination: not an E.164 number"},
				{line: 7, err: "template: missing; exactly one of template and session is required"},
				{line: 8, err: "session: not a JSON object"},
				{line: 9, err: "template.params[1]: empty"},
				{line: 10, err: "v: version 2 is newer"},
				{line: 11, err: "expires_at: not an RFC 3339 time"},
				{line: 12, err: "destination: want a string, got number"},
				{line: 13, err: `family: unknown "sms"`},
				{line: 14, err: "line is longer than"},
				{line: 15, id: "spring:919876543221"},
				{line: 16, err: "gen: set by the worker"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check(t, readAll(t, newJSONLRows(strings.NewReader(tt.file), testDefaults())), tt.rows)
		})
	}
}

func TestJSONLRowKeepsItsOwnValues(t *testing.T) {
	s, err := parseJSONLRow([]byte(`{"campaign_id":"c2","family":"partner","source":"14155550199","app":"a2",`+
		`"destination":"919876543210","session":{"type":"text","text":{"body":"hi"}},"expires_at":"2099-05-01T00:00:00Z"}`), testDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if s.CampaignID != "c2" || s.Family != gupshup.Partner || s.Source != "14155550199" || s.App != "a2" ||
		s.MessageID != "c2:919876543210" || !s.ExpiresAt.Equal(time.Date(2099, 5, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("row values overridden by defaults: %+v", s)
	}
}
