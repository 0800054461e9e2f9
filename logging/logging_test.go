package logging

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestMask(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"123", "***"},
		{"12345678", "******78"},
		{"919876543210", "91******3210"},
		{"447700900123", "44******0123"},
	}
	for _, tt := range tests {
		if got := Mask(tt.in); got != tt.want {
			t.Errorf("Mask(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormats(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, "", "")
	l.Info().Str("campaign_id", "c1").Msg("hello")
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil || m["campaign_id"] != "c1" || m["level"] != "info" {
		t.Fatalf("JSON line %q: %v", b.String(), err)
	}
	b.Reset()
	l = New(&b, "console", "debug")
	l.Debug().Msg("for people")
	if json.Valid(b.Bytes()) || !strings.Contains(b.String(), "for people") {
		t.Fatalf("console line %q", b.String())
	}
	b.Reset()
	l = New(&b, "", "warn")
	l.Info().Msg("dropped")
	if b.Len() != 0 {
		t.Fatalf("info written at warn level: %q", b.String())
	}
}
