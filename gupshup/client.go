package gupshup

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Default base URLs of the three families.
const (
	DefaultSelfServeURL  = "https://api.gupshup.io"
	DefaultEnterpriseURL = "https://media.smsgupshup.com/GatewayAPI/rest"
	DefaultPartnerURL    = "https://partner.gupshup.io"
)

// DefaultTimeout bounds one call when the caller's context has no earlier deadline.
const DefaultTimeout = 15 * time.Second

// maxBody caps what is read of a response: Gupshup answers are a few hundred
// bytes, and a misbehaving proxy must not make the worker buffer megabytes.
const maxBody = 1 << 20

var sharedHTTPClient = NewHTTPClient()

// NewHTTPClient returns an http.Client tuned for many concurrent sends to one
// host: a keep-alive pool large enough that hundreds of goroutines reuse
// connections instead of dialling (the default transport keeps only two idle
// connections per host, which makes a busy worker reconnect constantly).
// Timeouts are per call (see WithTimeout), not on the client.
func NewHTTPClient() *http.Client {
	t := &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   512,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
	return &http.Client{Transport: t}
}

// Option configures a client of any family.
type Option func(*options)

type options struct {
	baseURL     string
	httpClient  *http.Client
	timeout     time.Duration
	userAgent   string
	legacy      bool   // self-serve: /sm/api/v1 instead of /wa/api/v1
	aesKey      []byte // enterprise: encrypt parameters into encrdata
	format      string // enterprise: json or text
	method      string // enterprise: GET or POST
	partnerForm bool   // partner: v3 sends form-encoded instead of JSON
	now         func() time.Time
}

func buildOptions(defaultURL string, opts []Option) options {
	o := options{
		baseURL:    defaultURL,
		httpClient: sharedHTTPClient,
		timeout:    DefaultTimeout,
		userAgent:  "waqueue-gupshup/1",
		format:     "json",
		method:     http.MethodPost,
		now:        time.Now,
	}
	for _, opt := range opts {
		opt(&o)
	}
	o.baseURL = strings.TrimRight(o.baseURL, "/")
	return o
}

// WithBaseURL points the client at another host, such as the simulator.
func WithBaseURL(u string) Option { return func(o *options) { o.baseURL = u } }

// WithHTTPClient replaces the shared, tuned http.Client.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.httpClient = c } }

// WithTimeout bounds each call; 0 leaves only the caller's context.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithLegacyPaths makes a self-serve client use the /sm/api/v1 message paths
// the seed documents instead of the current /wa/api/v1 ones.
func WithLegacyPaths() Option { return func(o *options) { o.legacy = true } }

// WithAESKey makes an enterprise client encrypt its parameters into encrdata
// with the account's 256-bit key (see EncryptParams).
func WithAESKey(key []byte) Option { return func(o *options) { o.aesKey = key } }

// WithTextFormat makes an enterprise client ask for format=text answers.
func WithTextFormat() Option { return func(o *options) { o.format = "text" } }

// WithGET makes an enterprise client use GET with a query string instead of a POST form.
func WithGET() Option { return func(o *options) { o.method = http.MethodGet } }

// withClock is for tests of token expiry.
func withClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// response is what came back from a completed exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do runs one request and reads its answer. A non-2xx answer is not an error
// here: each family decodes its own error bodies with decodeErr and then
// calls httpError. Transport failures and timeouts come back as *Error.
func (o *options) do(ctx context.Context, fam Family, op string, req *http.Request) (*response, error) {
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	req = req.WithContext(ctx)
	if o.userAgent != "" {
		req.Header.Set("User-Agent", o.userAgent)
	}
	resp, err := o.httpClient.Do(req)
	if err != nil {
		return nil, transportError(fam, op, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, transportError(fam, op, err)
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func transportError(fam Family, op string, err error) *Error {
	e := &Error{Family: fam, Op: op, Transport: true, Err: stripURL(err)}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		e.Timeout, e.Transport = true, false
	}
	return e
}

// stripURL drops the request URL from a *url.Error: an enterprise GET carries
// the password in its query string, and errors end up in logs and in the
// task's last error in Redis.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// httpError builds the *Error for a non-2xx answer.
func httpError(fam Family, op string, r *response, code int, msg string) *Error {
	e := &Error{Family: fam, Op: op, HTTPStatus: r.status, Code: code, Message: msg}
	if ra := r.header.Get("Retry-After"); ra != "" {
		if s, err := strconv.Atoi(ra); err == nil && s >= 0 {
			e.RetryAfter = time.Duration(s) * time.Second
		} else if t, err := http.ParseTime(ra); err == nil {
			e.RetryAfter = time.Until(t)
		}
	}
	return e
}

func ok(status int) bool { return status >= 200 && status < 300 }

func newFormRequest(method, u string, form url.Values) (*http.Request, error) {
	if method == http.MethodGet {
		if len(form) > 0 {
			u += "?" + form.Encode()
		}
		return http.NewRequest(method, u, nil)
	}
	req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// SendResult is what Gupshup answers to an accepted send.
type SendResult struct {
	// MessageID is Gupshup's id of the message: the key of every callback
	// about it (v2 id/gsId, v3 gs_id, enterprise externalId).
	MessageID string
	// Status is Gupshup's word for the acceptance: "submitted" or "success".
	Status string
	// WaID is the WhatsApp id of the recipient, when the answer names it (partner).
	WaID string
}
