package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/waqueue/waqueue/worker"
)

// setting describes one knob; the README's configuration table is checked
// against this list by a test.
type setting struct {
	env, flag, def, help string
	secret               bool
	bind                 func(fs *flag.FlagSet, c *worker.Config, name, def, help string) error
}

func str(get func(*worker.Config) *string) func(*flag.FlagSet, *worker.Config, string, string, string) error {
	return func(fs *flag.FlagSet, c *worker.Config, name, def, help string) error {
		fs.StringVar(get(c), name, def, help)
		return nil
	}
}

func dur(get func(*worker.Config) *time.Duration) func(*flag.FlagSet, *worker.Config, string, string, string) error {
	return func(fs *flag.FlagSet, c *worker.Config, name, def, help string) error {
		d, err := time.ParseDuration(def)
		if err != nil {
			return fmt.Errorf("not a duration (like 30s): %q", def)
		}
		fs.DurationVar(get(c), name, d, help)
		return nil
	}
}

func integer(get func(*worker.Config) *int) func(*flag.FlagSet, *worker.Config, string, string, string) error {
	return func(fs *flag.FlagSet, c *worker.Config, name, def, help string) error {
		n, err := strconv.Atoi(def)
		if err != nil {
			return fmt.Errorf("not a whole number: %q", def)
		}
		fs.IntVar(get(c), name, n, help)
		return nil
	}
}

func float(get func(*worker.Config) *float64) func(*flag.FlagSet, *worker.Config, string, string, string) error {
	return func(fs *flag.FlagSet, c *worker.Config, name, def, help string) error {
		f, err := strconv.ParseFloat(def, 64)
		if err != nil {
			return fmt.Errorf("not a number: %q", def)
		}
		fs.Float64Var(get(c), name, f, help)
		return nil
	}
}

func boolean(get func(*worker.Config) *bool) func(*flag.FlagSet, *worker.Config, string, string, string) error {
	return func(fs *flag.FlagSet, c *worker.Config, name, def, help string) error {
		b, err := strconv.ParseBool(def)
		if err != nil {
			return fmt.Errorf("not true or false: %q", def)
		}
		fs.BoolVar(get(c), name, b, help)
		return nil
	}
}

var settings = []setting{
	{env: "REDIS_URL", flag: "redis-url", def: "redis://127.0.0.1:6379/0", secret: true, help: "Redis: redis://[user:password@]host:port[/db], redis-sentinel://[user:password@]s1:port,s2:port?master=NAME, redis-cluster://[user:password@]n1:port,n2:port; rediss* for TLS", bind: str(func(c *worker.Config) *string { return &c.RedisURL })},
	{env: "GUPSHUP_API_KEY", flag: "gupshup-api-key", secret: true, help: "self-serve API key (apikey header)", bind: str(func(c *worker.Config) *string { return &c.APIKey })},
	{env: "GUPSHUP_APP_NAME", flag: "gupshup-app-name", help: "self-serve app name (src.name), used when a task names none", bind: str(func(c *worker.Config) *string { return &c.AppName })},
	{env: "GUPSHUP_SOURCE", flag: "gupshup-source", help: "default business number (E.164 digits) for tasks that name none", bind: str(func(c *worker.Config) *string { return &c.Source })},
	{env: "GUPSHUP_BASE_URL", flag: "gupshup-base-url", def: "https://api.gupshup.io", help: "self-serve API base URL", bind: str(func(c *worker.Config) *string { return &c.BaseURL })},
	{env: "GUPSHUP_LEGACY_PATHS", flag: "gupshup-legacy-paths", def: "false", help: "use the /sm/api/v1 message paths instead of /wa/api/v1", bind: boolean(func(c *worker.Config) *bool { return &c.LegacyPath })},
	{env: "GUPSHUP_ENTERPRISE_URL", flag: "gupshup-enterprise-url", def: "https://media.smsgupshup.com/GatewayAPI/rest", help: "Enterprise Gateway URL", bind: str(func(c *worker.Config) *string { return &c.EnterpriseURL })},
	{env: "GUPSHUP_ENTERPRISE_USERID", flag: "gupshup-enterprise-userid", help: "Enterprise Gateway userid", bind: str(func(c *worker.Config) *string { return &c.EnterpriseUserID })},
	{env: "GUPSHUP_ENTERPRISE_PASSWORD", flag: "gupshup-enterprise-password", secret: true, help: "Enterprise Gateway password", bind: str(func(c *worker.Config) *string { return &c.EnterprisePassword })},
	{env: "GUPSHUP_ENTERPRISE_AES_KEY", flag: "gupshup-enterprise-aes-key", secret: true, help: "hex AES-256 key: encrypt Gateway parameters into encrdata", bind: str(func(c *worker.Config) *string { return &c.EnterpriseAESKey })},
	{env: "GUPSHUP_PARTNER_URL", flag: "gupshup-partner-url", def: "https://partner.gupshup.io", help: "partner API base URL", bind: str(func(c *worker.Config) *string { return &c.PartnerURL })},
	{env: "GUPSHUP_PARTNER_APP_ID", flag: "gupshup-partner-app-id", help: "partner app id, used when a task names none", bind: str(func(c *worker.Config) *string { return &c.PartnerAppID })},
	{env: "GUPSHUP_PARTNER_EMAIL", flag: "gupshup-partner-email", help: "partner login email", bind: str(func(c *worker.Config) *string { return &c.PartnerEmail })},
	{env: "GUPSHUP_PARTNER_PASSWORD", flag: "gupshup-partner-password", secret: true, help: "partner login password", bind: str(func(c *worker.Config) *string { return &c.PartnerPassword })},
	{env: "GUPSHUP_PARTNER_APP_TOKEN", flag: "gupshup-partner-app-token", secret: true, help: "a fixed partner app token instead of a login", bind: str(func(c *worker.Config) *string { return &c.PartnerAppToken })},
	{env: "GUPSHUP_TIMEOUT", flag: "gupshup-timeout", def: "15s", help: "bound on one Gupshup call", bind: dur(func(c *worker.Config) *time.Duration { return &c.Timeout })},
	{env: "SEND_RATE", flag: "send-rate", def: "80", help: "messages per second per source number (Meta's default tier is 80)", bind: float(func(c *worker.Config) *float64 { return &c.SendRate })},
	{env: "SEND_RATE_MARGIN", flag: "send-rate-margin", def: "0.01", help: "share of SEND_RATE left unused on the limiter's schedule, so that sends a few milliseconds late do not bunch over SEND_RATE where Gupshup counts them; 0 paces at SEND_RATE exactly", bind: float(func(c *worker.Config) *float64 { return &c.SendRateMargin })},
	{env: "SEND_BURST", flag: "send-burst", def: "1", help: "sends allowed at once above the steady rate", bind: integer(func(c *worker.Config) *int { return &c.SendBurst })},
	{env: "RECIPIENT_INTERVAL", flag: "recipient-interval", def: "6s", help: "least time between two messages to the same recipient, fleet-wide (Meta's pair rate limit, error 131056); 0 turns it off", bind: dur(func(c *worker.Config) *time.Duration { return &c.RecipientInterval })},
	{env: "WORKER_CONCURRENCY", flag: "worker-concurrency", def: "50", help: "sends in flight at once", bind: integer(func(c *worker.Config) *int { return &c.Concurrency })},
	{env: "HTTP_ADDR", flag: "http-addr", def: ":8080", help: "address of the callback, health and metrics endpoints", bind: str(func(c *worker.Config) *string { return &c.HTTPAddr })},
	{env: "WEBHOOK_TOKEN", flag: "webhook-token", secret: true, help: "secret callbacks must carry as /webhooks/gupshup/<token> or X-Webhook-Token; empty leaves the endpoint open", bind: str(func(c *worker.Config) *string { return &c.WebhookToken })},
	{env: "BREAKER_OPEN", flag: "breaker-open", def: "30s", help: "how long an open circuit breaker stops sends before one probe", bind: dur(func(c *worker.Config) *time.Duration { return &c.BreakerOpen })},
	{env: "BREAKER_FAILURES", flag: "breaker-failures", def: "5", help: "consecutive service failures (5xx, timeouts, transport) that open the breaker", bind: integer(func(c *worker.Config) *int { return &c.BreakerFailures })},
	{env: "SHUTDOWN_TIMEOUT", flag: "shutdown-timeout", def: "20s", help: "on SIGTERM, how long in-flight sends may finish", bind: dur(func(c *worker.Config) *time.Duration { return &c.ShutdownTimeout })},
	{env: "AMBIGUOUS_SENDS", flag: "ambiguous-sends", def: "resend", help: "a submit with unknown outcome (timeout, crash mid-send): resend (nothing lost) or deadletter (nothing doubled)", bind: str(func(c *worker.Config) *string { return &c.Ambiguous })},
	{env: "RECORD_TTL", flag: "record-ttl", def: "192h", help: "how long a message's send record outlives its last change", bind: dur(func(c *worker.Config) *time.Duration { return &c.RecordTTL })},
	{env: "RETRY_MAX_ATTEMPTS", flag: "retry-max-attempts", def: "12", help: "attempts of a retryable failure before it is dead-lettered", bind: integer(func(c *worker.Config) *int { return &c.MaxAttempts })},
	{env: "RETRY_BASE", flag: "retry-base", def: "10s", help: "first backoff of a retryable failure; it doubles per attempt, with jitter, up to 1h", bind: dur(func(c *worker.Config) *time.Duration { return &c.RetryBase })},
	{env: "RETRY_WALLET_LOW_DELAY", flag: "retry-wallet-low-delay", def: "30m", help: "wait before retrying a send that failed with 1003 (wallet balance low)", bind: dur(func(c *worker.Config) *time.Duration { return &c.WalletLowDelay })},
	{env: "AUTOPAUSE_FAILURE_SHARE", flag: "autopause-failure-share", def: "0.2", help: "pause a campaign when this share of its recent outcomes are dead letters (terminal failures); 0 turns the auto-pause off", bind: float(func(c *worker.Config) *float64 { return &c.AutoPauseShare })},
	{env: "AUTOPAUSE_WINDOW", flag: "autopause-window", def: "5m", help: "the auto-pause judges the outcomes of this last period at most (up to 59m)", bind: dur(func(c *worker.Config) *time.Duration { return &c.AutoPauseWindow })},
	{env: "AUTOPAUSE_OUTCOMES", flag: "autopause-outcomes", def: "200", help: "the auto-pause judges this many latest outcomes at most", bind: integer(func(c *worker.Config) *int { return &c.AutoPauseOutcomes })},
	{env: "AUTOPAUSE_MIN_OUTCOMES", flag: "autopause-min-outcomes", def: "50", help: "the auto-pause decides nothing on fewer outcomes than this", bind: integer(func(c *worker.Config) *int { return &c.AutoPauseMin })},
	{env: "ACCOUNT_PROBE_INTERVAL", flag: "account-probe-interval", def: "1m", help: "an account Gupshup refuses as a whole (1003 wallet low, 401/403) is held: one probe send per interval until one succeeds; 0 turns holds off", bind: dur(func(c *worker.Config) *time.Duration { return &c.AccountProbeInterval })},
	{env: "LOG_FORMAT", flag: "log-format", def: "json", help: "json, or console for people", bind: str(func(c *worker.Config) *string { return &c.LogFormat })},
	{env: "LOG_LEVEL", flag: "log-level", def: "info", help: "debug, info, warn or error", bind: str(func(c *worker.Config) *string { return &c.LogLevel })},
	{env: "MONITOR_ENABLED", flag: "monitor-enabled", def: "false", help: "serve the asynq UI (asynqmon) at /monitor on HTTP_ADDR, behind basic auth (MONITOR_USER, MONITOR_PASSWORD)", bind: boolean(func(c *worker.Config) *bool { return &c.MonitorEnabled })},
	{env: "MONITOR_READ_ONLY", flag: "monitor-read-only", def: "true", help: "the asynq UI only shows tasks; false lets it run, delete and archive them", bind: boolean(func(c *worker.Config) *bool { return &c.MonitorReadOnly })},
	{env: "MONITOR_USER", flag: "monitor-user", def: "admin", help: "basic auth user of the asynq UI", bind: str(func(c *worker.Config) *string { return &c.MonitorUser })},
	{env: "MONITOR_PASSWORD", flag: "monitor-password", secret: true, help: "basic auth password of the asynq UI; required when MONITOR_ENABLED is true", bind: str(func(c *worker.Config) *string { return &c.MonitorPassword })},
}

// loadConfig reads env, then <VAR>_FILE for secrets, then flags.
func loadConfig(args []string, getenv func(string) string, stderr io.Writer) (*worker.Config, error) {
	c := &worker.Config{}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { usage(stderr) }
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		} else if s.secret {
			if path := getenv(s.env + "_FILE"); path != "" {
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("%s_FILE: %w", s.env, err)
				}
				def = strings.TrimSpace(string(b))
			}
		}
		help := s.help + " (env " + s.env + ")"
		if err := s.bind(fs, c, s.flag, def, help); err != nil {
			return nil, fmt.Errorf("%s: %w", s.env, err)
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return c, c.Validate()
}

func usage(w io.Writer) {
	fmt.Fprint(w, `worker: sends the WhatsApp messages queued in Redis through Gupshup.

Every setting is an environment variable and a flag (the flag wins). Secrets
marked * may instead be read from a file named by <VAR>_FILE.

`)
	for _, s := range settings {
		mark := " "
		if s.secret {
			mark = "*"
		}
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(w, "  %s --%s, %s\n      %s; default %s\n", mark, s.flag, s.env, s.help, def)
	}
}
