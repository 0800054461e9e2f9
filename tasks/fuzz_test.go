package tasks

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzDecodeSend holds DecodeSend to what the worker needs of it: no panic
// on any bytes, every refusal a *ValidationError, and every payload it
// accepts re-encodable into one it accepts again, stably.
func FuzzDecodeSend(f *testing.F) {
	for _, s := range []*Send{templateSend(), sessionSend()} {
		b, err := EncodeSend(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSend(b)
		if err != nil {
			if !IsValidation(err) {
				t.Fatalf("DecodeSend error %v (%T) is not a *ValidationError", err, err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("DecodeSend accepted what Validate refuses: %v", err)
		}
		once, err := EncodeSend(s)
		if err != nil {
			// Invalid UTF-8 decodes to U+FFFD, three bytes for one, so a
			// payload just under the limit may come out just over it.
			if strings.Contains(err.Error(), "byte limit") {
				return
			}
			t.Fatalf("EncodeSend of a decoded payload: %v", err)
		}
		s2, err := DecodeSend(once)
		if err != nil {
			t.Fatalf("DecodeSend(EncodeSend(DecodeSend(b))): %v\n%s", err, once)
		}
		twice, err := EncodeSend(s2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("encoding is not stable:\n%s\n%s", once, twice)
		}
	})
}
