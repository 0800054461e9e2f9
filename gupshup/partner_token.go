package gupshup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// The partner API allows 10 login and token calls a minute. The client
// keeps under it itself: a burst of 401s must not lock the account out of
// the calls that would cure them.
const (
	partnerTokenCalls  = 10
	partnerTokenWindow = time.Minute
)

// partnerTokenLife is how long a partner (login) token lasts per Gupshup's
// documentation; the login answer does not say. It is used a little less
// long, and a 401 from the token endpoint sends the client to log in again
// in any case.
const (
	partnerTokenLife   = 24 * time.Hour
	partnerTokenMargin = 5 * time.Minute
)

// partnerToken is a token and when to stop using it; a zero expires means
// until a 401 says otherwise (Gupshup's expiresOn 0).
type partnerToken struct {
	value   string
	expires time.Time
}

func (t *partnerToken) valid(now time.Time) bool {
	return t != nil && t.value != "" && (t.expires.IsZero() || now.Before(t.expires))
}

// partnerRefresh is one fetch of the app token that every caller arriving
// while it runs waits for, so that a thousand goroutines finding the token
// expired cause one login and one token call, not a thousand.
type partnerRefresh struct {
	done chan struct{}
	tok  *partnerToken
	err  error
}

type partnerTokens struct {
	appID string
	creds PartnerCredentials
	o     *options

	app atomic.Pointer[partnerToken] // read without a lock on every call

	mu       sync.Mutex
	inflight *partnerRefresh
	// partner is only touched by the refresh that is in flight, and
	// refreshes never overlap.
	partner partnerToken

	limMu sync.Mutex
	calls []time.Time // login and token calls in the last window
}

func newPartnerTokens(appID string, creds PartnerCredentials, o *options) *partnerTokens {
	t := &partnerTokens{appID: appID, creds: creds, o: o}
	if creds.AppToken != "" {
		t.app.Store(&partnerToken{value: creds.AppToken})
	}
	return t
}

// renewable reports whether a new token can be had when one goes bad.
func (t *partnerTokens) renewable() bool { return t.creds.AppToken == "" }

// get returns a live app token, fetching one when there is none.
func (t *partnerTokens) get(ctx context.Context) (string, error) {
	now := t.o.now()
	if c := t.app.Load(); c.valid(now) {
		return c.value, nil
	}
	if !t.renewable() {
		return t.creds.AppToken, nil
	}
	t.mu.Lock()
	if c := t.app.Load(); c.valid(now) {
		t.mu.Unlock()
		return c.value, nil
	}
	f := t.inflight
	if f == nil {
		f = &partnerRefresh{done: make(chan struct{})}
		t.inflight = f
		// The fetch belongs to every waiter, so the first caller giving up
		// must not cancel it for the others; it is bounded by its own timeout.
		go t.refresh(context.WithoutCancel(ctx), f)
	}
	t.mu.Unlock()
	select {
	case <-f.done:
		if f.err != nil {
			return "", f.err
		}
		return f.tok.value, nil
	case <-ctx.Done():
		return "", transportError(Partner, "token", ctx.Err())
	}
}

// invalidate drops tok after a 401, unless another caller has already put
// a newer token in its place: then that one is used, with no new fetch.
func (t *partnerTokens) invalidate(tok string) {
	t.mu.Lock()
	if c := t.app.Load(); c != nil && c.value == tok {
		t.app.Store(nil)
	}
	t.mu.Unlock()
}

func (t *partnerTokens) refresh(ctx context.Context, f *partnerRefresh) {
	if t.o.timeout <= 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	tok, err := t.fetch(ctx)
	f.tok, f.err = tok, err
	t.mu.Lock()
	if err == nil {
		t.app.Store(tok)
	}
	t.inflight = nil
	t.mu.Unlock()
	close(f.done)
}

// fetch gets an app token with the partner token, logging in first when
// there is no live partner token, and once more when the token endpoint
// says the partner token is no good (it expired early or was revoked).
func (t *partnerTokens) fetch(ctx context.Context) (*partnerToken, error) {
	for attempt := 0; ; attempt++ {
		if !t.partner.valid(t.o.now()) {
			pt, err := t.login(ctx)
			if err != nil {
				return nil, err
			}
			t.partner = pt
		}
		tok, status, err := t.appToken(ctx, t.partner.value)
		if status == http.StatusUnauthorized && attempt == 0 {
			t.partner = partnerToken{}
			continue
		}
		return tok, err
	}
}

func (t *partnerTokens) login(ctx context.Context) (partnerToken, error) {
	if err := t.allowCall("login"); err != nil {
		return partnerToken{}, err
	}
	form := url.Values{"email": {t.creds.Email}}
	if t.creds.Secret != "" {
		form.Set("secret", t.creds.Secret)
	} else {
		form.Set("password", t.creds.Password)
	}
	req, err := newFormRequest(http.MethodPost, t.o.baseURL+"/partner/account/login", form)
	if err != nil {
		return partnerToken{}, &Error{Family: Partner, Op: "login", Err: err}
	}
	req.Header.Set("Accept", "application/json")
	start := t.o.now()
	r, err := t.o.do(ctx, Partner, "login", req)
	if err != nil {
		return partnerToken{}, err
	}
	if !ok(r.status) {
		return partnerToken{}, partnerError("login", r)
	}
	var out struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(r.body, &out) != nil || out.Token == "" {
		if err := partnerOK("login", r); err != nil {
			return partnerToken{}, err
		}
		return partnerToken{}, httpError(Partner, "login", r, 0, "answer has no partner token")
	}
	return partnerToken{value: out.Token, expires: start.Add(partnerTokenLife - partnerTokenMargin)}, nil
}

// appToken asks for the app's token. The answer is
// {"status":"success","token":{"token":"sk_...","expiresOn":<ms>,...}},
// expiresOn 0 meaning no set end. It also returns the HTTP status, so that
// fetch can tell a stale partner token from other failures.
func (t *partnerTokens) appToken(ctx context.Context, partnerTok string) (*partnerToken, int, error) {
	if err := t.allowCall("token"); err != nil {
		return nil, 0, err
	}
	req, err := http.NewRequest(http.MethodGet, t.o.baseURL+"/partner/app/"+url.PathEscape(t.appID)+"/token/", nil)
	if err != nil {
		return nil, 0, &Error{Family: Partner, Op: "token", Err: err}
	}
	// The reference puts the partner token in Authorization, newer pages
	// in a "token" header; both carry it so either server side is served.
	req.Header.Set("Authorization", partnerTok)
	req.Header.Set("token", partnerTok)
	req.Header.Set("Accept", "application/json")
	start := t.o.now()
	r, err := t.o.do(ctx, Partner, "token", req)
	if err != nil {
		return nil, 0, err
	}
	if !ok(r.status) {
		return nil, r.status, partnerError("token", r)
	}
	if err := partnerOK("token", r); err != nil {
		return nil, r.status, err
	}
	var out struct {
		Token json.RawMessage `json:"token"`
	}
	_ = json.Unmarshal(r.body, &out)
	var tk struct {
		Token      string     `json:"token"`
		ExpiresOn  partnerInt `json:"expiresOn"`
		ModifiedOn partnerInt `json:"modifiedOn"`
		CreatedOn  partnerInt `json:"createdOn"`
	}
	if len(out.Token) > 0 && out.Token[0] == '"' {
		_ = json.Unmarshal(out.Token, &tk.Token) // a bare string: {"token":"sk_..."}
	} else if len(out.Token) > 0 {
		_ = json.Unmarshal(out.Token, &tk)
	}
	if tk.Token == "" {
		return nil, r.status, httpError(Partner, "token", r, 0, "answer has no app token")
	}
	tok := &partnerToken{value: tk.Token}
	if tk.ExpiresOn > 0 {
		tok.expires = partnerAppTokenExpiry(start, r.header, int64(tk.ExpiresOn), int64(max(tk.ModifiedOn, tk.CreatedOn)))
	}
	return tok, r.status, nil
}

// partnerAppTokenExpiry turns Gupshup's expiresOn, a time on Gupshup's clock, into
// a time on ours. Our clock may be off from theirs, so what is trusted is
// the time left, measured on their clock from the latest of the answer's
// Date and the token's own modifiedOn (which is exact for a new token,
// Date being whole seconds), and then added to our clock. The token is
// given up a tenth of its remaining life (at most a minute) early, so that
// a call under way does not reach Gupshup just after it ends.
func partnerAppTokenExpiry(now time.Time, h http.Header, expiresOnMs, stampMs int64) time.Time {
	serverNow := stampMs
	if d, err := http.ParseTime(h.Get("Date")); err == nil && d.UnixMilli() > serverNow {
		serverNow = d.UnixMilli()
	}
	var left time.Duration
	if serverNow > 0 {
		left = time.Duration(expiresOnMs-serverNow) * time.Millisecond
	} else {
		left = time.UnixMilli(expiresOnMs).Sub(now)
	}
	if left <= 0 {
		// Already over by Gupshup's own account: use it for this call and
		// ask again next time.
		return now
	}
	return now.Add(left - min(time.Minute, left/10))
}

// allowCall applies the client's share of the 10-a-minute limit. Over it,
// nothing is sent and the caller gets a 429-like *Error with RetryAfter set,
// which the retry policy treats as throttling.
func (t *partnerTokens) allowCall(op string) error {
	now := t.o.now()
	t.limMu.Lock()
	defer t.limMu.Unlock()
	keep := t.calls[:0]
	for _, c := range t.calls {
		if now.Sub(c) < partnerTokenWindow {
			keep = append(keep, c)
		}
	}
	t.calls = keep
	if len(t.calls) >= partnerTokenCalls {
		return &Error{
			Family: Partner, Op: op, HTTPStatus: http.StatusTooManyRequests,
			Message:    "partner login and token calls are limited to 10 a minute; this one was not made",
			RetryAfter: partnerTokenWindow - now.Sub(t.calls[0]),
		}
	}
	t.calls = append(t.calls, now)
	return nil
}
