// Command screenshots takes one screenshot of the asynq UI (asynqmon, as the
// worker serves it at /monitor) in headless Chromium, for docs/walkthrough.md.
// docs/screenshots.sh sets up the scene and calls it once per picture:
//
//	cd tools/screenshots && go build -o /tmp/shoot .
//	MONITOR_PASSWORD=... /tmp/shoot -url http://127.0.0.1:8080/monitor/queues/bulk?status=retry \
//	    -wait 'no attempt used' -out ../../docs/screenshots/retry.png
//
// It drives Chromium through the DevTools protocol rather than with
// --screenshot because the UI needs three things a bare --screenshot cannot
// give it: the basic auth header on every request (the password stays out
// of the URL and of the process list), its sidebar folded (a setting the UI
// keeps in localStorage), so that the task tables get the width, and a wait
// for the page to show what the picture is about, not a fixed delay.
//
// Chromium runs headless, without a sandbox (it is usually root here),
// with its background networking, component updates, sync and QUIC off,
// in a fresh profile that is removed afterwards: the only requests it
// makes are the page's own, to loopback.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "screenshots:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		pageURL  = flag.String("url", "", "page to take (required), e.g. http://127.0.0.1:8080/monitor/queues/bulk?status=retry")
		out      = flag.String("out", "", "PNG file to write (required)")
		user     = flag.String("user", "admin", "basic auth user (MONITOR_USER)")
		width    = flag.Int("width", 1280, "viewport width, CSS pixels")
		height   = flag.Int("height", 800, "viewport height, CSS pixels")
		wait     = flag.String("wait", "", "text the page must show before the picture is taken (repeat with |: all must show)")
		settle   = flag.Duration("settle", 1500*time.Millisecond, "wait after the text shows (charts animate)")
		timeout  = flag.Duration("timeout", 45*time.Second, "give up after this long")
		drawer   = flag.Bool("drawer", false, "keep the UI's sidebar open")
		chromium = flag.String("chromium", "", "browser binary (default: chromium, then chromium-browser, google-chrome)")
	)
	flag.Parse()
	if *pageURL == "" || *out == "" {
		flag.Usage()
		return errors.New("-url and -out are required")
	}
	password := os.Getenv("MONITOR_PASSWORD")
	if password == "" {
		return errors.New("MONITOR_PASSWORD is empty: the UI is behind basic auth")
	}
	u, err := url.Parse(*pageURL)
	if err != nil {
		return err
	}
	if h := u.Hostname(); h != "127.0.0.1" && h != "localhost" && h != "::1" {
		return fmt.Errorf("%s: only loopback addresses are taken", h)
	}
	exe := *chromium
	if exe == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				exe = p
				break
			}
		}
		if exe == "" {
			return errors.New("no chromium on PATH (apt-get install -y chromium), or give -chromium")
		}
	}
	profile, err := os.MkdirTemp("", "waqueue-shot-profile-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(profile)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(*width, *height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelTab := chromedp.NewContext(actx)
	defer cancelTab()
	// The first call starts the browser, which lives as long as the context
	// of that call: the timeout goes on the calls after it.
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("start %s: %w", exe, err)
	}
	ctx, cancelTimeout := context.WithTimeout(bctx, *timeout)
	defer cancelTimeout()

	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(*user+":"+password))
	root := u.Scheme + "://" + u.Host + "/"
	if i := strings.Index(u.Path, "/monitor"); i >= 0 {
		root = u.Scheme + "://" + u.Host + u.Path[:i+len("/monitor")] + "/"
	}
	settings := fmt.Sprintf(`localStorage.setItem("asynqmon:state", JSON.stringify({settings: {isDrawerOpen: %t}}))`, *drawer)
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			if _, err := cdp.Call(ctx, t, network.Enable, network.EnableParams{}); err != nil {
				return err
			}
			_, err := cdp.Call(ctx, t, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
				Headers: network.Headers{"Authorization": auth},
			})
			return err
		}),
		chromedp.EmulateViewport(int64(*width), int64(*height)),
		// The UI reads its settings from localStorage when it starts: set
		// them on its origin first, then load the page itself.
		chromedp.Navigate(root),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[chromedp.Void](settings)(ctx, t)
			if errors.Is(err, chromedp.ErrJSUndefined) {
				err = nil
			}
			return err
		}),
		chromedp.Navigate(*pageURL),
	}
	for _, text := range strings.Split(*wait, "|") {
		if text != "" {
			steps = append(steps, waitText(text, *timeout))
		}
	}
	steps = append(steps, chromedp.Sleep(*settle))
	if err := chromedp.Do(ctx, steps...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: the page did not show %q within %v", *pageURL, *wait, *timeout)
		}
		return err
	}
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, png, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "screenshots: %s (%d bytes)\n", *out, len(png))
	return nil
}

// waitText waits until the page's visible text contains text.
func waitText(text string, timeout time.Duration) chromedp.Action[chromedp.Void] {
	js := fmt.Sprintf(`document.body && document.body.innerText.includes(%q)`, text)
	poll := chromedp.Poll[bool](js, chromedp.WithPollingInterval(200*time.Millisecond), chromedp.WithPollingTimeout(timeout))
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := poll(ctx, t)
		return chromedp.Void{}, err
	}
}
