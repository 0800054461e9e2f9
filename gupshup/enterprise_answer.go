package gupshup

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error codes the Gateway puts in the id of an error answer. GUPSHUP.md does
// not list them; these are the ones public client code and resellers'
// copies of Gupshup's table agree on. They do not overlap the codes of
// section 3 of the notes, so Error.Code stays unambiguous per family.
const (
	EnterpriseCodeUnknown          = 100 // an unknown exception; retry later
	EnterpriseCodeMissingParameter = 101 // a required parameter is missing
	EnterpriseCodeAuthFailed       = 102 // invalid userid or password
	EnterpriseCodeNoSuchUser       = 103 // the userid does not exist
	EnterpriseCodeUserDisabled     = 104 // the account is disabled
	EnterpriseCodeInvalidPhone     = 105 // not a valid phone number
	EnterpriseCodeBadMethod        = 106 // the method is not supported
	EnterpriseCodeNullPhone        = 112 // the phone number field is empty
	EnterpriseCodeNoCredits        = 123 // not enough credits for the message
	EnterpriseCodePackExpired      = 124 // the WhatsApp pack has expired
	EnterpriseCodeNotAllowed       = 171 // the account may not perform this action
	EnterpriseCodeServiceDisabled  = 175 // a service (e.g. INTERNATIONAL_PHONE) is disabled
	EnterpriseCodeBadMediaType     = 328 // invalid media content type
)

// EnterpriseAccountWide reports whether a Gateway error code is about the
// account rather than the message: every send fails the same way until a
// person fixes credentials, credit or services. The Gateway answers bad
// credentials with HTTP 200 and code 102, not with a 401, so a classifier
// that looks only at the status misses them.
func EnterpriseAccountWide(code int) bool {
	switch code {
	case EnterpriseCodeAuthFailed, EnterpriseCodeNoSuchUser, EnterpriseCodeUserDisabled,
		EnterpriseCodeNoCredits, EnterpriseCodePackExpired, EnterpriseCodeNotAllowed,
		EnterpriseCodeServiceDisabled:
		return true
	}
	return false
}

// gatewayAnswer is one answer of the Gateway, in whichever format it came.
type gatewayAnswer struct {
	status  string // "success" or "error", lower case
	id      string // the message id on success, the error code on error
	phone   string
	details string
}

// result turns a completed exchange into a SendResult or an *Error. The
// body is read by its shape, not by the format asked for or the content
// type: proxies and error paths of the Gateway do not always honour either.
// An error answer counts whatever the HTTP status, since the Gateway sends
// most of them with 200.
func (c *EnterpriseClient) result(op string, r *response, wantID bool) (SendResult, error) {
	a, parsed := parseGatewayAnswer(r.body)
	if parsed && a.status == "success" && ok(r.status) {
		if wantID && a.id == "" {
			return SendResult{}, httpError(Enterprise, op, r, 0, "success answer without a message id")
		}
		return SendResult{MessageID: a.id, Status: a.status}, nil
	}
	var code int
	var msg string
	switch {
	case parsed && a.status == "error":
		code, msg = gatewayCode(a.id, a.details)
	case parsed:
		// A success with a non-2xx status: the status decides.
		msg = a.details
	case ok(r.status):
		msg = "unrecognised answer: " + bodyExcerpt(r.body)
	default:
		msg = bodyExcerpt(r.body)
	}
	return SendResult{}, httpError(Enterprise, op, r, code, c.scrub(strings.TrimSpace(msg)))
}

// gatewayCode splits the id of an error answer into Error.Code; an id that
// is not a number stays visible in the message.
func gatewayCode(id, details string) (int, string) {
	if id == "" {
		return 0, details
	}
	if n, err := strconv.Atoi(id); err == nil {
		return n, details
	}
	if details == "" {
		return 0, id
	}
	return 0, id + ": " + details
}

// scrub removes the password from text that came from the other side: a
// proxy or error page may echo the request, and a GET carries the password
// in its query string.
func (c *EnterpriseClient) scrub(s string) string {
	if c.password == "" || s == "" {
		return s
	}
	for _, form := range []string{c.password, url.QueryEscape(c.password), url.PathEscape(c.password)} {
		s = strings.ReplaceAll(s, form, "***")
	}
	return s
}

// bodyExcerpt is a short, printable piece of an unexpected body; HTML pages
// say nothing the status does not.
func bodyExcerpt(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '<' {
		return ""
	}
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	}
	const limit = 200
	if len(b) > limit {
		b = b[:limit]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return string(b) + "..."
	}
	return strings.ToValidUTF8(string(b), "?")
}

// parseGatewayAnswer reads the JSON form
// {"response":{"id":"...","phone":"...","details":"...","status":"success|error"}}
// (also with "response" holding a list, as for several recipients, of which
// the first counts) and the text form "success | <phone> | <id>" or
// "error | <code> | <details>", with any spacing around the bars.
func parseGatewayAnswer(body []byte) (gatewayAnswer, bool) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return gatewayAnswer{}, false
	}
	if body[0] == '{' {
		return parseGatewayJSON(body)
	}
	return parseGatewayText(body)
}

type gatewayJSONAnswer struct {
	ID      gatewayScalar `json:"id"`
	Phone   gatewayScalar `json:"phone"`
	Details gatewayScalar `json:"details"`
	Status  gatewayScalar `json:"status"`
}

func parseGatewayJSON(body []byte) (gatewayAnswer, bool) {
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Response) == 0 {
		return gatewayAnswer{}, false
	}
	var one gatewayJSONAnswer
	raw := bytes.TrimSpace(env.Response)
	if len(raw) > 0 && raw[0] == '[' {
		var list []gatewayJSONAnswer
		if err := json.Unmarshal(raw, &list); err != nil || len(list) == 0 {
			return gatewayAnswer{}, false
		}
		one = list[0]
	} else if err := json.Unmarshal(raw, &one); err != nil {
		return gatewayAnswer{}, false
	}
	a := gatewayAnswer{
		status:  strings.ToLower(strings.TrimSpace(string(one.Status))),
		id:      strings.TrimSpace(string(one.ID)),
		phone:   strings.TrimSpace(string(one.Phone)),
		details: strings.TrimSpace(string(one.Details)),
	}
	if a.status != "success" && a.status != "error" {
		return gatewayAnswer{}, false
	}
	return a, true
}

func parseGatewayText(body []byte) (gatewayAnswer, bool) {
	line := string(body)
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	f := strings.Split(line, "|")
	for i := range f {
		f[i] = strings.TrimSpace(f[i])
	}
	var a gatewayAnswer
	switch strings.ToLower(f[0]) {
	case "success":
		a.status = "success"
		switch len(f) {
		case 1:
		case 2:
			a.id = f[1]
		default:
			a.phone, a.id = f[1], f[2]
		}
	case "error":
		a.status = "error"
		switch len(f) {
		case 1:
		case 2:
			if _, err := strconv.Atoi(f[1]); err == nil {
				a.id = f[1]
			} else {
				a.details = f[1]
			}
		default:
			// Details may hold bars of their own ("... | Check your wallet balance").
			a.id, a.details = f[1], strings.Join(f[2:], " | ")
		}
	default:
		return gatewayAnswer{}, false
	}
	return a, true
}

// gatewayScalar takes a JSON string, number or null as text: ids and
// phones come as either, depending on the Gateway's version.
type gatewayScalar string

func (s *gatewayScalar) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = ""
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = gatewayScalar(v)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = gatewayScalar(n.String())
	}
	return nil
}
