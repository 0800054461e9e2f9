package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/waqueue/waqueue/gupshup"
	"github.com/waqueue/waqueue/ratelimit"
	"github.com/waqueue/waqueue/redisconn"
	"github.com/waqueue/waqueue/retry"
	"github.com/waqueue/waqueue/store"
	"github.com/waqueue/waqueue/webhook"
)

// Run is a whole worker process: the asynq server sending tasks, and the
// HTTP server taking callbacks and health checks. It returns when ctx ends,
// after a graceful shutdown: no new tasks are taken, in-flight sends get
// ShutdownTimeout to finish, callbacks stop being accepted.
func Run(ctx context.Context, cfg Config, log zerolog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	redisOpt, err := redisconn.Parse(cfg.RedisURL)
	if err != nil {
		return err
	}
	rdb := redisconn.Client(redisOpt)
	defer rdb.Close()
	if err := redisconn.CheckAuth(ctx, rdb); err != nil {
		return err
	}
	for _, a := range redisconn.Settings(ctx, rdb) {
		ev := log.Warn()
		if a.Risk {
			ev = log.Error().Bool("alarm", true)
		}
		ev.Str("setting", a.Setting).Str("now", a.Now).Str("want", a.Want).Msg(a.String())
	}
	clients, err := cfg.Clients()
	if err != nil {
		return err
	}
	policy := retry.DefaultPolicy()
	if cfg.MaxAttempts > 0 {
		policy.MaxAttempts = cfg.MaxAttempts
	}
	if cfg.RetryBase > 0 {
		policy.Base = cfg.RetryBase
	}
	if cfg.WalletLowDelay > 0 {
		policy.WalletLowDelay = cfg.WalletLowDelay
	}
	if err := policy.Validate(); err != nil {
		return fmt.Errorf("RETRY_MAX_ATTEMPTS: %w", err)
	}

	var monitor *Monitor
	if cfg.MonitorEnabled {
		// Refused before anything starts: no /monitor without a password.
		if monitor, err = NewMonitor(redisOpt, MonitorOptions{User: cfg.MonitorUser, Password: cfg.MonitorPassword, ReadOnly: cfg.MonitorReadOnly}); err != nil {
			return err
		}
		defer monitor.Close()
	}
	metrics := NewMetrics()
	ins := asynq.NewInspectorFromRedisClient(rdb)
	metrics.WatchQueues(ins)

	st := store.New(rdb, store.WithTTL(cfg.RecordTTL))
	rlLog := log.With().Str("component", "ratelimit").Logger().Sample(&zerolog.BurstSampler{Burst: 5, Period: 10 * time.Second})
	queue := asynq.NewClientFromRedisClient(rdb)
	proc := webhook.NewProcessor(st, queue, policy, log.With().Str("component", "webhook").Logger())
	proc.Observe = metrics.ObserveCallback
	send := &SendHandler{
		Store:  st,
		Sender: metrics.Sender(clients),
		// The fleet-wide limit: GCRA in Redis is the truth for every
		// replica, a local bucket in front saves Redis calls.
		Limiter: metrics.Limiter("sender", ratelimit.NewLayered(rdb, rate.Limit(cfg.PacedRate()),
			// The local layer may wait half of MaxWait: a second, so that
			// every handler of a worker whose WORKER_CONCURRENCY is up to
			// SEND_RATE waits its turn in memory instead of churning through
			// asynq's retry set.
			ratelimit.Burst(cfg.SendBurst), ratelimit.MaxWait(2*time.Second),
			ratelimit.OnError(func(source string, err error) {
				metrics.LimiterError("sender")
				rlLog.Warn().Err(err).Str("source", source).Msg("fleet rate limit: Redis failed, task handed back")
			}))),
		Pacer:     metrics.Pacer(ratelimit.NewPacer(rdb, cfg.RecipientInterval)),
		Breaker:   metrics.Breaker(newBreakers(cfg, rdb, log, metrics.BreakerChanged)),
		Observe:   metrics.ObserveSend,
		Note:      metrics.Note,
		Policy:    policy,
		Orphans:   proc,
		Log:       log.With().Str("component", "send").Logger(),
		Ambiguous: Ambiguity(cfg.Ambiguous),
		InFlight:  cfg.Timeout + 5*time.Second,
		DefaultApp: func(f gupshup.Family) string {
			switch f {
			case gupshup.SelfServe:
				return cfg.AppName
			case gupshup.Partner:
				return cfg.PartnerAppID
			}
			return cfg.EnterpriseUserID
		},
	}
	// Campaign counters, pause and cancel, the auto-pause, account holds.
	send.Campaigns = &Campaigns{Store: st, Log: log.With().Str("component", "campaign").Logger(), DefaultApp: send.DefaultApp,
		ProbeInterval: cfg.AccountProbeInterval, AutoPause: AutoPause{Share: cfg.AutoPauseShare, Window: cfg.AutoPauseWindow,
			Outcomes: cfg.AutoPauseOutcomes, MinOutcomes: cfg.AutoPauseMin}, Inspector: ins}
	// Before Redis closes: a wake of a released account's sends may be under way.
	defer send.Campaigns.Close()
	proc.Tracker = send.Campaigns
	consent := &ConsentHandler{Clients: clients, Policy: policy, Log: log.With().Str("component", "consent").Logger()}
	// asynq's server gets a client of its own, as asynq.NewServer would
	// make: NewServer hooks its dequeue calls.
	srvRDB := redisconn.Client(redisOpt)
	defer srvRDB.Close()
	srv, handler := NewServer(srvRDB, ServerConfig{
		Concurrency: cfg.Concurrency, ShutdownTimeout: cfg.ShutdownTimeout, Policy: policy, Log: log,
	}, send, consent)

	health := &Health{Redis: rdb}
	mux := http.NewServeMux()
	webhook.NewHandler(proc, cfg.WebhookToken, log.With().Str("component", "webhook").Logger()).Register(mux)
	health.Register(mux)
	metrics.Register(mux)
	if monitor != nil {
		monitor.Register(mux)
		log.Info().Str("path", monitor.Path()).Bool("read_only", monitor.ReadOnly()).Msg("asynq UI served behind basic auth")
	}
	if cfg.WebhookToken == "" {
		log.Warn().Msg("WEBHOOK_TOKEN is not set: the callback endpoint accepts callbacks from anyone")
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	httpSrv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(ln) }()

	pool := newHandlerPool(metrics.Tasks(handler), cfg.Concurrency)
	defer pool.close()
	if err := srv.Start(pool); err != nil {
		httpSrv.Close()
		return fmt.Errorf("start asynq server: %w", err)
	}
	log.Info().Str("http_addr", ln.Addr().String()).Int("concurrency", cfg.Concurrency).Float64("send_rate", cfg.SendRate).
		Float64("paced_rate", cfg.PacedRate()).Msg("worker started")

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		log.Error().Err(err).Msg("HTTP server stopped")
	}
	log.Info().Dur("shutdown_timeout", cfg.ShutdownTimeout).Msg("shutting down: finishing in-flight sends")
	health.Drain()
	srv.Shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn().Err(err).Msg("HTTP shutdown")
	}
	log.Info().Msg("worker stopped")
	return nil
}

// Clients builds the Gupshup clients the settings have credentials for.
func (c *Config) Clients() (*Clients, error) {
	opts := []gupshup.Option{gupshup.WithTimeout(c.Timeout)}
	cl := &Clients{Partner: map[string]*gupshup.PartnerClient{}, DefaultPartner: c.PartnerAppID}
	if c.APIKey != "" {
		o := append(opts, gupshup.WithBaseURL(c.BaseURL))
		if c.LegacyPath {
			o = append(o, gupshup.WithLegacyPaths())
		}
		cl.SelfServe = gupshup.NewSelfServe(c.APIKey, c.AppName, o...)
	}
	if c.EnterpriseUserID != "" {
		o := append(opts, gupshup.WithBaseURL(c.EnterpriseURL))
		if c.EnterpriseAESKey != "" {
			key, err := gupshup.ParseAESKey(c.EnterpriseAESKey)
			if err != nil {
				return nil, fmt.Errorf("GUPSHUP_ENTERPRISE_AES_KEY: %w", err)
			}
			o = append(o, gupshup.WithAESKey(key))
		}
		cl.Enterprise = gupshup.NewEnterprise(c.EnterpriseUserID, c.EnterprisePassword, o...)
	}
	if c.PartnerAppID != "" {
		creds := gupshup.PartnerCredentials{Email: c.PartnerEmail, Password: c.PartnerPassword, AppToken: c.PartnerAppToken}
		cl.Partner[c.PartnerAppID] = gupshup.NewPartner(c.PartnerAppID, creds, append(opts, gupshup.WithBaseURL(c.PartnerURL))...)
	}
	if cl.SelfServe == nil && cl.Enterprise == nil && len(cl.Partner) == 0 {
		return nil, errors.New("no Gupshup credentials: set GUPSHUP_API_KEY, GUPSHUP_ENTERPRISE_USERID or GUPSHUP_PARTNER_APP_ID")
	}
	return cl, nil
}
