package gupshup

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SelfServeClient sends WhatsApp messages through the self-serve API of
// gupshup.io for one app, authenticated by the account's API key. It is safe
// for concurrent use.
//
// The type is not called SelfServe because that name is the Family constant
// every *Error carries.
type SelfServeClient struct {
	apiKey  string
	appName string
	o       options

	msgURL, templateURL, optInURL, optOutURL, usersURL string
}

// NewSelfServe returns a client of the app appName. The base URL defaults to
// DefaultSelfServeURL; WithLegacyPaths switches the two message paths to
// /sm/api/v1.
func NewSelfServe(apiKey, appName string, opts ...Option) *SelfServeClient {
	o := buildOptions(DefaultSelfServeURL, opts)
	prefix := "/wa/api/v1"
	if o.legacy {
		prefix = "/sm/api/v1"
	}
	app := url.PathEscape(appName)
	return &SelfServeClient{
		apiKey:      apiKey,
		appName:     appName,
		o:           o,
		msgURL:      o.baseURL + prefix + "/msg",
		templateURL: o.baseURL + prefix + "/template/msg",
		// Opt-in and users exist only under /sm: Gupshup never moved them.
		optInURL:  o.baseURL + "/sm/api/v1/app/opt/in/" + app,
		optOutURL: o.baseURL + "/sm/api/v1/app/opt/out/" + app,
		usersURL:  o.baseURL + "/sm/api/v1/users/" + app,
	}
}

// String keeps the API key out of logs that print the client with %v.
func (c *SelfServeClient) String() string {
	return "gupshup.SelfServeClient{app: " + strconv.Quote(c.appName) + "}"
}

// GoString does the same for %#v.
func (c *SelfServeClient) GoString() string { return c.String() }

// SessionMessage is a send of a free-form message, which WhatsApp delivers
// only within 24 hours of the user's last message.
type SessionMessage struct {
	// Source is the app's business number; Destination the user's. Both
	// are normalized to E.164 digits before sending.
	Source      string
	Destination string
	Message     Message
	// DisablePreview asks WhatsApp not to render a preview (of a link, or
	// of media as the seed words it).
	DisablePreview bool
	// Encode must be set when a list message carries emoji, which Gupshup
	// otherwise mangles; it does nothing for other types.
	Encode bool
}

// Validate checks the whole send before anything goes on the wire.
func (m SessionMessage) Validate() error {
	if _, err := NormalizePhone(m.Source); err != nil {
		return invalid("source", "%v", err)
	}
	if _, err := NormalizePhone(m.Destination); err != nil {
		return invalid("destination", "%v", err)
	}
	// A nil *Text is a non-nil Message whose Validate would panic in the worker.
	if m.Message == nil || (reflect.ValueOf(m.Message).Kind() == reflect.Pointer && reflect.ValueOf(m.Message).IsNil()) {
		return invalid("message", "is missing")
	}
	return m.Message.Validate()
}

// Send sends a session message. An accepted send says only that Gupshup
// took the message: whether it reached the user arrives later as callbacks
// keyed by SendResult.MessageID.
func (c *SelfServeClient) Send(ctx context.Context, m SessionMessage) (SendResult, error) {
	if err := c.credentials(); err != nil {
		return SendResult{}, err
	}
	if err := m.Validate(); err != nil {
		return SendResult{}, err
	}
	msg, err := json.Marshal(m.Message)
	if err != nil {
		return SendResult{}, invalid("message", "cannot be encoded: %v", err)
	}
	src, _ := NormalizePhone(m.Source)
	dst, _ := NormalizePhone(m.Destination)
	form := url.Values{
		"channel":     {"whatsapp"},
		"source":      {src},
		"src.name":    {c.appName},
		"destination": {dst},
		"message":     {string(msg)},
	}
	if m.DisablePreview {
		form.Set("disablePreview", "true")
	}
	if m.Encode {
		form.Set("encode", "true")
	}
	return c.send(ctx, "send", c.msgURL, form)
}

// SendTemplate sends an approved template. Whether the template and its
// parameters matched is not known until the callbacks: a mismatch fails
// there with code 4003 or 132000 and up.
func (c *SelfServeClient) SendTemplate(ctx context.Context, t TemplateMessage) (SendResult, error) {
	if err := c.credentials(); err != nil {
		return SendResult{}, err
	}
	if err := t.Validate(); err != nil {
		return SendResult{}, err
	}
	tpl, err := t.templateJSON()
	if err != nil {
		return SendResult{}, invalid("template", "cannot be encoded: %v", err)
	}
	src, _ := NormalizePhone(t.Source)
	dst, _ := NormalizePhone(t.Destination)
	form := url.Values{
		"channel":     {"whatsapp"},
		"source":      {src},
		"src.name":    {c.appName},
		"destination": {dst},
		"template":    {string(tpl)},
	}
	if len(t.PostbackTexts) > 0 {
		pb, err := json.Marshal(t.PostbackTexts)
		if err != nil {
			return SendResult{}, invalid("postbackTexts", "cannot be encoded: %v", err)
		}
		form.Set("postbackTexts", string(pb))
	}
	if t.Media != nil {
		media, err := json.Marshal(t.Media)
		if err != nil {
			return SendResult{}, invalid("message", "cannot be encoded: %v", err)
		}
		form.Set("message", string(media))
	}
	return c.send(ctx, "template", c.templateURL, form)
}

// OptIn records the user's consent to template messages. Gupshup no longer
// checks it on send, but accounts created before 2024 may still need it.
func (c *SelfServeClient) OptIn(ctx context.Context, phone string) error {
	return c.opt(ctx, "optin", c.optInURL, phone)
}

// OptOut withdraws the user's consent.
func (c *SelfServeClient) OptOut(ctx context.Context, phone string) error {
	return c.opt(ctx, "optout", c.optOutURL, phone)
}

func (c *SelfServeClient) opt(ctx context.Context, op, u, phone string) error {
	if err := c.credentials(); err != nil {
		return err
	}
	p, err := NormalizePhone(phone)
	if err != nil {
		return invalid("user", "%v", err)
	}
	r, err := c.exchange(ctx, op, http.MethodPost, u, url.Values{"user": {p}})
	if err != nil {
		return err
	}
	// The answer is 202 with an empty body; a body saying "error" still counts.
	if a, isJSON := decodeSelfServeAnswer(r.body); isJSON && strings.EqualFold(a.Status, "error") {
		return c.answerError(op, r, a)
	}
	return nil
}

// User is one user of the app as the users API lists them.
type User struct {
	// PhoneCode is the user's number, E.164 digits.
	PhoneCode   string `json:"phoneCode"`
	CountryCode string `json:"countryCode"`
	// LastMessageTimeStamp is when the user last wrote, in Unix
	// milliseconds; 0 when never.
	LastMessageTimeStamp int64 `json:"lastMessageTimeStamp"`
	// OptinSource says how the opt-in was taken: API, URL, ...
	OptinSource string `json:"optinSource"`
	// OptinStatus is OPT_IN or OPT_OUT.
	OptinStatus string `json:"optinStatus"`
	// OptinTimeStamp is when the status was set, in Unix milliseconds.
	OptinTimeStamp int64 `json:"optinTimeStamp"`
}

// OptedIn reports whether the user's current status is an opt-in.
func (u User) OptedIn() bool { return u.OptinStatus == "OPT_IN" }

// LastMessage is LastMessageTimeStamp as a time; zero when the user never wrote.
func (u User) LastMessage() time.Time { return selfServeMillis(u.LastMessageTimeStamp) }

// OptinTime is OptinTimeStamp as a time.
func (u User) OptinTime() time.Time { return selfServeMillis(u.OptinTimeStamp) }

func selfServeMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// Users lists the app's users with their opt-in state.
func (c *SelfServeClient) Users(ctx context.Context) ([]User, error) {
	if err := c.credentials(); err != nil {
		return nil, err
	}
	r, err := c.exchange(ctx, "users", http.MethodGet, c.usersURL, nil)
	if err != nil {
		return nil, err
	}
	var a struct {
		Status string `json:"status"`
		Users  []User `json:"users"`
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		return nil, &Error{Family: SelfServe, Op: "users", HTTPStatus: r.status, Message: "answer is not the users JSON", Err: err}
	}
	if strings.EqualFold(a.Status, "error") {
		ans, _ := decodeSelfServeAnswer(r.body)
		return nil, c.answerError("users", r, ans)
	}
	return a.Users, nil
}

func (c *SelfServeClient) credentials() error {
	if c.apiKey == "" {
		return invalid("apikey", "is empty")
	}
	if c.appName == "" {
		return invalid("src.name", "is empty")
	}
	return nil
}

func (c *SelfServeClient) send(ctx context.Context, op, u string, form url.Values) (SendResult, error) {
	r, err := c.exchange(ctx, op, http.MethodPost, u, form)
	if err != nil {
		return SendResult{}, err
	}
	a, isJSON := decodeSelfServeAnswer(r.body)
	switch {
	case !isJSON:
		// The message may well have been taken, but without an id nothing
		// can be tracked: the caller must treat the send as unknown.
		return SendResult{}, &Error{Family: SelfServe, Op: op, HTTPStatus: r.status, Message: selfServeJoin("answer is not JSON", c.excerpt(r.body))}
	case strings.EqualFold(a.Status, "error"):
		return SendResult{}, c.answerError(op, r, a)
	case a.MessageID == "":
		return SendResult{}, &Error{Family: SelfServe, Op: op, HTTPStatus: r.status, Message: selfServeJoin("answer has no messageId", c.excerpt(r.body))}
	}
	return SendResult{MessageID: a.MessageID, Status: a.Status}, nil
}

// exchange runs one call and turns any non-2xx answer into an *Error.
func (c *SelfServeClient) exchange(ctx context.Context, op, method, u string, form url.Values) (*response, error) {
	req, err := newFormRequest(method, u, form)
	if err != nil {
		return nil, &Error{Family: SelfServe, Op: op, Err: err}
	}
	req.Header.Set("apikey", c.apiKey)
	if method != http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	r, err := c.o.do(ctx, SelfServe, op, req)
	if err != nil {
		return nil, err
	}
	if !ok(r.status) {
		a, _ := decodeSelfServeAnswer(r.body)
		return nil, c.answerError(op, r, a)
	}
	return r, nil
}

// selfServeAnswer is every JSON answer of the family: success, error, and
// the variants seen in the wild ("code" as a number or a string, "message"
// as an object).
type selfServeAnswer struct {
	Status    string          `json:"status"`
	MessageID string          `json:"messageId"`
	Message   json.RawMessage `json:"message"`
	Code      json.RawMessage `json:"code"`
}

// decodeSelfServeAnswer parses the body whatever the Content-Type said:
// Gupshup labels its JSON text/html.
func decodeSelfServeAnswer(body []byte) (selfServeAnswer, bool) {
	var a selfServeAnswer
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return a, false
	}
	if err := json.Unmarshal(b, &a); err != nil {
		return a, false
	}
	return a, true
}

// answerError builds the *Error of a refused call from whatever the body
// holds: JSON with a message and maybe a code, a plain-text line, or a
// proxy's HTML page (of which only the status is worth keeping).
func (c *SelfServeClient) answerError(op string, r *response, a selfServeAnswer) *Error {
	code := selfServeCode(a.Code)
	msg := ""
	if len(a.Message) > 0 {
		var s string
		if json.Unmarshal(a.Message, &s) == nil {
			msg = s
		} else {
			var nested struct {
				Code    json.RawMessage `json:"code"`
				Message string          `json:"message"`
				Reason  string          `json:"reason"`
				Details string          `json:"details"`
			}
			if json.Unmarshal(a.Message, &nested) == nil {
				msg = selfServeFirst(nested.Message, nested.Reason, nested.Details)
				if code == 0 {
					code = selfServeCode(nested.Code)
				}
			}
		}
	}
	if msg == "" && a.Status == "" && a.MessageID == "" {
		msg = c.excerpt(r.body)
	}
	if msg == "" {
		msg = http.StatusText(r.status)
		if ok(r.status) {
			msg = `answer says status "error"`
		}
	}
	return httpError(SelfServe, op, r, code, c.redact(msg))
}

func selfServeCode(raw json.RawMessage) int {
	if len(raw) == 0 {
		return 0
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			return n
		}
	}
	return 0
}

func selfServeJoin(what, excerpt string) string {
	if excerpt == "" {
		return what
	}
	return what + ": " + excerpt
}

func selfServeFirst(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// excerpt keeps a short plain-text body ("Authentication Failed") and drops
// HTML and anything long: an error page is noise in a task's last error.
func (c *SelfServeClient) excerpt(body []byte) string {
	s := strings.TrimSpace(string(body))
	if s == "" || s[0] == '<' || strings.Contains(strings.ToLower(s[:min(len(s), 64)]), "<html") {
		return ""
	}
	if len(s) > 200 {
		cut := 200
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return c.redact(s)
}

// redact removes the API key from text that came back from the other side:
// a misconfigured proxy may echo request headers in an error page, and the
// error ends up in logs and in the task's record.
func (c *SelfServeClient) redact(s string) string {
	if c.apiKey == "" || !strings.Contains(s, c.apiKey) {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, "[redacted]")
}
