package retry

import "time"

// Codes the policy treats specially; the rest only live in the table.
const (
	codeWalletLow       = 1003
	codeSpamRateLimit   = 131048
	templateErrorsFirst = 132000
	templateErrorsLast  = 132016
)

// Minimum waits that are facts of WhatsApp, not tuning: Meta allows about
// one message every 6 s to the same user, and asks not to retry a
// marketing message hit by the per-user limit within 24 h.
const (
	pairRateGap       = 6 * time.Second
	marketingLimitGap = 24 * time.Hour
)

type codeInfo struct {
	meaning      string
	class        Class
	delay        time.Duration
	closedWindow bool
	accountWide  bool
}

// codes is section 3 of the Gupshup notes, row for row. The 1003 and 131048
// delays are policy (Policy.WalletLowDelay, Policy.SpamDelay), so they are
// not here.
var codes = map[int]codeInfo{
	1001: {meaning: "last mapped bot / sender mismatch (sandbox user not proxied)", class: Terminal},
	1002: {meaning: "number does not exist on WhatsApp", class: Terminal},
	1003: {meaning: "wallet balance low", class: Retryable, accountWide: true},
	1004: {meaning: "user inactive for session, template messaging disabled", class: Terminal, closedWindow: true},
	1005: {meaning: "user inactive for session, template did not match", class: Terminal, closedWindow: true},
	1006: {meaning: "user inactive for session, not opted in", class: Terminal, closedWindow: true},
	1007: {meaning: "inactive, not opted in, template did not match", class: Terminal, closedWindow: true},
	1008: {meaning: "not opted in and inactive", class: Terminal},
	1009: {meaning: "required parameter missing", class: Terminal},
	1010: {meaning: "invalid media URL", class: Terminal},
	1011: {meaning: "invalid media size", class: Terminal},
	1012: {meaning: "number opted out", class: Terminal},
	4001: {meaning: "API rate limited", class: Throttled},
	4002: {meaning: "invalid response from WhatsApp", class: Retryable},
	4003: {meaning: "no template match", class: Terminal},
	4005: {meaning: "paused template", class: Terminal},
	500:  {meaning: "internal error", class: Retryable},
	470:  {meaning: "more than 24 h since the user last wrote (session send)", class: Terminal, closedWindow: true},

	131047: {meaning: "more than 24 h since the user last wrote (session send)", class: Terminal, closedWindow: true},
	130429: {meaning: "Meta throughput reached", class: Throttled},
	// Throttled rather than retryable: the recipient is fine, we only wrote
	// to them too often, so the message must not lose an attempt over it.
	131056: {meaning: "pair rate limit (same recipient too often)", class: Throttled, delay: pairRateGap},
	131048: {meaning: "spam rate limit", class: Retryable},
	131026: {meaning: "undeliverable", class: Terminal},
	131049: {meaning: "per-user marketing limit", class: Retryable, delay: marketingLimitGap},
	131050: {meaning: "user stopped marketing messages", class: Terminal},
}

// templateMeanings refines "template error" for the 132xxx codes whose
// meaning Meta documents; the class is the same for the whole range.
var templateMeanings = map[int]string{
	132000: "template parameter count mismatch",
	132001: "template does not exist",
	132005: "template text too long after parameters",
	132007: "template format character policy violated",
	132012: "template parameter format mismatch",
	132015: "template is paused",
	132016: "template is disabled",
}

func lookup(code int) (codeInfo, bool) {
	if c, ok := codes[code]; ok {
		return c, true
	}
	if code >= templateErrorsFirst && code <= templateErrorsLast {
		m := templateMeanings[code]
		if m == "" {
			m = "template error"
		}
		return codeInfo{meaning: m, class: Terminal}, true
	}
	return codeInfo{}, false
}

// Describe returns the meaning of a Gupshup or Meta code, for logs and
// dead-letter texts when Gupshup sent no reason; "" for a code not in the
// table.
func Describe(code int) string {
	c, _ := lookup(code)
	return c.meaning
}

// ClassifyCode classifies a code from a failed callback, or one carried by a
// synchronous error body. reason is Gupshup's text; match on the code only,
// the text varies. A code not in the table is Retryable and Unknown, so
// the policy retries it a bounded number of times and the dead-lettered
// task still shows the code.
func ClassifyCode(code int, reason string) Verdict {
	c, known := lookup(code)
	v := Verdict{
		Class:        Retryable,
		Code:         code,
		Reason:       reason,
		Unknown:      !known,
		Delay:        c.delay,
		ClosedWindow: c.closedWindow,
		AccountWide:  c.accountWide,
		// An account-wide failure is only fixed by a person (topping up).
		Alarm: c.accountWide,
	}
	if known {
		v.Class = c.class
	}
	if v.Reason == "" {
		v.Reason = c.meaning
	}
	if v.Reason == "" {
		v.Reason = "unknown code"
	}
	return v
}
