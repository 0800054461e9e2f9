package retry

import (
	"strconv"
	"strings"
	"time"
)

// Verdict is the classification of one outcome, with the facts the worker
// needs besides the class.
type Verdict struct {
	Class Class
	// Code is the Gupshup or Meta error code, 0 when there was none.
	Code int
	// HTTPStatus is the status of a synchronous answer, 0 when none arrived
	// or the outcome came from a callback.
	HTTPStatus int
	// Reason is Gupshup's text, or the meaning of Code when Gupshup gave none.
	Reason string
	// Delay is the minimum wait before the next try (Retry-After, pair rate,
	// 24 h marketing limit); 0 leaves the wait to the backoff.
	Delay time.Duration
	// Unknown is set when the code (or the whole answer) is not in the
	// table: such failures get only Policy.UnknownCodeAttempts tries, since
	// nobody knows whether retrying can help.
	Unknown bool
	// Alarm asks for a human: a bad API key or an empty wallet will not fix
	// itself, however often the task is retried.
	Alarm bool
	// ClosedWindow means the 24 h session window is closed; a session
	// message cannot go out, but a template can.
	ClosedWindow bool
	// AccountWide means every send of the account fails the same way until
	// someone acts (wallet low, bad credentials): pausing beats burning the
	// budget of every queued task.
	AccountWide bool
	// Ambiguous means the request may have reached Gupshup although no
	// answer says so (timeout, connection lost, gateway error): a retry may
	// deliver the message twice.
	Ambiguous bool
}

// String renders the verdict the way it appears in logs and in the last
// error of an archived task, e.g.
// "terminal: code 1002: number does not exist on WhatsApp".
func (v Verdict) String() string {
	var b strings.Builder
	b.WriteString(v.Class.String())
	sep := ": "
	if v.HTTPStatus != 0 {
		b.WriteString(sep)
		b.WriteString("HTTP ")
		b.WriteString(strconv.Itoa(v.HTTPStatus))
		sep = " "
	}
	if v.Code != 0 {
		b.WriteString(sep)
		b.WriteString("code ")
		b.WriteString(strconv.Itoa(v.Code))
	}
	if v.Reason != "" {
		b.WriteString(": ")
		b.WriteString(v.Reason)
	}
	return b.String()
}
