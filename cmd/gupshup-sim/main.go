// Command gupshup-sim runs the Gupshup simulator of package gupshuptest as a
// server: every API family on one port, callbacks to a configured URL, and
// faults set per run from flags or a JSON file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/waqueue/waqueue/gupshup/gupshuptest"
)

const usageText = `gupshup-sim: a Gupshup simulator for tests, demos and benchmarks.

It serves the three Gupshup API families on one address:
  self-serve   POST /wa/api/v1/msg, /wa/api/v1/template/msg (and legacy /sm/api/v1/...),
               POST /sm/api/v1/app/opt/in|out/{app}, GET /sm/api/v1/users/{app}
  enterprise   GET|POST /GatewayAPI/rest
  partner v3   POST /partner/account/login, GET /partner/app/{id}/token/,
               POST /partner/app/{id}/v3/message, subscriptions, flows
answers accepted sends with a fresh messageId, and delivers status callbacks
(v2, v3 or enterprise DLR) to --callback-url, again when it does not answer 2xx.

Its own endpoints, for tests and benchmarks:
  GET  /_sim/sends[?destination=&family=]   every accepted send (JSON)
  GET  /_sim/rejections                     every send answered with an error
  GET  /_sim/stats                          counts per destination and per second
  POST /_sim/inbound {"from","name","text"} a user writes: opens the 24 h window
  POST /_sim/outage {"mode":"5xx|hang","duration":"30s"}; DELETE /_sim/outage
  POST /_sim/reset                          forget the record

Settings come from --config (JSON, the fields of gupshuptest.Config) and then
from flags, which win. Durations are Go durations (250ms, 30s).

Flags:
`

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gupshup-sim:", err)
		os.Exit(2)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gupshup-sim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
		fmt.Fprint(stderr, exampleText)
	}
	addr := fs.String("addr", "127.0.0.1:8089", "listen address")
	cfgPath := fs.String("config", "", "JSON file with the settings (flags override it)")
	printCfg := fs.Bool("print-config", false, "print the effective configuration as JSON and exit")

	def := gupshuptest.DefaultConfig()
	var o overrides
	fs.StringVar(&o.apiKey, "api-key", def.APIKey, "self-serve apikey the requests must carry")
	fs.StringVar(&o.app, "app", def.AppName, "self-serve app name (src.name)")
	fs.StringVar(&o.source, "source", "", "business number the sends must come from (empty: any)")
	fs.StringVar(&o.entUser, "enterprise-userid", def.EnterpriseUserID, "enterprise Gateway userid")
	fs.StringVar(&o.entPass, "enterprise-password", def.EnterprisePassword, "enterprise Gateway password")
	fs.StringVar(&o.entKey, "enterprise-aes-key", "", "hex AES-256 key: require encrdata encrypted with it")
	fs.StringVar(&o.partnerEmail, "partner-email", def.PartnerEmail, "partner login email")
	fs.StringVar(&o.partnerPass, "partner-password", def.PartnerPassword, "partner login password")
	fs.StringVar(&o.partnerApp, "partner-app-id", def.PartnerAppID, "partner app id")
	fs.DurationVar(&o.tokenTTL, "token-ttl", def.TokenTTL.Duration, "lifetime of partner and app tokens")
	fs.StringVar(&o.callbackURL, "callback-url", "", "where to POST callbacks (empty: none)")
	fs.StringVar(&o.callbackFormat, "callback-format", def.CallbackFormat, "v2, v3 or both (enterprise sends always get enterprise DLRs)")
	fs.DurationVar(&o.enqueued, "enqueued-after", def.EnqueuedAfter.Duration, "delay from accepted send to the enqueued (or early failed) event")
	fs.DurationVar(&o.sent, "sent-after", def.SentAfter.Duration, "delay to the sent (or late failed) event")
	fs.DurationVar(&o.delivered, "delivered-after", def.DeliveredAfter.Duration, "delay to the delivered event")
	fs.DurationVar(&o.read, "read-after", def.ReadAfter.Duration, "delay to the read event")
	fs.BoolVar(&o.noRead, "no-read", false, "send no read events")
	fs.IntVar(&o.cbAttempts, "callback-attempts", def.CallbackAttempts, "deliveries of one event before giving up on a receiver that does not answer 2xx")
	fs.DurationVar(&o.cbRetry, "callback-retry", def.CallbackRetry.Duration, "wait before delivering again (grows linearly per attempt)")
	fs.IntVar(&o.cbCopies, "callback-copies", def.CallbackCopies, "deliver every event this many times")
	fs.DurationVar(&o.cbJitter, "callback-jitter", 0, "spread copies and events randomly over this much time (out of order)")
	fs.IntVar(&o.cbWorkers, "callback-workers", def.CallbackWorkers, "concurrent callback POSTs")
	fs.Float64Var(&o.rate, "rate-limit", 0, "requests per second allowed per app; over it, 429 (0: unlimited)")
	fs.DurationVar(&o.latency, "latency", 0, "added to every API answer")
	fs.BoolVar(&o.sessionWindow, "session-window", false, "fail session sends to users who have not written in 24 h (1005 self-serve, 131047 partner)")
	fs.Var(&o.faults, "fault", "fault rule, repeatable: MATCH=CODE[,first=N][,http=STATUS][,family=F][,reason=TEXT]\n(MATCH is a number or a glob such as *0002; http=STATUS fails the call itself)")
	fs.Var(&o.outages, "outage", "outage window, repeatable: START+DURATION:MODE, MODE 5xx or hang (e.g. 10s+30s:5xx)")
	fs.Var(&o.templates, "template", "accepted template and its param count, repeatable: ID=N (unknown ids then fail with 4003)")

	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := def
	if *cfgPath != "" {
		var err error
		if cfg, err = gupshuptest.LoadConfig(*cfgPath); err != nil {
			return err
		}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	o.apply(&cfg, set)
	if err := cfg.Validate(); err != nil {
		return err
	}
	if *printCfg {
		return printJSON(stdout, cfg)
	}

	srv, err := gupshuptest.New(*addr, gupshuptest.WithConfig(cfg))
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "gupshup-sim listening on %s (enterprise at %s%s)\n", srv.URL, srv.URL, gupshuptest.EnterprisePath)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	srv.Close()
	return nil
}

const exampleText = `
Example:
  gupshup-sim --callback-url http://127.0.0.1:8080/webhooks/gupshup \
    --fault '*0002=1002' --fault '*0003=1003,first=2' --fault '*0500=0,http=500' \
    --rate-limit 20 --outage 60s+30s:5xx --outage 90s+10s:hang
`

// overrides are the flag values; only flags given on the command line
// replace what the config file says.
type overrides struct {
	apiKey, app, source                   string
	entUser, entPass, entKey              string
	partnerEmail, partnerPass, partnerApp string
	tokenTTL                              time.Duration
	callbackURL, callbackFormat           string
	enqueued, sent, delivered, read       time.Duration
	noRead                                bool
	cbAttempts, cbCopies, cbWorkers       int
	cbRetry, cbJitter                     time.Duration
	rate                                  float64
	latency                               time.Duration
	sessionWindow                         bool
	faults                                faultFlags
	outages                               outageFlags
	templates                             templateFlags
}

func (o *overrides) apply(c *gupshuptest.Config, set map[string]bool) {
	str := map[string]struct {
		dst *string
		v   string
	}{
		"api-key": {&c.APIKey, o.apiKey}, "app": {&c.AppName, o.app}, "source": {&c.Source, o.source},
		"enterprise-userid": {&c.EnterpriseUserID, o.entUser}, "enterprise-password": {&c.EnterprisePassword, o.entPass},
		"enterprise-aes-key": {&c.EnterpriseAESKey, o.entKey}, "partner-email": {&c.PartnerEmail, o.partnerEmail},
		"partner-password": {&c.PartnerPassword, o.partnerPass}, "partner-app-id": {&c.PartnerAppID, o.partnerApp},
		"callback-url": {&c.CallbackURL, o.callbackURL}, "callback-format": {&c.CallbackFormat, o.callbackFormat},
	}
	for name, f := range str {
		if set[name] {
			*f.dst = f.v
		}
	}
	dur := map[string]struct {
		dst *gupshuptest.Duration
		v   time.Duration
	}{
		"token-ttl": {&c.TokenTTL, o.tokenTTL}, "enqueued-after": {&c.EnqueuedAfter, o.enqueued},
		"sent-after": {&c.SentAfter, o.sent}, "delivered-after": {&c.DeliveredAfter, o.delivered},
		"read-after": {&c.ReadAfter, o.read}, "callback-retry": {&c.CallbackRetry, o.cbRetry},
		"callback-jitter": {&c.CallbackJitter, o.cbJitter}, "latency": {&c.Latency, o.latency},
	}
	for name, f := range dur {
		if set[name] {
			*f.dst = gupshuptest.D(f.v)
		}
	}
	ints := map[string]struct {
		dst *int
		v   int
	}{
		"callback-attempts": {&c.CallbackAttempts, o.cbAttempts}, "callback-copies": {&c.CallbackCopies, o.cbCopies},
		"callback-workers": {&c.CallbackWorkers, o.cbWorkers},
	}
	for name, f := range ints {
		if set[name] {
			*f.dst = f.v
		}
	}
	if set["no-read"] {
		c.NoRead = o.noRead
	}
	if set["session-window"] {
		c.EnforceSessionWindow = o.sessionWindow
	}
	if set["rate-limit"] {
		c.RateLimit = o.rate
	}
	c.Faults = append(c.Faults, o.faults...)
	c.Outages = append(c.Outages, o.outages...)
	if len(o.templates) > 0 {
		if c.Templates == nil {
			c.Templates = map[string]int{}
		}
		for k, v := range o.templates {
			c.Templates[k] = v
		}
	}
}

type faultFlags []gupshuptest.Fault

func (f *faultFlags) String() string { return "" }

// Set parses MATCH=CODE[,first=N][,http=STATUS][,family=F][,reason=TEXT].
func (f *faultFlags) Set(v string) error {
	match, rest, ok := strings.Cut(v, "=")
	if !ok || match == "" {
		return fmt.Errorf("fault %q: want MATCH=CODE[,first=N][,http=STATUS][,family=F][,reason=TEXT]", v)
	}
	parts := strings.Split(rest, ",")
	code, err := strconv.Atoi(parts[0])
	if err != nil {
		return fmt.Errorf("fault %q: code %q is not a number", v, parts[0])
	}
	r := gupshuptest.Fault{Match: match, Code: code}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(p, "=")
		switch k {
		case "first":
			r.First, err = strconv.Atoi(val)
		case "http":
			r.HTTPStatus, err = strconv.Atoi(val)
		case "family":
			r.Family = val
		case "reason":
			r.Reason = val
		default:
			return fmt.Errorf("fault %q: unknown option %q", v, k)
		}
		if err != nil {
			return fmt.Errorf("fault %q: %s=%q is not a number", v, k, val)
		}
	}
	*f = append(*f, r)
	return nil
}

type outageFlags []gupshuptest.Outage

func (o *outageFlags) String() string { return "" }

// Set parses START+DURATION:MODE.
func (o *outageFlags) Set(v string) error {
	span, mode, ok := strings.Cut(v, ":")
	start, dur, ok2 := strings.Cut(span, "+")
	if !ok || !ok2 {
		return fmt.Errorf("outage %q: want START+DURATION:MODE, e.g. 10s+30s:5xx", v)
	}
	s, err := time.ParseDuration(start)
	if err != nil {
		return fmt.Errorf("outage %q: start: %v", v, err)
	}
	d, err := time.ParseDuration(dur)
	if err != nil {
		return fmt.Errorf("outage %q: duration: %v", v, err)
	}
	*o = append(*o, gupshuptest.Outage{Start: gupshuptest.D(s), Duration: gupshuptest.D(d), Mode: mode})
	return nil
}

type templateFlags map[string]int

func (t *templateFlags) String() string { return "" }

// Set parses ID=N.
func (t *templateFlags) Set(v string) error {
	id, n, ok := strings.Cut(v, "=")
	c, err := strconv.Atoi(n)
	if !ok || id == "" || err != nil || c < 0 {
		return fmt.Errorf("template %q: want ID=PARAMCOUNT", v)
	}
	if *t == nil {
		*t = templateFlags{}
	}
	(*t)[id] = c
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
