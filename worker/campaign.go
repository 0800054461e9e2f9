package worker

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/tasks"
)

// Campaigns is the worker's side of campaign control: it counts every
// fresh transition of a campaign's messages (store.Tally), holds back the
// sends of a paused campaign, drops those of a cancelled one, pauses a
// campaign whose terminal failures pass a bound (AutoPause), and holds an
// account whose sends Gupshup refuses as a whole (wallet low, bad
// credentials) until a probe send gets through.
//
// Campaign states and account holds are read from Redis at most once per
// second per campaign and process (one HMGET; one SMEMBERS for all the
// holds), not once per send: a pause takes effect within a second on every
// replica, at once on the replica that decided it.
//
// A nil *Campaigns does nothing, so the handler and the processor call it
// unconditionally.
type Campaigns struct {
	Store *store.Store
	Log   zerolog.Logger
	// DefaultApp names the app of a send that names none: an account is a
	// family and an app, like a breaker key.
	DefaultApp func(gupshup.Family) string
	AutoPause  AutoPause
	// ProbeInterval is how often a held account lets one send through as
	// its probe; 0 turns account holds off.
	ProbeInterval time.Duration
	// Inspector, when set, wakes the sends a held account handed back as
	// soon as the hold is released, instead of when their wait ends (up
	// to holdBackMax later).
	Inspector *asynq.Inspector

	now func() time.Time
	// cacheFor is how long a campaign state or the list of holds is
	// trusted; judgeGap is the least time between two auto-pause
	// evaluations of a campaign. Zero: the defaults (1 s each).
	cacheFor time.Duration
	judgeGap time.Duration

	mu     sync.Mutex
	states map[string]cachedControl
	holds  map[string]store.AccountHold
	holdAt time.Time
	judged map[string]time.Time

	// The wakes run in the background, on a context Close ends.
	wakeMu   sync.Mutex
	wakeCtx  context.Context
	wakeStop context.CancelFunc
	wakes    sync.WaitGroup
}

// AutoPause pauses a campaign whose recent outcomes are too often terminal
// failures: of the last Outcomes outcomes (submits and synchronous
// terminal failures) within Window, at least MinOutcomes, a Share or more
// were dead letters. A Share of 0 turns it off.
type AutoPause struct {
	Share       float64
	Window      time.Duration
	Outcomes    int
	MinOutcomes int
}

type cachedControl struct {
	ctl store.CampaignControl
	at  time.Time
}

// Hand-back delays. A paused campaign or a held account can hold a large
// backlog: each task comes back after about as long as the pause has
// lasted (at least the minimum, at most holdBackMax, plus jitter), so a
// long pause does not churn the queue. resume wakes a campaign's tasks at
// once, and a released account's tasks are woken too (wake.go); a task
// the wake misses is back within holdBackMax.
const (
	pauseBackMin = 5 * time.Second
	holdBackMax  = 5 * time.Minute
	// holdTTL: a hold no refusal has refreshed for this long ends by itself.
	holdTTL = 24 * time.Hour
	// judgeEvery bounds the auto-pause evaluations per campaign and process.
	judgeEvery = time.Second
	// wakeTimeout bounds a wake of a released account's sends: thousands
	// of tasks take seconds; past it the rest return when their wait ends.
	wakeTimeout = 5 * time.Minute
)

func (c *Campaigns) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

func (c *Campaigns) ttl() time.Duration {
	if c.cacheFor > 0 {
		return c.cacheFor
	}
	return time.Second
}

// account is the family and app of a send, the unit Gupshup bills and
// authenticates.
func (c *Campaigns) account(s *tasks.Send) string {
	app := s.App
	if app == "" && c.DefaultApp != nil {
		app = c.DefaultApp(s.Family)
	}
	return string(s.Family) + "/" + app
}

// control returns the campaign's state, from the cache when it is fresh.
// When Redis fails the last known state stands (running if none).
func (c *Campaigns) control(ctx context.Context, id string) store.CampaignControl {
	now := c.clock()
	c.mu.Lock()
	e, ok := c.states[id]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl() {
		return e.ctl
	}
	ctl, err := c.Store.CampaignControl(ctx, id)
	if err != nil {
		c.Log.Warn().Err(err).Str("campaign_id", id).Msg("campaign state unavailable; the last known one stands")
		if ok {
			return e.ctl
		}
		return store.CampaignControl{State: store.CampaignRunning}
	}
	c.setControl(id, ctl, now)
	return ctl
}

func (c *Campaigns) setControl(id string, ctl store.CampaignControl, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.states == nil {
		c.states = map[string]cachedControl{}
	}
	if len(c.states) > 4096 {
		// Campaigns come and go: forget the ones not asked about lately.
		for k, v := range c.states {
			if at.Sub(v.at) > time.Minute {
				delete(c.states, k)
			}
		}
	}
	c.states[id] = cachedControl{ctl: ctl, at: at}
}

// holdOf returns the account's hold, from a list refreshed once per cache
// period.
func (c *Campaigns) holdOf(ctx context.Context, account string) (store.AccountHold, bool) {
	m := c.holdList(ctx)
	h, ok := m[account]
	return h, ok
}

func (c *Campaigns) holdList(ctx context.Context) map[string]store.AccountHold {
	now := c.clock()
	c.mu.Lock()
	if c.holds != nil && now.Sub(c.holdAt) < c.ttl() {
		m := c.holds
		c.mu.Unlock()
		return m
	}
	c.mu.Unlock()
	list, err := c.Store.AccountHolds(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		c.Log.Warn().Err(err).Msg("account holds unavailable; the last known ones stand")
		if c.holds == nil {
			c.holds = map[string]store.AccountHold{}
		}
		c.holdAt = now
		return c.holds
	}
	m := make(map[string]store.AccountHold, len(list))
	for _, h := range list {
		m[h.Account] = h
	}
	c.holds, c.holdAt = m, now
	return m
}

// noteHold changes this process's copy of the holds at once, without
// waiting for the next refresh; a nil h removes the account.
func (c *Campaigns) noteHold(account string, h *store.AccountHold) {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]store.AccountHold, len(c.holds)+1)
	for k, v := range c.holds {
		m[k] = v
	}
	if h == nil {
		delete(m, account)
	} else {
		m[account] = *h
	}
	c.holds = m
}

// handBack is how long a task waits when handed back after held for so
// long: about as long again, within [lo, holdBackMax], plus up to a
// quarter of jitter so the backlog does not come back at once.
func handBack(heldFor, lo time.Duration) time.Duration {
	d := min(max(heldFor, lo), holdBackMax)
	return d + jitter(d/4+time.Millisecond)
}

// Gate runs before the claim: a paused campaign's send, or a held
// account's send that is not its probe, is handed back without using an
// attempt (and without touching its record). probe is true when this send
// is the probe of a held account.
func (c *Campaigns) Gate(ctx context.Context, log zerolog.Logger, s *tasks.Send) (probe bool, err error) {
	if c == nil {
		return false, nil
	}
	if s.CampaignID != "" {
		if ctl := c.control(ctx, s.CampaignID); ctl.State == store.CampaignPaused {
			d := handBack(c.clock().Sub(ctl.Since), pauseBackMin)
			return false, retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: store.HandBackPaused + ": " + s.CampaignID, Delay: d}, d)
		}
	}
	if c.ProbeInterval <= 0 {
		return false, nil
	}
	acct := c.account(s)
	h, held := c.holdOf(ctx, acct)
	if !held {
		return false, nil
	}
	turn, _, err := c.Store.TakeProbe(ctx, acct, s.MessageID, c.ProbeInterval)
	if err != nil {
		return false, err
	}
	switch turn {
	case store.ProbeNotHeld:
		c.noteHold(acct, nil)
		return false, nil
	case store.ProbeGo:
		h.Probe, h.ProbeAt = s.MessageID, c.clock()
		c.noteHold(acct, &h)
		log.Info().Str("account", acct).Int("code", h.Code).Msg("account held: this send is its probe")
		return true, nil
	}
	d := handBack(c.clock().Sub(h.Since), c.ProbeInterval)
	return false, retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: fmt.Sprintf("%s: %s (code %d)", store.HandBackHeld, acct, h.Code), Delay: d}, d)
}

// Recheck runs right before the Gupshup call, after the rate-limit wait:
// a send that passed Gate before its campaign was paused or cancelled, or
// before its account was held, is handed back (the caller's failure path
// releases its claim; a cancelled one is dropped when it returns). Without
// it a pause would let through every send already waiting for a slot,
// up to a second's worth. It reads the cached states only.
func (c *Campaigns) Recheck(ctx context.Context, s *tasks.Send) error {
	if c == nil {
		return nil
	}
	if s.CampaignID != "" {
		switch ctl := c.control(ctx, s.CampaignID); ctl.State {
		case store.CampaignPaused:
			d := handBack(c.clock().Sub(ctl.Since), pauseBackMin)
			return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: store.HandBackPaused + ": " + s.CampaignID, Delay: d}, d)
		case store.CampaignCancelled:
			d := time.Second + jitter(time.Second)
			return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: "campaign cancelled: " + s.CampaignID, Delay: d}, d)
		}
	}
	if c.ProbeInterval > 0 {
		acct := c.account(s)
		if h, held := c.holdOf(ctx, acct); held && h.Probe != s.MessageID {
			d := handBack(c.clock().Sub(h.Since), c.ProbeInterval)
			return retry.Throttle(retry.Verdict{Class: retry.Throttled, Reason: fmt.Sprintf("%s: %s (code %d)", store.HandBackHeld, acct, h.Code), Delay: d}, d)
		}
	}
	return nil
}

// Cancelled reports whether the send's campaign is cancelled.
func (c *Campaigns) Cancelled(ctx context.Context, s *tasks.Send) bool {
	if c == nil || s.CampaignID == "" {
		return false
	}
	return c.control(ctx, s.CampaignID).State == store.CampaignCancelled
}

// Drop records a claimed send of a cancelled campaign as cancelled, and
// counts it the first time. The task is done: nil.
func (c *Campaigns) Drop(ctx context.Context, log zerolog.Logger, s *tasks.Send) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	fresh, err := c.Store.CancelMessage(rctx, s.MessageID, s.Generation)
	if err != nil {
		return err
	}
	if fresh {
		c.tally(rctx, s.CampaignID, store.Tally{Kind: store.TallyCancelled})
	}
	log.Info().Msg("campaign cancelled: not sent")
	return nil
}

// Rerun counts a dead message run again.
func (c *Campaigns) Rerun(ctx context.Context, s *tasks.Send) {
	if c != nil {
		c.tally(ctx, s.CampaignID, store.Tally{Kind: store.TallyRerun})
	}
}

// Expired counts a message recorded as expired.
func (c *Campaigns) Expired(ctx context.Context, s *tasks.Send) {
	if c != nil {
		c.tally(ctx, s.CampaignID, store.Tally{Kind: store.TallyExpired})
	}
}

// Submitted ends the hold of an account held for synchronous refusals
// when s was its probe. (The submit is counted where it is recorded,
// store.Accepted, in the same round trip.)
func (c *Campaigns) Submitted(ctx context.Context, log zerolog.Logger, s *tasks.Send) {
	if c == nil || c.ProbeInterval <= 0 {
		return
	}
	acct := c.account(s)
	if h, held := c.holdOf(ctx, acct); held && h.Probe == s.MessageID {
		c.release(ctx, log, acct, s.MessageID, store.HoldSync)
	}
}

// Failed counts a failed attempt that will be retried, and holds the
// account when the failure is the account's, not the message's.
func (c *Campaigns) Failed(ctx context.Context, log zerolog.Logger, s *tasks.Send, v retry.Verdict) {
	if c == nil || v.Class == retry.Throttled || v.Class == retry.Ok {
		return
	}
	c.tally(ctx, s.CampaignID, store.Tally{Kind: store.TallyFailed, Code: v.Code})
	if v.AccountWide {
		c.hold(ctx, log, c.account(s), v, store.HoldSync)
	}
}

// Dead counts a synchronous dead letter, holds the account when the
// failure is the account's, and judges the campaign for the auto-pause.
func (c *Campaigns) Dead(ctx context.Context, log zerolog.Logger, s *tasks.Send, v retry.Verdict) {
	if c == nil {
		return
	}
	c.tally(ctx, s.CampaignID, store.Tally{Kind: store.TallyFailed, Code: v.Code}, store.Tally{Kind: store.TallyDead, Code: v.Code})
	if v.AccountWide {
		c.hold(ctx, log, c.account(s), v, store.HoldSync)
	}
	c.judge(ctx, s.CampaignID)
}

// Track implements webhook.Tracker: it counts the fresh transitions
// callbacks make, holds an account on an account-wide failure, releases a
// held account when its probe is accepted by WhatsApp, and judges the
// campaign on a dead letter.
func (c *Campaigns) Track(ctx context.Context, msgID string, ev gupshup.Event, res store.EventResult, v retry.Verdict) {
	if c == nil || res.Duplicate {
		return
	}
	switch res.FollowUp {
	case store.FollowResend, store.FollowDead:
		s, err := tasks.DecodeSend(res.Payload)
		if err != nil {
			return
		}
		log := c.Log.With().Str("message_id", msgID).Str("campaign_id", res.CampaignID).Logger()
		ts := []store.Tally{{Kind: store.TallyFailed, Code: ev.Code, Callback: true}}
		if res.FollowUp == store.FollowDead {
			ts = append(ts, store.Tally{Kind: store.TallyDead, Code: ev.Code, Callback: true})
		}
		c.tally(ctx, res.CampaignID, ts...)
		if v.AccountWide {
			c.hold(ctx, log, c.account(s), v, store.HoldCallback)
		}
		if res.FollowUp == store.FollowDead {
			c.judge(ctx, res.CampaignID)
		}
	case store.FollowNone:
		if ev.Status == gupshup.StatusFailed {
			return
		}
		if c.ProbeInterval > 0 {
			for acct, h := range c.holdList(ctx) {
				if h.Probe == msgID {
					c.release(ctx, c.Log.With().Str("message_id", msgID).Logger(), acct, msgID, "")
				}
			}
		}
		var kind store.TallyKind
		switch ev.Status {
		case gupshup.StatusDelivered:
			kind = store.TallyDelivered
		case gupshup.StatusRead:
			kind = store.TallyRead
		default:
			return
		}
		camp, err := c.Store.MessageCampaign(ctx, msgID)
		if err != nil {
			c.Log.Warn().Err(err).Str("message_id", msgID).Msg("campaign of a message unavailable: not counted")
			return
		}
		c.tally(ctx, camp, store.Tally{Kind: kind})
	}
}

// tally counts, on a context that outlives the task's: the transition
// happened, whatever becomes of the task now.
func (c *Campaigns) tally(ctx context.Context, campaignID string, ts ...store.Tally) {
	if campaignID == "" {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := c.Store.Tally(rctx, campaignID, ts...); err != nil {
		c.Log.Warn().Err(err).Str("campaign_id", campaignID).Msg("campaign counters not updated")
	}
}

func (c *Campaigns) hold(ctx context.Context, log zerolog.Logger, acct string, v retry.Verdict, source string) {
	if c.ProbeInterval <= 0 {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	reason := v.Reason
	if reason == "" {
		reason = retry.Describe(v.Code)
	}
	fresh, err := c.Store.HoldAccount(rctx, acct, v.Code, reason, source, holdTTL)
	if err != nil {
		log.Warn().Err(err).Str("account", acct).Msg("could not hold the account")
		return
	}
	h, _ := c.holdOf(rctx, acct)
	now := c.clock()
	h.Account, h.Code, h.Reason, h.Last = acct, v.Code, reason, now
	if h.Since.IsZero() {
		h.Since, h.ProbeAt = now, now
	}
	if h.Source != store.HoldCallback {
		h.Source = source
	}
	c.noteHold(acct, &h)
	if fresh {
		log.Error().Bool("alarm", true).Str("account", acct).Int("code", v.Code).Int("http_status", v.HTTPStatus).
			Str("reason", reason).Dur("probe_every", c.ProbeInterval).
			Msg("account held: Gupshup refuses its sends; one probe send per interval until one succeeds")
	}
}

func (c *Campaigns) release(ctx context.Context, log zerolog.Logger, acct, probe, source string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ok, err := c.Store.ReleaseAccount(rctx, acct, probe, source)
	if err != nil {
		log.Warn().Err(err).Str("account", acct).Msg("could not release the account")
		return
	}
	if ok {
		c.noteHold(acct, nil)
		log.Warn().Str("account", acct).Str("probe", probe).Msg("account released: its probe send went through")
		c.wakeHeld(log, acct)
	}
}

// wakeHeld runs now, in the background, the sends handed back while acct
// was held, which would otherwise return only when their wait ends.
func (c *Campaigns) wakeHeld(log zerolog.Logger, acct string) {
	if c.Inspector == nil {
		return
	}
	c.wakeMu.Lock()
	defer c.wakeMu.Unlock()
	if c.wakeCtx == nil {
		c.wakeCtx, c.wakeStop = context.WithCancel(context.Background())
	}
	if c.wakeCtx.Err() != nil {
		return // closed
	}
	base := c.wakeCtx
	c.wakes.Go(func() {
		ctx, cancel := context.WithTimeout(base, wakeTimeout)
		defer cancel()
		n, err := WakeHeld(ctx, c.Inspector, acct)
		if err != nil {
			log.Warn().Err(err).Str("account", acct).Int("woken", n).Msg("could not wake every send handed back while the account was held; the rest return when their wait ends")
			return
		}
		log.Info().Str("account", acct).Int("woken", n).Msg("sends handed back while the account was held woken")
	})
}

// Close stops the wakes under way and waits for them: the worker calls it
// before it closes its Redis connections.
func (c *Campaigns) Close() {
	if c == nil {
		return
	}
	c.wakeMu.Lock()
	if c.wakeCtx == nil {
		c.wakeCtx, c.wakeStop = context.WithCancel(context.Background())
	}
	c.wakeStop()
	c.wakeMu.Unlock()
	c.wakes.Wait()
}

// judge pauses the campaign when its recent terminal failures pass the
// AutoPause bound. It runs on dead letters only (nothing else can raise
// the share), at most once per second per campaign and process.
func (c *Campaigns) judge(ctx context.Context, campaignID string) {
	a := c.AutoPause
	if campaignID == "" || a.Share <= 0 {
		return
	}
	now := c.clock()
	c.mu.Lock()
	if c.judged == nil {
		c.judged = map[string]time.Time{}
	}
	gap := c.judgeGap
	if gap == 0 {
		gap = judgeEvery
	}
	if last, ok := c.judged[campaignID]; ok && now.Sub(last) < gap {
		c.mu.Unlock()
		return
	}
	if len(c.judged) > 4096 {
		for k, t := range c.judged {
			if now.Sub(t) > time.Minute {
				delete(c.judged, k)
			}
		}
	}
	c.judged[campaignID] = now
	c.mu.Unlock()

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	ctl := c.control(rctx, campaignID)
	if ctl.State != store.CampaignRunning {
		return
	}
	secs, err := c.Store.CampaignActivity(rctx, campaignID, a.Window)
	if err != nil {
		c.Log.Warn().Err(err).Str("campaign_id", campaignID).Msg("auto-pause: campaign activity unavailable")
		return
	}
	var outcomes, dead int64
	for _, sec := range secs {
		// Only what happened since the last resume: the failures that
		// paused the campaign must not pause it again.
		if !ctl.ResumedAt.IsZero() && sec.At <= ctl.ResumedAt.Unix() {
			break
		}
		outcomes += sec.Outcomes()
		dead += sec.Dead
		if outcomes >= int64(a.Outcomes) {
			break
		}
	}
	if outcomes < int64(max(a.MinOutcomes, 1)) || float64(dead) < a.Share*float64(outcomes) {
		return
	}
	reason := fmt.Sprintf("auto-pause: %d dead letters in the last %d outcomes (%.0f%%, bound %.0f%%)",
		dead, outcomes, 100*float64(dead)/float64(outcomes), 100*a.Share)
	changed, _, err := c.Store.SetCampaignState(rctx, campaignID, store.CampaignPaused, reason, "auto")
	if err != nil {
		c.Log.Warn().Err(err).Str("campaign_id", campaignID).Msg("auto-pause: could not pause the campaign")
		return
	}
	if changed {
		c.setControl(campaignID, store.CampaignControl{State: store.CampaignPaused, Reason: reason, By: "auto", Since: now, ResumedAt: ctl.ResumedAt}, now)
		c.Log.Error().Bool("alarm", true).Str("campaign_id", campaignID).Int64("dead", dead).Int64("outcomes", outcomes).
			Float64("share", float64(dead)/float64(outcomes)).Float64("bound", a.Share).
			Msg("campaign auto-paused: too many terminal failures; fix the cause, then enqueuer resume --campaign " + campaignID)
	}
}
