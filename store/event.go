package store

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// FollowUp is what a callback asks of the caller after it was recorded.
type FollowUp string

const (
	// FollowNone: nothing more to do (a status moved forward, or a duplicate).
	FollowNone FollowUp = "none"
	// FollowResend: enqueue generation Generation of the message again.
	FollowResend FollowUp = "resend"
	// FollowDead: dead-letter generation Generation.
	FollowDead FollowUp = "dead"
	// FollowStale: the event is about an older generation; recorded, no action.
	FollowStale FollowUp = "stale"
	// FollowUnknown: no record of the message (expired or never ours).
	FollowUnknown FollowUp = "unknown"
)

// EventRequest is one callback event applied to a message's record.
type EventRequest struct {
	MessageID  string
	Generation int    // the generation the Gupshup id belongs to
	GupshupID  string // the id the event names
	Status     State  // enqueued, sent, delivered, read, or "failed"
	Code       int
	Reason     string
	// Decision for a failed event, made by the caller from the code before
	// the call: "resend", "throttle" (resend after a rate limit, which uses
	// no attempt: see ThrottledResends), "fallback" (resend with the
	// fallback template) or "dead". Deciding first keeps the record change
	// and the decision one atomic step.
	Decision string
}

// EventResult says what the caller must do next.
type EventResult struct {
	FollowUp   FollowUp
	Generation int    // the generation to enqueue or dead-letter
	Payload    []byte // the task payload, for FollowResend and FollowDead
	CampaignID string
	Queue      string
	// Duplicate is true when this exact event had been seen before.
	Duplicate bool
}

// StatusFailed is the callback status of a failure; it is not a stored State.
const StatusFailed State = "failed"

// eventScript applies one callback event. Each event is marked once per
// (Gupshup id, status), so at-least-once delivery, v2 and v3 copies of the
// same event and out-of-order arrival change nothing twice. A duplicate of a
// failed event re-issues the follow-up while it is still pending, so a
// crash between this script and the enqueue that follows loses nothing;
// the enqueue itself is idempotent by task id.
var eventScript = redis.NewScript(`
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return {'unknown'} end
local gs, status, gen, now = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[7]
local n = tonumber(redis.call('HGET', k, 'n') or '0')
local fresh = redis.call('HSETNX', k, 'cb:' .. gs .. ':' .. status, now)
local st = redis.call('HGET', k, 'st')
local function follow(what, g)
  return {what, tostring(g), redis.call('HGET', k, 'p') or '', redis.call('HGET', k, 'camp') or '', redis.call('HGET', k, 'q') or '', tostring(1 - fresh)}
end
if status == 'failed' and fresh == 0 then
  if st == 'retry' and n == gen + 1 and redis.call('HGET', k, 'rs') == gs then return follow('resend', n) end
  if st == 'dead' and n == gen and redis.call('HGET', k, 'dl') == 'pending' then return follow('dead', n) end
  return {'none', tostring(n), '', '', '', '1'}
end
if gen ~= n then return {'stale', tostring(n), '', '', '', tostring(1 - fresh)} end
if fresh == 0 then return {'none', tostring(n), '', '', '', '1'} end
if st == 'sending' then
  redis.call('HSET', k, 'gs', gs)
  st = 'submitted'
end
redis.call('PEXPIRE', k, ARGV[8])
if status ~= 'failed' then
  local rank = {sending=0, retry=0, submitted=1, enqueued=2, sent=3, delivered=4, read=5}
  if rank[st] ~= nil and rank[status] > rank[st] then
    redis.call('HSET', k, 'st', status, 'ts', now)
  end
  return {'none', tostring(n), '', '', '', '0'}
end
if st == 'dead' or st == 'expired' then return {'none', tostring(n), '', '', '', '0'} end
if ARGV[6] == 'dead' then
  redis.call('HSET', k, 'st', 'dead', 'dl', 'pending', 'c', ARGV[4], 'r', ARGV[5], 'ts', now)
  return follow('dead', n)
end
local fb = '0'
if ARGV[6] == 'fallback' then fb = '1' end
if ARGV[6] == 'throttle' then redis.call('HINCRBY', k, 'thr', 1) end
redis.call('HSET', k, 'st', 'retry', 'n', n + 1, 'rs', gs, 'fb', fb, 'c', ARGV[4], 'r', ARGV[5], 'ts', now)
return follow('resend', n + 1)
`)

// ThrottledResends is how many of the message's generations were resends
// after a rate-limit callback (Decision "throttle"). Those used no attempt:
// the attempts a message has made are its generation minus these.
func (s *Store) ThrottledResends(ctx context.Context, messageID string) (int, error) {
	n, err := s.rdb.HGet(ctx, MessageKey(messageID), "thr").Int()
	if err != nil && err != redis.Nil {
		return 0, fmt.Errorf("throttled resends of message %s: %w", messageID, err)
	}
	return n, nil
}

// ApplyEvent records a callback event and says what must follow.
func (s *Store) ApplyEvent(ctx context.Context, e EventRequest) (EventResult, error) {
	res, err := eventScript.Run(ctx, s.rdb, []string{MessageKey(e.MessageID)},
		e.GupshupID, string(e.Status), e.Generation, e.Code, e.Reason, e.Decision,
		s.now().UnixMilli(), s.ttl.Milliseconds()).StringSlice()
	if err != nil {
		return EventResult{}, fmt.Errorf("apply %s event to message %s: %w", e.Status, e.MessageID, err)
	}
	r := EventResult{FollowUp: FollowUp(res[0])}
	if len(res) == 6 {
		r.Generation, _ = strconv.Atoi(res[1])
		r.Payload = []byte(res[2])
		r.CampaignID, r.Queue = res[3], res[4]
		r.Duplicate = res[5] == "1"
	}
	return r, nil
}
