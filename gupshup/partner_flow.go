package gupshup

import (
	"bytes"
	"context"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"time"
)

// Flow states. A flow is created as a draft, can be changed and deleted
// only as a draft, is published once its JSON is valid, and is deprecated
// when it should no longer be sent; Meta may block or throttle a flow
// whose endpoint is unhealthy.
const (
	FlowDraft      = "DRAFT"
	FlowPublished  = "PUBLISHED"
	FlowDeprecated = "DEPRECATED"
	FlowBlocked    = "BLOCKED"
	FlowThrottled  = "THROTTLED"
)

// partnerFlowJSONLimit is Meta's limit on a flow.json; Gupshup answers a bigger
// upload with a 400 after the whole file has gone over the wire.
const partnerFlowJSONLimit = 10 << 20

// Flow is a WhatsApp flow of the app.
type Flow struct {
	ID               string
	Name             string
	Status           string
	Categories       []string
	ValidationErrors []FlowValidationError
	JSONVersion      string
	DataAPIVersion   string
	EndpointURI      string
	PreviewURL       string
}

// FlowValidationError is one problem Meta found in a flow's JSON; a flow
// with any cannot be published.
type FlowValidationError struct {
	Error       string `json:"error"`
	ErrorType   string `json:"error_type"`
	Message     string `json:"message"`
	LineStart   int    `json:"line_start,omitempty"`
	LineEnd     int    `json:"line_end,omitempty"`
	ColumnStart int    `json:"column_start,omitempty"`
	ColumnEnd   int    `json:"column_end,omitempty"`
}

// FlowSpec is what CreateFlow and UpdateFlow send. Categories are Meta's:
// SIGN_UP, SIGN_IN, APPOINTMENT_BOOKING, LEAD_GENERATION, CONTACT_US,
// CUSTOMER_SUPPORT, SURVEY, SHOPPING, OTHER.
type FlowSpec struct {
	Name        string   `json:"name,omitempty"`
	Categories  []string `json:"categories,omitempty"`
	EndpointURI string   `json:"endpoint_uri,omitempty"`
	CloneFlowID string   `json:"clone_flow_id,omitempty"`
}

// FlowPreview is a link that shows the flow in a browser until ExpiresAt.
type FlowPreview struct {
	URL       string
	ExpiresAt time.Time
}

// FlowAsset is one file of a flow; the flow.json is the one with
// AssetType FLOW_JSON, to be fetched from DownloadURL.
type FlowAsset struct {
	Name        string `json:"name"`
	AssetType   string `json:"asset_type"`
	DownloadURL string `json:"download_url"`
}

// CreateFlow creates a draft flow and returns it with its new id.
func (p *PartnerClient) CreateFlow(ctx context.Context, spec FlowSpec) (Flow, error) {
	if spec.Name == "" {
		return Flow{}, invalid("name", "is required")
	}
	if len(spec.Categories) == 0 {
		return Flow{}, invalid("categories", "name at least one category")
	}
	body, _ := json.Marshal(spec)
	r, err := p.flowCall(ctx, http.MethodPost, "/flows", body)
	if err != nil {
		return Flow{}, err
	}
	var out struct {
		ID     partnerString    `json:"id"`
		Status string           `json:"status"`
		Flow   *partnerFlowJSON `json:"flow"`
	}
	if json.Unmarshal(r.body, &out) != nil {
		return Flow{}, httpError(Partner, "flow", r, 0, "unreadable answer")
	}
	f := Flow{ID: string(out.ID), Name: spec.Name, Categories: spec.Categories, EndpointURI: spec.EndpointURI, Status: FlowDraft}
	if out.Flow != nil {
		f = out.Flow.flow()
	}
	if f.ID == "" {
		return Flow{}, httpError(Partner, "flow", r, 0, "answer has no flow id")
	}
	return f, nil
}

// ListFlows returns every flow of the app.
func (p *PartnerClient) ListFlows(ctx context.Context) ([]Flow, error) {
	r, err := p.flowCall(ctx, http.MethodGet, "/flows", nil)
	if err != nil {
		return nil, err
	}
	// The partner API answers with a bare array; Meta wraps it in "data".
	var list []partnerFlowJSON
	if json.Unmarshal(r.body, &list) != nil {
		var wrapped struct {
			Data  []partnerFlowJSON `json:"data"`
			Flows []partnerFlowJSON `json:"flows"`
		}
		if json.Unmarshal(r.body, &wrapped) != nil {
			return nil, httpError(Partner, "flow", r, 0, "unreadable list of flows")
		}
		list = append(wrapped.Data, wrapped.Flows...)
	}
	out := make([]Flow, 0, len(list))
	for _, f := range list {
		out = append(out, f.flow())
	}
	return out, nil
}

// GetFlow reads one flow.
func (p *PartnerClient) GetFlow(ctx context.Context, id string) (Flow, error) {
	if id == "" {
		return Flow{}, invalid("flowId", "is required")
	}
	r, err := p.flowCall(ctx, http.MethodGet, "/flows/"+url.PathEscape(id), nil)
	if err != nil {
		return Flow{}, err
	}
	var out struct {
		partnerFlowJSON
		Flow *partnerFlowJSON `json:"flow"`
	}
	if json.Unmarshal(r.body, &out) != nil {
		return Flow{}, httpError(Partner, "flow", r, 0, "unreadable flow")
	}
	if out.Flow != nil {
		return out.Flow.flow(), nil
	}
	if out.ID == "" {
		return Flow{}, httpError(Partner, "flow", r, 0, "answer has no flow")
	}
	return out.partnerFlowJSON.flow(), nil
}

// UpdateFlow changes the name, categories or endpoint of a flow; empty
// fields stay as they are.
func (p *PartnerClient) UpdateFlow(ctx context.Context, id string, spec FlowSpec) error {
	if id == "" {
		return invalid("flowId", "is required")
	}
	if spec.Name == "" && len(spec.Categories) == 0 && spec.EndpointURI == "" {
		return invalid("name", "nothing to change: set name, categories or endpoint_uri")
	}
	spec.CloneFlowID = ""
	body, _ := json.Marshal(spec)
	_, err := p.flowCall(ctx, http.MethodPut, "/flows/"+url.PathEscape(id), body)
	return err
}

// DeleteFlow deletes a draft flow. The path is singular (/flow/{id}) on
// the partner API, unlike every other flow call.
func (p *PartnerClient) DeleteFlow(ctx context.Context, id string) error {
	if id == "" {
		return invalid("flowId", "is required")
	}
	_, err := p.flowCall(ctx, http.MethodDelete, "/flow/"+url.PathEscape(id), nil)
	return err
}

// DeprecateFlow retires a published flow: it can no longer be sent.
func (p *PartnerClient) DeprecateFlow(ctx context.Context, id string) error {
	if id == "" {
		return invalid("flowId", "is required")
	}
	_, err := p.flowCall(ctx, http.MethodPost, "/flows/"+url.PathEscape(id)+"/deprecate", nil)
	return err
}

// PublishFlow publishes a draft whose JSON has no validation errors.
func (p *PartnerClient) PublishFlow(ctx context.Context, id string) error {
	if id == "" {
		return invalid("flowId", "is required")
	}
	_, err := p.flowCall(ctx, http.MethodPost, "/flows/"+url.PathEscape(id)+"/publish", nil)
	return err
}

// PreviewFlow returns a link to look at the flow in a browser.
func (p *PartnerClient) PreviewFlow(ctx context.Context, id string) (FlowPreview, error) {
	if id == "" {
		return FlowPreview{}, invalid("flowId", "is required")
	}
	r, err := p.flowCall(ctx, http.MethodGet, "/flows/"+url.PathEscape(id)+"/preview", nil)
	if err != nil {
		return FlowPreview{}, err
	}
	var out struct {
		Preview *partnerFlowPreviewJSON `json:"preview"`
		partnerFlowPreviewJSON
	}
	if json.Unmarshal(r.body, &out) != nil {
		return FlowPreview{}, httpError(Partner, "flow", r, 0, "unreadable preview")
	}
	pv := out.partnerFlowPreviewJSON
	if out.Preview != nil {
		pv = *out.Preview
	}
	if pv.PreviewURL == "" {
		return FlowPreview{}, httpError(Partner, "flow", r, 0, "answer has no preview_url")
	}
	return FlowPreview{URL: pv.PreviewURL, ExpiresAt: partnerFlowTime(pv.ExpiresAt)}, nil
}

// GetFlowJSON lists the flow's assets; the flow.json itself is at the
// DownloadURL of the FLOW_JSON asset.
func (p *PartnerClient) GetFlowJSON(ctx context.Context, id string) ([]FlowAsset, error) {
	if id == "" {
		return nil, invalid("flowId", "is required")
	}
	r, err := p.flowCall(ctx, http.MethodGet, "/flows/"+url.PathEscape(id)+"/assets", nil)
	if err != nil {
		return nil, err
	}
	var list []FlowAsset
	if json.Unmarshal(r.body, &list) != nil {
		var wrapped struct {
			Data []FlowAsset `json:"data"`
		}
		if json.Unmarshal(r.body, &wrapped) != nil {
			return nil, httpError(Partner, "flow", r, 0, "unreadable assets")
		}
		list = wrapped.Data
	}
	return list, nil
}

// UpdateFlowJSON uploads flow.json to a draft flow. Meta keeps JSON with
// problems too and lists them in the answer: a non-empty list means the
// flow cannot be published until a corrected file is uploaded.
func (p *PartnerClient) UpdateFlowJSON(ctx context.Context, id string, data []byte) ([]FlowValidationError, error) {
	if id == "" {
		return nil, invalid("flowId", "is required")
	}
	if !json.Valid(data) {
		return nil, invalid("file", "flow.json is not valid JSON")
	}
	if len(data) > partnerFlowJSONLimit {
		return nil, invalid("file", "flow.json is %d bytes, at most %d are allowed", len(data), partnerFlowJSONLimit)
	}
	body, contentType, err := partnerFlowUpload(data)
	if err != nil {
		return nil, invalid("file", "%v", err)
	}
	u := p.appURL("/flows/" + url.PathEscape(id) + "/assets")
	r, err := p.call(ctx, "flow", func() (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPut, u, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", contentType)
		}
		return req, err
	})
	if err != nil {
		return nil, err
	}
	if err := partnerOK("flow", r); err != nil {
		return nil, err
	}
	var out struct {
		ValidationErrors []FlowValidationError `json:"validation_errors"`
	}
	_ = json.Unmarshal(r.body, &out)
	return out.ValidationErrors, nil
}

// partnerFlowUpload is the multipart body Meta's asset upload takes: the file,
// named flow.json, and the name and asset_type fields beside it.
func partnerFlowUpload(data []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="flow.json"`)
	h.Set("Content-Type", "application/json")
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	part.Write(data)
	w.WriteField("name", "flow.json")
	w.WriteField("asset_type", "FLOW_JSON")
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

// flowCall runs one flow request with an optional JSON body and checks
// that a 2xx answer does not say it failed.
func (p *PartnerClient) flowCall(ctx context.Context, method, path string, body []byte) (*response, error) {
	u := p.appURL(path)
	r, err := p.call(ctx, "flow", func() (*http.Request, error) {
		return partnerJSONRequest(method, u, body)
	})
	if err != nil {
		return nil, err
	}
	if err := partnerOK("flow", r); err != nil {
		return nil, err
	}
	return r, nil
}

// partnerFlowJSON is a flow as the API writes it (Meta's field names).
type partnerFlowJSON struct {
	ID               partnerString           `json:"id"`
	Name             string                  `json:"name"`
	Status           string                  `json:"status"`
	Categories       []string                `json:"categories"`
	ValidationErrors []FlowValidationError   `json:"validation_errors"`
	JSONVersion      string                  `json:"json_version"`
	DataAPIVersion   string                  `json:"data_api_version"`
	EndpointURI      string                  `json:"endpoint_uri"`
	Preview          *partnerFlowPreviewJSON `json:"preview"`
}

type partnerFlowPreviewJSON struct {
	PreviewURL string `json:"preview_url"`
	ExpiresAt  string `json:"expires_at"`
}

func (f partnerFlowJSON) flow() Flow {
	out := Flow{
		ID: string(f.ID), Name: f.Name, Status: f.Status, Categories: f.Categories,
		ValidationErrors: f.ValidationErrors, JSONVersion: f.JSONVersion,
		DataAPIVersion: f.DataAPIVersion, EndpointURI: f.EndpointURI,
	}
	if f.Preview != nil {
		out.PreviewURL = f.Preview.PreviewURL
	}
	return out
}

// partnerFlowTime reads Meta's "2023-05-21T11:18:09+0000" and RFC 3339.
func partnerFlowTime(s string) time.Time {
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}
