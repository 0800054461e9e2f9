package gupshuptest

import (
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// window is one outage in wall-clock time.
type window struct {
	from, until time.Time
	mode        string
}

// StartOutage takes the API down now for d: mode "5xx" answers 503, "hang"
// holds requests unanswered. Tests use it where a fixed schedule would race.
func (s *Server) StartOutage(mode string, d time.Duration) {
	now := time.Now()
	s.outMu.Lock()
	s.manual = append(s.manual, window{now, now.Add(d), mode})
	s.outMu.Unlock()
}

// EndOutages ends every outage now, scheduled or started at run time.
func (s *Server) EndOutages() {
	now := time.Now()
	s.outMu.Lock()
	s.manual = append(s.manual[:0], window{now, now, ""})
	s.cfg.Outages = nil
	s.outMu.Unlock()
}

// outage returns the outage in force now, if any.
func (s *Server) outage(now time.Time) (window, bool) {
	s.outMu.Lock()
	defer s.outMu.Unlock()
	for _, o := range s.cfg.Outages {
		from := s.started.Add(o.Start.Duration)
		w := window{from, from.Add(o.Duration.Duration), o.Mode}
		if !now.Before(w.from) && now.Before(w.until) {
			return w, true
		}
	}
	for _, w := range s.manual {
		if !now.Before(w.from) && now.Before(w.until) {
			return w, true
		}
	}
	return window{}, false
}

// gate applies the service-wide conditions every API call meets before its
// family looks at it: added latency and outages. It reports whether the
// request may go on; when not, the answer has been written.
func (s *Server) gate(w http.ResponseWriter, r *http.Request, family string) bool {
	if d := s.cfg.Latency.Duration; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	o, down := s.outage(time.Now())
	if !down {
		return true
	}
	if o.mode == "hang" {
		t := time.NewTimer(time.Until(o.until))
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return false
		case <-t.C:
		}
	}
	s.rec.reject(Rejection{Time: time.Now(), Family: family, HTTPStatus: http.StatusServiceUnavailable, Reason: "outage"})
	w.Header().Set("Content-Type", "text/html")
	w.WriteHeader(http.StatusServiceUnavailable)
	w.Write([]byte("<html><body><h1>503 Service Unavailable</h1></body></html>"))
	return false
}

// allow applies the per-app rate limit; false means the caller answers 429.
func (s *Server) allow(app string) bool {
	if s.cfg.RateLimit <= 0 {
		return true
	}
	s.limMu.Lock()
	l := s.limiters[app]
	if l == nil {
		burst := int(s.cfg.RateLimit)
		if burst < 1 {
			burst = 1
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.RateLimit), burst)
		s.limiters[app] = l
	}
	s.limMu.Unlock()
	return l.Allow()
}
