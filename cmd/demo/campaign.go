package main

import (
	"encoding/json"
	"fmt"
	"path"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/tasks"
)

// faults decides each recipient's fate by the last two digits of its number,
// so the outcome of every message is known before the run and the account
// can be checked against it, not just printed. The first matching rule wins,
// as in the simulator.
var faults = []gupshuptest.Fault{
	{Match: "*0[0-2]", Code: 1002},           // 3%: the number is not on WhatsApp
	{Match: "*03", Code: 1010},               // 1%: invalid media URL
	{Match: "*04", Code: 1006},               // 1%: not opted in
	{Match: "*05", Code: 131026},             // 1%: undeliverable
	{Match: "*1[0-1]", Code: 4002, First: 1}, // 2%: WhatsApp hiccups once, the resend goes through
	{Match: "*12", Code: 500, First: 1},      // 1%: Gupshup's internal error, once
	{Match: "*13", HTTPStatus: 500, First: 1},
	{Match: "*14", HTTPStatus: 429, First: 1},
}

// Session messages (free-form text with a fallback template) go to the
// numbers ending 50 and 51. The simulator enforces the 24-hour window: users
// ending 51 write first, so their text goes out as is; to users ending 50 it
// fails with 1005 and the worker resends it as the fallback template.
const (
	closedWindowSuffix = "50"
	openWindowSuffix   = "51"
)

const (
	templateID         = "c6aecef6-bcb0-4fb1-8100-28c094e3bc6b" // order update: {{1}}, your order {{2}} ...
	fallbackTemplateID = "3d1e8a57-4f0c-4b9a-9a1b-0d7f6b2f4c11" // the same news as a template
	sessionText        = `{"type":"text","text":"Your order has shipped. Reply STOP to opt out."}`
)

// message is one send of the campaign and what should become of it.
type message struct {
	send   *tasks.Send
	expect expectation
}

type expectation struct {
	// deadCode is the terminal code the message dies with; 0: delivered.
	deadCode int
	// resends is how many generations after the first a failed callback
	// asks for (a retryable code, or a closed window with a fallback).
	resends int
	// refusals is how many send calls the simulator refuses before it
	// accepts one (outage and rate limit aside: those depend on timing).
	refusals int
	// writesFirst: the user messages the business before the campaign.
	writesFirst bool
}

// campaign builds n sends from source. Recipient numbers carry run, so
// that runs sharing a Redis never meet each other's session windows.
func campaign(id string, run, n int, source string) []message {
	out := make([]message, n)
	for i := range out {
		dest := fmt.Sprintf("91%05d%05d", run, i)
		s := &tasks.Send{
			V: tasks.PayloadVersion, CampaignID: id, MessageID: fmt.Sprintf("%s-%05d", id, i),
			Family: "selfserve", Source: source, Destination: dest,
		}
		e := expect(dest)
		switch dest[len(dest)-2:] {
		case closedWindowSuffix, openWindowSuffix:
			s.Session = json.RawMessage(sessionText)
			s.Fallback = &tasks.Template{ID: fallbackTemplateID, Params: []string{fmt.Sprintf("A%05d", i)}}
			if dest[len(dest)-2:] == closedWindowSuffix {
				e.resends++
			} else {
				e.writesFirst = true
			}
		default:
			s.Template = &tasks.Template{ID: templateID, Params: []string{"Asha", fmt.Sprintf("A%05d", i)}}
		}
		out[i] = message{send: s, expect: e}
	}
	return out
}

// expect reads the fault table the way the simulator applies it and the
// worker classifies its outcome.
func expect(dest string) expectation {
	for _, f := range faults {
		if ok, _ := path.Match(f.Match, dest); !ok {
			continue
		}
		switch {
		case f.HTTPStatus != 0:
			return expectation{refusals: f.First}
		case f.First > 0:
			return expectation{resends: f.First}
		default:
			return expectation{deadCode: f.Code}
		}
	}
	return expectation{}
}
