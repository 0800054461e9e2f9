package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"

	"github.com/waqueue/waqueue/tasks"
)

// maxJSONLLine bounds a line: a message spec is a payload, and a payload
// over tasks.MaxPayloadSize would be refused anyway. Longer lines are
// skipped whole and reported, rather than read into memory.
const maxJSONLLine = tasks.MaxPayloadSize + 1024

// parseJSONLRow reads one line of a JSONL campaign: an object with the
// fields of tasks.Send, strictly (an unknown field is an error), the
// campaign-wide defaults filling in what it leaves out.
func parseJSONLRow(line []byte, d *defaults) (*tasks.Send, error) {
	s, err := tasks.ParseSend(line)
	if err != nil {
		return nil, err
	}
	return d.finish(s)
}

// jsonlRows reads a JSONL campaign: one object per line, LF or CRLF line
// ends, an optional UTF-8 BOM, blank lines skipped.
type jsonlRows struct {
	r    *bufio.Reader
	d    *defaults
	line int
	buf  []byte
}

func newJSONLRows(r io.Reader, d *defaults) *jsonlRows {
	return &jsonlRows{r: skipBOM(r), d: d}
}

func (j *jsonlRows) Next() (row, error) {
	for {
		line, tooLong, err := j.readLine()
		if err != nil {
			return row{}, err
		}
		j.line++
		if tooLong {
			return row{line: j.line, err: fmt.Errorf("line is longer than %d bytes", maxJSONLLine)}, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		s, err := parseJSONLRow(line, j.d)
		return row{line: j.line, send: s, err: err}, nil
	}
}

// readLine returns the next line without its line end. A line over
// maxJSONLLine is consumed and reported as tooLong. It returns io.EOF only
// when no line is left.
func (j *jsonlRows) readLine() (line []byte, tooLong bool, err error) {
	j.buf = j.buf[:0]
	for {
		chunk, err := j.r.ReadSlice('\n')
		if !tooLong {
			if len(j.buf)+len(chunk) > maxJSONLLine {
				tooLong, j.buf = true, j.buf[:0]
			} else {
				j.buf = append(j.buf, chunk...)
			}
		}
		switch err {
		case nil:
			return j.buf, tooLong, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			if len(j.buf) == 0 && !tooLong && len(chunk) == 0 {
				return nil, false, io.EOF
			}
			return j.buf, tooLong, nil
		default:
			return nil, false, err
		}
	}
}
