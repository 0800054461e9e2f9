package main

import (
	"strings"
	"testing"
)

func TestParseCSVHeader(t *testing.T) {
	tests := []struct {
		header string
		err    string
		params int
	}{
		{"destination", "", 0},
		{"destination,param1,param2,param3", "", 3},
		{"param2,message_id,destination,media_url,param1", "", 2},
		{" Destination , PARAM1 ", "", 1},
		{"destination,param1,name,Email", `unknown column(s) "name", "Email"`, 0},
		{"phone,param1", `unknown column(s) "phone"`, 0},
		{"param1,message_id", "no destination column", 0},
		{"destination,destination", `"destination" appears twice`, 0},
		{"destination,param1,param3", "param2 is missing", 0},
		{"destination,param2", "param1 is missing", 0},
		{"destination,param0", `unknown column(s) "param0"`, 0},
		{"destination,param01", `unknown column(s) "param01"`, 0},
		{"destination,param-1", `unknown column(s) "param-1"`, 0},
		{"destination,,param1", "column 2 has no name", 0},
	}
	for _, tt := range tests {
		t.Run(tt.header, func(t *testing.T) {
			h, err := parseCSVHeader(strings.Split(tt.header, ","))
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("error %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("error %v, want %q", err, tt.err)
			case tt.err == "" && len(h.params) != tt.params:
				t.Fatalf("%d params, want %d", len(h.params), tt.params)
			}
		})
	}
}

func TestCSVRows(t *testing.T) {
	tests := []struct {
		name string
		file string
		rows []want
	}{
		{
			name: "good rows any column order",
			file: "param2,destination,param1\nB,919876543210,A\nD,+1 (415) 555-0101,C\n",
			rows: []want{
				{line: 2, id: "spring:919876543210", dest: "919876543210", params: []string{"A", "B"}},
				{line: 3, id: "spring:14155550101", dest: "14155550101", params: []string{"C", "D"}},
			},
		},
		{
			name: "BOM and CRLF",
			file: "\xef\xbb\xbfdestination,param1\r\n919876543210,A\r\n919876543211,B\r\n",
			rows: []want{
				{line: 2, id: "spring:919876543210", params: []string{"A"}},
				{line: 3, id: "spring:919876543211", params: []string{"B"}},
			},
		},
		{
			name: "no trailing newline, blank lines skipped",
			file: "destination,param1\n\n919876543210,A\n\n\n919876543211,B",
			rows: []want{
				{line: 3, id: "spring:919876543210"},
				{line: 6, id: "spring:919876543211"},
			},
		},
		{
			name: "quoted comma and quote",
			file: "destination,param1,param2\n919876543210,\"Rao, Asha\",\"say \"\"hi\"\"\"\n",
			rows: []want{{line: 2, id: "spring:919876543210", params: []string{"Rao, Asha", `say "hi"`}}},
		},
		{
			name: "quoted line break keeps later line numbers right",
			file: "destination,param1\n919876543210,\"two\nlines\"\n919876543211,ok\n",
			rows: []want{
				{line: 2, err: "template.params[0]: contains a line break"},
				{line: 4, id: "spring:919876543211"},
			},
		},
		{
			name: "message id column, empty cell derives one",
			file: "destination,message_id,param1\n919876543210,order-77,A\n919876543211,,B\n919876543212,has space,C\n",
			rows: []want{
				{line: 2, id: "order-77"},
				{line: 3, id: "spring:919876543211"},
				{line: 4, err: "message_id: contains whitespace"},
			},
		},
		{
			name: "media url",
			file: "destination,media_url\n919876543210,https://cdn.example.com/a.jpg\n919876543211,\n919876543212,a.jpg\n",
			rows: []want{
				{line: 2, id: "spring:919876543210"},
				{line: 3, err: "media_url: empty"},
				{line: 4, err: "template.media.link: \"a.jpg\" is not an absolute http(s) URL"},
			},
		},
		{
			name: "bad rows of every kind",
			file: "destination,param1,param2\n" +
				"919876543210,A,B\n" + // 2 good
				"12ab5678,A,B\n" + // 3 letters
				"1234,A,B\n" + // 4 too short
				",A,B\n" + // 5 no destination
				"919876543211,,B\n" + // 6 empty param1
				"919876543212,A,  \n" + // 7 blank param2
				"919876543213,A\n" + // 8 short row
				"919876543214,A,B,C\n" + // 9 long row
				"919876543215,A \"x\",B\n" + // 10 bare quote
				"919876543216,A,B\n" + // 11 good after the bad ones
				"14155550100,A,B\n", // 12 the source itself
			rows: []want{
				{line: 2, id: "spring:919876543210"},
				{line: 3, err: "destination: not an E.164 number: has a character that is not a digit"},
				{line: 4, err: "destination: not an E.164 number: has 4 digits"},
				{line: 5, err: "destination: missing"},
				{line: 6, err: "param1: empty; every row needs all 2 params"},
				{line: 7, err: "param2: empty"},
				{line: 8, err: "has 2 fields, the header has 3"},
				{line: 9, err: "has 4 fields, the header has 3"},
				{line: 10, err: "CSV: bare \" in non-quoted-field"},
				{line: 11, id: "spring:919876543216"},
				{line: 12, err: "destination: is the source number itself"},
			},
		},
		{
			name: "duplicate destination gets the same id",
			file: "destination\n919876543210\n+91 98765 43210\n",
			rows: []want{
				{line: 2, id: "spring:919876543210"},
				{line: 3, id: "spring:919876543210"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			if !strings.Contains(tt.file, "media_url") {
				d.mediaType = ""
			}
			r, err := newCSVRows(strings.NewReader(tt.file), d)
			if err != nil {
				t.Fatal(err)
			}
			check(t, readAll(t, r), tt.rows)
		})
	}
}

func TestCSVRowsFileErrors(t *testing.T) {
	tests := []struct {
		name, file, mediaType, err string
	}{
		{"empty file", "", "", "line 1: the file is empty"},
		{"only a BOM", "\xef\xbb\xbf", "", "the file is empty"},
		{"unknown column", "destination,nmae\n", "", `line 1: header: unknown column(s) "nmae"`},
		{"media_url without --media-type", "destination,media_url\n", "", "needs --media-type"},
		{"--media-type without media_url", "destination\n", "image", "needs a media_url column"},
		{"broken header", "destination,\"param1\n", "", "line 1: header: CSV: extraneous or missing \" in quoted-field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := testDefaults()
			d.mediaType = tt.mediaType
			_, err := newCSVRows(strings.NewReader(tt.file), d)
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
		})
	}
}
