package gupshuptest

import (
	"sync"
	"time"
)

// sessionWindow is how long a user's last message lets the business send
// free-form (session) messages.
const sessionWindow = 24 * time.Hour

type sessions struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func newSessions() *sessions { return &sessions{last: map[string]time.Time{}} }

func (s *sessions) touch(phone string, at time.Time) {
	s.mu.Lock()
	s.last[phone] = at
	s.mu.Unlock()
}

func (s *sessions) open(phone string, now time.Time) bool {
	s.mu.Lock()
	t, ok := s.last[phone]
	s.mu.Unlock()
	return ok && now.Sub(t) < sessionWindow
}

// Inbound plays a user writing to the business: the user's 24-hour session
// window opens, and a message callback goes out in the configured format(s).
func (s *Server) Inbound(from, name, text string) {
	now := time.Now()
	s.sessions.touch(from, now)
	s.cb.inbound(inboundMessage{From: from, Name: name, Text: text, At: now})
}
