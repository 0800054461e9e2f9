package gupshuptest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// The partner API allows 10 login and 10 token calls a minute. A token
// bucket of 10 refilled one every 6 s gives the same average and lets a
// fresh client do its first calls at once.
const (
	partnerAuthBurst  = 10
	partnerAuthRefill = 6 * time.Second
)

// partnerState is what the partner family keeps between calls: tokens,
// subscriptions and flows.
type partnerState struct {
	cfg Config

	mu            sync.RWMutex
	partnerTokens map[string]time.Time       // login token -> end, zero for none
	appTokens     map[string]partnerAppToken // app token -> its app and end
	currentApp    map[string]string          // app -> the token the token call hands out

	loginLim *rate.Limiter
	limMu    sync.Mutex
	tokenLim map[string]*rate.Limiter // per app

	logins, tokenCalls atomic.Int64

	subMu   sync.Mutex
	subs    map[string]*PartnerSubscription
	nextSub int64

	flowMu sync.Mutex
	flows  map[string]*partnerFlow
}

type partnerAppToken struct {
	app               string
	created, modified time.Time
	expires           time.Time // zero: no end (TokenTTL 0)
}

func (t partnerAppToken) live(now time.Time) bool { return t.expires.IsZero() || now.Before(t.expires) }

func newPartnerState(cfg Config) *partnerState {
	return &partnerState{
		cfg:           cfg,
		partnerTokens: map[string]time.Time{},
		appTokens:     map[string]partnerAppToken{},
		currentApp:    map[string]string{},
		loginLim:      rate.NewLimiter(rate.Every(partnerAuthRefill), partnerAuthBurst),
		tokenLim:      map[string]*rate.Limiter{},
		subs:          map[string]*PartnerSubscription{},
		nextSub:       20000,
		flows:         map[string]*partnerFlow{},
	}
}

func (s *Server) routePartner() {
	s.mux.HandleFunc("POST /partner/account/login", s.partnerLogin)
	// The reference spells the token path with a trailing slash; clients
	// that drop it are served the same.
	s.mux.HandleFunc("GET /partner/app/{appId}/token/{$}", s.partnerToken)
	s.mux.HandleFunc("GET /partner/app/{appId}/token", s.partnerToken)
	s.mux.HandleFunc("POST /partner/app/{appId}/v3/message", s.partnerSend)
	s.routePartnerSubscriptions()
	s.routePartnerFlows()
}

// PartnerAuthCalls counts the login and app token calls received, for
// tests of token caching.
func (s *Server) PartnerAuthCalls() (logins, tokens int64) {
	return s.partner.logins.Load(), s.partner.tokenCalls.Load()
}

// RevokeAppTokens makes every app token handed out so far invalid, as if
// Gupshup had rotated them: the next call with one gets a 401.
func (s *Server) RevokeAppTokens() {
	p := s.partner
	p.mu.Lock()
	clear(p.appTokens)
	clear(p.currentApp)
	p.mu.Unlock()
}

// RevokePartnerTokens makes every login token invalid: the next token call
// with one gets a 401 and the client must log in again.
func (s *Server) RevokePartnerTokens() {
	p := s.partner
	p.mu.Lock()
	clear(p.partnerTokens)
	p.mu.Unlock()
}

func (p *partnerState) ttlEnd(now time.Time) time.Time {
	if p.cfg.TokenTTL.Duration <= 0 {
		return time.Time{}
	}
	return now.Add(p.cfg.TokenTTL.Duration)
}

func (p *partnerState) tokenLimiter(app string) *rate.Limiter {
	p.limMu.Lock()
	defer p.limMu.Unlock()
	l := p.tokenLim[app]
	if l == nil {
		l = rate.NewLimiter(rate.Every(partnerAuthRefill), partnerAuthBurst)
		p.tokenLim[app] = l
	}
	return l
}

// partnerLogin is POST /partner/account/login with form email and
// password; the newer portal calls the password "secret", so either works.
func (s *Server) partnerLogin(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") {
		return
	}
	p := s.partner
	p.logins.Add(1)
	if !p.loginLim.Allow() {
		partnerTooMany(w)
		return
	}
	if err := r.ParseForm(); err != nil {
		partnerGupshupError(w, http.StatusBadRequest, "Invalid request body")
		return
	}
	email := r.PostForm.Get("email")
	secret := r.PostForm.Get("password")
	if secret == "" {
		secret = r.PostForm.Get("secret")
	}
	if email == "" || secret == "" {
		partnerGupshupError(w, http.StatusBadRequest, "email and password are required")
		return
	}
	// The same answer for a wrong email and a wrong password, and neither
	// echoed: the body may end up in a log.
	if email != s.cfg.PartnerEmail || secret != s.cfg.PartnerPassword {
		partnerGupshupError(w, http.StatusUnauthorized, "Invalid email or password")
		return
	}
	tok := "pt_" + partnerRandomHex(24)
	now := time.Now()
	p.mu.Lock()
	p.partnerTokens[tok] = p.ttlEnd(now)
	p.mu.Unlock()
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		"token": tok, "id": 1023, "name": "simulator", "email": email,
		"terms_read": true, "admin": true, "billingType": "POSTPAID",
		"enableAppOnboarding": true, "isTpp": false,
	})
}

// partnerToken is GET /partner/app/{appId}/token/ with the partner token.
// Like Gupshup's, it is idempotent: while the app's token lives, the same
// one comes back.
func (s *Server) partnerToken(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") {
		return
	}
	p := s.partner
	p.tokenCalls.Add(1)
	app := r.PathValue("appId")
	if !p.tokenLimiter(app).Allow() {
		partnerTooMany(w)
		return
	}
	pt := r.Header.Get("token")
	if pt == "" {
		pt = r.Header.Get("Authorization")
	}
	now := time.Now()
	p.mu.RLock()
	end, known := p.partnerTokens[pt]
	p.mu.RUnlock()
	if pt == "" || !known || (!end.IsZero() && !now.Before(end)) {
		partnerGupshupError(w, http.StatusUnauthorized, "Invalid or expired partner token")
		return
	}
	if app != s.cfg.PartnerAppID {
		partnerGupshupError(w, http.StatusForbidden, "App is not linked to this partner")
		return
	}
	p.mu.Lock()
	tok := p.currentApp[app]
	at, live := p.appTokens[tok]
	if tok == "" || !live || !at.live(now) {
		delete(p.appTokens, tok)
		tok = "sk_" + partnerRandomHex(16)
		at = partnerAppToken{app: app, created: now, modified: now, expires: p.ttlEnd(now)}
		p.appTokens[tok] = at
		p.currentApp[app] = tok
	}
	p.mu.Unlock()
	var expiresOn int64
	if !at.expires.IsZero() {
		expiresOn = at.expires.UnixMilli()
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		"status": "success",
		"token": map[string]any{
			"token": tok, "authoriserId": app, "requestorId": "1023",
			"createdOn": at.created.UnixMilli(), "modifiedOn": at.modified.UnixMilli(),
			"expiresOn": expiresOn, "active": true,
		},
	})
}

// appAuth checks the Authorization header of an app call: it must be a
// live app token of this very app, given bare (no "Bearer").
func (p *partnerState) appAuth(r *http.Request, app string) bool {
	tok := r.Header.Get("Authorization")
	if tok == "" {
		return false
	}
	p.mu.RLock()
	at, ok := p.appTokens[tok]
	p.mu.RUnlock()
	return ok && at.app == app && at.live(time.Now())
}

// partnerAuthorized answers 401 unless the call carries the app's token.
func (s *Server) partnerAuthorized(w http.ResponseWriter, r *http.Request) bool {
	if s.partner.appAuth(r, r.PathValue("appId")) {
		return true
	}
	partnerGupshupError(w, http.StatusUnauthorized, "Authentication Failed")
	return false
}

// partnerSend is POST /partner/app/{appId}/v3/message. It stays on the
// cheap path: one read lock for the token, one decode of the body.
func (s *Server) partnerSend(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") {
		return
	}
	app := r.PathValue("appId")
	if !s.partner.appAuth(r, app) {
		s.rec.reject(Rejection{Time: time.Now(), Family: "partner", HTTPStatus: http.StatusUnauthorized, Reason: "Authentication Failed"})
		partnerGupshupError(w, http.StatusUnauthorized, "Authentication Failed")
		return
	}
	msg, merr := parsePartnerMessage(r)
	if merr == nil {
		merr = s.partnerCheckFlow(app, msg)
	}
	if merr != nil {
		s.rec.reject(Rejection{Time: time.Now(), Family: "partner", Destination: msg.waID, HTTPStatus: http.StatusBadRequest, Reason: merr.details})
		writePartnerMetaError(w, http.StatusBadRequest, merr)
		return
	}
	v := s.submit(submission{
		Family:         "partner",
		App:            app,
		Source:         s.cfg.Source,
		Destination:    msg.waID,
		Kind:           msg.typ,
		TemplateID:     msg.templateName,
		TemplateParams: -1,
		Payload:        msg.payload,
	})
	if !v.accepted() {
		partnerSendRefusal(w, v)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(partnerSendAnswer(v.MessageID, msg.to, msg.waID))
}

// partnerSendAnswer is the success body, written by hand: this is the one
// answer the simulator gives tens of thousands of times a second.
func partnerSendAnswer(id, input, waID string) []byte {
	b := make([]byte, 0, 160)
	b = append(b, `{"messages":[{"id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `}],"messaging_product":"whatsapp","contacts":[{"input":`...)
	b = strconv.AppendQuote(b, input)
	b = append(b, `,"wa_id":`...)
	b = strconv.AppendQuote(b, waID)
	b = append(b, "}]}\n"...)
	return b
}

// partnerSendRefusal answers a send that submit refused. Over the rate it is
// Meta's throughput error 130429 with HTTP 429: the v3 API relays Meta's
// errors in Meta's shape, and the code says "slow down" to a classifier
// even where a proxy changes the status. A configured fault with a code
// answers in Meta's shape with that code; one without, in Gupshup's.
func partnerSendRefusal(w http.ResponseWriter, v verdict) {
	switch {
	case v.HTTPStatus == http.StatusTooManyRequests && v.Code == 0:
		w.Header().Set("Retry-After", "1")
		writePartnerMetaError(w, http.StatusTooManyRequests, &partnerMetaError{code: 130429, title: "Rate limit hit", details: "Cloud API message throughput has been reached."})
	case v.Code != 0:
		writePartnerMetaError(w, v.HTTPStatus, &partnerMetaError{code: v.Code, title: v.Reason, details: v.Reason})
	default:
		partnerGupshupError(w, v.HTTPStatus, v.Reason)
	}
}

// partnerMetaError is an error in Meta's shape: code, the title Meta gives the
// code, and details that name the parameter at fault.
type partnerMetaError struct {
	code    int
	title   string
	details string
}

func writePartnerMetaError(w http.ResponseWriter, status int, e *partnerMetaError) {
	writeJSON(w, status, "application/json", map[string]any{
		"error": map[string]any{
			"message":    "(#" + strconv.Itoa(e.code) + ") " + e.title,
			"type":       "OAuthException",
			"code":       e.code,
			"error_data": map[string]any{"messaging_product": "whatsapp", "details": e.details},
			"fbtrace_id": "A" + partnerRandomHex(11),
		},
	})
}

// partnerGupshupError is Gupshup's own error shape.
func partnerGupshupError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, "application/json", map[string]string{"status": "error", "message": msg})
}

func partnerTooMany(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(partnerAuthRefill/time.Second)))
	partnerGupshupError(w, http.StatusTooManyRequests, "Too Many Requests")
}

func partnerRandomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// partnerDecode reads a JSON request body or, failing that, a form; the
// partner reference shows both for its management calls.
func partnerDecode(r *http.Request, dst any) error {
	if strings.Contains(r.Header.Get("Content-Type"), "json") {
		return json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(dst)
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	m := map[string]any{}
	for k, v := range r.PostForm {
		val := v[0]
		if t := strings.TrimSpace(val); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			var x any
			if json.Unmarshal([]byte(t), &x) == nil {
				m[k] = x
				continue
			}
		}
		m[k] = val
	}
	b, _ := json.Marshal(m)
	return json.Unmarshal(b, dst)
}
