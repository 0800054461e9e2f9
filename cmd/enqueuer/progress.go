package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/term"

	"github.com/waqueue/waqueue/store"
)

// stderrIsTerminal reports whether the command's stderr is a terminal,
// where campaign draws a progress bar instead of progress log lines.
// Tests replace it.
var stderrIsTerminal = func(w io.Writer) bool {
	if lw, ok := w.(*lockedWriter); ok {
		w = lw.w
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// barEvery is how often the bar is redrawn.
const barEvery = 200 * time.Millisecond

// progressBar is one line on the terminal, redrawn in place with \r: the
// share of the file read, rows, rows per second and the time left. It is
// also the stderr of everything else the command writes: a log line or a
// rejected row first clears the bar, which the next tick draws again, so
// nothing is written over.
type progressBar struct {
	mu    sync.Mutex
	w     io.Writer
	shown bool

	name  string
	size  int64 // bytes of the file; 0 when unknown (stdin)
	bytes atomic.Int64
	rows  atomic.Int64
	start time.Time
	now   func() time.Time

	stop chan struct{}
	wg   sync.WaitGroup
}

// newProgressBar draws on c's stderr; in is the file (its size gives the
// share and the time left when it is a regular file).
func newProgressBar(c *cli, name string, in io.Reader) *progressBar {
	b := &progressBar{w: c.stderr, name: name, start: time.Now(), now: time.Now, stop: make(chan struct{})}
	if f, ok := in.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			b.size = fi.Size()
		}
	}
	return b
}

// Write is the command's stderr while the bar is drawn.
func (b *progressBar) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.shown {
		io.WriteString(b.w, "\r\x1b[K")
		b.shown = false
	}
	return b.w.Write(p)
}

// reader counts the bytes read from in.
func (b *progressBar) reader(in io.Reader) io.Reader { return &countingReader{r: in, n: &b.bytes} }

// rowsOf counts the rows read from rows.
func (b *progressBar) rowsOf(rows rowReader) rowReader {
	return &countingRows{rowReader: rows, n: &b.rows}
}

// run redraws the bar until finish.
func (b *progressBar) run() {
	b.wg.Go(func() {
		t := time.NewTicker(barEvery)
		defer t.Stop()
		for {
			select {
			case <-b.stop:
				return
			case <-t.C:
				b.draw()
			}
		}
	})
}

// finish stops the bar and leaves its last state on a line of its own.
func (b *progressBar) finish() {
	if b == nil {
		return
	}
	close(b.stop)
	b.wg.Wait()
	line := b.line(b.now())
	b.mu.Lock()
	defer b.mu.Unlock()
	io.WriteString(b.w, "\r\x1b[K"+line+"\n")
	b.shown = false
}

func (b *progressBar) draw() {
	line := b.line(b.now())
	b.mu.Lock()
	defer b.mu.Unlock()
	io.WriteString(b.w, "\r\x1b[K"+line)
	b.shown = true
}

const barWidth = 24

// line renders the bar, e.g.
// "spring.csv  42% [==========>             ] 420,000 rows  95,000 rows/s  ETA 6s".
func (b *progressBar) line(now time.Time) string {
	rows := b.rows.Load()
	elapsed := now.Sub(b.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(rows) / elapsed
	}
	name := b.name
	if len(name) > 24 {
		name = "..." + name[len(name)-21:]
	}
	var sb strings.Builder
	sb.WriteString(name)
	if b.size > 0 {
		frac := min(float64(b.bytes.Load())/float64(b.size), 1)
		full := int(frac * barWidth)
		bar := strings.Repeat("=", full)
		if full < barWidth {
			bar += ">" + strings.Repeat(" ", barWidth-full-1)
		}
		fmt.Fprintf(&sb, " %3.0f%% [%s]", 100*frac, bar)
		fmt.Fprintf(&sb, " %s rows  %s rows/s", thousands(rows), thousands(int64(rate)))
		if frac > 0 && frac < 1 {
			left := time.Duration(elapsed * (1 - frac) / frac * float64(time.Second)).Round(time.Second)
			fmt.Fprintf(&sb, "  ETA %s", left)
		}
		return sb.String()
	}
	fmt.Fprintf(&sb, " %s rows  %s rows/s", thousands(rows), thousands(int64(rate)))
	return sb.String()
}

// thousands writes n with thousands separators: 1234567 -> "1,234,567".
func thousands(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return s
	}
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingRows struct {
	rowReader
	n *atomic.Int64
}

func (c *countingRows) Next() (row, error) {
	r, err := c.rowReader.Next()
	if err == nil {
		c.n.Add(1)
	}
	return r, err
}

// campaignBook is the campaign's record as the enqueuer keeps it: it
// refuses a cancelled campaign and counts what was enqueued (queued, see
// queuedCounter).
type campaignBook struct {
	rdb redis.UniversalClient
	st  *store.Store
	id  string
}

// openBook connects to the campaign's record; errors are the same as the
// producer's, which was opened first.
func openBook(ctx context.Context, c *cli, url, campaign string) (*campaignBook, error) {
	rdb, _, err := openRedis(ctx, c, url)
	if err != nil {
		return nil, err
	}
	return &campaignBook{rdb: rdb, st: store.New(rdb), id: campaign}, nil
}

func (b *campaignBook) Close() { b.rdb.Close() }

// open refuses a cancelled campaign (its messages would all be dropped),
// and warns of a paused one.
func (b *campaignBook) open(ctx context.Context, c *cli, log zerolog.Logger) (code int, ok bool) {
	ctl, err := b.st.CampaignControl(ctx, b.id)
	if err != nil {
		log.Error().Err(err).Msg("cannot read the campaign's state")
		return exitUsage, false
	}
	switch ctl.State {
	case store.CampaignCancelled:
		return usageError(c, "campaign", "campaign %s was cancelled, and cancel is final: use a new campaign id", b.id), false
	case store.CampaignPaused:
		log.Warn().Str("reason", ctl.Reason).Msg("the campaign is paused: its messages wait in the queue until enqueuer resume")
	}
	return 0, true
}

// How often a run adds what it enqueued to the campaign's queued counter:
// every queuedEvery or queuedRows rows, whichever comes first, so that
// status shows a long file's progress as it goes, in a handful of round
// trips a second at most.
const (
	queuedEvery = time.Second
	queuedRows  = 5000
)

// queuedCounter adds the rows a run enqueues to the campaign's queued
// counter as it goes, and the rest when the run ends, however it ends.
// Each row is handed to exactly one count: a count takes what is pending
// and leaves zero behind, under the lock add uses.
//
// A count Redis fails is not tried again: a failed HINCRBY may have been
// applied (a timeout on the reply), and counting it again could count
// rows twice, which the campaign's counters never do. It is logged with
// how many rows it held.
type queuedCounter struct {
	book  *campaignBook
	log   zerolog.Logger
	every time.Duration
	rows  int64

	mu      sync.Mutex
	pending int64 // enqueued, not counted yet
	counted int64
	lost    int64 // in counts Redis failed

	flushMu sync.Mutex // one count at a time: they come from the ticker and from close
	kick    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

// countQueued starts counting into the book's campaign.
func (b *campaignBook) countQueued(ctx context.Context, log zerolog.Logger) *queuedCounter {
	q := &queuedCounter{book: b, log: log, every: queuedEvery, rows: queuedRows,
		kick: make(chan struct{}, 1), stop: make(chan struct{})}
	q.start(ctx)
	return q
}

func (q *queuedCounter) start(ctx context.Context) {
	q.wg.Go(func() {
		t := time.NewTicker(q.every)
		defer t.Stop()
		for {
			select {
			case <-q.stop:
				return
			case <-t.C:
			case <-q.kick:
			}
			q.flush(ctx)
		}
	})
}

// add notes n rows enqueued; a nil counter (a dry run) ignores them.
func (q *queuedCounter) add(n int64) {
	if q == nil {
		return
	}
	q.mu.Lock()
	q.pending += n
	full := q.pending >= q.rows
	q.mu.Unlock()
	if full {
		select {
		case q.kick <- struct{}{}:
		default:
		}
	}
}

// flush counts what is pending, on a context that outlives an interrupt:
// the tasks are in the queue whatever happens to the run.
func (q *queuedCounter) flush(ctx context.Context) {
	q.flushMu.Lock()
	defer q.flushMu.Unlock()
	q.mu.Lock()
	n := q.pending
	q.pending = 0
	q.mu.Unlock()
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := q.book.st.Tally(ctx, q.book.id, store.Tally{Kind: store.TallyQueued, N: n})
	q.mu.Lock()
	defer q.mu.Unlock()
	if err != nil {
		q.lost += n
		q.log.Warn().Err(err).Int64("rows", n).Msg("campaign counter queued not updated for these rows")
		return
	}
	q.counted += n
}

// close stops the ticker and counts the rest; call it once every add is
// done. It returns the rows counted and those lost to Redis errors.
func (q *queuedCounter) close(ctx context.Context) (counted, lost int64) {
	if q == nil {
		return 0, 0
	}
	close(q.stop)
	q.wg.Wait()
	q.flush(ctx)
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.counted, q.lost
}
