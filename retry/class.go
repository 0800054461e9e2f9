package retry

import "strconv"

// Class is what an outcome means for the message that produced it.
type Class int

const (
	// Ok: the send was accepted (or the event was a success).
	Ok Class = iota
	// Retryable: the send failed for a reason that may go away; trying again
	// uses one attempt of the message's budget.
	Retryable
	// Throttled: the service or the recipient asked us to slow down, or we
	// stopped ourselves. Not the message's fault, so it costs no attempt and
	// never exhausts the budget.
	Throttled
	// Terminal: sending the same message again cannot succeed.
	Terminal
)

func (c Class) String() string {
	switch c {
	case Ok:
		return "ok"
	case Retryable:
		return "retryable"
	case Throttled:
		return "throttled"
	case Terminal:
		return "terminal"
	}
	return "class(" + strconv.Itoa(int(c)) + ")"
}
