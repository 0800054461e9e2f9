package gupshup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Enterprise (Gateway API) delivery reports.
//
// The project's API notes (GUPSHUP.md) and the enterprise seed do not spell
// out the delivery report format; the seed only says that delivery events
// arrive on a callback URL. What is accepted here is the WhatsApp DLR sample
// of the Gateway API and the older SMS-style DLR:
//
//   - a JSON array of reports, the WhatsApp DLR webhook:
//     [{"srcAddr":"TESTSM","channel":"WHATSAPP","externalId":"4340692475342673000-328395726406189000",
//     "cause":"SUCCESS","errorCode":"000","destAddr":"9189XXXXXXXX","eventType":"DELIVERED","eventTs":1533542271000}]
//     with eventType SENT, DELIVERED, READ or FAILED;
//   - one such object on its own;
//   - the classic form-encoded DLR:
//     externalId=...&deliveredTS=...&status=SUCCESS|FAIL|...&phoneNo=...&cause=...&errCode=...
//     where the JSON key names (eventType, destAddr, eventTs, errorCode) are
//     accepted too.
//
// externalId is the id the SendMessage response returned, so it becomes the
// MessageID. errorCode "000" means no error.

// srcAddr and channel are left out on purpose: nothing uses them, and a
// field that is not decoded cannot fail the decode by its type.
type callbackDLR struct {
	ExternalID callbackScalar `json:"externalId"`
	Cause      callbackScalar `json:"cause"`
	ErrorCode  callbackScalar `json:"errorCode"`
	DestAddr   callbackScalar `json:"destAddr"`
	EventType  string         `json:"eventType"`
	EventTs    callbackScalar `json:"eventTs"`
}

func parseDLRArray(b []byte) ([]Event, error) {
	var recs []callbackDLR
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("callback: enterprise DLR array: malformed JSON: %w", err)
	}
	if len(recs) == 0 {
		return nil, errors.New("callback: enterprise DLR array: empty")
	}
	events := make([]Event, 0, len(recs))
	for i := range recs {
		ev, err := dlrEvent(&recs[i])
		if err != nil {
			return nil, fmt.Errorf("callback: enterprise DLR array[%d]: %w", i, err)
		}
		events = append(events, ev)
	}
	return events, nil
}

// parseDLRForm reads the classic DLR. A body that is not a query string with
// an externalId is what is left after JSON failed, so the error says both.
func parseDLRForm(b []byte) ([]Event, error) {
	if bytes.IndexByte(b, '=') < 0 {
		return nil, errors.New("callback: body is neither JSON nor a form-encoded DLR")
	}
	v, err := url.ParseQuery(string(bytes.TrimSpace(b)))
	if err != nil {
		return nil, fmt.Errorf("callback: body is neither JSON nor a valid form-encoded DLR: %v", err)
	}
	if _, ok := v["externalId"]; !ok {
		return nil, errors.New("callback: body is neither JSON nor a form-encoded DLR (no externalId)")
	}
	formScalar := func(keys ...string) callbackScalar {
		for _, k := range keys {
			if s := v.Get(k); s != "" {
				return callbackScalar{raw: s, kind: 's'}
			}
		}
		return callbackScalar{}
	}
	rec := callbackDLR{
		ExternalID: formScalar("externalId"),
		Cause:      formScalar("cause"),
		ErrorCode:  formScalar("errCode", "errorCode"),
		DestAddr:   formScalar("phoneNo", "destAddr"),
		EventType:  callbackFirst(v.Get("status"), v.Get("eventType")),
		EventTs:    formScalar("deliveredTS", "eventTs"),
	}
	return dlrEvents(&rec, "enterprise form DLR")
}

// dlrEvents turns one delivery report into an event; what names the shape
// for the error message.
func dlrEvents(r *callbackDLR, what string) ([]Event, error) {
	ev, err := dlrEvent(r)
	if err != nil {
		return nil, fmt.Errorf("callback: %s: %w", what, err)
	}
	return []Event{ev}, nil
}

func dlrEvent(r *callbackDLR) (Event, error) {
	id := r.ExternalID.text()
	if id == "" {
		return Event{}, errors.New("externalId missing")
	}
	if r.EventType == "" {
		return Event{}, errors.New("eventType (status) missing")
	}
	st, ok := dlrStatus(r.EventType)
	if !ok {
		return Event{}, fmt.Errorf("unknown eventType (status) %s", callbackQuote(r.EventType))
	}
	ev := Event{
		Kind:        EventStatus,
		Format:      CallbackEnterprise,
		MessageID:   id,
		Destination: callbackPhone(r.DestAddr.text()),
		Status:      st,
	}
	var err error
	if ev.Code, err = r.ErrorCode.integer("errorCode"); err != nil {
		return Event{}, err
	}
	if ev.Time, err = r.EventTs.instant("eventTs"); err != nil {
		return Event{}, err
	}
	if cause := r.Cause.text(); !strings.EqualFold(cause, "SUCCESS") {
		ev.Reason = cause
	}
	return ev, nil
}

// dlrStatus maps the WhatsApp eventType values and the classic SMS-style
// status values (SUCCESS means delivered, FAIL failed).
func dlrStatus(s string) (Status, bool) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "ENQUEUED":
		return StatusEnqueued, true
	case "SENT":
		return StatusSent, true
	case "DELIVERED", "SUCCESS":
		return StatusDelivered, true
	case "READ":
		return StatusRead, true
	case "FAILED", "FAIL", "FAILURE":
		return StatusFailed, true
	case "DELETED":
		return StatusDeleted, true
	}
	return "", false
}
