package retry

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/sony/gobreaker/v2"
	"github.com/waqueue/waqueue/gupshup"
)

// Classify classifies the result of a synchronous call: nil, a
// *gupshup.Error, a *gupshup.ValidationError, an error built by this
// package (its verdict is returned as is), or anything else. Wrapped errors
// are looked through.
func Classify(err error) Verdict {
	if err == nil {
		return Verdict{Class: Ok}
	}
	if re, ok := errors.AsType[*Error](err); ok {
		return re.Verdict
	}
	// Before *gupshup.Error: a send cut short by our own cancellation comes
	// back from the client as a transport error wrapping context.Canceled,
	// and it is neither the message's nor Gupshup's fault.
	if errors.Is(err, context.Canceled) {
		v := Verdict{Class: Throttled, Reason: "canceled"}
		if ge, ok := gupshup.AsError(err); ok {
			v.Ambiguous = ge.Unknown()
		}
		return v
	}
	// The breaker refusing a call says Gupshup is unwell, not the message.
	if errors.Is(err, gobreaker.ErrOpenState) || errors.Is(err, gobreaker.ErrTooManyRequests) {
		return Verdict{Class: Throttled, Reason: "circuit breaker open"}
	}
	if ve, ok := errors.AsType[*gupshup.ValidationError](err); ok {
		return Verdict{Class: Terminal, Reason: ve.Error()}
	}
	if ge, ok := gupshup.AsError(err); ok {
		return classifyGupshup(ge)
	}
	return Verdict{Class: Retryable, Reason: err.Error()}
}

func classifyGupshup(e *gupshup.Error) Verdict {
	s := e.HTTPStatus
	v := Verdict{HTTPStatus: s, Code: e.Code, Reason: e.Message}
	if v.Reason == "" && s != 0 {
		v.Reason = http.StatusText(s)
	}
	switch {
	case e.Timeout || e.Transport:
		v.Class, v.Ambiguous = Retryable, true
		if v.Reason == "" {
			v.Reason = "transport error"
			if e.Timeout {
				v.Reason = "timeout"
			}
			if e.Err != nil {
				v.Reason += ": " + e.Err.Error()
			}
		}
		return v
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		// 403 is treated like 401: a partner token without rights to the
		// app fails every send just the same and needs a person.
		v.Class, v.Alarm, v.AccountWide = Terminal, true, true
		return v
	case e.Family == gupshup.Enterprise && e.Code != 0 && s < 500 && s != http.StatusTooManyRequests:
		return classifyGateway(v)
	case e.Code != 0:
		_, known := lookup(e.Code)
		if known || (s < 500 && s != http.StatusTooManyRequests) {
			cv := ClassifyCode(e.Code, e.Message)
			cv.HTTPStatus = s
			if cv.Class != Terminal {
				cv.Delay = max(cv.Delay, e.RetryAfter)
			}
			return cv
		}
		// An unknown code on a 429 or 5xx: the status says enough.
	}
	switch {
	case s == http.StatusTooManyRequests:
		v.Class, v.Delay = Throttled, e.RetryAfter
	case s >= 500:
		v.Class, v.Delay = Retryable, e.RetryAfter
		// A gateway error means a proxy lost Gupshup's answer, not that
		// Gupshup never saw the request.
		v.Ambiguous = s == http.StatusBadGateway || s == http.StatusGatewayTimeout
	case s == http.StatusBadRequest && strings.EqualFold(strings.TrimSpace(e.Message), "Invalid App Details"):
		// The app name does not match the key: every send of the account
		// fails until the configuration is fixed.
		v.Class, v.Alarm, v.AccountWide = Terminal, true, true
	case s >= 400:
		// Includes 400 Invalid Destination: the request itself was refused,
		// sending the same bytes again gets the same answer.
		v.Class = Terminal
	default:
		// A 2xx/3xx error without a code (an enterprise "status":"error"
		// with free text): nobody knows, so retry but only a few times.
		v.Class, v.Unknown = Retryable, true
		if v.Reason == "" {
			v.Reason = "unexpected answer"
		}
	}
	return v
}

// classifyGateway sorts the Enterprise Gateway's own error codes, which
// share no meaning with the WhatsApp table: the Gateway answers bad
// credentials, no credit or a disabled service with HTTP 200 and a code,
// and every send of the account then fails alike.
func classifyGateway(v Verdict) Verdict {
	switch {
	case gupshup.EnterpriseAccountWide(v.Code):
		v.Class, v.Alarm, v.AccountWide = Terminal, true, true
	case v.Code == gupshup.EnterpriseCodeUnknown:
		v.Class, v.Unknown = Retryable, true
	default:
		// A missing or bad parameter, phone or method: the same request
		// gets the same answer.
		v.Class = Terminal
	}
	return v
}
