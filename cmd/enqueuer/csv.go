package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/waqueue/waqueue/tasks"
)

// Columns of a campaign CSV, besides param1..paramN.
const (
	colDestination = "destination"
	colMediaURL    = "media_url"
	colMessageID   = "message_id"
)

// csvHeader maps the columns of a campaign CSV, which may come in any order.
type csvHeader struct {
	width     int
	dest      int
	params    []int // column of param1, param2, ...
	mediaURL  int   // -1 when absent
	messageID int   // -1 when absent
}

// parseCSVHeader reads the header row. Unknown columns are an error rather
// than ignored: a misspelt "mesage_id" or "param 2" would otherwise send
// every row without it.
func parseCSVHeader(names []string) (csvHeader, error) {
	h := csvHeader{width: len(names), dest: -1, mediaURL: -1, messageID: -1}
	params := map[int]int{}
	seen := map[string]bool{}
	var unknown []string
	for i, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		if name == "" {
			return h, fmt.Errorf("column %d has no name", i+1)
		}
		if seen[name] {
			return h, fmt.Errorf("column %q appears twice", name)
		}
		seen[name] = true
		switch {
		case name == colDestination:
			h.dest = i
		case name == colMediaURL:
			h.mediaURL = i
		case name == colMessageID:
			h.messageID = i
		case strings.HasPrefix(name, "param"):
			n, err := strconv.Atoi(name[len("param"):])
			if err != nil || n < 1 || strconv.Itoa(n) != name[len("param"):] {
				unknown = append(unknown, strconv.Quote(raw))
				continue
			}
			params[n] = i
		default:
			unknown = append(unknown, strconv.Quote(raw))
		}
	}
	if len(unknown) > 0 {
		return h, fmt.Errorf("unknown column(s) %s (known: destination, param1..paramN, media_url, message_id)", strings.Join(unknown, ", "))
	}
	if h.dest < 0 {
		return h, errors.New("no destination column")
	}
	nums := make([]int, 0, len(params))
	for n := range params {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	for i, n := range nums {
		if n != i+1 {
			return h, fmt.Errorf("param%d is missing: param columns must be numbered 1..N", i+1)
		}
		h.params = append(h.params, params[n])
	}
	return h, nil
}

// parseCSVRow turns the fields of one data row into a validated send.
func parseCSVRow(h csvHeader, fields []string, d *defaults) (*tasks.Send, error) {
	if len(fields) != h.width {
		return nil, fmt.Errorf("has %d fields, the header has %d", len(fields), h.width)
	}
	t := &tasks.Template{ID: d.templateID, Language: d.language}
	if len(h.params) > 0 {
		t.Params = make([]string, len(h.params))
		for i, col := range h.params {
			p := strings.TrimSpace(fields[col])
			if p == "" {
				return nil, &tasks.ValidationError{Field: fmt.Sprintf("param%d", i+1),
					Problem: fmt.Sprintf("empty; every row needs all %d params of the header", len(h.params))}
			}
			t.Params[i] = p
		}
	}
	if h.mediaURL >= 0 {
		link := strings.TrimSpace(fields[h.mediaURL])
		if link == "" {
			return nil, &tasks.ValidationError{Field: colMediaURL, Problem: "empty"}
		}
		t.Media = &tasks.Media{Type: d.mediaType, Link: link}
	}
	s := &tasks.Send{
		Destination: strings.TrimSpace(fields[h.dest]),
		Template:    t,
	}
	if h.messageID >= 0 {
		s.MessageID = strings.TrimSpace(fields[h.messageID])
	}
	return d.finish(s)
}

// csvRows reads a campaign CSV: RFC 4180 quoting (commas and line breaks
// inside quotes), CRLF or LF line ends, an optional UTF-8 BOM, blank lines
// skipped.
type csvRows struct {
	r *csv.Reader
	h csvHeader
	d *defaults
}

func newCSVRows(r io.Reader, d *defaults) (*csvRows, error) {
	cr := csv.NewReader(skipBOM(r))
	cr.ReuseRecord = true
	names, err := cr.Read()
	if err == io.EOF {
		return nil, errors.New("line 1: the file is empty; want a header row")
	}
	if err != nil {
		return nil, fmt.Errorf("line 1: header: %v", csvProblem(err))
	}
	h, err := parseCSVHeader(names)
	if err != nil {
		return nil, fmt.Errorf("line 1: header: %v", err)
	}
	if h.mediaURL >= 0 && d.mediaType == "" {
		return nil, errors.New("line 1: header: a media_url column needs --media-type")
	}
	if h.mediaURL < 0 && d.mediaType != "" {
		return nil, errors.New("line 1: header: --media-type needs a media_url column")
	}
	// Rows are checked against the header width by parseCSVRow, so that
	// a short row is reported like any other bad row.
	cr.FieldsPerRecord = -1
	return &csvRows{r: cr, h: h, d: d}, nil
}

func (c *csvRows) Next() (row, error) {
	fields, err := c.r.Read()
	if err == io.EOF {
		return row{}, io.EOF
	}
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return row{line: pe.StartLine, err: errors.New(csvProblem(err))}, nil
		}
		return row{}, err
	}
	line, _ := c.r.FieldPos(0)
	s, err := parseCSVRow(c.h, fields, c.d)
	return row{line: line, send: s, err: err}, nil
}

// csvProblem drops the position encoding/csv puts in its messages: the
// report already starts with the line number.
func csvProblem(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return "CSV: " + pe.Err.Error()
	}
	return err.Error()
}
