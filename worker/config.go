package worker

import (
	"fmt"
	"math"
	"time"

	"github.com/waqueue/waqueue/store"
)

// Config is every setting of a worker process. cmd/worker fills it from
// environment variables and flags.
type Config struct {
	RedisURL string

	APIKey     string
	AppName    string
	Source     string
	BaseURL    string
	LegacyPath bool

	EnterpriseURL      string
	EnterpriseUserID   string
	EnterprisePassword string
	EnterpriseAESKey   string

	PartnerURL      string
	PartnerAppID    string
	PartnerEmail    string
	PartnerPassword string
	PartnerAppToken string

	Timeout   time.Duration
	SendRate  float64
	SendBurst int
	// SendRateMargin is the share of SendRate the limiter leaves unused on
	// its schedule, for the jitter between a grant and its arrival at
	// Gupshup; 0 paces at SendRate exactly.
	SendRateMargin float64
	// RecipientInterval spaces messages to one recipient fleet-wide; 0 turns it off.
	RecipientInterval time.Duration
	Concurrency       int
	HTTPAddr          string
	WebhookToken      string
	BreakerOpen       time.Duration
	BreakerFailures   int
	ShutdownTimeout   time.Duration
	Ambiguous         string
	RecordTTL         time.Duration
	MaxAttempts       int
	RetryBase         time.Duration
	WalletLowDelay    time.Duration
	LogFormat         string
	LogLevel          string
	// Campaign control: the auto-pause on terminal failures (a share of 0
	// turns it off) and the probe interval of held accounts (0: no holds).
	AutoPauseShare       float64
	AutoPauseWindow      time.Duration
	AutoPauseOutcomes    int
	AutoPauseMin         int
	AccountProbeInterval time.Duration
	// The asynq UI at /monitor (NewMonitor): off unless MonitorEnabled,
	// and then only behind basic auth.
	MonitorEnabled  bool
	MonitorReadOnly bool
	MonitorUser     string
	MonitorPassword string
}

// PacedRate is the rate the limiter schedules sends at: SendRate less its
// margin.
func (c *Config) PacedRate() float64 { return c.SendRate * (1 - c.SendRateMargin) }

// Validate names the first setting that cannot work.
func (c *Config) Validate() error {
	switch {
	case c.SendRate <= 0:
		return fmt.Errorf("SEND_RATE must be above 0, got %v", c.SendRate)
	case c.SendBurst < 1:
		return fmt.Errorf("SEND_BURST must be at least 1, got %d", c.SendBurst)
	case !(c.SendRateMargin >= 0 && c.SendRateMargin <= 0.2):
		return fmt.Errorf("SEND_RATE_MARGIN must be between 0 and 0.2 (a share of SEND_RATE), got %v", c.SendRateMargin)
	case c.Concurrency < 1:
		return fmt.Errorf("WORKER_CONCURRENCY must be at least 1, got %d", c.Concurrency)
	case c.Ambiguous != "resend" && c.Ambiguous != "deadletter":
		return fmt.Errorf("AMBIGUOUS_SENDS must be resend or deadletter, got %q", c.Ambiguous)
	case c.BreakerFailures < 1:
		return fmt.Errorf("BREAKER_FAILURES must be at least 1, got %d", c.BreakerFailures)
	case c.Timeout <= 0:
		// Without a bound a slow call outlives the in-flight window of its
		// claim, and a redelivery would judge it ambiguous and send again.
		return fmt.Errorf("GUPSHUP_TIMEOUT must be above 0, got %v", c.Timeout)
	case c.AutoPauseShare < 0 || math.IsNaN(c.AutoPauseShare):
		return fmt.Errorf("AUTOPAUSE_FAILURE_SHARE must be 0 (off) or a share like 0.2, got %v", c.AutoPauseShare)
	case c.AutoPauseShare > 0 && (c.AutoPauseWindow <= 0 || c.AutoPauseWindow > store.MaxActivityWindow):
		return fmt.Errorf("AUTOPAUSE_WINDOW must be above 0 and at most %v, got %v", store.MaxActivityWindow, c.AutoPauseWindow)
	case c.AutoPauseShare > 0 && c.AutoPauseOutcomes < 1:
		return fmt.Errorf("AUTOPAUSE_OUTCOMES must be at least 1, got %d", c.AutoPauseOutcomes)
	case c.AutoPauseShare > 0 && (c.AutoPauseMin < 1 || c.AutoPauseMin > c.AutoPauseOutcomes):
		return fmt.Errorf("AUTOPAUSE_MIN_OUTCOMES must be between 1 and AUTOPAUSE_OUTCOMES (%d), got %d", c.AutoPauseOutcomes, c.AutoPauseMin)
	case c.AccountProbeInterval < 0:
		return fmt.Errorf("ACCOUNT_PROBE_INTERVAL must be 0 (off) or above, got %v", c.AccountProbeInterval)
	case c.RecordTTL <= 0:
		// Redis would drop every send record at once: no idempotency guard.
		return fmt.Errorf("RECORD_TTL must be above 0, got %v", c.RecordTTL)
	}
	return nil
}
