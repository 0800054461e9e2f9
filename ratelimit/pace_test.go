package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/waqueue/waqueue/internal/redistest"
	"github.com/waqueue/waqueue/ratelimit"
)

func TestPacerSpacesOneRecipient(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	a := ratelimit.NewPacer(srv.Client(), 300*time.Millisecond)
	b := ratelimit.NewPacer(srv.Client(), 300*time.Millisecond) // another replica
	if d, err := a.Wait(ctx, "919800000001"); err != nil || d != 0 {
		t.Fatalf("first send: %v %v", d, err)
	}
	d, err := b.Wait(ctx, "919800000001")
	if err != nil || d <= 0 || d > 300*time.Millisecond {
		t.Fatalf("second send from another replica: retry after %v (%v), want (0, 300ms]", d, err)
	}
	// Other recipients are not held up.
	if d, _ := b.Wait(ctx, "919800000002"); d != 0 {
		t.Fatalf("another recipient paced: %v", d)
	}
	time.Sleep(d + 20*time.Millisecond)
	if d, _ := b.Wait(ctx, "919800000001"); d != 0 {
		t.Fatalf("after the interval: %v", d)
	}
}

func TestPacerOff(t *testing.T) {
	p := ratelimit.NewPacer(nil, 0)
	if d, err := p.Wait(context.Background(), "x"); d != 0 || err != nil {
		t.Fatalf("%v %v", d, err)
	}
}

func TestPacerRelease(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	p := ratelimit.NewPacer(srv.Client(), time.Minute)
	d, release, err := p.Take(ctx, "919800000001")
	if err != nil || d != 0 {
		t.Fatalf("take: %v %v", d, err)
	}
	release()
	// The send did not happen: the next one may go at once.
	d, release2, _ := p.Take(ctx, "919800000001")
	if d != 0 {
		t.Fatalf("after a release: retry after %v", d)
	}
	// A stale release (of a slot since taken by another send) frees nothing.
	release()
	if d, _, _ := p.Take(ctx, "919800000001"); d == 0 {
		t.Fatalf("a stale release freed a slot it did not own")
	}
	release2()
}
