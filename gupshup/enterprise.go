package gupshup

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// EnterpriseClient calls the Enterprise Gateway API (GatewayAPI/rest): one
// URL, userid and password in the parameters, the operation in "method".
// It is safe for concurrent use.
//
// The type is not called Enterprise because that name is the Family constant.
type EnterpriseClient struct {
	userID   string
	password string
	o        options
}

// NewEnterprise returns a client for the account userID. The base URL is the
// full Gateway URL (DefaultEnterpriseURL unless WithBaseURL says otherwise,
// e.g. "https://media.msgupshup.com/GatewayAPI/rest" as the seed spells the
// host, or a simulator's URL + "/GatewayAPI/rest"). Requests are POST forms
// unless WithGET; answers are asked for in JSON unless WithTextFormat; with
// WithAESKey every parameter but userid travels encrypted in encrdata.
func NewEnterprise(userID, password string, opts ...Option) *EnterpriseClient {
	return &EnterpriseClient{userID: userID, password: password, o: buildOptions(DefaultEnterpriseURL, opts)}
}

// String keeps the password and key out of logs that print the client.
func (c *EnterpriseClient) String() string {
	enc := ""
	if c.o.aesKey != nil {
		enc = " encrypted"
	}
	return "gupshup enterprise client userid=" + c.userID + " " + c.o.method + " " + c.o.baseURL + enc
}

// GoString does the same for %#v.
func (c *EnterpriseClient) GoString() string { return c.String() }

// EnterpriseMessage is a free-form text message (msg_type=TEXT). WhatsApp
// delivers it only within 24 hours of the user's last message to the
// business; outside that window use a template.
type EnterpriseMessage struct {
	// To is the recipient (send_to); any form NormalizePhone accepts.
	To string
	// Text is the message (msg).
	Text string
}

// EnterpriseTemplate is a template message (msg_type=HSM, isTemplate=true).
// The Gateway finds the template by its text: Text is the approved template
// with its variables filled in, so there is no template id.
type EnterpriseTemplate struct {
	To   string
	Text string
	// Header and Footer are the template's text header and footer, when it has them.
	Header string
	Footer string
	// ButtonURLParam is the dynamic suffix of a URL button (buttonUrlParam).
	ButtonURLParam string
}

// EnterpriseMediaType is the msg_type of a SendMediaMessage.
type EnterpriseMediaType string

const (
	EnterpriseImage    EnterpriseMediaType = "IMAGE"
	EnterpriseDocument EnterpriseMediaType = "DOCUMENT"
	EnterpriseVideo    EnterpriseMediaType = "VIDEO"
	EnterpriseAudio    EnterpriseMediaType = "AUDIO"
)

// EnterpriseMedia is a media message (method=SendMediaMessage), or a media
// template when Template is set.
type EnterpriseMedia struct {
	To   string
	Type EnterpriseMediaType
	// URL is where Gupshup fetches the file (media_url): absolute http or https.
	URL string
	// Caption is shown under an image, video or document; for a media
	// template it is the template text.
	Caption string
	// Filename is the name a document is shown with; required for DOCUMENT.
	Filename string
	// Template sends an approved media template (isTemplate=true).
	Template bool
	// Footer and ButtonURLParam belong to media templates only.
	Footer         string
	ButtonURLParam string
}

// Gateway parameter values.
const (
	enterpriseVersion    = "1.1"
	enterpriseAuthScheme = "plain"
	enterpriseChannel    = "WHATSAPP"
	enterpriseUnicode    = "Unicode_text"
)

// OptIn marks phone as having agreed to receive WhatsApp notifications
// (method=OPT_IN). Business-initiated messages to users who did not opt in
// may fail.
func (c *EnterpriseClient) OptIn(ctx context.Context, phone string) error {
	return c.opt(ctx, "optin", "OPT_IN", phone)
}

// OptOut withdraws that consent (method=OPT_OUT).
func (c *EnterpriseClient) OptOut(ctx context.Context, phone string) error {
	return c.opt(ctx, "optout", "OPT_OUT", phone)
}

func (c *EnterpriseClient) opt(ctx context.Context, op, method, phone string) error {
	p, err := NormalizePhone(phone)
	if err != nil {
		return invalid("phone_number", "%v", err)
	}
	params := url.Values{"method": {method}, "phone_number": {p}}
	_, err = c.call(ctx, op, params, false)
	return err
}

// SendText sends a free-form text message.
func (c *EnterpriseClient) SendText(ctx context.Context, m EnterpriseMessage) (SendResult, error) {
	to, err := enterpriseRecipient(m.To)
	if err != nil {
		return SendResult{}, err
	}
	if strings.TrimSpace(m.Text) == "" {
		return SendResult{}, invalid("msg", "is empty")
	}
	params := url.Values{
		"method":   {"SendMessage"},
		"send_to":  {to},
		"msg":      {m.Text},
		"msg_type": {"TEXT"},
	}
	setEncoding(params, m.Text)
	return c.call(ctx, "send", params, true)
}

// SendTemplate sends a template message.
func (c *EnterpriseClient) SendTemplate(ctx context.Context, t EnterpriseTemplate) (SendResult, error) {
	to, err := enterpriseRecipient(t.To)
	if err != nil {
		return SendResult{}, err
	}
	if strings.TrimSpace(t.Text) == "" {
		return SendResult{}, invalid("msg", "is empty: give the template text with its variables filled in")
	}
	params := url.Values{
		"method":     {"SendMessage"},
		"send_to":    {to},
		"msg":        {t.Text},
		"msg_type":   {"HSM"},
		"isTemplate": {"true"},
	}
	setIf(params, "header", t.Header)
	setIf(params, "footer", t.Footer)
	setIf(params, "buttonUrlParam", t.ButtonURLParam)
	setEncoding(params, t.Text, t.Header, t.Footer)
	return c.call(ctx, "template", params, true)
}

// SendMedia sends an image, document, video or audio message, or a media
// template.
func (c *EnterpriseClient) SendMedia(ctx context.Context, m EnterpriseMedia) (SendResult, error) {
	to, err := enterpriseRecipient(m.To)
	if err != nil {
		return SendResult{}, err
	}
	typ := EnterpriseMediaType(strings.ToUpper(strings.TrimSpace(string(m.Type))))
	switch typ {
	case EnterpriseImage, EnterpriseDocument, EnterpriseVideo, EnterpriseAudio:
	case "":
		return SendResult{}, invalid("msg_type", "is empty: give IMAGE, DOCUMENT, VIDEO or AUDIO")
	default:
		return SendResult{}, invalid("msg_type", "%q is not IMAGE, DOCUMENT, VIDEO or AUDIO", m.Type)
	}
	if err := checkMediaURL(m.URL); err != nil {
		return SendResult{}, err
	}
	if typ == EnterpriseDocument && strings.TrimSpace(m.Filename) == "" {
		return SendResult{}, invalid("filename", "is empty: WhatsApp shows a document under its file name")
	}
	if typ == EnterpriseAudio && m.Caption != "" {
		return SendResult{}, invalid("caption", "WhatsApp shows no caption with audio")
	}
	if m.Template && strings.TrimSpace(m.Caption) == "" {
		return SendResult{}, invalid("caption", "is empty: a media template needs its text in caption")
	}
	if !m.Template && (m.Footer != "" || m.ButtonURLParam != "") {
		return SendResult{}, invalid("isTemplate", "footer and buttonUrlParam belong to media templates; set Template")
	}
	params := url.Values{
		"method":    {"SendMediaMessage"},
		"send_to":   {to},
		"msg_type":  {string(typ)},
		"media_url": {m.URL},
	}
	setIf(params, "caption", m.Caption)
	setIf(params, "filename", m.Filename)
	if m.Template {
		params.Set("isTemplate", "true")
		setIf(params, "footer", m.Footer)
		setIf(params, "buttonUrlParam", m.ButtonURLParam)
	}
	setEncoding(params, m.Caption, m.Footer)
	return c.call(ctx, "media", params, true)
}

func enterpriseRecipient(to string) (string, error) {
	p, err := NormalizePhone(to)
	if err != nil {
		return "", invalid("send_to", "%v", err)
	}
	return p, nil
}

func checkMediaURL(s string) error {
	if strings.TrimSpace(s) == "" {
		return invalid("media_url", "is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return invalid("media_url", "is not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return invalid("media_url", "must be an absolute http or https URL Gupshup can fetch")
	}
	return nil
}

func setIf(v url.Values, key, value string) {
	if value != "" {
		v.Set(key, value)
	}
}

// setEncoding asks for Unicode_text when any text needs it; the Gateway's
// default encoding would garble everything outside ASCII and GSM 03.38.
func setEncoding(v url.Values, texts ...string) {
	for _, t := range texts {
		if !plainText(t) {
			v.Set("data_encoding", enterpriseUnicode)
			return
		}
	}
}

// call adds the account and protocol parameters, encrypts when configured,
// sends, and reads the answer. wantID is false for opt-in and opt-out, whose
// answers carry no message id anyone needs.
func (c *EnterpriseClient) call(ctx context.Context, op string, params url.Values, wantID bool) (SendResult, error) {
	if c.userID == "" {
		return SendResult{}, invalid("userid", "is empty")
	}
	if c.password == "" {
		return SendResult{}, invalid("password", "is empty")
	}
	params.Set("password", c.password)
	params.Set("v", enterpriseVersion)
	params.Set("auth_scheme", enterpriseAuthScheme)
	params.Set("format", c.o.format)
	params.Set("channel", enterpriseChannel)

	wire := url.Values{"userid": {c.userID}}
	if c.o.aesKey != nil {
		enc, err := EncryptParams(c.o.aesKey, params)
		if err != nil {
			if errors.Is(err, ErrAESKeySize) {
				return SendResult{}, invalid("encrdata", "%v", err)
			}
			return SendResult{}, &Error{Family: Enterprise, Op: op, Err: err}
		}
		wire.Set("encrdata", enc)
	} else {
		for k, vs := range params {
			wire[k] = vs
		}
	}

	req, err := c.newRequest(wire)
	if err != nil {
		return SendResult{}, err
	}
	r, err := c.o.do(ctx, Enterprise, op, req)
	if err != nil {
		return SendResult{}, err
	}
	return c.result(op, r, wantID)
}

// newRequest builds the request from the parsed base URL instead of a
// string with the query appended: a parse error quotes its input, and for a
// GET that input would hold the password.
func (c *EnterpriseClient) newRequest(wire url.Values) (*http.Request, error) {
	base, err := url.Parse(c.o.baseURL)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, invalid("base URL", "%q is not an absolute http(s) URL", c.o.baseURL)
	}
	if c.o.method == http.MethodGet {
		req, err := http.NewRequest(http.MethodGet, base.String(), nil)
		if err != nil {
			return nil, invalid("base URL", "%q cannot be used: %v", c.o.baseURL, err)
		}
		q := wire.Encode()
		if req.URL.RawQuery != "" {
			q = req.URL.RawQuery + "&" + q
		}
		req.URL.RawQuery = q
		return req, nil
	}
	req, err := http.NewRequest(http.MethodPost, base.String(), strings.NewReader(wire.Encode()))
	if err != nil {
		return nil, invalid("base URL", "%q cannot be used: %v", c.o.baseURL, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}
