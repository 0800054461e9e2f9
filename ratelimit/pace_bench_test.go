package ratelimit_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

// Recipient pacing as a campaign sees it: a new recipient every call, whose
// slot is free (one SET NX round trip).
func BenchmarkPacerWaitNewKeys(b *testing.B) {
	p := ratelimit.NewPacer(redistest.Start(b).Client(), 6*time.Second)
	ctx := b.Context()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if d, err := p.Wait(ctx, "91"+strconv.Itoa(7000000000+i)); d != 0 || err != nil {
			b.Fatalf("%v %v", d, err)
		}
		i++
	}
}

// A recipient written to moments ago: turned away with the time left (two
// round trips, SET NX and PTTL).
func BenchmarkPacerWaitBusyKey(b *testing.B) {
	p := ratelimit.NewPacer(redistest.Start(b).Client(), time.Hour)
	ctx := b.Context()
	p.Wait(ctx, "917000000001")
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Wait(ctx, "917000000001"); d == 0 {
			b.Fatal("not paced")
		}
	}
}
