package gupshuptest

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/waqueue/waqueue/gupshup"
)

// The Enterprise Gateway: one URL for every operation, chosen by "method",
// with userid and password in the parameters (or everything but userid
// AES-encrypted in encrdata). Like the real Gateway it answers almost every
// error with HTTP 200 and "status":"error", an error code in "id" and the
// reason in "details"; only the rate limit (429), configured faults and
// outages use other statuses.
//
// Where public sources show the real service accepting something (HSM
// without isTemplate, lower-case msg_type, no channel on SendMessage), the
// simulator accepts it too; what no public source shows is refused, naming
// the parameter, so that a client bug shows up here rather than in
// production.

// enterpriseState is what the Gateway keeps between calls.
type enterpriseState struct {
	key []byte // nil when the account does not use encrdata

	mu      sync.Mutex
	optedIn map[string]bool
}

func (s *Server) routeEnterprise() {
	st := &enterpriseState{optedIn: map[string]bool{}}
	if s.cfg.EnterpriseAESKey != "" {
		// Validate has vetted the key; a server built around it gets no key
		// and answers encrypted requests with an error, which is visible.
		st.key, _ = decodeKey(s.cfg.EnterpriseAESKey)
	}
	s.enterprise = st
	s.mux.HandleFunc(EnterprisePath, s.serveEnterprise)
}

// EnterpriseOptedIn reports whether phone (E.164 digits) is opted in on the
// Gateway: an OPT_IN came after any OPT_OUT.
func (s *Server) EnterpriseOptedIn(phone string) bool {
	s.enterprise.mu.Lock()
	defer s.enterprise.mu.Unlock()
	return s.enterprise.optedIn[phone]
}

// gatewayReply is one answer, written in the format the request asked for.
type gatewayReply struct {
	status  int // HTTP status
	ok      bool
	id      string // message id on success, error code on error
	phone   string
	details string
}

func gatewayError(code int, format string, args ...any) gatewayReply {
	return gatewayReply{status: http.StatusOK, id: strconv.Itoa(code), details: fmt.Sprintf(format, args...)}
}

func gatewayMissing(param string) gatewayReply {
	return gatewayError(gupshup.EnterpriseCodeMissingParameter, "The parameter %s is required. Please resend the request.", param)
}

// gatewayInvalid is for a value the Gateway would refuse. Its codes for bad
// values are not public, so the missing-parameter code stands in.
func gatewayInvalid(param, value, want string) gatewayReply {
	return gatewayError(gupshup.EnterpriseCodeMissingParameter, "The parameter %s has an invalid value %q; %s.", param, value, want)
}

// Parameters that may travel in the clear next to encrdata.
var gatewayClearParams = map[string]bool{"userid": true, "encrdata": true}

func (s *Server) serveEnterprise(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "enterprise") {
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		rep := gatewayError(gupshup.EnterpriseCodeMissingParameter, "The request parameters could not be read: %v", err)
		rep.status = http.StatusBadRequest
		writeGateway(w, "text", rep)
		return
	}
	params, rep, ok := s.enterprise.params(r.Form)
	format := strings.ToLower(params.Get("format"))
	if format != "json" {
		// The Gateway's default; also what an unreadable request gets.
		format = "text"
	}
	if ok {
		rep = s.enterpriseCall(params)
	}
	writeGateway(w, format, rep)
}

// params returns the request's parameters in the clear: decrypted from
// encrdata when the account has a key, with userid from the clear part.
func (st *enterpriseState) params(form url.Values) (url.Values, gatewayReply, bool) {
	enc := form.Get("encrdata")
	if st.key == nil {
		if _, present := form["encrdata"]; present {
			return form, gatewayError(gupshup.EnterpriseCodeMissingParameter,
				"The parameter encrdata cannot be used: this account has no encryption key; send the parameters in the clear."), false
		}
		return form, gatewayReply{}, true
	}
	if enc == "" {
		return form, gatewayMissing("encrdata"), false
	}
	for k := range form {
		if !gatewayClearParams[k] {
			return form, gatewayError(gupshup.EnterpriseCodeMissingParameter,
				"The parameter %s must be sent inside encrdata; only userid and encrdata may be in the clear.", k), false
		}
	}
	dec, err := gupshup.DecryptParams(st.key, enc)
	if err != nil {
		return form, gatewayError(gupshup.EnterpriseCodeMissingParameter,
			"The parameter encrdata could not be decrypted with the account's key."), false
	}
	if uid := form.Get("userid"); uid != "" {
		dec.Set("userid", uid)
	} else {
		dec.Del("userid") // userid must be in the clear, or the account is unknown
	}
	return dec, gatewayReply{}, true
}

// enterpriseCall authenticates and validates one call and carries it out.
func (s *Server) enterpriseCall(p url.Values) gatewayReply {
	if f := p.Get("format"); f != "" && !strings.EqualFold(f, "json") && !strings.EqualFold(f, "text") {
		return gatewayInvalid("format", f, "use json or text")
	}
	userid, password := p.Get("userid"), p.Get("password")
	if userid == "" {
		return gatewayMissing("userid")
	}
	if password == "" {
		return gatewayMissing("password")
	}
	if !sameSecret(userid, s.cfg.EnterpriseUserID) || !sameSecret(password, s.cfg.EnterprisePassword) {
		return gatewayError(gupshup.EnterpriseCodeAuthFailed, "Authentication failed due to invalid userId or password.")
	}
	method := p.Get("method")
	if method == "" {
		return gatewayMissing("method")
	}
	if v := p.Get("v"); v == "" {
		return gatewayMissing("v")
	} else if v != "1.1" {
		return gatewayInvalid("v", v, "the API version must be 1.1")
	}
	if a := p.Get("auth_scheme"); a == "" {
		return gatewayMissing("auth_scheme")
	} else if !strings.EqualFold(a, "plain") {
		return gatewayInvalid("auth_scheme", a, "must be plain")
	}
	if c := p.Get("channel"); c != "" && !strings.EqualFold(c, "WHATSAPP") {
		return gatewayInvalid("channel", c, "must be WHATSAPP")
	}
	switch method {
	case "OPT_IN", "OPT_OUT":
		return s.enterpriseOpt(p, method == "OPT_IN")
	case "SendMessage", "sendMessage":
		return s.enterpriseSend(p, false)
	case "SendMediaMessage", "sendMediaMessage":
		return s.enterpriseSend(p, true)
	}
	// Exact names only: public client code shows "SENDMESSAGE" refused.
	return gatewayError(gupshup.EnterpriseCodeBadMethod, "The method %q is not supported.", method)
}

func (s *Server) enterpriseOpt(p url.Values, in bool) gatewayReply {
	if p.Get("channel") == "" {
		// Consent is given per channel, so the opt-in calls must name it.
		return gatewayMissing("channel")
	}
	phone, rep, ok := gatewayPhone(p, "phone_number")
	if !ok {
		return rep
	}
	st := s.enterprise
	st.mu.Lock()
	st.optedIn[phone] = in
	st.mu.Unlock()
	return gatewayReply{status: http.StatusOK, ok: true, id: uuid.NewString(), phone: phone}
}

func gatewayPhone(p url.Values, param string) (string, gatewayReply, bool) {
	phone := p.Get(param)
	if phone == "" {
		return "", gatewayMissing(param), false
	}
	if !gupshup.ValidPhone(phone) {
		return "", gatewayError(gupshup.EnterpriseCodeInvalidPhone,
			"The phone number %q in %s is not a valid phone number; give E.164 digits without +.", phone, param), false
	}
	return phone, gatewayReply{}, true
}

var (
	gatewayTextTypes  = map[string]bool{"TEXT": true, "HSM": true}
	gatewayMediaTypes = map[string]bool{"IMAGE": true, "DOCUMENT": true, "VIDEO": true, "AUDIO": true}
)

func (s *Server) enterpriseSend(p url.Values, media bool) gatewayReply {
	to, rep, ok := gatewayPhone(p, "send_to")
	if !ok {
		return rep
	}
	mt := p.Get("msg_type")
	if mt == "" {
		return gatewayMissing("msg_type")
	}
	typ := strings.ToUpper(mt)
	isTemplate, rep, ok := gatewayBool(p, "isTemplate")
	if !ok {
		return rep
	}
	if _, rep, ok := gatewayBool(p, "isHSM"); !ok {
		return rep
	}
	if e := p.Get("data_encoding"); e != "" && !strings.EqualFold(e, "Text") && !strings.EqualFold(e, "Unicode_text") {
		return gatewayInvalid("data_encoding", e, "use Text or Unicode_text")
	}
	kind := strings.ToLower(typ)
	if media {
		if !gatewayMediaTypes[typ] {
			return gatewayInvalid("msg_type", mt, "SendMediaMessage takes IMAGE, DOCUMENT, VIDEO or AUDIO")
		}
		u := p.Get("media_url")
		if u == "" {
			return gatewayMissing("media_url")
		}
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return gatewayInvalid("media_url", u, "give an absolute http or https URL")
		}
	} else {
		if !gatewayTextTypes[typ] {
			return gatewayInvalid("msg_type", mt, "SendMessage takes TEXT or HSM; media goes through SendMediaMessage")
		}
		if strings.TrimSpace(p.Get("msg")) == "" {
			return gatewayMissing("msg")
		}
		if typ == "HSM" {
			kind = "template"
		}
	}
	// Header, footer and URL buttons exist only on templates, and the
	// Gateway looks for them only when isTemplate says so.
	for _, k := range []string{"header", "footer", "buttonUrlParam"} {
		if p.Get(k) != "" && !isTemplate {
			return gatewayError(gupshup.EnterpriseCodeMissingParameter,
				"The parameter %s is only used with isTemplate=true.", k)
		}
	}
	if isTemplate {
		kind = "template"
	}
	payload := make(map[string]string, len(p))
	for k, vs := range p {
		if k != "password" && len(vs) > 0 {
			payload[k] = vs[0]
		}
	}
	v := s.submit(submission{
		Family:         "enterprise",
		App:            p.Get("userid"),
		Destination:    to,
		Kind:           kind,
		TemplateParams: -1,
		Payload:        payload,
	})
	if !v.accepted() {
		code := ""
		if v.Code != 0 {
			code = strconv.Itoa(v.Code)
		}
		return gatewayReply{status: v.HTTPStatus, id: code, details: v.Reason}
	}
	return gatewayReply{status: http.StatusOK, ok: true, id: v.MessageID, phone: to}
}

// gatewayBool reads an optional true/false flag.
func gatewayBool(p url.Values, param string) (bool, gatewayReply, bool) {
	switch strings.ToLower(p.Get(param)) {
	case "":
		return false, gatewayReply{}, true
	case "true":
		return true, gatewayReply{}, true
	case "false":
		return false, gatewayReply{}, true
	}
	return false, gatewayInvalid(param, p.Get(param), "use true or false"), false
}

func sameSecret(got, want string) bool {
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

type gatewayJSON struct {
	Response gatewayJSONReply `json:"response"`
}

type gatewayJSONReply struct {
	ID      string `json:"id"`
	Phone   string `json:"phone"`
	Details string `json:"details"`
	Status  string `json:"status"`
}

// writeGateway writes rep as the Gateway does: in JSON
// {"response":{"id","phone","details","status"}} or as the text line
// "success | <phone> | <id>" / "error | <code> | <details>".
func writeGateway(w http.ResponseWriter, format string, rep gatewayReply) {
	status := "error"
	if rep.ok {
		status = "success"
	}
	if rep.status == 0 {
		rep.status = http.StatusOK
	}
	if format == "json" {
		var out gatewayJSON
		out.Response = gatewayJSONReply{ID: rep.id, Phone: rep.phone, Details: rep.details, Status: status}
		body, _ := json.Marshal(out)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rep.status)
		w.Write(body)
		return
	}
	line := status + " | " + rep.phone + " | " + rep.id
	if !rep.ok {
		line = status + " | " + rep.id + " | " + rep.details
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(rep.status)
	w.Write([]byte(line))
}
