package gupshup

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Subscription says where Gupshup posts an app's events and in which
// format: Version 2 for Gupshup's own envelope, 3 for Meta's (required
// for the v3 passthrough). Modes picks the events (SENT, DELIVERED, READ,
// MESSAGE, FAILED, ENQUEUED, DELETED, OTHERS, FLOWS_MESSAGE, PAYMENTS,
// ALL, ...). Meta becomes headers on every callback, for the receiver to
// authenticate Gupshup by.
type Subscription struct {
	Modes    []string
	Tag      string
	URL      string
	Version  int
	Meta     map[string]string
	ShowOnUI bool
	// Active turns an existing subscription on or off; only
	// UpdateSubscription sends it, and nil leaves it as it is.
	Active *bool
}

// SubscriptionInfo is a subscription as Gupshup keeps it.
type SubscriptionInfo struct {
	ID      string
	AppID   string
	Tag     string
	URL     string
	Modes   []string
	Mode    int64 // Gupshup's bit set of the modes
	Version int
	Active  bool
	// Meta is the JSON of the headers sent with each callback.
	Meta       string
	ShowOnUI   bool
	CreatedOn  time.Time
	ModifiedOn time.Time
}

// v3 subscriptions cannot carry these modes, per the partner reference.
var partnerV3Excluded = map[string]bool{"TEMPLATE": true, "ACCOUNT": true, "COPY": true}

// SetSubscription adds a subscription to the app. Gupshup posts a
// set-callback probe to a new v3 URL, which the receiver must acknowledge.
func (p *PartnerClient) SetSubscription(ctx context.Context, s Subscription) (SubscriptionInfo, error) {
	if err := s.validate(false); err != nil {
		return SubscriptionInfo{}, err
	}
	form := s.form(false)
	u := p.appURL("/subscription")
	r, err := p.call(ctx, "subscription", func() (*http.Request, error) {
		return newFormRequest(http.MethodPost, u, form)
	})
	if err != nil {
		return SubscriptionInfo{}, err
	}
	return partnerParseSubscription("subscription", r)
}

// UpdateSubscription changes the subscription with this id; fields left
// empty in s stay as they are.
func (p *PartnerClient) UpdateSubscription(ctx context.Context, id string, s Subscription) (SubscriptionInfo, error) {
	if id == "" {
		return SubscriptionInfo{}, invalid("subscriptionId", "is required")
	}
	if err := s.validate(true); err != nil {
		return SubscriptionInfo{}, err
	}
	form := s.form(true)
	u := p.appURL("/subscription/" + url.PathEscape(id))
	r, err := p.call(ctx, "subscription", func() (*http.Request, error) {
		return newFormRequest(http.MethodPut, u, form)
	})
	if err != nil {
		return SubscriptionInfo{}, err
	}
	return partnerParseSubscription("subscription", r)
}

// GetSubscription reads one subscription.
func (p *PartnerClient) GetSubscription(ctx context.Context, id string) (SubscriptionInfo, error) {
	if id == "" {
		return SubscriptionInfo{}, invalid("subscriptionId", "is required")
	}
	u := p.appURL("/subscription/" + url.PathEscape(id))
	r, err := p.call(ctx, "subscription", func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, u, nil)
	})
	if err != nil {
		return SubscriptionInfo{}, err
	}
	return partnerParseSubscription("subscription", r)
}

// ListSubscriptions reads every subscription of the app.
func (p *PartnerClient) ListSubscriptions(ctx context.Context) ([]SubscriptionInfo, error) {
	u := p.appURL("/subscription")
	r, err := p.call(ctx, "subscription", func() (*http.Request, error) {
		return http.NewRequest(http.MethodGet, u, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := partnerOK("subscription", r); err != nil {
		return nil, err
	}
	var list []partnerSubscriptionJSON
	var wrapped struct {
		Subscriptions []partnerSubscriptionJSON `json:"subscriptions"`
	}
	switch {
	case json.Unmarshal(r.body, &list) == nil:
	case json.Unmarshal(r.body, &wrapped) == nil:
		list = wrapped.Subscriptions
	default:
		return nil, httpError(Partner, "subscription", r, 0, "unreadable list of subscriptions")
	}
	out := make([]SubscriptionInfo, 0, len(list))
	for _, s := range list {
		out = append(out, s.info())
	}
	return out, nil
}

// DeleteSubscription removes one subscription; its URL gets no more events.
func (p *PartnerClient) DeleteSubscription(ctx context.Context, id string) error {
	if id == "" {
		return invalid("subscriptionId", "is required")
	}
	u := p.appURL("/subscription/" + url.PathEscape(id))
	r, err := p.call(ctx, "subscription", func() (*http.Request, error) {
		return http.NewRequest(http.MethodDelete, u, nil)
	})
	if err != nil {
		return err
	}
	return partnerOK("subscription", r)
}

func (s Subscription) validate(update bool) error {
	if !update || len(s.Modes) > 0 {
		if len(s.Modes) == 0 {
			return invalid("modes", "name at least one mode")
		}
		for _, m := range s.Modes {
			if m == "" || strings.ContainsAny(m, ", ") {
				return invalid("modes", "%q is not a mode", m)
			}
			if s.Version == 3 && partnerV3Excluded[strings.ToUpper(m)] {
				return invalid("modes", "%s is not available to a version 3 subscription", m)
			}
		}
	}
	if !update && s.Tag == "" {
		return invalid("tag", "is required")
	}
	if !update || s.URL != "" {
		if !metaHTTPURL(s.URL) {
			return invalid("url", "must be an absolute http or https URL")
		}
	}
	if !update || s.Version != 0 {
		if s.Version != 2 && s.Version != 3 {
			return invalid("version", "must be 2 or 3, not %d", s.Version)
		}
	}
	return nil
}

// form is the request body; on update only what is set goes out.
func (s Subscription) form(update bool) url.Values {
	f := url.Values{}
	if len(s.Modes) > 0 {
		f.Set("modes", strings.Join(s.Modes, ","))
	}
	if s.Tag != "" {
		f.Set("tag", s.Tag)
	}
	if s.URL != "" {
		f.Set("url", s.URL)
	}
	if s.Version != 0 {
		f.Set("version", strconv.Itoa(s.Version))
	}
	if len(s.Meta) > 0 {
		b, _ := json.Marshal(s.Meta)
		f.Set("meta", string(b))
	}
	if s.ShowOnUI || !update {
		f.Set("showOnUI", strconv.FormatBool(s.ShowOnUI))
	}
	if update && s.Active != nil {
		f.Set("active", strconv.FormatBool(*s.Active))
	}
	return f
}

// partnerSubscriptionJSON is a subscription as the API writes it. modes comes as
// an array of names, or as the comma-separated text it was set with.
type partnerSubscriptionJSON struct {
	ID         partnerString   `json:"id"`
	AppID      string          `json:"appId"`
	Tag        string          `json:"tag"`
	URL        string          `json:"url"`
	Modes      json.RawMessage `json:"modes"`
	Mode       partnerInt      `json:"mode"`
	Version    partnerInt      `json:"version"`
	Active     bool            `json:"active"`
	Meta       json.RawMessage `json:"meta"`
	ShowOnUI   bool            `json:"showOnUI"`
	CreatedOn  partnerInt      `json:"createdOn"`
	ModifiedOn partnerInt      `json:"modifiedOn"`
}

func (s partnerSubscriptionJSON) info() SubscriptionInfo {
	in := SubscriptionInfo{
		ID: string(s.ID), AppID: s.AppID, Tag: s.Tag, URL: s.URL,
		Mode: int64(s.Mode), Version: int(s.Version), Active: s.Active,
		Meta: partnerText(s.Meta), ShowOnUI: s.ShowOnUI,
		CreatedOn: partnerMillis(int64(s.CreatedOn)), ModifiedOn: partnerMillis(int64(s.ModifiedOn)),
	}
	var modes []string
	if json.Unmarshal(s.Modes, &modes) != nil {
		for _, m := range strings.Split(partnerText(s.Modes), ",") {
			if m = strings.TrimSpace(m); m != "" {
				modes = append(modes, m)
			}
		}
	}
	in.Modes = modes
	return in
}

func partnerParseSubscription(op string, r *response) (SubscriptionInfo, error) {
	if err := partnerOK(op, r); err != nil {
		return SubscriptionInfo{}, err
	}
	var out struct {
		Subscription *partnerSubscriptionJSON `json:"subscription"`
	}
	if json.Unmarshal(r.body, &out) != nil {
		return SubscriptionInfo{}, httpError(Partner, op, r, 0, "unreadable subscription")
	}
	if out.Subscription == nil {
		// Some answers put the subscription at the top level.
		var top partnerSubscriptionJSON
		if json.Unmarshal(r.body, &top) != nil || top.ID == "" {
			return SubscriptionInfo{}, httpError(Partner, op, r, 0, "answer has no subscription")
		}
		out.Subscription = &top
	}
	return out.Subscription.info(), nil
}

func partnerMillis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
