package worker_test

import (
	"testing"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
	"github.com/waqueue/waqueue/store"
)

func TestSendDeliveredAndDeadLettered(t *testing.T) {
	p := startPipeline(t, nil, gupshuptest.WithFaults(gupshuptest.Fault{Match: "*0002", Code: 1002}))
	p.enqueue(templateSend("ok-1", "919800000001"))
	p.enqueue(templateSend("dead-1", "919800000002"))
	p.waitFor("delivery and dead letter", 20*time.Second, func() (bool, string) {
		a, b := p.record("ok-1"), p.record("dead-1")
		return a.State == store.StateRead && b.State == store.StateDead, string(a.State) + " " + string(b.State)
	})
	if n := len(p.sim.SendsTo("919800000001")); n != 1 {
		t.Fatalf("%d sends of ok-1", n)
	}
	if n := len(p.sim.SendsTo("919800000002")); n != 1 {
		t.Fatalf("%d sends of dead-1", n)
	}
	p.waitFor("archived dead letter", 10*time.Second, func() (bool, string) {
		arch, _ := p.insp.ListArchivedTasks("default")
		if len(arch) != 1 {
			return false, "archived: " + itoa(len(arch))
		}
		return true, ""
	})
	arch, _ := p.insp.ListArchivedTasks("default")
	if want := "code 1002"; !contains(arch[0].LastErr, want) {
		t.Fatalf("archived last error %q lacks %q", arch[0].LastErr, want)
	}
	// The test's Redis runs with its defaults: the worker said at start
	// which of them to change.
	if want := `"setting":"hash-max-listpack-value"`; !contains(p.logs.String(), want) {
		t.Fatalf("no advice about Redis settings at start (%s)", want)
	}
}
