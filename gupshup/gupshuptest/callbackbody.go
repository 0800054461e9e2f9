package gupshuptest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// event is one status change of one accepted send.
type event struct {
	send   Send
	waID   string
	status string // enqueued, sent, delivered, read, failed
	code   int
	reason string
	// early marks a failure Gupshup itself reports right after submit: the
	// v2 payload.id is then the Gupshup id, and no WhatsApp id exists yet.
	early bool
	at    time.Time
}

// outcome schedules the events that tell how an accepted send fared.
// Gupshup's own refusals (codes under 100000: wallet, opt-in, media) come as
// an immediate failed event; WhatsApp's (470, 13xxxx) come after enqueued,
// carrying the WhatsApp id, as they do from the real service.
func (d *dispatcher) outcome(s Send, failCode int, reason string) {
	targets := d.targets(s.Family)
	if len(targets) == 0 {
		return
	}
	start := s.Time
	wa := newWamid()
	var evs []event
	add := func(status string, after Duration) {
		evs = append(evs, event{send: s, waID: wa, status: status, at: start.Add(after.Duration)})
	}
	metaFailure := failCode == 470 || failCode >= 100000
	switch {
	case failCode != 0 && !metaFailure:
		evs = append(evs, event{send: s, status: "failed", code: failCode, reason: reason, early: true, at: start.Add(d.cfg.EnqueuedAfter.Duration)})
	case failCode != 0:
		add("enqueued", d.cfg.EnqueuedAfter)
		evs = append(evs, event{send: s, waID: wa, status: "failed", code: failCode, reason: reason, at: start.Add(d.cfg.SentAfter.Duration)})
	default:
		add("enqueued", d.cfg.EnqueuedAfter)
		add("sent", d.cfg.SentAfter)
		add("delivered", d.cfg.DeliveredAfter)
		if !d.cfg.NoRead {
			add("read", d.cfg.ReadAfter)
		}
	}
	for _, t := range targets {
		for _, ev := range evs {
			if t.Format == "enterprise" && ev.status == "enqueued" {
				continue // the Gateway reports no enqueued state
			}
			d.enqueue(t, ev.at, encodeStatus(t.Format, d.cfg, ev))
		}
	}
}

type inboundMessage struct {
	From, Name, Text string
	At               time.Time
}

func (d *dispatcher) inbound(m inboundMessage) {
	for _, t := range d.targets("selfserve") {
		var body []byte
		if t.Format == "v3" {
			body = v3Inbound(d.cfg, m)
		} else {
			body = v2Inbound(d.cfg, m)
		}
		d.enqueue(t, m.At, body)
	}
}

// userEvent tells v2 subscribers that a user opted in or out.
func (d *dispatcher) userEvent(phone, kind string) {
	for _, t := range d.targets("selfserve") {
		if t.Format != "v2" {
			continue
		}
		body := mustJSON(map[string]any{
			"app": d.cfg.AppName, "timestamp": time.Now().UnixMilli(), "version": 2, "type": "user-event",
			"payload": map[string]any{"phone": phone, "type": kind},
		})
		d.enqueue(t, time.Now(), body)
	}
}

func encodeStatus(format string, cfg Config, ev event) []byte {
	switch format {
	case "v3":
		return v3Status(cfg, ev)
	case "enterprise":
		return enterpriseDLR(ev)
	default:
		return v2Status(cfg, ev)
	}
}

func v2Status(cfg Config, ev event) []byte {
	p := map[string]any{"type": ev.status, "destination": ev.send.Destination}
	switch {
	case ev.status == "enqueued" || ev.early:
		p["id"] = ev.send.MessageID
	default:
		p["id"] = ev.waID
		p["gsId"] = ev.send.MessageID
	}
	switch ev.status {
	case "enqueued":
		kind := "session"
		if ev.send.Kind == "template" {
			kind = "template"
		}
		p["payload"] = map[string]any{"whatsappMessageId": ev.waID, "type": kind}
	case "failed":
		p["payload"] = map[string]any{"code": ev.code, "reason": ev.reason}
	case "sent":
		p["payload"] = map[string]any{"ts": ev.at.Unix()}
		p["conversation"] = map[string]any{"id": convID(ev.send.Destination), "expiresAt": ev.at.Add(24 * time.Hour).Unix(), "type": conversationType(ev.send)}
		p["pricing"] = map[string]any{"policy": "CBP", "category": conversationType(ev.send)}
	default:
		p["payload"] = map[string]any{"ts": ev.at.Unix()}
	}
	return mustJSON(map[string]any{
		"app": appOf(cfg, ev.send), "timestamp": ev.at.UnixMilli(), "version": 2,
		"type": "message-event", "payload": p,
	})
}

func v3Status(cfg Config, ev event) []byte {
	st := map[string]any{
		"gs_id":        ev.send.MessageID,
		"recipient_id": ev.send.Destination,
		"status":       ev.status,
	}
	if ev.waID != "" {
		st["id"] = ev.waID
	}
	// Gupshup sends enqueued with a number of milliseconds and the others
	// with a string of seconds; receivers must take both.
	if ev.status == "enqueued" {
		st["timestamp"] = ev.at.UnixMilli()
	} else {
		st["timestamp"] = strconv.FormatInt(ev.at.Unix(), 10)
	}
	switch ev.status {
	case "failed":
		st["errors"] = []any{map[string]any{"code": ev.code, "title": ev.reason}}
	case "sent":
		st["conversation"] = map[string]any{"id": convID(ev.send.Destination), "expiration_timestamp": strconv.FormatInt(ev.at.Add(24*time.Hour).Unix(), 10)}
		st["pricing"] = map[string]any{"billable": true, "pricing_model": "CBP", "category": conversationType(ev.send)}
	}
	return v3Envelope(cfg, ev.send.Source, map[string]any{"statuses": []any{st}})
}

func v3Inbound(cfg Config, m inboundMessage) []byte {
	return v3Envelope(cfg, cfg.Source, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]any{"name": m.Name}, "wa_id": m.From}},
		"messages": []any{map[string]any{
			"from": m.From, "id": newWamid(), "type": "text",
			"text": map[string]any{"body": m.Text}, "timestamp": strconv.FormatInt(m.At.Unix(), 10),
		}},
	})
}

func v3Envelope(cfg Config, source string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]any{"display_phone_number": source, "phone_number_id": "207437372456043"}
	return mustJSON(map[string]any{
		"object":    "whatsapp_business_account",
		"gs_app_id": cfg.PartnerAppID,
		"entry": []any{map[string]any{
			"id":      "216141188246170",
			"changes": []any{map[string]any{"field": "messages", "value": value}},
		}},
	})
}

func v2Inbound(cfg Config, m inboundMessage) []byte {
	cc, dial := splitCountry(m.From)
	return mustJSON(map[string]any{
		"app": cfg.AppName, "timestamp": m.At.UnixMilli(), "version": 2, "type": "message",
		"payload": map[string]any{
			"id": newWamid(), "source": m.From, "type": "text",
			"payload": map[string]any{"text": m.Text},
			"sender":  map[string]any{"phone": m.From, "name": m.Name, "country_code": cc, "dial_code": dial},
		},
	})
}

// enterpriseDLR is the Gateway's delivery report: a JSON array of events,
// externalId being the id the SendMessage call returned.
func enterpriseDLR(ev event) []byte {
	types := map[string]string{"sent": "SENT", "delivered": "DELIVERED", "read": "READ", "failed": "FAILED"}
	cause, code := "SUCCESS", "000"
	if ev.status == "failed" {
		cause, code = ev.reason, strconv.Itoa(ev.code)
	}
	return mustJSON([]any{map[string]any{
		"srcAddr": "TESTSM", "channel": "WHATSAPP", "externalId": ev.send.MessageID,
		"cause": cause, "errorCode": code, "destAddr": ev.send.Destination,
		"eventType": types[ev.status], "eventTs": ev.at.UnixMilli(),
	}})
}

func appOf(cfg Config, s Send) string {
	if s.App != "" {
		return s.App
	}
	return cfg.AppName
}

func conversationType(s Send) string {
	if s.Kind == "template" {
		return "marketing"
	}
	return "service"
}

// convID is stable per user, as a conversation spans many messages.
func convID(dest string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("conv-" + dest))
}

func newWamid() string {
	var b [18]byte
	rand.Read(b[:])
	return "wamid.HBgM" + base64.StdEncoding.EncodeToString(b[:])
}

// splitCountry guesses the country code the way Gupshup fills sender
// fields; the simulator only needs it to look plausible.
func splitCountry(phone string) (string, string) {
	if len(phone) > 10 {
		return phone[:len(phone)-10], phone[len(phone)-10:]
	}
	return "", phone
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
