package gupshup

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// MetaTemplate is an approved template with the values of its variables.
// Namespace is optional: Gupshup finds the template by Name and language.
type MetaTemplate struct {
	Name       string          `json:"name"`
	Language   MetaLanguage    `json:"language"`
	Namespace  string          `json:"namespace,omitempty"`
	Components []MetaComponent `json:"components,omitempty"`
}

// MetaLanguage is the template's language; Policy is "deterministic" when given.
type MetaLanguage struct {
	Code   string `json:"code"`
	Policy string `json:"policy,omitempty"`
}

// MetaComponent fills one part of a template: header, body, a button
// (with SubType and Index), limited_time_offer, or a carousel of Cards.
type MetaComponent struct {
	Type    string `json:"type"`
	SubType string `json:"sub_type,omitempty"`
	// Index is the position of a button, "0" to "9". Meta's samples write
	// it as a string; a number is accepted when decoding.
	Index      string          `json:"index,omitempty"`
	Parameters []MetaParameter `json:"parameters,omitempty"`
	Cards      []MetaCard      `json:"cards,omitempty"`
}

// UnmarshalJSON takes the button index as a string or a number.
func (c *MetaComponent) UnmarshalJSON(b []byte) error {
	type plain MetaComponent
	var raw struct {
		plain
		Index json.RawMessage `json:"index"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*c = MetaComponent(raw.plain)
	idx := bytes.TrimSpace(raw.Index)
	switch {
	case len(idx) == 0 || string(idx) == "null":
		c.Index = ""
	case idx[0] == '"':
		if err := json.Unmarshal(idx, &c.Index); err != nil {
			return err
		}
	default:
		n, err := strconv.Atoi(string(idx))
		if err != nil {
			return fmt.Errorf("index: %s is not a whole number", idx)
		}
		c.Index = strconv.Itoa(n)
	}
	return nil
}

// MetaCard is one card of a carousel template.
type MetaCard struct {
	CardIndex  int             `json:"card_index"`
	Components []MetaComponent `json:"components"`
}

// MetaParameter is the value of one template variable or button. Type says
// which of the other fields carries it: text, currency, date_time, image,
// video, document, location, payload, coupon_code, limited_time_offer or
// action. ParameterName is set for templates with named parameters.
type MetaParameter struct {
	Type             string                `json:"type"`
	ParameterName    string                `json:"parameter_name,omitempty"`
	Text             string                `json:"text,omitempty"`
	Payload          string                `json:"payload,omitempty"`
	CouponCode       string                `json:"coupon_code,omitempty"`
	Currency         *MetaCurrency         `json:"currency,omitempty"`
	DateTime         *MetaDateTime         `json:"date_time,omitempty"`
	Image            *MetaMedia            `json:"image,omitempty"`
	Video            *MetaMedia            `json:"video,omitempty"`
	Document         *MetaMedia            `json:"document,omitempty"`
	Location         *MetaLocation         `json:"location,omitempty"`
	LimitedTimeOffer *MetaLimitedTimeOffer `json:"limited_time_offer,omitempty"`
	Action           *MetaTemplateAction   `json:"action,omitempty"`
}

// MetaCurrency is an amount in thousandths of the currency unit, with the
// text shown where the amount cannot be localized.
type MetaCurrency struct {
	FallbackValue string `json:"fallback_value"`
	Code          string `json:"code"`
	Amount1000    int64  `json:"amount_1000"`
}

type MetaDateTime struct {
	FallbackValue string `json:"fallback_value"`
}

// MetaLimitedTimeOffer is when the offer of a limited-time-offer template ends.
type MetaLimitedTimeOffer struct {
	ExpirationTimeMs int64 `json:"expiration_time_ms,omitempty"`
}

// MetaTemplateAction is the parameter of a flow button in a template.
type MetaTemplateAction struct {
	FlowToken      string         `json:"flow_token,omitempty"`
	FlowActionData map[string]any `json:"flow_action_data,omitempty"`
}
