package gupshuptest

import (
	"fmt"
	"testing"
)

// A bounded record keeps the most recent sends and rejections, in order,
// while the counts of Stats still cover every one.
func TestRecordLimit(t *testing.T) {
	s := NewServer(WithRecordLimit(3))
	defer s.Close()
	testRoute(s)
	const sent = 10
	for i := range sent {
		if code, _ := post(t, s, fmt.Sprintf("91980000%04d", i)); code != 200 {
			t.Fatalf("send %d: %d", i, code)
		}
	}
	for range 7 {
		s.rec.reject(Rejection{Family: "selfserve", HTTPStatus: 400, Reason: "test"})
	}
	got := s.Sends()
	if len(got) != 3 {
		t.Fatalf("%d sends kept, want 3", len(got))
	}
	for i, x := range got {
		if want := fmt.Sprintf("91980000%04d", sent-3+i); x.Destination != want || x.Seq != int64(sent-3+i+1) {
			t.Errorf("kept send %d: %s seq %d, want %s seq %d", i, x.Destination, x.Seq, want, sent-3+i+1)
		}
	}
	if n := len(s.Rejections()); n != 3 {
		t.Errorf("%d rejections kept, want 3", n)
	}
	// The backing array never holds more than twice the limit.
	if c := len(s.rec.sends); c >= 6 {
		t.Errorf("record holds %d sends, want fewer than 6", c)
	}
	st := s.Stats()
	if st.Accepted != sent || st.Rejected != 7 || len(st.PerDestination) != 3 || st.RejectedByStatus[400] != 3 {
		t.Fatalf("stats %+v: want accepted %d, rejected 7, the rest over the 3 kept", st, sent)
	}
	s.Reset()
	if st := s.Stats(); st.Accepted != 0 || st.Rejected != 0 || len(s.Sends()) != 0 {
		t.Fatalf("after Reset: %+v", st)
	}
}

// Without a limit everything is kept, as before.
func TestRecordUnbounded(t *testing.T) {
	s := NewServer()
	defer s.Close()
	testRoute(s)
	for i := range 50 {
		post(t, s, fmt.Sprintf("91980000%04d", i))
	}
	if n, st := len(s.Sends()), s.Stats(); n != 50 || st.Accepted != 50 || len(st.PerDestination) != 50 {
		t.Fatalf("%d sends kept, stats %+v", n, st)
	}
}

func TestRecordLimitValidate(t *testing.T) {
	c := DefaultConfig()
	c.RecordLimit = -1
	if err := c.Validate(); err == nil {
		t.Fatal("a negative record_limit passed")
	}
}
