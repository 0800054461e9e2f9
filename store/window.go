package store

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// SessionWindow is how long a user's message lets the business send
// free-form (session) messages.
const SessionWindow = 24 * time.Hour

// windowClosed marks a user for whom Gupshup answered a closed-window code
// and who has not written since.
const windowClosed = "closed"

// WindowState is what is known of a user's 24-hour session window.
type WindowState int

const (
	// WindowUnknown: the user never wrote as far as this deployment saw.
	// Session messages are tried: the user may have written before the
	// callbacks were subscribed.
	WindowUnknown WindowState = iota
	WindowOpen
	// WindowClosed: known closed; a session message would fail.
	WindowClosed
)

// TouchWindow records that the user wrote at t: the window is open for 24 h.
func (s *Store) TouchWindow(ctx context.Context, phone string, t time.Time) error {
	return s.rdb.Set(ctx, WindowKey(phone), t.UnixMilli(), s.ttl).Err()
}

// CloseWindow records that Gupshup reported the user's window closed. It
// does not overwrite a newer inbound message.
func (s *Store) CloseWindow(ctx context.Context, phone string) error {
	cut := s.now().Add(-SessionWindow).UnixMilli()
	return closeWindowScript.Run(ctx, s.rdb, []string{WindowKey(phone)}, cut, s.ttl.Milliseconds()).Err()
}

var closeWindowScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and v ~= 'closed' and tonumber(v) > tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], 'closed', 'PX', ARGV[2])
return 1
`)

// Window tells what is known of the user's session window now.
func (s *Store) Window(ctx context.Context, phone string) (WindowState, error) {
	v, err := s.rdb.Get(ctx, WindowKey(phone)).Result()
	if err == redis.Nil {
		return WindowUnknown, nil
	}
	if err != nil {
		return WindowUnknown, err
	}
	if v == windowClosed {
		return WindowClosed, nil
	}
	ms, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return WindowUnknown, nil
	}
	if s.now().Sub(time.UnixMilli(ms)) < SessionWindow {
		return WindowOpen, nil
	}
	return WindowClosed, nil
}
