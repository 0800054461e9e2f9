package gupshup

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// PartnerCredentials is how a partner client gets its app token: either
// the partner portal login (Email with Password, or with the client Secret
// the newer portal issues in its place), or an AppToken handed over as is
// for accounts that never log in. With AppToken set the rest is ignored,
// and a 401 cannot be cured by fetching a new token.
type PartnerCredentials struct {
	Email    string
	Password string
	Secret   string
	AppToken string
}

// PartnerClient sends Meta-format messages through the partner v3
// passthrough API and manages the app's subscriptions and WhatsApp flows.
// It is safe for concurrent use; all goroutines share one app token.
type PartnerClient struct {
	appID  string
	o      options
	tokens *partnerTokens
}

// NewPartner returns a client for one partner app.
func NewPartner(appID string, creds PartnerCredentials, opts ...Option) *PartnerClient {
	p := &PartnerClient{appID: appID, o: buildOptions(DefaultPartnerURL, opts)}
	p.tokens = newPartnerTokens(appID, creds, &p.o)
	return p
}

// WithPartnerForm makes a partner client send v3 messages form-encoded,
// each object as a field of JSON text, the way the seed's samples do.
// JSON is the default and what Meta's reference shows.
func WithPartnerForm() Option { return func(o *options) { o.partnerForm = true } }

// AppID is the Gupshup app the client acts for.
func (p *PartnerClient) AppID() string { return p.appID }

// String keeps the partner password, secret and tokens out of logs that
// print the client: without it, %s and %+v reach them through the token
// cache.
func (p *PartnerClient) String() string {
	return "gupshup partner client app=" + p.appID + " " + p.o.baseURL
}

// GoString does the same for %#v.
func (p *PartnerClient) GoString() string { return p.String() }

// Send validates m and sends it. The recipient is normalized to E.164
// digits first, so "+91 99700 12345" is fine. Gupshup's id of the message,
// the key of every later callback about it, comes back in MessageID.
func (p *PartnerClient) Send(ctx context.Context, m MetaMessage) (SendResult, error) {
	m = m.withDefaults()
	if n, err := NormalizePhone(m.To); err == nil {
		m.To = n
	}
	if err := m.Validate(); err != nil {
		return SendResult{}, err
	}
	body, err := json.Marshal(m)
	if err != nil {
		return SendResult{}, invalid("message", "%v", err)
	}
	var form url.Values
	if p.o.partnerForm {
		if form, err = metaForm(body); err != nil {
			return SendResult{}, invalid("message", "%v", err)
		}
	}
	u := p.appURL("/v3/message")
	r, err := p.call(ctx, "send", func() (*http.Request, error) {
		if form != nil {
			return newFormRequest(http.MethodPost, u, form)
		}
		return partnerJSONRequest(http.MethodPost, u, body)
	})
	if err != nil {
		return SendResult{}, err
	}
	return parsePartnerSend(r)
}

// metaForm turns the marshalled message into the form the seed shows:
// strings as they are, objects and arrays as their JSON text.
func metaForm(body []byte) (url.Values, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return nil, err
	}
	form := url.Values{}
	for k, v := range fields {
		if len(v) > 0 && v[0] == '"' {
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, err
			}
			form.Set(k, s)
			continue
		}
		form.Set(k, string(v))
	}
	return form, nil
}

func parsePartnerSend(r *response) (SendResult, error) {
	var out struct {
		Messages []struct {
			ID            string `json:"id"`
			MessageStatus string `json:"message_status"`
		} `json:"messages"`
		Contacts []struct {
			Input string `json:"input"`
			WaID  string `json:"wa_id"`
		} `json:"contacts"`
		// Gupshup's own shape, should an answer come in it.
		Status    string `json:"status"`
		MessageID string `json:"messageId"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(r.body, &out); err != nil {
		return SendResult{}, httpError(Partner, "send", r, 0, "unreadable answer to an accepted send")
	}
	if strings.EqualFold(out.Status, "error") {
		code, msg := decodePartnerError(r.body)
		return SendResult{}, httpError(Partner, "send", r, code, msg)
	}
	res := SendResult{MessageID: out.MessageID, Status: out.Status}
	if len(out.Messages) > 0 {
		res.MessageID = out.Messages[0].ID
		if s := out.Messages[0].MessageStatus; s != "" {
			res.Status = s
		}
	}
	if res.Status == "" {
		// Meta's word for a message it took; the v3 answer usually has none.
		res.Status = "accepted"
	}
	if len(out.Contacts) > 0 {
		res.WaID = out.Contacts[0].WaID
	}
	if res.MessageID == "" {
		return SendResult{}, httpError(Partner, "send", r, 0, "answer has no message id")
	}
	return res, nil
}

// call runs one request of the app with the app token. A 401 means the
// token went bad before its time (revoked, or Gupshup restarted its token
// store): the token is dropped, a new one fetched, and the request tried
// once more; a second 401 is the answer. build is called per attempt
// because a request body can be read only once.
func (p *PartnerClient) call(ctx context.Context, op string, build func() (*http.Request, error)) (*response, error) {
	for attempt := 0; ; attempt++ {
		tok, err := p.tokens.get(ctx)
		if err != nil {
			return nil, err
		}
		req, err := build()
		if err != nil {
			return nil, &Error{Family: Partner, Op: op, Err: err}
		}
		req.Header.Set("Authorization", tok)
		req.Header.Set("Accept", "application/json")
		r, err := p.o.do(ctx, Partner, op, req)
		if err != nil {
			return nil, err
		}
		if r.status == http.StatusUnauthorized && attempt == 0 && p.tokens.renewable() {
			p.tokens.invalidate(tok)
			continue
		}
		if !ok(r.status) {
			return nil, partnerError(op, r)
		}
		return r, nil
	}
}

func (p *PartnerClient) appURL(suffix string) string {
	return p.o.baseURL + "/partner/app/" + url.PathEscape(p.appID) + suffix
}

func partnerJSONRequest(method, u string, body []byte) (*http.Request, error) {
	if body == nil {
		return http.NewRequest(method, u, nil)
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return req, nil
}

// partnerError builds the *Error of a non-2xx partner answer.
func partnerError(op string, r *response) *Error {
	code, msg := decodePartnerError(r.body)
	return httpError(Partner, op, r, code, msg)
}

// decodePartnerError reads the two error shapes the partner API answers
// with, alone or together: Meta's {"error":{"message","code","error_data":
// {"details"}}} for what Meta refused, and Gupshup's {"status":"error",
// "message"} for what Gupshup refused itself. Meta's is the more precise
// and wins. A body that is not JSON (a proxy's HTML page) gives nothing:
// the status says enough, and the page would only clutter the logs.
func decodePartnerError(body []byte) (int, string) {
	var e struct {
		Message json.RawMessage `json:"message"`
		Code    partnerInt      `json:"code"`
		Error   json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return 0, ""
	}
	code, msg := int(e.Code), partnerText(e.Message)
	if len(e.Error) > 0 {
		var meta struct {
			Message   string     `json:"message"`
			Code      partnerInt `json:"code"`
			Title     string     `json:"error_user_title"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		}
		if json.Unmarshal(e.Error, &meta) == nil {
			if meta.Code != 0 {
				code = int(meta.Code)
			}
			m := meta.Message
			if m == "" {
				m = meta.Title
			}
			if d := meta.ErrorData.Details; d != "" && d != m {
				if m == "" {
					m = d
				} else {
					m += ": " + d
				}
			}
			if m != "" {
				msg = m
			}
		} else if s := partnerText(e.Error); s != "" && msg == "" {
			msg = s
		}
	}
	return code, msg
}

// partnerText reads a JSON string, or keeps other JSON as its text.
func partnerText(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// partnerInt reads a JSON number, a string holding one, or null: Gupshup
// answers carry codes and ids both ways.
type partnerInt int64

func (n *partnerInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return err
		}
		v = int64(f)
	}
	*n = partnerInt(v)
	return nil
}

// partnerString reads a JSON string or a number as text: ids come both ways.
type partnerString string

func (s *partnerString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*s = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = partnerString(v)
		return nil
	}
	*s = partnerString(b)
	return nil
}

// partnerOK reads the "success" and "status" a partner management answer
// may carry and turns a 2xx that says it failed into an error.
func partnerOK(op string, r *response) error {
	var st struct {
		Status  string          `json:"status"`
		Success *bool           `json:"success"`
		Message json.RawMessage `json:"message"`
	}
	if json.Unmarshal(r.body, &st) != nil {
		return nil // an array or an empty body: nothing says it failed
	}
	if strings.EqualFold(st.Status, "error") || (st.Success != nil && !*st.Success) {
		code, msg := decodePartnerError(r.body)
		if msg == "" {
			msg = "the answer says it failed"
		}
		return httpError(Partner, op, r, code, msg)
	}
	return nil
}
