package gupshuptest

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

// Config is everything a simulator run can be told. The binary reads it from
// a JSON file and flags; tests build it with Options.
type Config struct {
	// Self-serve credentials: requests must carry this apikey and app name.
	APIKey  string `json:"api_key"`
	AppName string `json:"app_name"`
	// Source is the business number of the app; an empty value accepts any.
	Source string `json:"source"`

	// Enterprise Gateway credentials and, when set, the hex AES-256 key that
	// encrdata is encrypted with.
	EnterpriseUserID   string `json:"enterprise_userid"`
	EnterprisePassword string `json:"enterprise_password"`
	EnterpriseAESKey   string `json:"enterprise_aes_key"`

	// Partner credentials: the login email and password, the app id, and how
	// long the partner and app tokens live.
	PartnerEmail    string   `json:"partner_email"`
	PartnerPassword string   `json:"partner_password"`
	PartnerAppID    string   `json:"partner_app_id"`
	TokenTTL        Duration `json:"token_ttl"`

	// CallbackURL receives message events; empty means no callbacks.
	CallbackURL string `json:"callback_url"`
	// CallbackFormat is v2, v3 or both, for self-serve and partner sends.
	// Enterprise sends always report in the enterprise DLR format.
	CallbackFormat string `json:"callback_format"`
	// Delays from the accepted send to each event.
	EnqueuedAfter  Duration `json:"enqueued_after"`
	SentAfter      Duration `json:"sent_after"`
	DeliveredAfter Duration `json:"delivered_after"`
	ReadAfter      Duration `json:"read_after"`
	// NoRead turns off read receipts (users who never open the message).
	NoRead bool `json:"no_read"`
	// CallbackAttempts is how many times an event is offered before the
	// simulator gives up on a receiver that does not answer 2xx.
	CallbackAttempts int      `json:"callback_attempts"`
	CallbackRetry    Duration `json:"callback_retry"`
	// CallbackCopies delivers every event this many times (at-least-once
	// delivery made visible); CallbackJitter shuffles them in time so they
	// arrive out of order.
	CallbackCopies int      `json:"callback_copies"`
	CallbackJitter Duration `json:"callback_jitter"`
	// CallbackWorkers bounds concurrent callback POSTs.
	CallbackWorkers int `json:"callback_workers"`

	// Faults: per-destination codes and sync errors.
	Faults []Fault `json:"faults"`
	// RateLimit is the requests per second allowed per app; 0 = unlimited.
	// Over it, the family's 429 answer.
	RateLimit float64 `json:"rate_limit"`
	// Outages are windows, measured from start, in which the API is down.
	Outages []Outage `json:"outages"`
	// Latency is added to every API answer.
	Latency Duration `json:"latency"`
	// EnforceSessionWindow fails session (non-template) sends to users who
	// have not written in the last 24 hours, as WhatsApp does.
	EnforceSessionWindow bool `json:"enforce_session_window"`
	// Templates, when given, are the only template ids accepted, with their
	// parameter counts; a mismatch fails the send with code 4003.
	Templates map[string]int `json:"templates"`

	// RecordLimit keeps only the most recent RecordLimit accepted sends and
	// rejections in the record (Sends, Rejections, /_sim/sends); 0 keeps
	// them all. A run of a million sends would otherwise hold every request
	// in memory. Stats.Accepted and Stats.Rejected still count them all.
	RecordLimit int `json:"record_limit"`
}

// Fault makes sends to matching destinations fail. Match is an exact number
// or a glob pattern ("*0002", "9198*"). With Code set, the send is accepted
// and a failed callback with that code follows (as Gupshup reports
// per-recipient failures). With HTTPStatus set, the send call itself fails
// with that status (Code then goes into the error body where the family has
// one). First > 0 limits the fault to the first N attempts per destination;
// later attempts succeed.
type Fault struct {
	Match      string `json:"match"`
	Code       int    `json:"code,omitempty"`
	Reason     string `json:"reason,omitempty"`
	HTTPStatus int    `json:"http_status,omitempty"`
	First      int    `json:"first,omitempty"`
	// Family limits the fault to one API family; empty matches all.
	Family string `json:"family,omitempty"`
}

// Outage takes the API down from Start (after the server started) for
// Duration. Mode "5xx" answers 503; "hang" holds every request without an
// answer until the client gives up or the outage ends.
type Outage struct {
	Start    Duration `json:"start"`
	Duration Duration `json:"duration"`
	Mode     string   `json:"mode"`
}

// Duration reads "1.5s" or a number of milliseconds from JSON.
type Duration struct{ time.Duration }

// D is shorthand for building a Duration in Go code.
func D(d time.Duration) Duration { return Duration{d} }

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

func (d *Duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	switch x := v.(type) {
	case float64:
		d.Duration = time.Duration(x * float64(time.Millisecond))
	case string:
		p, err := time.ParseDuration(x)
		if err != nil {
			return err
		}
		d.Duration = p
	default:
		return fmt.Errorf("duration must be a string like \"2s\" or a number of milliseconds, got %s", b)
	}
	return nil
}

// DefaultConfig is a simulator with fixed demo credentials, fast callbacks
// and no faults.
func DefaultConfig() Config {
	return Config{
		APIKey:             "sim-api-key",
		AppName:            "DemoAPI",
		EnterpriseUserID:   "2000000001",
		EnterprisePassword: "sim-password",
		PartnerEmail:       "partner@example.com",
		PartnerPassword:    "sim-partner-password",
		PartnerAppID:       "bf9ee64c-3d4d-4ac4-8668-732e577007c4",
		TokenTTL:           D(24 * time.Hour),
		CallbackFormat:     "v2",
		EnqueuedAfter:      D(5 * time.Millisecond),
		SentAfter:          D(20 * time.Millisecond),
		DeliveredAfter:     D(50 * time.Millisecond),
		ReadAfter:          D(100 * time.Millisecond),
		CallbackAttempts:   5,
		CallbackRetry:      D(200 * time.Millisecond),
		CallbackCopies:     1,
		CallbackWorkers:    32,
	}
}

// LoadConfig reads a JSON file over the defaults.
func LoadConfig(path string) (Config, error) {
	c := DefaultConfig()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, c.Validate()
}

// Validate names the first setting that cannot work.
func (c Config) Validate() error {
	switch c.CallbackFormat {
	case "v2", "v3", "both":
	default:
		return fmt.Errorf("callback_format must be v2, v3 or both, not %q", c.CallbackFormat)
	}
	for i, f := range c.Faults {
		if f.Match == "" {
			return fmt.Errorf("faults[%d]: match is empty", i)
		}
		if f.Code == 0 && f.HTTPStatus == 0 {
			return fmt.Errorf("faults[%d]: set code, http_status or both", i)
		}
		if _, err := matchGlob(f.Match, ""); err != nil {
			return fmt.Errorf("faults[%d]: match %q: %w", i, f.Match, err)
		}
	}
	for i, o := range c.Outages {
		if o.Mode != "5xx" && o.Mode != "hang" {
			return fmt.Errorf("outages[%d]: mode must be 5xx or hang, not %q", i, o.Mode)
		}
	}
	if c.RecordLimit < 0 {
		return fmt.Errorf("record_limit must not be negative, got %d", c.RecordLimit)
	}
	if c.EnterpriseAESKey != "" {
		if _, err := decodeKey(c.EnterpriseAESKey); err != nil {
			return fmt.Errorf("enterprise_aes_key: %w", err)
		}
	}
	return nil
}

// Option changes the Config of a server built by NewServer.
type Option func(*Config)

// WithConfig replaces the whole configuration.
func WithConfig(c Config) Option { return func(dst *Config) { *dst = c } }

// WithCallbackURL sets where events go.
func WithCallbackURL(u string) Option { return func(c *Config) { c.CallbackURL = u } }

// WithCallbackFormat is "v2", "v3" or "both".
func WithCallbackFormat(f string) Option { return func(c *Config) { c.CallbackFormat = f } }

// WithFaults adds fault rules; the first matching rule wins.
func WithFaults(f ...Fault) Option { return func(c *Config) { c.Faults = append(c.Faults, f...) } }

// WithRateLimit answers 429 above rps requests per second per app.
func WithRateLimit(rps float64) Option { return func(c *Config) { c.RateLimit = rps } }

// WithOutage adds an outage window.
func WithOutage(o Outage) Option { return func(c *Config) { c.Outages = append(c.Outages, o) } }

// WithLatency adds d to every answer.
func WithLatency(d time.Duration) Option { return func(c *Config) { c.Latency = D(d) } }

// WithCallbackDelays sets when enqueued, sent, delivered and read arrive.
func WithCallbackDelays(enqueued, sent, delivered, read time.Duration) Option {
	return func(c *Config) {
		c.EnqueuedAfter, c.SentAfter, c.DeliveredAfter, c.ReadAfter = D(enqueued), D(sent), D(delivered), D(read)
	}
}

// WithCallbackCopies delivers each event n times, spread over jitter.
func WithCallbackCopies(n int, jitter time.Duration) Option {
	return func(c *Config) { c.CallbackCopies, c.CallbackJitter = n, D(jitter) }
}

// WithSessionWindow enforces the 24-hour session window on session sends.
func WithSessionWindow() Option { return func(c *Config) { c.EnforceSessionWindow = true } }

// WithTemplates restricts template sends to these ids and parameter counts.
func WithTemplates(t map[string]int) Option { return func(c *Config) { c.Templates = t } }

// WithCredentials sets the self-serve apikey and app name.
func WithCredentials(apiKey, app string) Option {
	return func(c *Config) { c.APIKey, c.AppName = apiKey, app }
}

// WithRecordLimit keeps only the last n sends and rejections in the record
// (see Config.RecordLimit).
func WithRecordLimit(n int) Option { return func(c *Config) { c.RecordLimit = n } }

// WithEnterpriseAESKey makes the Gateway expect encrdata under this hex key.
func WithEnterpriseAESKey(hexKey string) Option {
	return func(c *Config) { c.EnterpriseAESKey = hexKey }
}
