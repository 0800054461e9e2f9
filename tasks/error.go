package tasks

import (
	"errors"
	"fmt"
)

// ValidationError says which field of a payload is wrong and why. Field is
// the JSON name as a producer writes it ("destination",
// "template.params[2]"), not the Go name, because payloads are also built by
// hand in other languages and the message must point into what they wrote.
//
// The worker treats a ValidationError as terminal (retrying cannot fix a
// payload), except one that wraps ErrNewerVersion.
type ValidationError struct {
	// Field is the JSON path of the offending field; empty when the problem
	// is the payload as a whole (its size, its syntax).
	Field   string
	Problem string
	// Err is the cause when a caller may want to test for it:
	// ErrNewerVersion, or the error of gupshup.NormalizePhone.
	Err error
}

func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Problem
	}
	return e.Field + ": " + e.Problem
}

func (e *ValidationError) Unwrap() error { return e.Err }

// ErrNewerVersion is wrapped by the error for a payload whose v is above
// PayloadVersion. During a rolling deploy a producer or a worker may already
// be on the newer schema, so a worker should retry such a task later (a newer
// worker will take it) instead of dead-lettering it like other invalid payloads.
var ErrNewerVersion = errors.New("payload version is newer than this build supports")

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// IsValidation reports whether err says the payload itself is wrong (as
// opposed to Redis being unreachable), so a caller can tell a bad row from a
// reason to stop.
func IsValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}
