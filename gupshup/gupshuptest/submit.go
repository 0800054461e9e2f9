package gupshuptest

import (
	"net/http"
	"time"

	"github.com/google/uuid"
)

// submission is what a family handler hands over once a request has passed
// authentication and validation: everything Gupshup would now accept.
type submission struct {
	Family      string
	App         string
	Source      string
	Destination string
	Kind        string // text, image, ..., template
	TemplateID  string
	// TemplateParams is the number of template params sent, -1 when the
	// family does not say (partner templates carry components instead).
	TemplateParams int
	Payload        map[string]string
}

// verdict tells the family handler how to answer.
type verdict struct {
	// MessageID is set when the send was accepted.
	MessageID string
	// HTTPStatus, Code and Reason describe a synchronous rejection.
	HTTPStatus int
	Code       int
	Reason     string
}

func (v verdict) accepted() bool { return v.MessageID != "" }

// submit is the one path every send of every family takes once it is well
// formed: the per-app rate limit, the fault rules, the record, and the
// callbacks that tell how the message fared.
func (s *Server) submit(sub submission) verdict {
	now := time.Now()
	if !s.allow(sub.Family + "/" + sub.App) {
		s.rec.reject(Rejection{Time: now, Family: sub.Family, Destination: sub.Destination, HTTPStatus: http.StatusTooManyRequests, Reason: "rate limit"})
		return verdict{HTTPStatus: http.StatusTooManyRequests, Reason: "Too Many Requests"}
	}
	var failCode int
	var reason string
	if f := s.faults.match(sub.Family, sub.Destination); f != nil {
		if f.HTTPStatus != 0 {
			r := f.Reason
			if r == "" {
				r = http.StatusText(f.HTTPStatus)
			}
			s.rec.reject(Rejection{Time: now, Family: sub.Family, Destination: sub.Destination, HTTPStatus: f.HTTPStatus, Reason: r})
			return verdict{HTTPStatus: f.HTTPStatus, Code: f.Code, Reason: r}
		}
		failCode, reason = f.Code, f.Reason
	}
	if failCode == 0 {
		failCode = s.policyFailure(sub, now)
	}
	if failCode != 0 && reason == "" {
		reason = CodeReason(failCode)
	}
	rec := s.rec.add(Send{
		Time:        now,
		Family:      sub.Family,
		App:         sub.App,
		Source:      sub.Source,
		Destination: sub.Destination,
		Kind:        sub.Kind,
		TemplateID:  sub.TemplateID,
		Payload:     sub.Payload,
		MessageID:   uuid.NewString(),
		FailCode:    failCode,
	})
	s.cb.outcome(rec, failCode, reason)
	return verdict{MessageID: rec.MessageID}
}

// policyFailure applies the rules WhatsApp enforces on its own, without a
// configured fault: the session window and template matching.
func (s *Server) policyFailure(sub submission, now time.Time) int {
	if sub.Kind == "template" {
		if s.cfg.Templates == nil || sub.TemplateParams < 0 {
			return 0
		}
		want, known := s.cfg.Templates[sub.TemplateID]
		if !known || want != sub.TemplateParams {
			return 4003
		}
		return 0
	}
	if s.cfg.EnforceSessionWindow && !s.sessions.open(sub.Destination, now) {
		if sub.Family == "partner" {
			return 131047
		}
		return 1005
	}
	return 0
}

// CodeReason is the text Gupshup sends with a failure code.
func CodeReason(code int) string {
	if r, ok := codeReasons[code]; ok {
		return r
	}
	return "Message failed"
}

var codeReasons = map[int]string{
	1001:   "Last Mapped Bot Details And Sender Details Mismatch",
	1002:   "Number Does Not Exists On WhatsApp",
	1003:   "Unable to send message | Check your wallet balance",
	1004:   "Message sending failed as user is inactive for session message and template messaging is disabled",
	1005:   "Message sending failed as user is inactive for session message and template did not match",
	1006:   "Message sending failed as user is inactive for session message and not opted in for template message",
	1007:   "Message sending failed as user is inactive for session message, not opted in for template message and template did not match",
	1008:   "User is not Opted in and Inactive",
	1009:   "Required parameter missing",
	1010:   "Invalid Media URL",
	1011:   "Invalid Media Size",
	1012:   "User has opted out",
	4001:   "API rate limited",
	4002:   "Invalid response from WhatsApp",
	4003:   "No template match",
	4005:   "Paused template",
	470:    "Message failed to send because more than 24 hours have passed since the customer last replied to this number",
	500:    "Internal error",
	130429: "Rate limit hit",
	131026: "Message undeliverable",
	131047: "Re-engagement message",
	131048: "Spam rate limit hit",
	131049: "This message was not delivered to maintain healthy ecosystem engagement",
	131050: "User stopped marketing messages",
	131056: "(Business Account, Consumer Account) pair rate limit hit",
}
