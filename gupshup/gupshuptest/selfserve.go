package gupshuptest

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// selfServe serves the apikey API family on both its current (/wa/api/v1)
// and its legacy (/sm/api/v1) paths. Its only state of its own is the
// opt-in list; sends go through s.submit like those of every family.
//
// The checks here are written independently of the client's validation on
// purpose: the simulator is the referee that catches the client's mistakes,
// and shared code would share the mistakes.
type selfServe struct {
	s *Server

	mu    sync.Mutex
	users map[string]selfServeUser
}

type selfServeUser struct {
	status string // OPT_IN or OPT_OUT
	at     time.Time
}

func (s *Server) routeSelfServe() {
	h := &selfServe{s: s, users: map[string]selfServeUser{}}
	for _, prefix := range []string{"/wa/api/v1", "/sm/api/v1"} {
		s.mux.HandleFunc("POST "+prefix+"/msg", h.session)
		s.mux.HandleFunc("POST "+prefix+"/template/msg", h.template)
	}
	s.mux.HandleFunc("POST /sm/api/v1/app/opt/in/{app}", func(w http.ResponseWriter, r *http.Request) { h.opt(w, r, "OPT_IN") })
	s.mux.HandleFunc("POST /sm/api/v1/app/opt/out/{app}", func(w http.ResponseWriter, r *http.Request) { h.opt(w, r, "OPT_OUT") })
	s.mux.HandleFunc("GET /sm/api/v1/users/{app}", h.listUsers)
}

// selfServeMaxForm bounds a request body; a real send is a few kilobytes.
const selfServeMaxForm = 1 << 20

func (h *selfServe) session(w http.ResponseWriter, r *http.Request) {
	form, ok := h.admit(w, r, true)
	if !ok {
		return
	}
	raw, ok := h.required(w, form, "message")
	if !ok {
		return
	}
	kind, problem := checkSelfServeMessage(raw)
	if h.invalid(w, form, "message", problem) {
		return
	}
	h.submit(w, http.StatusOK, form, kind, "", -1)
}

func (h *selfServe) template(w http.ResponseWriter, r *http.Request) {
	form, ok := h.admit(w, r, false)
	if !ok {
		return
	}
	raw, ok := h.required(w, form, "template")
	if !ok {
		return
	}
	id, params, problem := checkSelfServeTemplate(raw)
	if h.invalid(w, form, "template", problem) {
		return
	}
	if pb, present := form["postbackTexts"]; present && h.invalid(w, form, "postbackTexts", checkSelfServePostbacks(pb)) {
		return
	}
	if m, present := form["message"]; present && h.invalid(w, form, "message", checkSelfServeTemplateMedia(m)) {
		return
	}
	h.submit(w, http.StatusAccepted, form, "template", id, params)
}

// required returns the form field name, or refuses the send as Gupshup
// does when it is missing or empty.
func (h *selfServe) required(w http.ResponseWriter, form map[string]string, name string) (string, bool) {
	v := form[name]
	if v == "" {
		h.refuse(w, http.StatusBadRequest, form["destination"], "Invalid "+name+": missing", 0)
		return "", false
	}
	return v, true
}

// invalid refuses the send when problem says what is wrong with the field
// name, and reports whether it did.
func (h *selfServe) invalid(w http.ResponseWriter, form map[string]string, name, problem string) bool {
	if problem == "" {
		return false
	}
	h.refuse(w, http.StatusBadRequest, form["destination"], "Invalid "+name+": "+problem, 0)
	return true
}

// admit runs what every send meets before its content is looked at: the
// gate, the key, the content type, the app, the channel and both numbers.
// A template send may leave src.name and channel out: the seed's template
// samples do, while the reference lists both.
func (h *selfServe) admit(w http.ResponseWriter, r *http.Request, session bool) (map[string]string, bool) {
	if !h.s.gate(w, r, "selfserve") {
		return nil, false
	}
	if !h.authorized(r) {
		h.refuse(w, http.StatusUnauthorized, "", "Authentication Failed", 0)
		return nil, false
	}
	if problem := selfServeContentType(r); problem != "" {
		h.refuse(w, http.StatusBadRequest, "", problem, 0)
		return nil, false
	}
	form, err := readSelfServeForm(r)
	if err != nil {
		h.refuse(w, http.StatusBadRequest, "", "Invalid request body: "+err.Error(), 0)
		return nil, false
	}
	dest := form["destination"]
	if app, present := form["src.name"]; (session || present) && app != h.s.cfg.AppName {
		h.refuse(w, http.StatusBadRequest, dest, "Invalid App Details", 0)
		return nil, false
	}
	if ch, present := form["channel"]; (session || present) && !strings.EqualFold(ch, "whatsapp") {
		h.refuse(w, http.StatusBadRequest, dest, "Invalid channel: "+strconv.Quote(ch)+", expected whatsapp", 0)
		return nil, false
	}
	src := form["source"]
	if !selfServePhone(src) {
		h.refuse(w, http.StatusBadRequest, dest, "Invalid Source", 0)
		return nil, false
	}
	if h.s.cfg.Source != "" && src != h.s.cfg.Source {
		h.refuse(w, http.StatusBadRequest, dest, "Invalid Source: "+src+" is not the number of app "+h.s.cfg.AppName, 0)
		return nil, false
	}
	if !selfServePhone(dest) {
		h.refuse(w, http.StatusBadRequest, dest, "Invalid Destination", 0)
		return nil, false
	}
	return form, true
}

func (h *selfServe) submit(w http.ResponseWriter, status int, form map[string]string, kind, templateID string, params int) {
	v := h.s.submit(submission{
		Family:         "selfserve",
		App:            h.s.cfg.AppName,
		Source:         form["source"],
		Destination:    form["destination"],
		Kind:           kind,
		TemplateID:     templateID,
		TemplateParams: params,
		Payload:        form,
	})
	if !v.accepted() {
		// submit has recorded the rejection already.
		writeSelfServeError(w, v.HTTPStatus, v.Reason, v.Code)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(status)
	// Built by hand: this is the hot path, and a UUID needs no escaping.
	b := make([]byte, 0, 80)
	b = append(b, `{"status":"submitted","messageId":"`...)
	b = append(b, v.MessageID...)
	b = append(b, `"}`...)
	w.Write(b)
}

// authorized takes the key from "apikey", which every sample uses, or from
// "api_key", which the seed's header table names.
func (h *selfServe) authorized(r *http.Request) bool {
	key := r.Header.Get("apikey")
	if key == "" {
		key = r.Header.Get("api_key")
	}
	return key != "" && key == h.s.cfg.APIKey
}

func (h *selfServe) refuse(w http.ResponseWriter, status int, dest, reason string, code int) {
	h.s.rec.reject(Rejection{Time: time.Now(), Family: "selfserve", Destination: dest, HTTPStatus: status, Reason: reason})
	writeSelfServeError(w, status, reason, code)
}

func writeSelfServeError(w http.ResponseWriter, status int, reason string, code int) {
	body := struct {
		Status  string `json:"status"`
		Message string `json:"message"`
		Code    int    `json:"code,omitempty"`
	}{"error", reason, code}
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func selfServeContentType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		if ct == "" {
			ct = "none"
		}
		return "Unsupported Content-Type " + strconv.Quote(ct) + ": the API takes application/x-www-form-urlencoded"
	}
	return ""
}

// readSelfServeForm parses the body straight into the map the record keeps,
// first value winning, as url.Values.Get would: one map instead of
// url.Values and a copy.
func readSelfServeForm(r *http.Request) (map[string]string, error) {
	var body []byte
	var err error
	if n := r.ContentLength; n >= 0 && n <= selfServeMaxForm {
		body = make([]byte, n)
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, selfServeMaxForm+1))
		if err == nil && len(body) > selfServeMaxForm {
			return nil, errors.New("body over 1 MiB")
		}
	}
	if err != nil {
		return nil, err
	}
	form := make(map[string]string, 8)
	rest := string(body)
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, err
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		if _, dup := form[key]; !dup {
			form[key] = val
		}
	}
	return form, nil
}

// selfServePhone accepts E.164 digits as Gupshup wants them: 8 to 15
// digits, no "+", no leading zero.
func selfServePhone(s string) bool {
	if len(s) < 8 || len(s) > 15 || s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (h *selfServe) opt(w http.ResponseWriter, r *http.Request, status string) {
	if !h.s.gate(w, r, "selfserve") {
		return
	}
	if !h.authorized(r) {
		writeSelfServeError(w, http.StatusUnauthorized, "Authentication Failed", 0)
		return
	}
	if r.PathValue("app") != h.s.cfg.AppName {
		writeSelfServeError(w, http.StatusBadRequest, "Invalid App Details", 0)
		return
	}
	if problem := selfServeContentType(r); problem != "" {
		writeSelfServeError(w, http.StatusBadRequest, problem, 0)
		return
	}
	form, err := readSelfServeForm(r)
	if err != nil {
		writeSelfServeError(w, http.StatusBadRequest, "Invalid request body: "+err.Error(), 0)
		return
	}
	user := form["user"]
	if !selfServePhone(user) {
		writeSelfServeError(w, http.StatusBadRequest, "Invalid user: not an E.164 number", 0)
		return
	}
	h.mu.Lock()
	h.users[user] = selfServeUser{status: status, at: time.Now()}
	h.mu.Unlock()
	kind := "opted-in"
	if status == "OPT_OUT" {
		kind = "opted-out"
	}
	h.s.cb.userEvent(user, kind)
	w.WriteHeader(http.StatusAccepted)
}

func (h *selfServe) listUsers(w http.ResponseWriter, r *http.Request) {
	if !h.s.gate(w, r, "selfserve") {
		return
	}
	if !h.authorized(r) {
		writeSelfServeError(w, http.StatusUnauthorized, "Authentication Failed", 0)
		return
	}
	if r.PathValue("app") != h.s.cfg.AppName {
		writeSelfServeError(w, http.StatusBadRequest, "Invalid App Details", 0)
		return
	}
	type user struct {
		CountryCode          string `json:"countryCode"`
		LastMessageTimeStamp int64  `json:"lastMessageTimeStamp"`
		OptinSource          string `json:"optinSource"`
		OptinStatus          string `json:"optinStatus"`
		OptinTimeStamp       int64  `json:"optinTimeStamp"`
		PhoneCode            string `json:"phoneCode"`
	}
	out := []user{}
	h.mu.Lock()
	for phone, u := range h.users {
		cc, _ := splitCountry(phone)
		out = append(out, user{CountryCode: cc, OptinSource: "API", OptinStatus: u.status, OptinTimeStamp: u.at.UnixMilli(), PhoneCode: phone})
	}
	h.mu.Unlock()
	h.s.sessions.mu.Lock()
	for i := range out {
		if t, wrote := h.s.sessions.last[out[i].PhoneCode]; wrote {
			out[i].LastMessageTimeStamp = t.UnixMilli()
		}
	}
	h.s.sessions.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].PhoneCode < out[j].PhoneCode })
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "users": out})
}

// selfServeObject is one JSON object with its keys matched exactly, as
// Gupshup's parser does; encoding/json would match struct fields without
// regard to case and let "originalURL" pass for "originalUrl".
type selfServeObject map[string]json.RawMessage

func parseSelfServeObject(raw string) (selfServeObject, string) {
	var o selfServeObject
	if err := json.Unmarshal([]byte(raw), &o); err != nil || o == nil {
		return nil, "not a JSON object"
	}
	return o, ""
}

// str returns the string under key; "" when absent or null, and a problem
// when the value is not a string.
func (o selfServeObject) str(key string) (string, string) {
	v, ok := o[key]
	if !ok || string(v) == "null" {
		return "", ""
	}
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' && !strings.ContainsRune(string(v[1:len(v)-1]), '\\') {
		return string(v[1 : len(v)-1]), ""
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", key + " must be a string"
	}
	return s, ""
}

// need returns a problem unless key holds a non-blank string.
func (o selfServeObject) need(key, what string) string {
	s, problem := o.str(key)
	if problem != "" {
		return problem
	}
	if strings.TrimSpace(s) == "" {
		return what + " needs " + key
	}
	return ""
}

// needOne returns a problem unless one of two keys holds a non-blank string.
func (o selfServeObject) needOne(a, b, what string) string {
	sa, pa := o.str(a)
	sb, pb := o.str(b)
	if pa != "" {
		return pa
	}
	if pb != "" {
		return pb
	}
	if strings.TrimSpace(sa) == "" && strings.TrimSpace(sb) == "" {
		return what + " needs " + a + " or " + b
	}
	return ""
}

// coordinate accepts a decimal string, as Gupshup's table writes it, or a
// JSON number, as its session samples do.
func (o selfServeObject) coordinate(key, what string) string {
	v, ok := o[key]
	if !ok || string(v) == "null" {
		return what + " needs " + key
	}
	var text string
	if v[0] == '"' {
		if err := json.Unmarshal(v, &text); err != nil {
			return key + " must be a string or a number"
		}
	} else {
		text = string(v)
	}
	if _, err := strconv.ParseFloat(strings.TrimSpace(text), 64); err != nil {
		if strings.TrimSpace(text) == "" {
			return what + " needs " + key
		}
		return key + " is not a number"
	}
	return ""
}

// Limits WhatsApp puts on interactive messages.
const (
	selfServeSimMaxListOptions = 10
	selfServeSimMaxReplies     = 3
	selfServeSimMaxButtonTitle = 20
	selfServeSimMaxRowTitle    = 24
)

// checkSelfServeMessage checks a session "message" and returns its type,
// or the problem Gupshup would name.
func checkSelfServeMessage(raw string) (kind, problem string) {
	o, problem := parseSelfServeObject(raw)
	if problem != "" {
		return "", problem
	}
	kind, problem = o.str("type")
	if problem != "" {
		return "", problem
	}
	switch kind {
	case "":
		return "", "missing type"
	case "text":
		problem = o.need("text", "text")
	case "image":
		problem = o.needOne("originalUrl", "id", "image")
	case "video":
		problem = o.needOne("url", "id", "video")
	case "audio":
		problem = o.needOne("url", "id", "audio")
	case "file":
		problem = o.need("url", "file")
	case "sticker":
		problem = o.need("url", "sticker")
	case "location":
		if problem = o.coordinate("longitude", "location"); problem == "" {
			problem = o.coordinate("latitude", "location")
		}
	case "reaction":
		problem = o.need("msgId", "reaction")
	case "contact":
		problem = checkSelfServeContact(o)
	case "list":
		problem = checkSelfServeList(o, raw)
	case "quick_reply":
		problem = checkSelfServeQuickReply(o, raw)
	default:
		return "", "unknown type " + strconv.Quote(kind)
	}
	if problem == "" {
		problem = checkSelfServeContext(o)
	}
	return kind, problem
}

func checkSelfServeContext(o selfServeObject) string {
	raw, ok := o["context"]
	if !ok {
		return ""
	}
	c, problem := parseSelfServeObject(string(raw))
	if problem != "" {
		return "context is " + problem
	}
	if problem := c.need("msgId", "context"); problem != "" {
		return problem
	}
	return ""
}

func checkSelfServeContact(o selfServeObject) string {
	raw, ok := o["contact"]
	if !ok {
		return "contact needs a contact object"
	}
	var c struct {
		Name *struct {
			FormattedName string `json:"formattedName"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return "contact is not a contact object: " + err.Error()
	}
	if c.Name == nil || strings.TrimSpace(c.Name.FormattedName) == "" {
		return "contact needs name.formattedName"
	}
	if len(c.Phones) == 0 {
		return "contact needs phones"
	}
	for i, p := range c.Phones {
		if strings.TrimSpace(p.Phone) == "" {
			return "contact phones[" + strconv.Itoa(i) + "] needs phone"
		}
	}
	return ""
}

func checkSelfServeList(o selfServeObject, raw string) string {
	if problem := o.need("body", "list"); problem != "" {
		return problem
	}
	var l struct {
		GlobalButtons []struct {
			Title string `json:"title"`
		} `json:"globalButtons"`
		Items []struct {
			Options []struct {
				Title string `json:"title"`
			} `json:"options"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(raw), &l); err != nil {
		return "list is malformed: " + err.Error()
	}
	if len(l.GlobalButtons) == 0 {
		return "list needs globalButtons"
	}
	for i, b := range l.GlobalButtons {
		if problem := selfServeTitle("globalButtons["+strconv.Itoa(i)+"].title", b.Title, selfServeSimMaxButtonTitle); problem != "" {
			return problem
		}
	}
	if len(l.Items) == 0 {
		return "list needs items"
	}
	total := 0
	for i, it := range l.Items {
		if len(it.Options) == 0 {
			return "list items[" + strconv.Itoa(i) + "] needs options"
		}
		for j, op := range it.Options {
			field := "items[" + strconv.Itoa(i) + "].options[" + strconv.Itoa(j) + "].title"
			if problem := selfServeTitle(field, op.Title, selfServeSimMaxRowTitle); problem != "" {
				return problem
			}
		}
		total += len(it.Options)
	}
	if total > selfServeSimMaxListOptions {
		return "list has " + strconv.Itoa(total) + " options, at most 10 are allowed"
	}
	return ""
}

func checkSelfServeQuickReply(o selfServeObject, raw string) string {
	var q struct {
		Content *struct {
			Type string `json:"type"`
			Text string `json:"text"`
			URL  string `json:"url"`
		} `json:"content"`
		Options []struct {
			Title string `json:"title"`
		} `json:"options"`
	}
	if err := json.Unmarshal([]byte(raw), &q); err != nil {
		return "quick_reply is malformed: " + err.Error()
	}
	if q.Content == nil {
		return "quick_reply needs content"
	}
	switch q.Content.Type {
	case "text":
		if strings.TrimSpace(q.Content.Text) == "" {
			return "quick_reply text content needs text"
		}
	case "image", "video", "file":
		if q.Content.URL == "" {
			return "quick_reply " + q.Content.Type + " content needs url"
		}
	default:
		return "quick_reply content type " + strconv.Quote(q.Content.Type) + " is not text, image, video or file"
	}
	if len(q.Options) == 0 {
		return "quick_reply needs options"
	}
	if len(q.Options) > selfServeSimMaxReplies {
		return "quick_reply has " + strconv.Itoa(len(q.Options)) + " options, at most 3 are allowed"
	}
	for i, op := range q.Options {
		if problem := selfServeTitle("options["+strconv.Itoa(i)+"].title", op.Title, selfServeSimMaxButtonTitle); problem != "" {
			return problem
		}
	}
	return ""
}

func selfServeTitle(field, v string, limit int) string {
	if strings.TrimSpace(v) == "" {
		return field + " is empty"
	}
	if utf8.RuneCountInString(v) > limit {
		return field + " is longer than " + strconv.Itoa(limit) + " characters"
	}
	return ""
}

// checkSelfServeTemplate checks the "template" field and returns the
// template id and the number of params.
func checkSelfServeTemplate(raw string) (id string, params int, problem string) {
	o, problem := parseSelfServeObject(raw)
	if problem != "" {
		return "", 0, problem
	}
	id, problem = o.str("id")
	if problem != "" {
		return "", 0, problem
	}
	if strings.TrimSpace(id) == "" {
		return "", 0, "missing id"
	}
	rawParams, ok := o["params"]
	if !ok || string(rawParams) == "null" {
		return "", 0, "missing params"
	}
	var ps []string
	if err := json.Unmarshal(rawParams, &ps); err != nil {
		return "", 0, "params must be an array of strings"
	}
	for i, p := range ps {
		if strings.TrimSpace(p) == "" {
			return "", 0, "params[" + strconv.Itoa(i) + "] is empty"
		}
	}
	return id, len(ps), ""
}

func checkSelfServePostbacks(raw string) string {
	var pbs []struct {
		Index *int    `json:"index"`
		Text  *string `json:"text"`
	}
	if err := json.Unmarshal([]byte(raw), &pbs); err != nil {
		return "not a JSON array of {\"index\",\"text\"}"
	}
	for i, pb := range pbs {
		n := strconv.Itoa(i)
		if pb.Index == nil || *pb.Index < 0 {
			return "[" + n + "] needs an index"
		}
		if pb.Text == nil || strings.TrimSpace(*pb.Text) == "" {
			return "[" + n + "] needs text"
		}
	}
	return ""
}

// checkSelfServeTemplateMedia checks the "message" of a media or location
// template: {"type":"image","image":{"link":...}} and its siblings.
func checkSelfServeTemplateMedia(raw string) string {
	o, problem := parseSelfServeObject(raw)
	if problem != "" {
		return problem
	}
	kind, problem := o.str("type")
	if problem != "" {
		return problem
	}
	switch kind {
	case "image", "video", "document", "location":
	case "":
		return "missing type"
	default:
		return "unknown template media type " + strconv.Quote(kind)
	}
	inner, ok := o[kind]
	if !ok {
		return kind + " template needs a " + kind + " object"
	}
	m, problem := parseSelfServeObject(string(inner))
	if problem != "" {
		return kind + " is " + problem
	}
	if kind == "location" {
		if problem := m.coordinate("longitude", "location"); problem != "" {
			return problem
		}
		return m.coordinate("latitude", "location")
	}
	return m.needOne("link", "id", kind)
}
