package tasks

import (
	"encoding/json"
	"time"

	"github.com/waqueue/waqueue/gupshup"
)

var testExpiry = time.Date(2099, 1, 2, 15, 4, 5, 0, time.UTC)

// templateSend is a valid template message; tests change one field at a time.
func templateSend() *Send {
	exp := testExpiry
	return &Send{
		V:           PayloadVersion,
		CampaignID:  "spring-sale",
		MessageID:   "msg-0001",
		Family:      gupshup.SelfServe,
		Source:      "14155550100",
		App:         "DemoAPI",
		Destination: "919876543210",
		Template: &Template{
			ID:     "5f7e0d1c-2b3a-4c5d-8e9f-a0b1c2d3e4f5",
			Params: []string{"Asha", "SPRING20"},
			Media:  &Media{Type: "image", Link: "https://cdn.example.com/banner.jpg"},
		},
		ExpiresAt: &exp,
	}
}

// sessionSend is a valid session message with a fallback template.
func sessionSend() *Send {
	s := templateSend()
	s.Template = nil
	s.Session = json.RawMessage(`{"type":"text","text":"Your order has shipped"}`)
	s.Fallback = &Template{ID: "order-shipped", Params: []string{"A-1001"}}
	return s
}
