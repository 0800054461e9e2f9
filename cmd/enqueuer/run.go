package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Exit statuses, a contract with the scripts that run the enqueuer.
const (
	exitOK       = 0
	exitRejected = 1
	exitUsage    = 2
)

// cli is what a command needs from the process, so that tests can run the
// whole program in-process.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	// stderr is shared by the logger and the rejected-row lines, which
	// are written from several goroutines.
	stderr io.Writer
	getenv func(string) string
}

type command struct {
	name    string
	summary string
	run     func(context.Context, *cli, []string) int
}

var commands = []command{
	{"campaign", "enqueue every row of a CSV or JSONL file", runCampaign},
	{"send", "enqueue one message", runSend},
	{"optin", "enqueue an opt-in of a phone number", func(ctx context.Context, c *cli, args []string) int { return runConsent(ctx, c, "optin", args) }},
	{"optout", "enqueue an opt-out of a phone number", func(ctx context.Context, c *cli, args []string) int { return runConsent(ctx, c, "optout", args) }},
	{"status", "show a campaign's counters, state, rate and time to finish", runStatus},
	{"pause", "pause a campaign: its messages wait unsent", runPause},
	{"resume", "resume a paused campaign, or release a held account", runResume},
	{"cancel", "cancel a campaign: its unsent messages are dropped", runCancel},
	{"redrive", "send a campaign's dead letters again", runRedrive},
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	c := &cli{stdin: stdin, stdout: stdout, stderr: &lockedWriter{w: stderr}, getenv: getenv}
	if len(args) == 0 {
		usage(c.stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(c.stdout)
		return exitOK
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			return cmd.run(ctx, c, args[1:])
		}
	}
	fmt.Fprintf(c.stderr, "enqueuer: unknown command %q\n\n", args[0])
	usage(c.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: enqueuer <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, cmd := range commands {
		fmt.Fprintf(w, "  %-9s %s\n", cmd.name, cmd.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'enqueuer <command> -h' for the flags of a command.")
	fmt.Fprintln(w, "Environment: REDIS_URL, GUPSHUP_SOURCE, GUPSHUP_APP_NAME, LOG_FORMAT=console.")
}

// parseFlags parses args into fs. It returns done when the command must
// stop: -h (help printed on stdout, status 0) or a flag error (status 2).
func parseFlags(c *cli, fs *flag.FlagSet, synopsis, about string, args []string) (code int, done bool) {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(c.stdout, "usage: enqueuer %s\n\n%s\n\nflags:\n", synopsis, strings.TrimSpace(about))
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		return exitOK, true
	case err != nil:
		return usageError(c, fs.Name(), "%v", err), true
	case fs.NArg() > 0:
		return usageError(c, fs.Name(), "unexpected argument %q", fs.Arg(0)), true
	}
	return 0, false
}

func usageError(c *cli, cmd, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "enqueuer %s: %s\nRun 'enqueuer %s -h' for usage.\n", cmd, fmt.Sprintf(format, args...), cmd)
	return exitUsage
}

// lockedWriter serializes writes so that log lines and row reports from
// different goroutines never interleave within a line.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
