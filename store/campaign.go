package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Campaign counters, campaign control (pause, resume, cancel), account
// holds and the redrive marks of dead letters.
//
// A campaign's counters live in one hash, CampaignKey, whose hash tag is the
// campaign; a message's record lives under the message's tag. A script may
// touch one slot only, so the counters cannot be changed inside the scripts
// that move a message (claim, submitted, failed, event): those decide
// atomically whether a transition is fresh (the claim lets one delivery
// through, a callback is marked once per Gupshup id and status), and the
// caller counts the fresh ones right after, with Tally. A redelivered task
// or a duplicate callback is never counted twice; a process that dies in
// the microseconds between the script and the count loses that one count.

// CampaignState is whether a campaign's messages may be sent.
type CampaignState string

const (
	// CampaignRunning: sent as they come (a campaign without a hash is running).
	CampaignRunning CampaignState = "running"
	// CampaignPaused: handed back to the queue without an attempt until resumed.
	CampaignPaused CampaignState = "paused"
	// CampaignCancelled: the messages not sent yet are dropped; final.
	CampaignCancelled CampaignState = "cancelled"
)

// The reasons a worker gives when it hands a task back for a paused
// campaign or a held account; asynq keeps them as the task's last error,
// which is how resume finds the tasks to wake.
const (
	HandBackPaused = "campaign paused"
	HandBackHeld   = "account held"
)

// StateCancelled is the state of a message dropped unsent because its
// campaign was cancelled.
const StateCancelled State = "cancelled"

// campaignTTL is how long a campaign's hash outlives its last change.
const campaignTTL = 90 * 24 * time.Hour

// activityTTL bounds the per-second activity of a campaign (rate, auto-pause
// window); windows longer than this cannot be evaluated.
const activityTTL = time.Hour

// MaxActivityWindow is the longest window CampaignActivity can look back.
const MaxActivityWindow = activityTTL - time.Minute

// CampaignActivityKey holds one minute (unix time / 60) of a campaign's
// activity, one field per second and kind. It shares the campaign's hash tag.
func CampaignActivityKey(campaignID string, minute int64) string {
	return CampaignKey(campaignID) + ":a:" + strconv.FormatInt(minute, 10)
}

// AccountHoldKey is the hash of an account's hold (family/app): set when
// Gupshup refuses every send of the account (wallet low, bad credentials).
func AccountHoldKey(account string) string { return Prefix + "hold:{" + account + "}" }

// AccountHoldsKey is the set of accounts ever held (a handful: families
// and apps), which AccountHolds looks up. It is never trimmed: removing an
// account could race with a new hold of it and hide that hold.
const AccountHoldsKey = Prefix + "{hold}:accounts"

// Fields of the campaign hash. The counters are stable names: operators'
// scripts read them with --json.
const (
	fieldState   = "state"
	fieldReason  = "reason"
	fieldBy      = "by"
	fieldSince   = "since"
	fieldResumed = "resumed"

	fieldQueued    = "queued"
	fieldSubmitted = "submitted"
	fieldDelivered = "delivered"
	fieldRead      = "read"
	fieldFailedCB  = "failed_cb"
	fieldDead      = "dead"
	fieldExpired   = "expired"
	fieldCancelled = "cancelled"
	fieldRerun     = "rerun"
	fieldRedriven  = "redriven"
	prefixFailed   = "failed:"
	prefixDead     = "dead:"
)

// TallyKind is a counted transition of a campaign's message.
type TallyKind uint8

const (
	// TallyQueued: enqueued by a producer (N at once).
	TallyQueued TallyKind = iota + 1
	// TallySubmitted: Gupshup accepted a send (each generation counts).
	TallySubmitted
	TallyDelivered
	TallyRead
	// TallyFailed: an attempt failed with Code (throttles are not failures).
	// Callback marks a failure a callback reported after Gupshup had
	// accepted the send, which takes that submit back.
	TallyFailed
	// TallyDead: the message was dead-lettered with Code; Callback when a
	// callback did it (else it was a synchronous outcome).
	TallyDead
	TallyExpired
	TallyCancelled
	// TallyRerun: a dead message was run again (asynqmon, redrive).
	TallyRerun
	// TallyRedriven: dead letters marked redriven by an operator's redrive.
	TallyRedriven
)

// Tally is one counted transition.
type Tally struct {
	Kind     TallyKind
	Code     int
	Callback bool
	// N is how many; 0 counts one.
	N int64
}

// Activity fields, per second of a minute bucket: s submits, x synchronous
// terminal failures (outcomes that are not submits), d dead letters.
const (
	actSubmit   = "s"
	actSyncDead = "x"
	actDead     = "d"
)

// Tally counts fresh transitions of campaignID's messages, in one round
// trip. Call it only for transitions a script reported as fresh.
func (s *Store) Tally(ctx context.Context, campaignID string, ts ...Tally) error {
	if campaignID == "" || len(ts) == 0 {
		return nil
	}
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		return s.tallyInto(ctx, p, campaignID, ts...)
	})
	if err != nil {
		return fmt.Errorf("count campaign %s: %w", campaignID, err)
	}
	return nil
}

// tallyInto queues the commands of Tally on p, so that a caller with a
// round trip of its own to make (Accepted) counts in the same one.
func (s *Store) tallyInto(ctx context.Context, p redis.Pipeliner, campaignID string, ts ...Tally) error {
	now := s.now()
	k := CampaignKey(campaignID)
	ak := CampaignActivityKey(campaignID, now.Unix()/60)
	sec := strconv.FormatInt(now.Unix()%60, 10)
	act := false
	for _, t := range ts {
		n := t.N
		if n == 0 {
			n = 1
		}
		switch t.Kind {
		case TallyQueued:
			p.HIncrBy(ctx, k, fieldQueued, n)
		case TallySubmitted:
			p.HIncrBy(ctx, k, fieldSubmitted, n)
			p.HIncrBy(ctx, ak, actSubmit+sec, n)
			act = true
		case TallyDelivered:
			p.HIncrBy(ctx, k, fieldDelivered, n)
		case TallyRead:
			p.HIncrBy(ctx, k, fieldRead, n)
		case TallyFailed:
			p.HIncrBy(ctx, k, prefixFailed+strconv.Itoa(t.Code), n)
			if t.Callback {
				p.HIncrBy(ctx, k, fieldFailedCB, n)
			}
		case TallyDead:
			p.HIncrBy(ctx, k, fieldDead, n)
			p.HIncrBy(ctx, k, prefixDead+strconv.Itoa(t.Code), n)
			p.HIncrBy(ctx, ak, actDead+sec, n)
			if !t.Callback {
				p.HIncrBy(ctx, ak, actSyncDead+sec, n)
			}
			act = true
		case TallyExpired:
			p.HIncrBy(ctx, k, fieldExpired, n)
		case TallyCancelled:
			p.HIncrBy(ctx, k, fieldCancelled, n)
		case TallyRerun:
			p.HIncrBy(ctx, k, fieldRerun, n)
		case TallyRedriven:
			p.HIncrBy(ctx, k, fieldRedriven, n)
		default:
			return fmt.Errorf("unknown tally kind %d", t.Kind)
		}
	}
	p.PExpire(ctx, k, campaignTTL)
	if act {
		p.PExpire(ctx, ak, activityTTL)
	}
	return nil
}

// CampaignControl is a campaign's state and who set it.
type CampaignControl struct {
	State  CampaignState `json:"state"`
	Reason string        `json:"reason,omitempty"`
	// By is who set the state: an operator's tool, or "auto" for the
	// worker's auto-pause.
	By    string    `json:"by,omitempty"`
	Since time.Time `json:"since,omitzero"`
	// ResumedAt is the last resume: the auto-pause judges only outcomes
	// after it.
	ResumedAt time.Time `json:"resumed_at,omitzero"`
}

func msTime(v any) time.Time {
	str, _ := v.(string)
	ms, err := strconv.ParseInt(str, 10, 64)
	if err != nil || ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms)
}

func controlOf(state, reason, by, since, resumed any) CampaignControl {
	c := CampaignControl{State: CampaignRunning}
	if v, ok := state.(string); ok && v != "" {
		c.State = CampaignState(v)
	}
	c.Reason, _ = reason.(string)
	c.By, _ = by.(string)
	c.Since = msTime(since)
	c.ResumedAt = msTime(resumed)
	return c
}

// CampaignControl reads a campaign's state: one HMGET.
func (s *Store) CampaignControl(ctx context.Context, campaignID string) (CampaignControl, error) {
	v, err := s.rdb.HMGet(ctx, CampaignKey(campaignID), fieldState, fieldReason, fieldBy, fieldSince, fieldResumed).Result()
	if err != nil {
		return CampaignControl{}, fmt.Errorf("read campaign %s: %w", campaignID, err)
	}
	return controlOf(v[0], v[1], v[2], v[3], v[4]), nil
}

// setStateScript moves a campaign's state: running <-> paused, running or
// paused -> cancelled. Cancelled is final. It answers whether it changed
// anything and the state before.
var setStateScript = redis.NewScript(`
local k = KEYS[1]
local to = ARGV[1]
local cur = redis.call('HGET', k, 'state') or 'running'
if cur == to or cur == 'cancelled' then return {0, cur} end
redis.call('HSET', k, 'state', to, 'reason', ARGV[2], 'by', ARGV[3], 'since', ARGV[4])
if to == 'running' then redis.call('HSET', k, 'resumed', ARGV[4]) end
redis.call('PEXPIRE', k, ARGV[5])
return {1, cur}
`)

// SetCampaignState moves the campaign to state to, with a reason and who
// asked. It changes nothing when the campaign is in that state already or
// is cancelled (cancel is final); changed says whether it did, and before
// is the state it found.
func (s *Store) SetCampaignState(ctx context.Context, campaignID string, to CampaignState, reason, by string) (changed bool, before CampaignState, err error) {
	switch to {
	case CampaignRunning, CampaignPaused, CampaignCancelled:
	default:
		return false, "", fmt.Errorf("unknown campaign state %q", to)
	}
	res, err := setStateScript.Run(ctx, s.rdb, []string{CampaignKey(campaignID)},
		string(to), reason, by, s.now().UnixMilli(), campaignTTL.Milliseconds()).Slice()
	if err != nil {
		return false, "", fmt.Errorf("set campaign %s %s: %w", campaignID, to, err)
	}
	n, _ := res[0].(int64)
	prev, _ := res[1].(string)
	return n == 1, CampaignState(prev), nil
}

// CampaignCounts are a campaign's counters.
type CampaignCounts struct {
	Queued    int64 `json:"queued"`
	Submitted int64 `json:"submitted"`
	Delivered int64 `json:"delivered"`
	Read      int64 `json:"read"`
	// Failed counts failed attempts by code (0: no Gupshup code, as for a
	// timeout or an HTTP error); a message retried counts once per failure.
	Failed map[int]int64 `json:"failed_by_code"`
	// FailedCallback counts the failures callbacks reported after Gupshup
	// had accepted the send.
	FailedCallback int64 `json:"failed_after_submit"`
	// Dead counts dead-letter transitions, DeadByCode by code.
	Dead       int64         `json:"dead_lettered"`
	DeadByCode map[int]int64 `json:"dead_lettered_by_code"`
	Expired    int64         `json:"expired"`
	Cancelled  int64         `json:"cancelled"`
	// Rerun counts dead messages run again; Redriven the dead letters an
	// operator's redrive sent again.
	Rerun    int64 `json:"rerun"`
	Redriven int64 `json:"redriven"`
}

// Remaining is how many messages are still to be settled: queued (or run
// again) and neither accepted for good, dead-lettered, expired nor
// cancelled. An accepted send that a failed callback took back is not
// settled until it is accepted again or dead-lettered.
func (c CampaignCounts) Remaining() int64 {
	settled := (c.Submitted - c.FailedCallback) + c.Dead + c.Expired + c.Cancelled
	return max(0, c.Queued+c.Rerun-settled)
}

// CampaignStatus is what `enqueuer status` shows of a campaign.
type CampaignStatus struct {
	ID      string          `json:"campaign"`
	Control CampaignControl `json:"control"`
	CampaignCounts
	// SendsLastMinute counts the submits of the last 60 seconds.
	SendsLastMinute int64 `json:"sends_last_minute"`
	// RateSeconds is the span those submits were spread over: 60, or less
	// when the first of them came later (a campaign in its first minute),
	// so that SendsLastMinute / RateSeconds is the current rate.
	RateSeconds int64 `json:"rate_seconds"`
	// Exists is false when nothing was ever counted for the campaign.
	Exists bool `json:"exists"`
}

// CampaignStatus reads the counters, the state and the last minute's sends.
func (s *Store) CampaignStatus(ctx context.Context, campaignID string) (CampaignStatus, error) {
	m, err := s.rdb.HGetAll(ctx, CampaignKey(campaignID)).Result()
	if err != nil {
		return CampaignStatus{}, fmt.Errorf("read campaign %s: %w", campaignID, err)
	}
	st := CampaignStatus{ID: campaignID, Exists: len(m) > 0}
	st.Control = controlOf(m[fieldState], m[fieldReason], m[fieldBy], m[fieldSince], m[fieldResumed])
	st.Failed, st.DeadByCode = map[int]int64{}, map[int]int64{}
	counters := map[string]*int64{
		fieldQueued: &st.Queued, fieldSubmitted: &st.Submitted, fieldDelivered: &st.Delivered, fieldRead: &st.Read,
		fieldFailedCB: &st.FailedCallback, fieldDead: &st.Dead, fieldExpired: &st.Expired, fieldCancelled: &st.Cancelled,
		fieldRerun: &st.Rerun, fieldRedriven: &st.Redriven,
	}
	for f, v := range m {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue
		}
		if c, ok := counters[f]; ok {
			*c = n
			continue
		}
		switch {
		case strings.HasPrefix(f, prefixFailed):
			if code, err := strconv.Atoi(f[len(prefixFailed):]); err == nil {
				st.Failed[code] = n
			}
		case strings.HasPrefix(f, prefixDead):
			if code, err := strconv.Atoi(f[len(prefixDead):]); err == nil {
				st.DeadByCode[code] = n
			}
		}
	}
	act, err := s.CampaignActivity(ctx, campaignID, time.Minute)
	if err != nil {
		return st, err
	}
	now := s.now().Unix()
	first := now
	for _, a := range act {
		if a.At > now-60 && a.Submits > 0 {
			st.SendsLastMinute += a.Submits
			first = min(first, a.At)
		}
	}
	if st.SendsLastMinute > 0 {
		st.RateSeconds = max(now-first+1, 1)
	}
	return st, nil
}

// ActivitySecond is one second of a campaign's activity.
type ActivitySecond struct {
	At       int64 // unix seconds
	Submits  int64
	SyncDead int64 // terminal failures of the send call itself
	Dead     int64 // all dead letters, synchronous or from callbacks
}

// Outcomes is what a second decided: submits and synchronous terminal
// failures (a callback failure is the outcome of a submit counted already).
func (a ActivitySecond) Outcomes() int64 { return a.Submits + a.SyncDead }

// CampaignActivity returns the seconds of the last window that saw
// activity, newest first. window is capped at MaxActivityWindow.
func (s *Store) CampaignActivity(ctx context.Context, campaignID string, window time.Duration) ([]ActivitySecond, error) {
	window = min(window, MaxActivityWindow)
	now := s.now()
	first, last := now.Add(-window).Unix()/60, now.Unix()/60
	cmds := make([]*redis.MapStringStringCmd, 0, last-first+1)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for m := first; m <= last; m++ {
			cmds = append(cmds, p.HGetAll(ctx, CampaignActivityKey(campaignID, m)))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read activity of campaign %s: %w", campaignID, err)
	}
	from := now.Add(-window).Unix()
	secs := map[int64]*ActivitySecond{}
	for i, c := range cmds {
		minute := first + int64(i)
		for f, v := range c.Val() {
			if len(f) < 2 {
				continue
			}
			sec, err1 := strconv.ParseInt(f[1:], 10, 64)
			n, err2 := strconv.ParseInt(v, 10, 64)
			if err1 != nil || err2 != nil {
				continue
			}
			at := minute*60 + sec
			if at < from {
				continue
			}
			a := secs[at]
			if a == nil {
				a = &ActivitySecond{At: at}
				secs[at] = a
			}
			switch f[:1] {
			case actSubmit:
				a.Submits += n
			case actSyncDead:
				a.SyncDead += n
			case actDead:
				a.Dead += n
			}
		}
	}
	out := make([]ActivitySecond, 0, len(secs))
	for _, a := range secs {
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At > out[j].At })
	return out, nil
}

// MessageCampaign returns the campaign of a message's record ("" when none).
func (s *Store) MessageCampaign(ctx context.Context, messageID string) (string, error) {
	v, err := s.rdb.HGet(ctx, MessageKey(messageID), "camp").Result()
	if err == redis.Nil {
		return "", nil
	}
	return v, err
}

// cancelScript drops generation gen of a claimed message of a cancelled
// campaign. It answers 1 the first time the message is cancelled only
// (the cx mark survives later claims), so a redelivery is not counted again.
var cancelScript = redis.NewScript(`
local k = KEYS[1]
if tonumber(redis.call('HGET', k, 'n') or '-1') ~= tonumber(ARGV[1]) then return 0 end
local st = redis.call('HGET', k, 'st')
if st ~= 'sending' and st ~= 'retry' and st ~= 'cancelled' then return 0 end
redis.call('HSET', k, 'st', 'cancelled', 'ts', ARGV[2])
redis.call('PEXPIRE', k, ARGV[3])
return redis.call('HSETNX', k, 'cx', ARGV[2])
`)

// CancelMessage records that generation gen of the message, claimed and not
// submitted, is dropped because its campaign was cancelled. fresh is true
// the first time only.
func (s *Store) CancelMessage(ctx context.Context, messageID string, gen int) (fresh bool, err error) {
	n, err := cancelScript.Run(ctx, s.rdb, []string{MessageKey(messageID)}, gen, s.now().UnixMilli(), s.ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("cancel message %s: %w", messageID, err)
	}
	return n == 1, nil
}

// AccountHold is an account whose sends are held back: Gupshup refuses
// them all (wallet low, bad credentials) until someone acts. While it is
// held, one send per probe interval goes through as a probe; the probe's
// success releases the hold.
type AccountHold struct {
	Account string    `json:"account"`
	Code    int       `json:"code"`
	Reason  string    `json:"reason"`
	Source  string    `json:"source"` // sync or callback: where the refusals came from
	Since   time.Time `json:"since"`
	Last    time.Time `json:"last"`
	ProbeAt time.Time `json:"probe_at,omitzero"`
	Probe   string    `json:"probe,omitempty"` // message id of the last probe
}

// Sources of a hold.
const (
	HoldSync     = "sync"
	HoldCallback = "callback"
)

// holdScript sets or refreshes an account's hold. A callback source is
// sticky: once refusals came from callbacks, only a probe's callback can
// tell the account works again. The first probe waits one interval.
var holdScript = redis.NewScript(`
local k = KEYS[1]
local fresh = redis.call('EXISTS', k) == 0
redis.call('HSET', k, 'code', ARGV[1], 'reason', ARGV[2], 'last', ARGV[4])
if ARGV[3] == 'callback' or not redis.call('HGET', k, 'src') then redis.call('HSET', k, 'src', ARGV[3]) end
redis.call('HSETNX', k, 'since', ARGV[4])
redis.call('HSETNX', k, 'pt', ARGV[4])
redis.call('PEXPIRE', k, ARGV[5])
if fresh then return 1 end
return 0
`)

// HoldAccount holds account (family/app) after a refusal with code, from
// source (HoldSync or HoldCallback). The hold expires after ttl without a
// new refusal. fresh is true when the account was not held before.
func (s *Store) HoldAccount(ctx context.Context, account string, code int, reason, source string, ttl time.Duration) (fresh bool, err error) {
	if err := s.rdb.SAdd(ctx, AccountHoldsKey, account).Err(); err != nil {
		return false, fmt.Errorf("hold account %s: %w", account, err)
	}
	n, err := holdScript.Run(ctx, s.rdb, []string{AccountHoldKey(account)}, code, reason, source, s.now().UnixMilli(), ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("hold account %s: %w", account, err)
	}
	return n == 1, nil
}

// AccountHolds lists the accounts held now.
func (s *Store) AccountHolds(ctx context.Context) ([]AccountHold, error) {
	accts, err := s.rdb.SMembers(ctx, AccountHoldsKey).Result()
	if err != nil || len(accts) == 0 {
		return nil, err
	}
	cmds := make([]*redis.MapStringStringCmd, len(accts))
	_, err = s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, a := range accts {
			cmds[i] = p.HGetAll(ctx, AccountHoldKey(a))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read account holds: %w", err)
	}
	var out []AccountHold
	for i, c := range cmds {
		m := c.Val()
		if len(m) == 0 {
			continue
		}
		h := AccountHold{Account: accts[i], Reason: m["reason"], Source: m["src"], Probe: m["probe"],
			Since: msTime(m["since"]), Last: msTime(m["last"]), ProbeAt: msTime(m["pt"])}
		h.Code, _ = strconv.Atoi(m["code"])
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Account < out[j].Account })
	return out, nil
}

// Probe answers of TakeProbe.
type ProbeTurn int

const (
	// ProbeNotHeld: the hold is gone; send as usual.
	ProbeNotHeld ProbeTurn = iota
	// ProbeGo: this send is the account's probe.
	ProbeGo
	// ProbeWait: another send probed less than an interval ago.
	ProbeWait
)

var probeScript = redis.NewScript(`
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return {0, 0} end
local now, every = tonumber(ARGV[2]), tonumber(ARGV[3])
local pt = tonumber(redis.call('HGET', k, 'pt') or '0')
if now - pt < every then return {2, every - (now - pt)} end
redis.call('HSET', k, 'pt', now, 'probe', ARGV[1])
return {1, 0}
`)

// TakeProbe asks whether messageID may go out as the held account's probe:
// one send per interval does. For ProbeWait, wait is the time until the
// next probe may go.
func (s *Store) TakeProbe(ctx context.Context, account, messageID string, interval time.Duration) (turn ProbeTurn, wait time.Duration, err error) {
	res, err := probeScript.Run(ctx, s.rdb, []string{AccountHoldKey(account)}, messageID, s.now().UnixMilli(), interval.Milliseconds()).Int64Slice()
	if err != nil {
		return ProbeNotHeld, 0, fmt.Errorf("probe account %s: %w", account, err)
	}
	return ProbeTurn(res[0]), time.Duration(res[1]) * time.Millisecond, nil
}

var releaseScript = redis.NewScript(`
local k = KEYS[1]
if ARGV[1] ~= '' and redis.call('HGET', k, 'probe') ~= ARGV[1] then return 0 end
if ARGV[2] ~= '' and redis.call('HGET', k, 'src') ~= ARGV[2] then return 0 end
return redis.call('DEL', k)
`)

// ReleaseAccount ends the account's hold when probe is the message id of
// its last probe ("" releases whatever the probe) and, when source is not
// "", the hold's refusals came from that source: a send Gupshup accepted
// proves nothing when the refusals came in callbacks.
func (s *Store) ReleaseAccount(ctx context.Context, account, probe, source string) (bool, error) {
	n, err := releaseScript.Run(ctx, s.rdb, []string{AccountHoldKey(account)}, probe, source).Int()
	if err != nil {
		return false, fmt.Errorf("release account %s: %w", account, err)
	}
	return n == 1, nil
}

// DeadLetterEntry is a dead letter as stored, with the mark of a redrive.
type DeadLetterEntry struct {
	DeadLetter
	// RedrivenAt is when an operator's redrive sent it again; zero when not.
	RedrivenAt time.Time `json:"redriven_at,omitzero"`
	raw        string
}

// DeadLetterEntries lists a campaign's dead letters ("" for one-off
// sends) with their redrive marks.
func (s *Store) DeadLetterEntries(ctx context.Context, campaignID string) ([]DeadLetterEntry, error) {
	if campaignID == "" {
		campaignID = noCampaign
	}
	m, err := s.rdb.HGetAll(ctx, DeadLetterKey(campaignID)).Result()
	if err != nil {
		return nil, err
	}
	out := make([]DeadLetterEntry, 0, len(m))
	for id, v := range m {
		var d DeadLetterEntry
		if err := json.Unmarshal([]byte(v), &d); err != nil {
			return nil, fmt.Errorf("dead letter %s of campaign %s: %w", id, campaignID, err)
		}
		d.raw = v
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MessageID < out[j].MessageID })
	return out, nil
}

var swapScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`)

// MarkRedriven marks the dead letter as sent again at t, unless it changed
// since it was read (the message died again, or another redrive marked it):
// ok is false then, and the caller leaves it alone. The marked entry is
// returned for UnmarkRedriven.
func (s *Store) MarkRedriven(ctx context.Context, d DeadLetterEntry, t time.Time) (marked DeadLetterEntry, ok bool, err error) {
	marked = d
	marked.RedrivenAt = t
	b, err := json.Marshal(marked)
	if err != nil {
		return d, false, err
	}
	marked.raw = string(b)
	ok, err = s.swapDeadLetter(ctx, d, marked.raw)
	return marked, ok, err
}

// UnmarkRedriven takes back a mark whose redrive failed, unless the entry
// changed meanwhile.
func (s *Store) UnmarkRedriven(ctx context.Context, marked DeadLetterEntry) error {
	orig := marked
	orig.RedrivenAt = time.Time{}
	b, err := json.Marshal(orig.DeadLetter)
	if err != nil {
		return err
	}
	_, err = s.swapDeadLetter(ctx, marked, string(b))
	return err
}

func (s *Store) swapDeadLetter(ctx context.Context, from DeadLetterEntry, to string) (bool, error) {
	c := from.CampaignID
	if c == "" {
		c = noCampaign
	}
	n, err := swapScript.Run(ctx, s.rdb, []string{DeadLetterKey(c)}, from.MessageID, from.raw, to).Int()
	if err != nil {
		return false, fmt.Errorf("mark dead letter %s: %w", from.MessageID, err)
	}
	return n == 1, nil
}
