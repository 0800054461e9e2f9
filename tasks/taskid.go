package tasks

import (
	"strconv"
	"time"
)

// TaskID is the asynq task id of a send. Deriving it from the message id
// makes re-enqueueing harmless: while the task exists (pending, scheduled,
// active, retrying or archived) asynq refuses a second one with
// ErrTaskIDConflict, and once the worker has handled the message its send
// record (store.MessageKey) says so.
func TaskID(messageID string) string { return "send:" + messageID }

// SendTaskID is the task id of s: TaskID for a producer's send (generation
// 0); for a resend the worker schedules after a failed callback, the same
// with the generation appended. A resend then never collides with the task
// of the attempt that failed, which may still be finishing when the
// callback arrives, while a callback delivered twice schedules one resend.
// Message ids cannot contain braces, so the suffix is unambiguous.
func SendTaskID(s *Send) string { return TaskID(s.MessageID) + generation(s.Generation) }

// DeadLetterTaskID is the id of the task that carries a dead letter of s
// into asynq's archive (NewDeadLetterTask): apart from the send's own, so
// that the two never collide, and one per generation.
func DeadLetterTaskID(s *Send) string { return "dead:" + s.MessageID + generation(s.Generation) }

func generation(n int) string {
	if n == 0 {
		return ""
	}
	return "{" + strconv.Itoa(n) + "}"
}

// CampaignMessageID is the message id of a campaign row that gives none:
// the campaign and the destination (E.164 digits). Running the same file
// twice enqueues nothing twice, and a destination listed twice in one
// campaign gets the message once, which is what a campaign means. It stays
// readable so that an operator can find the message of a given number.
func CampaignMessageID(campaignID, destination string) string {
	return campaignID + ":" + destination
}

// ConsentTaskID is the task id of an opt-in or opt-out (typ is TypeOptIn or
// TypeOptOut): kind, family, app, phone and the UTC day of now.
//
// The same request repeated the same day (a form submitted twice, an import
// run again) collapses into one task. The day stamp keeps a task that asynq
// archived after failing from blocking the phone for the 90 days asynq keeps
// archived tasks: the next day's request gets through. Opt-in and opt-out
// have different ids, so one never hides the other. Family and app are part
// of it because consent is given to one app, not to the phone number.
func ConsentTaskID(typ string, c *Consent, now time.Time) string {
	kind := "optin"
	if typ == TypeOptOut {
		kind = "optout"
	}
	return kind + ":" + string(c.Family) + ":" + c.App + ":" + c.Phone + ":" + now.UTC().Format("20060102")
}
