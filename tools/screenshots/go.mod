// The screenshot tool's own module: chromedp and the DevTools protocol
// types stay out of the worker's go.mod. Nothing here imports the worker.
module github.com/waqueue/waqueue/tools/screenshots

go 1.26.8

require (
	github.com/chromedp/cdproto v0.159.0
	github.com/chromedp/chromedp v0.22.1
)

require github.com/go-json-experiment/json v0.0.0-20260213210345-44df1a37e875 // indirect
