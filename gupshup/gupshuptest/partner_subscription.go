package gupshuptest

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// PartnerSubscription is one subscription set through the partner API.
type PartnerSubscription struct {
	ID         string
	App        string
	Tag        string
	URL        string
	Modes      []string
	Version    int
	Active     bool
	Meta       string
	ShowOnUI   bool
	CreatedOn  time.Time
	ModifiedOn time.Time
}

// partnerModeBits gives every mode a bit of the "mode" number Gupshup
// reports beside the names.
var partnerModeBits = map[string]int64{
	"ENQUEUED": 1 << 0, "SENT": 1 << 1, "DELIVERED": 1 << 2, "READ": 1 << 3,
	"FAILED": 1 << 4, "DELETED": 1 << 5, "MESSAGE": 1 << 6, "OTHERS": 1 << 7,
	"BILLING": 1 << 8, "TEMPLATE": 1 << 9, "ACCOUNT": 1 << 10, "FLOWS_MESSAGE": 1 << 11,
	"PAYMENTS": 1 << 12, "COPY": 1 << 13, "ALL": 1<<14 - 1, "NONE": 0,
}

// Per the reference, a version 3 subscription cannot carry these.
var partnerV3Excluded = map[string]bool{"TEMPLATE": true, "ACCOUNT": true, "COPY": true}

func (s *Server) routePartnerSubscriptions() {
	s.mux.HandleFunc("POST /partner/app/{appId}/subscription", s.partnerSubCreate)
	s.mux.HandleFunc("GET /partner/app/{appId}/subscription", s.partnerSubList)
	s.mux.HandleFunc("DELETE /partner/app/{appId}/subscription", s.partnerSubDeleteAll)
	s.mux.HandleFunc("GET /partner/app/{appId}/subscription/{id}", s.partnerSubGet)
	s.mux.HandleFunc("PUT /partner/app/{appId}/subscription/{id}", s.partnerSubUpdate)
	s.mux.HandleFunc("DELETE /partner/app/{appId}/subscription/{id}", s.partnerSubDelete)
}

// PartnerSubscriptions lists the subscriptions set through the API, for tests.
func (s *Server) PartnerSubscriptions() []PartnerSubscription {
	p := s.partner
	p.subMu.Lock()
	defer p.subMu.Unlock()
	out := make([]PartnerSubscription, 0, len(p.subs))
	for _, x := range p.subs {
		out = append(out, *x)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (x *PartnerSubscription) target() target {
	return target{URL: x.URL, Format: "v" + strconv.Itoa(x.Version)}
}

func (x *PartnerSubscription) mode() int64 {
	var m int64
	for _, name := range x.Modes {
		m |= partnerModeBits[name]
	}
	return m
}

func (x *PartnerSubscription) json() map[string]any {
	return map[string]any{
		"id": x.ID, "appId": x.App, "tag": x.Tag, "url": x.URL,
		"modes": x.Modes, "mode": x.mode(), "version": x.Version, "active": x.Active,
		"meta": x.Meta, "showOnUI": x.ShowOnUI,
		"createdOn": x.CreatedOn.UnixMilli(), "modifiedOn": x.ModifiedOn.UnixMilli(),
	}
}

// partnerSubFields reads and checks the form of a create or update. On
// update every field is optional.
func partnerSubFields(r *http.Request, x *PartnerSubscription, update bool) string {
	if err := r.ParseForm(); err != nil {
		return "Invalid request body"
	}
	f := r.PostForm
	if v, ok := f["version"]; ok || !update {
		n, err := strconv.Atoi(strings.TrimSpace(partnerFirst(v)))
		switch {
		case err != nil || n < 0 || n > 3:
			return "version should be one of 0, 1, 2, 3"
		case n < 2:
			// Versions 0 and 1 are legacy formats the simulator does not speak.
			return "version " + strconv.Itoa(n) + " is not supported by the simulator; use 2 or 3"
		}
		x.Version = n
	}
	if v, ok := f["modes"]; ok || !update {
		var modes []string
		for _, m := range strings.Split(partnerFirst(v), ",") {
			if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
				modes = append(modes, m)
			}
		}
		if len(modes) == 0 {
			return "modes is required"
		}
		x.Modes = modes
	}
	for _, m := range x.Modes {
		if _, known := partnerModeBits[m]; !known {
			return "Invalid mode " + m
		}
		if x.Version == 3 && partnerV3Excluded[m] {
			return "mode " + m + " is not supported for version 3"
		}
	}
	if v, ok := f["tag"]; ok || !update {
		if partnerFirst(v) == "" {
			return "tag is required"
		}
		x.Tag = partnerFirst(v)
	}
	if v, ok := f["url"]; ok || !update {
		if !partnerURL(partnerFirst(v)) {
			return "url should be a valid URL"
		}
		x.URL = partnerFirst(v)
	}
	if v, ok := f["meta"]; ok {
		var obj map[string]any
		if m := partnerFirst(v); m != "" && json.Unmarshal([]byte(m), &obj) != nil {
			return "meta should be a JSON object"
		}
		x.Meta = partnerFirst(v)
	}
	if v, ok := f["showOnUI"]; ok {
		x.ShowOnUI = partnerFirst(v) == "true"
	}
	if v, ok := f["active"]; ok && update {
		x.Active = partnerFirst(v) != "false"
	}
	return ""
}

func partnerFirst(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func (s *Server) partnerSubCreate(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
		return
	}
	x := &PartnerSubscription{App: r.PathValue("appId"), Active: true, Meta: "{}"}
	if problem := partnerSubFields(r, x, false); problem != "" {
		partnerGupshupError(w, http.StatusBadRequest, problem)
		return
	}
	p := s.partner
	p.subMu.Lock()
	for _, y := range p.subs {
		if y.App == x.App && y.Tag == x.Tag {
			p.subMu.Unlock()
			partnerGupshupError(w, http.StatusBadRequest, "Subscription with tag "+x.Tag+" already exists")
			return
		}
	}
	p.nextSub++
	x.ID = strconv.FormatInt(p.nextSub, 10)
	x.CreatedOn = time.Now()
	x.ModifiedOn = x.CreatedOn
	p.subs[x.ID] = x
	out := x.json()
	p.subMu.Unlock()
	s.partnerSubscribe(x)
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "subscription": out})
}

// partnerSubscribe makes the dispatcher deliver to x, and greets a v3 URL
// with the set-callback probe Gupshup sends when a subscription is set.
func (s *Server) partnerSubscribe(x *PartnerSubscription) {
	if !x.Active {
		return
	}
	t := x.target()
	s.cb.addSubscription(t)
	if x.Version == 3 {
		s.cb.enqueue(t, time.Now(), v3Envelope(s.cfg, s.cfg.Source, map[string]any{
			"statuses": []any{map[string]any{"type": "set-callback"}},
		}))
	}
}

// partnerSubLookup admits a call about one subscription (the gate, the
// app token) and finds the subscription its path names.
func (s *Server) partnerSubLookup(w http.ResponseWriter, r *http.Request) (*PartnerSubscription, bool) {
	if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
		return nil, false
	}
	p := s.partner
	p.subMu.Lock()
	x := p.subs[r.PathValue("id")]
	p.subMu.Unlock()
	if x == nil || x.App != r.PathValue("appId") {
		partnerGupshupError(w, http.StatusNotFound, "Subscription not found")
		return nil, false
	}
	return x, true
}

func (s *Server) partnerSubGet(w http.ResponseWriter, r *http.Request) {
	x, ok := s.partnerSubLookup(w, r)
	if !ok {
		return
	}
	s.partner.subMu.Lock()
	out := x.json()
	s.partner.subMu.Unlock()
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "subscription": out})
}

func (s *Server) partnerSubList(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
		return
	}
	list := []map[string]any{}
	for _, x := range s.PartnerSubscriptions() {
		if x.App == r.PathValue("appId") {
			list = append(list, x.json())
		}
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "subscriptions": list})
}

func (s *Server) partnerSubUpdate(w http.ResponseWriter, r *http.Request) {
	x, ok := s.partnerSubLookup(w, r)
	if !ok {
		return
	}
	p := s.partner
	p.subMu.Lock()
	next := *x
	p.subMu.Unlock()
	next.Modes = append([]string(nil), next.Modes...)
	if problem := partnerSubFields(r, &next, true); problem != "" {
		partnerGupshupError(w, http.StatusBadRequest, problem)
		return
	}
	p.subMu.Lock()
	if p.subs[x.ID] != x {
		p.subMu.Unlock()
		partnerGupshupError(w, http.StatusNotFound, "Subscription not found")
		return
	}
	for _, y := range p.subs {
		if y.ID != x.ID && y.App == x.App && y.Tag == next.Tag {
			p.subMu.Unlock()
			partnerGupshupError(w, http.StatusBadRequest, "Subscription with tag "+next.Tag+" already exists")
			return
		}
	}
	prev := *x
	next.ModifiedOn = time.Now()
	*x = next
	out := x.json()
	p.subMu.Unlock()
	moved := prev.target() != next.target() || prev.Active != next.Active
	if moved {
		if prev.Active {
			s.cb.removeSubscription(prev.target())
		}
		s.partnerSubscribe(&next)
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "subscription": out})
}

func (s *Server) partnerSubDelete(w http.ResponseWriter, r *http.Request) {
	x, ok := s.partnerSubLookup(w, r)
	if !ok {
		return
	}
	p := s.partner
	p.subMu.Lock()
	delete(p.subs, x.ID)
	active, t := x.Active, x.target()
	p.subMu.Unlock()
	if active {
		s.cb.removeSubscription(t)
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success"})
}

func (s *Server) partnerSubDeleteAll(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
		return
	}
	app := r.PathValue("appId")
	p := s.partner
	var gone []target
	p.subMu.Lock()
	for id, x := range p.subs {
		if x.App == app {
			if x.Active {
				gone = append(gone, x.target())
			}
			delete(p.subs, id)
		}
	}
	p.subMu.Unlock()
	for _, t := range gone {
		s.cb.removeSubscription(t)
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success"})
}
