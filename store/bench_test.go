package store

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
)

// The store's part of every send, against a local redis-server: the claim
// before the submit, and the record and the orphan drain after it. Each is
// one round trip (Submitted two); what they cost is mostly that.

func benchStore(b *testing.B) *Store {
	b.Helper()
	return New(redistest.Start(b).Client())
}

var benchPayload = []byte(`{"v":1,"campaign_id":"spring-sale","message_id":"spring-sale:917000000001","family":"selfserve",` +
	`"source":"917834811114","destination":"917000000001","template":{"id":"c6aecef6-bcb0-4fb1-8100-28c094e3bc6b",` +
	`"params":["Asha","ORD-0000001","SPRING20"]},"expires_at":"2026-06-02T09:00:00Z"}`)

func BenchmarkClaim(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c, err := s.Claim(ctx, ClaimRequest{MessageID: "m" + strconv.Itoa(i), Payload: benchPayload,
			CampaignID: "spring-sale", Queue: "bulk", InFlight: 20 * time.Second})
		if err != nil || c.Action != ClaimSend {
			b.Fatalf("%+v %v", c, err)
		}
		i++
	}
}

func BenchmarkSubmitted(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	const n = 4096
	for i := range n {
		if _, err := s.Claim(ctx, ClaimRequest{MessageID: "m" + strconv.Itoa(i), Payload: benchPayload, InFlight: time.Minute}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := s.Submitted(ctx, "m"+strconv.Itoa(i%n), 0, "gs-"+strconv.Itoa(i)); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// The drain every submit does, which finds nothing almost always.
func BenchmarkDrainOrphansEmpty(b *testing.B) {
	s := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.DrainOrphans(ctx, "gs-none"); err != nil {
			b.Fatal(err)
		}
	}
}
