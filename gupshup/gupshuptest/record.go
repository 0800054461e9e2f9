package gupshuptest

import (
	"sort"
	"sync"
	"time"
)

// Send is one accepted send as the simulator recorded it.
type Send struct {
	Seq         int64     `json:"seq"`
	Time        time.Time `json:"time"`
	Family      string    `json:"family"` // selfserve, enterprise or partner
	App         string    `json:"app"`
	Source      string    `json:"source"`
	Destination string    `json:"destination"`
	// Kind is the message type: text, image, ..., template.
	Kind       string `json:"kind"`
	TemplateID string `json:"template_id,omitempty"`
	// Payload is the request as received: form fields (or the decrypted
	// encrdata fields) with JSON-valued fields kept as their JSON text.
	Payload   map[string]string `json:"payload"`
	MessageID string            `json:"message_id"`
	// FailCode is the code of the failed callback this send was given, 0 when it is delivered.
	FailCode int `json:"fail_code,omitempty"`
}

// Rejection is a send call the simulator answered with an error.
type Rejection struct {
	Time        time.Time `json:"time"`
	Family      string    `json:"family"`
	Destination string    `json:"destination,omitempty"`
	HTTPStatus  int       `json:"http_status"`
	Reason      string    `json:"reason"`
}

type recorder struct {
	// limit is Config.RecordLimit: keep the last limit sends and
	// rejections, 0 keeps all.
	limit int

	mu       sync.Mutex
	seq      int64
	sends    []Send
	rejected []Rejection
	// nAccepted and nRejected count every send and rejection since the
	// start or the last Reset, kept or not.
	nAccepted, nRejected int
}

func newRecorder(limit int) *recorder { return &recorder{limit: limit} }

func (r *recorder) add(s Send) Send {
	r.mu.Lock()
	r.seq++
	r.nAccepted++
	s.Seq = r.seq
	r.sends = bound(append(r.sends, s), r.limit)
	r.mu.Unlock()
	return s
}

func (r *recorder) reject(x Rejection) {
	r.mu.Lock()
	r.nRejected++
	r.rejected = bound(append(r.rejected, x), r.limit)
	r.mu.Unlock()
}

// bound keeps a record under a limit: once it holds twice the limit, the
// older half goes, so that trimming costs O(1) per entry. last returns
// the limit entries that count.
func bound[T any](rec []T, limit int) []T {
	if limit <= 0 || len(rec) < 2*limit {
		return rec
	}
	n := copy(rec, rec[len(rec)-limit:])
	clear(rec[n:]) // let the collector have what was dropped
	return rec[:n]
}

func last[T any](rec []T, limit int) []T {
	if limit > 0 && len(rec) > limit {
		return rec[len(rec)-limit:]
	}
	return rec
}

// Sends returns a copy of every accepted send, in order of acceptance (the
// most recent Config.RecordLimit when that is set).
func (s *Server) Sends() []Send {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return append([]Send(nil), last(s.rec.sends, s.rec.limit)...)
}

// Rejections returns a copy of every send call answered with an error (the
// most recent Config.RecordLimit when that is set).
func (s *Server) Rejections() []Rejection {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	return append([]Rejection(nil), last(s.rec.rejected, s.rec.limit)...)
}

// counts returns how many sends were accepted and rejected since the start
// or the last Reset, whether the record still holds them or not.
func (r *recorder) counts() (accepted, rejected int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.nAccepted, r.nRejected
}

// SendsTo returns the accepted sends to one destination.
func (s *Server) SendsTo(dest string) []Send {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	var out []Send
	for _, x := range s.rec.sends {
		if x.Destination == dest {
			out = append(out, x)
		}
	}
	return out
}

// Reset forgets every recorded send and rejection and every per-destination
// attempt count of the faults.
func (s *Server) Reset() {
	s.rec.mu.Lock()
	s.rec.sends, s.rec.rejected = nil, nil
	s.rec.nAccepted, s.rec.nRejected = 0, 0
	s.rec.mu.Unlock()
	s.faults.reset()
}

// Stats sums up the record: what tests and benchmarks assert on. With
// Config.RecordLimit set, Accepted and Rejected count every send and
// rejection, and the other fields cover the ones the record still holds.
type Stats struct {
	Accepted int `json:"accepted"`
	Rejected int `json:"rejected"`
	// RejectedByStatus counts rejections per HTTP status.
	RejectedByStatus map[int]int `json:"rejected_by_status"`
	// PerDestination counts accepted sends per destination.
	PerDestination map[string]int `json:"per_destination"`
	// PerSecond counts accepted sends per wall-clock second (Unix seconds),
	// per source number, the unit Meta's throughput limit is set in.
	PerSecond map[string]map[int64]int `json:"per_second"`
	// MaxPerSecond is the busiest one-second window (aligned to whole
	// seconds) per source number.
	MaxPerSecond map[string]int `json:"max_per_second"`
	// MaxSliding is the busiest sliding one-second window per source number:
	// stricter than aligned seconds, since a burst can straddle a boundary.
	MaxSliding map[string]int `json:"max_sliding"`
	// First and Last are the times of the first and last accepted sends.
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
}

// Stats computes the summary of the record so far.
func (s *Server) Stats() Stats {
	sends := s.Sends()
	rej := s.Rejections()
	accepted, rejected := s.rec.counts()
	st := Stats{
		Accepted:         accepted,
		Rejected:         rejected,
		RejectedByStatus: map[int]int{},
		PerDestination:   map[string]int{},
		PerSecond:        map[string]map[int64]int{},
		MaxPerSecond:     map[string]int{},
		MaxSliding:       map[string]int{},
	}
	for _, r := range rej {
		st.RejectedByStatus[r.HTTPStatus]++
	}
	bySource := map[string][]time.Time{}
	for _, x := range sends {
		st.PerDestination[x.Destination]++
		m := st.PerSecond[x.Source]
		if m == nil {
			m = map[int64]int{}
			st.PerSecond[x.Source] = m
		}
		sec := x.Time.Unix()
		m[sec]++
		if m[sec] > st.MaxPerSecond[x.Source] {
			st.MaxPerSecond[x.Source] = m[sec]
		}
		bySource[x.Source] = append(bySource[x.Source], x.Time)
		if st.First.IsZero() || x.Time.Before(st.First) {
			st.First = x.Time
		}
		if x.Time.After(st.Last) {
			st.Last = x.Time
		}
	}
	for src, ts := range bySource {
		st.MaxSliding[src] = maxInWindow(ts, time.Second)
	}
	return st
}

// maxInWindow is the largest number of times within any span of length w.
func maxInWindow(ts []time.Time, w time.Duration) int {
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= w {
			lo++
		}
		if n := hi - lo + 1; n > best {
			best = n
		}
	}
	return best
}
