package gupshuptest

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Flow states as Meta names them. A flow is born a draft; only a draft
// takes new JSON or can be deleted; publishing needs JSON without
// validation errors; only a published flow can be deprecated, and a
// deprecated flow is final.
const (
	partnerFlowDraft      = "DRAFT"
	partnerFlowPublished  = "PUBLISHED"
	partnerFlowDeprecated = "DEPRECATED"
)

// partnerFlowLimit is Meta's limit on a flow.json.
const partnerFlowLimit = 10 << 20

var partnerFlowCategories = map[string]bool{
	"SIGN_UP": true, "SIGN_IN": true, "APPOINTMENT_BOOKING": true, "LEAD_GENERATION": true,
	"CONTACT_US": true, "CUSTOMER_SUPPORT": true, "SURVEY": true, "SHOPPING": true, "OTHER": true,
}

// partnerFlowSeq makes flow ids that look like Meta's 15-digit ones.
var partnerFlowSeq atomic.Int64

func init() { partnerFlowSeq.Store(460785803057000) }

type partnerFlow struct {
	ID          string
	App         string
	Name        string
	Categories  []string
	Status      string
	EndpointURI string
	JSON        []byte // nil until uploaded
	Problems    []partnerFlowProblem
}

// partnerFlowProblem is one of Meta's validation_errors.
type partnerFlowProblem struct {
	Error       string `json:"error"`
	ErrorType   string `json:"error_type"`
	Message     string `json:"message"`
	LineStart   int    `json:"line_start"`
	LineEnd     int    `json:"line_end"`
	ColumnStart int    `json:"column_start"`
	ColumnEnd   int    `json:"column_end"`
}

func (s *Server) routePartnerFlows() {
	s.mux.HandleFunc("POST /partner/app/{appId}/flows", s.partnerFlowCreate)
	s.mux.HandleFunc("GET /partner/app/{appId}/flows", s.partnerFlowList)
	s.mux.HandleFunc("GET /partner/app/{appId}/flows/{id}", s.partnerFlowHandler(s.partnerFlowGet))
	s.mux.HandleFunc("PUT /partner/app/{appId}/flows/{id}", s.partnerFlowHandler(s.partnerFlowUpdate))
	// Deleting is the one call on the singular path, as the reference has it.
	s.mux.HandleFunc("DELETE /partner/app/{appId}/flow/{id}", s.partnerFlowHandler(s.partnerFlowDelete))
	s.mux.HandleFunc("POST /partner/app/{appId}/flows/{id}/deprecate", s.partnerFlowHandler(s.partnerFlowDeprecate))
	s.mux.HandleFunc("POST /partner/app/{appId}/flows/{id}/publish", s.partnerFlowHandler(s.partnerFlowPublish))
	s.mux.HandleFunc("GET /partner/app/{appId}/flows/{id}/preview", s.partnerFlowHandler(s.partnerFlowPreview))
	s.mux.HandleFunc("GET /partner/app/{appId}/flows/{id}/assets", s.partnerFlowHandler(s.partnerFlowAssets))
	// The reference uploads with PUT, Meta's own API with POST.
	s.mux.HandleFunc("PUT /partner/app/{appId}/flows/{id}/assets", s.partnerFlowHandler(s.partnerFlowUpload))
	s.mux.HandleFunc("POST /partner/app/{appId}/flows/{id}/assets", s.partnerFlowHandler(s.partnerFlowUpload))
	// Where download_url points, like Meta's CDN link: no token needed.
	s.mux.HandleFunc("GET /_sim/flows/{appId}/{id}/flow.json", s.partnerFlowDownload)
}

// PartnerFlowStatus returns the state of a flow, "" for an unknown id.
func (s *Server) PartnerFlowStatus(id string) string {
	p := s.partner
	p.flowMu.Lock()
	defer p.flowMu.Unlock()
	if f := p.flows[id]; f != nil {
		return f.Status
	}
	return ""
}

func (f *partnerFlow) json() map[string]any {
	problems := f.Problems
	if problems == nil {
		problems = []partnerFlowProblem{}
	}
	out := map[string]any{
		"id": f.ID, "name": f.Name, "status": f.Status,
		"categories": f.Categories, "validation_errors": problems,
	}
	if f.JSON != nil {
		var v struct {
			Version        string `json:"version"`
			DataAPIVersion string `json:"data_api_version"`
		}
		json.Unmarshal(f.JSON, &v)
		out["json_version"] = v.Version
		if v.DataAPIVersion != "" {
			out["data_api_version"] = v.DataAPIVersion
		}
	}
	if f.EndpointURI != "" {
		out["endpoint_uri"] = f.EndpointURI
	}
	return out
}

type partnerFlowSpec struct {
	Name        string   `json:"name"`
	Categories  []string `json:"categories"`
	EndpointURI string   `json:"endpoint_uri"`
	CloneFlowID string   `json:"clone_flow_id"`
}

func (spec *partnerFlowSpec) check(update bool) string {
	if !update && spec.Name == "" {
		return "name is required"
	}
	if !update && len(spec.Categories) == 0 {
		return "categories is required"
	}
	for _, c := range spec.Categories {
		if !partnerFlowCategories[c] {
			return "Invalid category " + c
		}
	}
	if spec.EndpointURI != "" && !partnerURL(spec.EndpointURI) {
		return "endpoint_uri should be a valid URL"
	}
	return ""
}

func (s *Server) partnerFlowCreate(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
		return
	}
	var spec partnerFlowSpec
	if err := partnerDecode(r, &spec); err != nil {
		partnerGupshupError(w, http.StatusBadRequest, "Invalid request body")
		return
	}
	if problem := spec.check(false); problem != "" {
		partnerGupshupError(w, http.StatusBadRequest, problem)
		return
	}
	app := r.PathValue("appId")
	p := s.partner
	p.flowMu.Lock()
	defer p.flowMu.Unlock()
	for _, f := range p.flows {
		if f.App == app && f.Name == spec.Name {
			partnerGupshupError(w, http.StatusBadRequest, "Flow with name "+spec.Name+" already exists")
			return
		}
	}
	f := &partnerFlow{
		ID: strconv.FormatInt(partnerFlowSeq.Add(1), 10), App: app, Name: spec.Name,
		Categories: spec.Categories, Status: partnerFlowDraft, EndpointURI: spec.EndpointURI,
	}
	if spec.CloneFlowID != "" {
		src := p.flows[spec.CloneFlowID]
		if src == nil || src.App != app {
			partnerGupshupError(w, http.StatusBadRequest, "Flow to clone not found")
			return
		}
		f.JSON, f.Problems = src.JSON, src.Problems
	}
	p.flows[f.ID] = f
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "id": f.ID})
}

// partnerFlowList answers a bare array, as the reference shows.
func (s *Server) partnerFlowList(w http.ResponseWriter, r *http.Request) {
	if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
		return
	}
	app := r.PathValue("appId")
	p := s.partner
	p.flowMu.Lock()
	list := []map[string]any{}
	var ids []string
	for id, f := range p.flows {
		if f.App == app {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		list = append(list, p.flows[id].json())
	}
	p.flowMu.Unlock()
	writeJSON(w, http.StatusOK, "application/json", list)
}

// partnerFlowHandler authorizes a call on one flow, finds the flow, and
// runs h with the store locked; an unknown id is a 404.
func (s *Server) partnerFlowHandler(h func(http.ResponseWriter, *http.Request, *partnerFlow)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.gate(w, r, "partner") || !s.partnerAuthorized(w, r) {
			return
		}
		// Read any body before taking the lock: a slow upload must not hold
		// up every other flow call.
		if r.Body != nil && (r.Method == http.MethodPut || r.Method == http.MethodPost) {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/") {
				if err := r.ParseMultipartForm(partnerFlowLimit + 1<<20); err != nil {
					partnerGupshupError(w, http.StatusBadRequest, "Invalid multipart body")
					return
				}
			}
		}
		p := s.partner
		p.flowMu.Lock()
		defer p.flowMu.Unlock()
		f := p.flows[r.PathValue("id")]
		if f == nil || f.App != r.PathValue("appId") {
			partnerGupshupError(w, http.StatusNotFound, "Flow not found")
			return
		}
		h(w, r, f)
	}
}

func (s *Server) partnerFlowGet(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	out := f.json()
	out["preview"] = partnerFlowPreviewJSON(r, f)
	writeJSON(w, http.StatusOK, "application/json", out)
}

func (s *Server) partnerFlowUpdate(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	var spec partnerFlowSpec
	if err := partnerDecode(r, &spec); err != nil {
		partnerGupshupError(w, http.StatusBadRequest, "Invalid request body")
		return
	}
	if problem := spec.check(true); problem != "" {
		partnerGupshupError(w, http.StatusBadRequest, problem)
		return
	}
	if spec.Name == "" && len(spec.Categories) == 0 && spec.EndpointURI == "" {
		partnerGupshupError(w, http.StatusBadRequest, "Nothing to update")
		return
	}
	if f.Status == partnerFlowDeprecated {
		partnerGupshupError(w, http.StatusBadRequest, "A deprecated flow cannot be updated")
		return
	}
	if spec.Name != "" && spec.Name != f.Name {
		for _, g := range s.partner.flows {
			if g != f && g.App == f.App && g.Name == spec.Name {
				partnerGupshupError(w, http.StatusBadRequest, "Flow with name "+spec.Name+" already exists")
				return
			}
		}
		f.Name = spec.Name
	}
	if len(spec.Categories) > 0 {
		f.Categories = spec.Categories
	}
	if spec.EndpointURI != "" {
		f.EndpointURI = spec.EndpointURI
	}
	partnerFlowOK(w, nil)
}

func (s *Server) partnerFlowDelete(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	if f.Status != partnerFlowDraft {
		partnerGupshupError(w, http.StatusBadRequest, "Only a flow in DRAFT status can be deleted; this one is "+f.Status)
		return
	}
	delete(s.partner.flows, f.ID)
	partnerFlowOK(w, nil)
}

func (s *Server) partnerFlowPublish(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	switch {
	case f.Status != partnerFlowDraft:
		partnerGupshupError(w, http.StatusBadRequest, "Only a flow in DRAFT status can be published; this one is "+f.Status)
	case f.JSON == nil:
		partnerGupshupError(w, http.StatusBadRequest, "Flow JSON has not been uploaded")
	case len(f.Problems) > 0:
		partnerGupshupError(w, http.StatusBadRequest, "Flow JSON has validation errors")
	default:
		f.Status = partnerFlowPublished
		partnerFlowOK(w, nil)
	}
}

func (s *Server) partnerFlowDeprecate(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	if f.Status != partnerFlowPublished {
		partnerGupshupError(w, http.StatusBadRequest, "Only a PUBLISHED flow can be deprecated; this one is "+f.Status)
		return
	}
	f.Status = partnerFlowDeprecated
	partnerFlowOK(w, nil)
}

func partnerFlowPreviewJSON(r *http.Request, f *partnerFlow) map[string]any {
	return map[string]any{
		"preview_url": "http://" + r.Host + "/_sim/flows/" + f.App + "/" + f.ID + "/flow.json?preview=1",
		"expires_at":  time.Now().Add(30 * 24 * time.Hour).UTC().Format("2006-01-02T15:04:05-0700"),
	}
}

func (s *Server) partnerFlowPreview(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"id": f.ID, "preview": partnerFlowPreviewJSON(r, f)})
}

// partnerFlowAssets answers the bare array of the reference; a flow
// without uploaded JSON has no assets.
func (s *Server) partnerFlowAssets(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	list := []map[string]string{}
	if f.JSON != nil {
		list = append(list, map[string]string{
			"name": "flow.json", "asset_type": "FLOW_JSON",
			"download_url": "http://" + r.Host + "/_sim/flows/" + f.App + "/" + f.ID + "/flow.json",
		})
	}
	writeJSON(w, http.StatusOK, "application/json", list)
}

// partnerFlowUpload takes flow.json as the multipart "file". Like Meta, it
// keeps JSON with problems and lists them; only JSON that does not parse
// is refused outright.
func (s *Server) partnerFlowUpload(w http.ResponseWriter, r *http.Request, f *partnerFlow) {
	if f.Status != partnerFlowDraft {
		partnerGupshupError(w, http.StatusBadRequest, "The JSON of a "+f.Status+" flow cannot be changed")
		return
	}
	if r.MultipartForm == nil {
		partnerGupshupError(w, http.StatusBadRequest, "file is required (multipart/form-data)")
		return
	}
	files := r.MultipartForm.File["file"]
	if len(files) == 0 {
		partnerGupshupError(w, http.StatusBadRequest, "file is required")
		return
	}
	if files[0].Size > partnerFlowLimit {
		partnerGupshupError(w, http.StatusBadRequest, "Unable to upload Flow JSON Asset as media size is greater than permitted size")
		return
	}
	fh, err := files[0].Open()
	if err != nil {
		partnerGupshupError(w, http.StatusBadRequest, "file could not be read")
		return
	}
	data, err := io.ReadAll(fh)
	fh.Close()
	if err != nil {
		partnerGupshupError(w, http.StatusBadRequest, "file could not be read")
		return
	}
	if !json.Valid(data) {
		partnerGupshupError(w, http.StatusBadRequest, "Invalid Flow JSON: the file is not JSON")
		return
	}
	f.JSON = data
	f.Problems = partnerFlowCheck(data)
	partnerFlowOK(w, f.Problems)
}

// partnerFlowCheck is a small part of Meta's flow.json validation: enough
// for a flow to be publishable or not for reasons a test can arrange.
func partnerFlowCheck(data []byte) []partnerFlowProblem {
	var doc struct {
		Version *string `json:"version"`
		Screens []struct {
			ID     string          `json:"id"`
			Layout json.RawMessage `json:"layout"`
		} `json:"screens"`
	}
	problem := func(code, msg string) partnerFlowProblem {
		return partnerFlowProblem{Error: code, ErrorType: "FLOW_JSON_ERROR", Message: msg, LineStart: 1, LineEnd: 1, ColumnStart: 1, ColumnEnd: 1}
	}
	if json.Unmarshal(data, &doc) != nil {
		return []partnerFlowProblem{problem("INVALID_PROPERTY_VALUE", "The flow JSON must be an object with version and screens.")}
	}
	var out []partnerFlowProblem
	if doc.Version == nil || *doc.Version == "" {
		out = append(out, problem("MISSING_REQUIRED_PROPERTY", "Missing required property 'version'."))
	}
	if len(doc.Screens) == 0 {
		out = append(out, problem("MISSING_REQUIRED_PROPERTY", "Missing required property 'screens'."))
	}
	for i, sc := range doc.Screens {
		if sc.ID == "" {
			out = append(out, problem("MISSING_REQUIRED_PROPERTY", "Missing required property 'id' at screens["+strconv.Itoa(i)+"]."))
		}
		if len(sc.Layout) == 0 {
			out = append(out, problem("MISSING_REQUIRED_PROPERTY", "Missing required property 'layout' at screens["+strconv.Itoa(i)+"]."))
		}
	}
	return out
}

func partnerFlowOK(w http.ResponseWriter, problems []partnerFlowProblem) {
	if problems == nil {
		problems = []partnerFlowProblem{}
	}
	writeJSON(w, http.StatusOK, "application/json", map[string]any{"status": "success", "success": true, "validation_errors": problems})
}

func (s *Server) partnerFlowDownload(w http.ResponseWriter, r *http.Request) {
	p := s.partner
	p.flowMu.Lock()
	f := p.flows[r.PathValue("id")]
	var data []byte
	if f != nil && f.App == r.PathValue("appId") {
		data = f.JSON
	}
	p.flowMu.Unlock()
	if data == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(data)
}

// partnerCheckFlow refuses a flow message whose flow does not exist, or is
// not published when the message is not sent in draft mode: what Meta
// checks before it accepts the send.
func (s *Server) partnerCheckFlow(app string, m partnerMsg) *partnerMetaError {
	if m.flowID == "" && m.flowName == "" {
		return nil
	}
	p := s.partner
	p.flowMu.Lock()
	defer p.flowMu.Unlock()
	var f *partnerFlow
	if m.flowID != "" {
		if g := p.flows[m.flowID]; g != nil && g.App == app {
			f = g
		}
	} else {
		for _, g := range p.flows {
			if g.App == app && g.Name == m.flowName {
				f = g
				break
			}
		}
	}
	switch {
	case f == nil:
		return partnerBadValue("interactive.action.parameters.flow_id", "does not name a flow of this app")
	case m.flowMode == "draft":
		if f.Status != partnerFlowDraft && f.Status != partnerFlowPublished {
			return partnerBadValue("interactive.action.parameters.flow_id", "names a "+f.Status+" flow")
		}
	case f.Status != partnerFlowPublished:
		return partnerBadValue("interactive.action.parameters.flow_id", "names a "+f.Status+" flow; publish it or send with mode draft")
	}
	return nil
}
