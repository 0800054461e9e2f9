package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/redisconn"
)

// State is where a message stands. The values are stored in Redis and shown
// to operators: keep them stable.
type State string

const (
	// StateSending: a worker claimed the message and its submit is in flight.
	// Found again after the in-flight window, it means the worker died
	// mid-send: the submit may or may not have reached Gupshup.
	StateSending State = "sending"
	// StateRetry: the last attempt failed for sure; another is scheduled.
	StateRetry     State = "retry"
	StateSubmitted State = "submitted"
	StateEnqueued  State = "enqueued"
	StateSent      State = "sent"
	StateDelivered State = "delivered"
	StateRead      State = "read"
	// StateDead: a terminal failure; the message is in the dead-letter log
	// and in asynq's archive, from where an operator may run it again.
	StateDead    State = "dead"
	StateExpired State = "expired"
)

// Store reads and writes the project's records in Redis.
type Store struct {
	rdb redis.UniversalClient
	// pipe carries the calls every send makes, the claim and the record
	// of the submit: the handlers that make them together share a round
	// trip.
	pipe *redisconn.Pipe
	ttl  time.Duration
	now  func() time.Time
}

// Option configures a Store.
type Option func(*Store)

// WithTTL sets how long a message record outlives its last change. Callbacks
// for a message arrive within days (Gupshup stops naming its id after a
// week), so the default is 8 days.
func WithTTL(d time.Duration) Option { return func(s *Store) { s.ttl = d } }

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store on rdb.
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, pipe: redisconn.NewPipe(rdb), ttl: 8 * 24 * time.Hour, now: time.Now}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Redis returns the client the store uses.
func (s *Store) Redis() redis.UniversalClient { return s.rdb }

// ClaimAction tells the send handler what to do with a task.
type ClaimAction string

const (
	// ClaimSend: go ahead and submit.
	ClaimSend ClaimAction = "send"
	// ClaimDone: this generation was already submitted; never submit it again.
	ClaimDone ClaimAction = "done"
	// ClaimStale: a newer generation of the message exists; this task is obsolete.
	ClaimStale ClaimAction = "stale"
	// ClaimBusy: another worker may be submitting it right now; look again later.
	ClaimBusy ClaimAction = "busy"
	// ClaimAmbiguous: an earlier attempt died mid-submit and the in-flight
	// window has passed. The caller decides: submit again or dead-letter.
	ClaimAmbiguous ClaimAction = "ambiguous"
	// ClaimArchive: a callback found the message terminal; this task exists
	// to carry the dead letter into asynq's archive.
	ClaimArchive ClaimAction = "archive"
	// ClaimFinal: the message expired or was otherwise closed; drop the task.
	ClaimFinal ClaimAction = "final"
)

// Claim is the answer to Claim.
type Claim struct {
	Action    ClaimAction
	GupshupID string
	// Code and Reason of the dead letter, for ClaimArchive.
	Code   int
	Reason string
	// Rerun is true when an operator ran an archived (dead) task again.
	Rerun bool
	// BusyFor is how long the in-flight window still runs, for ClaimBusy.
	BusyFor time.Duration
	// Fallback is true when a callback asked for the fallback template.
	Fallback bool
}

// ClaimRequest describes the task being handled.
type ClaimRequest struct {
	MessageID  string
	Generation int
	Payload    []byte
	CampaignID string
	Queue      string
	// InFlight is how long a submit may take; a claim younger than that
	// may still be in flight in another worker.
	InFlight time.Duration
}

// claimScript is the idempotency guard: it decides, atomically with the
// state change, whether this delivery of a task may submit.
var claimScript = redis.NewScript(`
local k = KEYS[1]
local gen, now, inflight = tonumber(ARGV[1]), tonumber(ARGV[5]), tonumber(ARGV[7])
local st = redis.call('HGET', k, 'st')
if not st then
  redis.call('HSET', k, 'st', 'sending', 'n', gen, 'p', ARGV[2], 'camp', ARGV[3], 'q', ARGV[4], 'ts', now)
  redis.call('PEXPIRE', k, ARGV[6])
  return {'send', ''}
end
local n = tonumber(redis.call('HGET', k, 'n') or '0')
if gen < n then return {'stale', ''} end
if gen > n then
  redis.call('HSET', k, 'n', gen, 'st', 'sending', 'ts', now)
  redis.call('HDEL', k, 'gs', 'dl')
  redis.call('PEXPIRE', k, ARGV[6])
  return {'send', ''}
end
local gs = redis.call('HGET', k, 'gs') or ''
if st == 'submitted' or st == 'enqueued' or st == 'sent' or st == 'delivered' or st == 'read' then
  return {'done', gs}
end
if st == 'expired' then return {'final', ''} end
if st == 'sending' then
  local age = now - tonumber(redis.call('HGET', k, 'ts') or '0')
  if age < inflight then return {'busy', tostring(inflight - age)} end
  redis.call('HINCRBY', k, 'amb', 1)
  redis.call('HSET', k, 'ts', now)
  return {'ambiguous', ''}
end
if st == 'dead' then
  if redis.call('HGET', k, 'dl') == 'pending' then
    redis.call('HSET', k, 'dl', 'archived')
    return {'archive', redis.call('HGET', k, 'c') or '0', redis.call('HGET', k, 'r') or ''}
  end
  redis.call('HSET', k, 'st', 'sending', 'ts', now)
  redis.call('HDEL', k, 'dl', 'gs')
  redis.call('PEXPIRE', k, ARGV[6])
  return {'send', 'rerun'}
end
redis.call('HSET', k, 'st', 'sending', 'ts', now)
redis.call('PEXPIRE', k, ARGV[6])
return {'send', redis.call('HGET', k, 'fb') or ''}
`)

// Claim decides whether this delivery of a send task may submit, and marks
// the message as being submitted when it may.
func (s *Store) Claim(ctx context.Context, r ClaimRequest) (Claim, error) {
	res, err := s.pipe.Eval(ctx, claimScript, []string{MessageKey(r.MessageID)},
		r.Generation, r.Payload, r.CampaignID, r.Queue, s.now().UnixMilli(), s.ttl.Milliseconds(), r.InFlight.Milliseconds()).StringSlice()
	if err != nil {
		return Claim{}, fmt.Errorf("claim message %s: %w", r.MessageID, err)
	}
	c := Claim{Action: ClaimAction(res[0])}
	switch c.Action {
	case ClaimDone:
		c.GupshupID = res[1]
	case ClaimBusy:
		ms, _ := strconv.ParseInt(res[1], 10, 64)
		c.BusyFor = time.Duration(ms) * time.Millisecond
	case ClaimArchive:
		c.Code, _ = strconv.Atoi(res[1])
		c.Reason = res[2]
	case ClaimSend:
		c.Rerun = res[1] == "rerun"
		c.Fallback = res[1] == "1"
	}
	return c, nil
}

var submittedScript = redis.NewScript(`
local k = KEYS[1]
if tonumber(redis.call('HGET', KEYS[1], 'n') or '-1') ~= tonumber(ARGV[1]) then return 0 end
local st = redis.call('HGET', k, 'st')
if st == 'sending' or st == 'retry' then
  redis.call('HSET', k, 'st', 'submitted', 'gs', ARGV[2], 'ts', ARGV[3])
  redis.call('HDEL', k, 'c', 'r')
else
  -- A callback got here first (the index is written before this script).
  -- A failure it recorded keeps its code and reason: the dead letter
  -- carries them into the archive.
  redis.call('HSET', k, 'gs', ARGV[2])
  if st ~= 'dead' then redis.call('HDEL', k, 'c', 'r') end
end
redis.call('PEXPIRE', k, ARGV[4])
return 1
`)

// Submitted records that Gupshup accepted generation gen of the message
// under gsID: Accepted without counting or reading parked callbacks.
func (s *Store) Submitted(ctx context.Context, messageID string, gen int, gsID string) error {
	_, err := s.Accepted(ctx, Acceptance{MessageID: messageID, Generation: gen, GupshupID: gsID})
	return err
}

// Acceptance is a submit Gupshup accepted.
type Acceptance struct {
	MessageID  string
	Generation int
	GupshupID  string
	// CampaignID, when set, counts the submit in the campaign's tally.
	CampaignID string
}

// Accepted records an accepted submit and returns the callback events that
// beat it here (parked by ParkOrphan), for the caller to apply and then
// drop (DropOrphans).
//
// It is the send path's one round trip after the submit: the index from
// the Gupshup id back to the message, the record, the campaign's count and
// the read of parked events travel in one pipeline, shared with the
// handlers that record or claim at the same moment. Their order holds where
// it matters: the index and the parked events share a hash tag, so they are
// on one node and the index is written before the parked events are read;
// a callback parks first and looks the index up after, so one of the two
// always sees the other.
//
// The count is best effort, as Tally is: a caller retrying after an error
// leaves CampaignID out, so that a retried record is not counted twice.
func (s *Store) Accepted(ctx context.Context, a Acceptance) (parked [][]byte, err error) {
	var (
		record *redis.Cmd
		orphan *redis.StringSliceCmd
	)
	mk := MessageKey(a.MessageID)
	args := []any{a.Generation, a.GupshupID, s.now().UnixMilli(), s.ttl.Milliseconds()}
	_, err = s.pipe.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, GupshupKey(a.GupshupID), indexValue(a.MessageID, a.Generation), s.ttl)
		record = submittedScript.EvalSha(ctx, p, []string{mk}, args...)
		orphan = p.LRange(ctx, OrphanKey(a.GupshupID), 0, -1)
		if a.CampaignID != "" {
			return s.tallyInto(ctx, p, a.CampaignID, Tally{Kind: TallySubmitted})
		}
		return nil
	})
	if record != nil && redis.HasErrorPrefix(record.Err(), "NOSCRIPT") {
		// A restarted or failed-over Redis has lost its scripts. The rest
		// of the pipeline went through: only the record is run again (Run
		// loads the script), then the parked events are read after it.
		if err = submittedScript.Run(ctx, s.rdb, []string{mk}, args...).Err(); err == nil {
			orphan = s.rdb.LRange(ctx, OrphanKey(a.GupshupID), 0, -1)
			err = orphan.Err()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mark message %s submitted: %w", a.MessageID, err)
	}
	for _, e := range orphan.Val() {
		parked = append(parked, []byte(e))
	}
	return parked, nil
}

var failedScript = redis.NewScript(`
local k = KEYS[1]
if tonumber(redis.call('HGET', k, 'n') or '-1') ~= tonumber(ARGV[1]) then return 0 end
if ARGV[2] == 'dead' then
  redis.call('HSET', k, 'st', 'dead', 'dl', 'archived', 'c', ARGV[3], 'r', ARGV[4], 'ts', ARGV[5])
else
  redis.call('HSET', k, 'st', 'retry', 'c', ARGV[3], 'r', ARGV[4], 'ts', ARGV[5])
end
return 1
`)

// Failed records a synchronous failure of generation gen: "retry" when the
// attempt failed for sure and another follows, "dead" when the handler is
// about to archive the task itself.
func (s *Store) Failed(ctx context.Context, messageID string, gen int, dead bool, code int, reason string) error {
	mode := "retry"
	if dead {
		mode = "dead"
	}
	err := failedScript.Run(ctx, s.rdb, []string{MessageKey(messageID)}, gen, mode, code, reason, s.now().UnixMilli()).Err()
	if err != nil {
		return fmt.Errorf("record failure of message %s: %w", messageID, err)
	}
	return nil
}

// Expire records that the message passed its validity period unsent.
func (s *Store) Expire(ctx context.Context, messageID, campaignID string, payload []byte) error {
	k := MessageKey(messageID)
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, k, "st", string(StateExpired), "camp", campaignID, "p", payload, "ts", s.now().UnixMilli())
		p.PExpire(ctx, k, s.ttl)
		return nil
	})
	return err
}

// Record is a message's send record as stored.
type Record struct {
	MessageID  string
	State      State
	Generation int
	GupshupID  string
	CampaignID string
	Queue      string
	Code       int
	Reason     string
	Payload    []byte
	Updated    time.Time
	// Ambiguous counts the submits that died in flight.
	Ambiguous int
	// Fallback is true once a callback asked for the fallback template.
	Fallback bool
	// Events are the callback statuses seen, as "<gupshup id>:<status>".
	Events []string
}

// Get reads a message's record; ok is false when there is none.
func (s *Store) Get(ctx context.Context, messageID string) (rec Record, ok bool, err error) {
	m, err := s.rdb.HGetAll(ctx, MessageKey(messageID)).Result()
	if err != nil || len(m) == 0 {
		return Record{}, false, err
	}
	rec = Record{
		MessageID:  messageID,
		State:      State(m["st"]),
		GupshupID:  m["gs"],
		CampaignID: m["camp"],
		Queue:      m["q"],
		Reason:     m["r"],
		Payload:    []byte(m["p"]),
	}
	rec.Generation, _ = strconv.Atoi(m["n"])
	rec.Code, _ = strconv.Atoi(m["c"])
	rec.Ambiguous, _ = strconv.Atoi(m["amb"])
	rec.Fallback = m["fb"] == "1"
	if ms, err := strconv.ParseInt(m["ts"], 10, 64); err == nil {
		rec.Updated = time.UnixMilli(ms)
	}
	for f := range m {
		if len(f) > 3 && f[:3] == "cb:" {
			rec.Events = append(rec.Events, f[3:])
		}
	}
	return rec, true, nil
}

func indexValue(messageID string, gen int) string {
	return strconv.Itoa(gen) + ":" + messageID
}

// Lookup maps a Gupshup message id back to the message and generation.
func (s *Store) Lookup(ctx context.Context, gsID string) (messageID string, gen int, ok bool, err error) {
	v, err := s.rdb.Get(ctx, GupshupKey(gsID)).Result()
	if err == redis.Nil {
		return "", 0, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	for i := 0; i < len(v); i++ {
		if v[i] == ':' {
			gen, _ = strconv.Atoi(v[:i])
			return v[i+1:], gen, true, nil
		}
	}
	return v, 0, true, nil
}
