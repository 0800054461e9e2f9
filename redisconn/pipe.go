package redisconn

import (
	"context"

	"github.com/redis/go-redis/v9"

	"github.com/waqueue/waqueue/internal/coalesce"
)

// maxPipe bounds the commands of one shared pipeline's callers.
const maxPipe = 128

// Pipe sends the commands of callers that reach Redis together in one
// pipeline: a caller alone goes at once, and the callers that arrive
// while its pipeline is in flight share the next (see package coalesce).
// Each caller's commands stay in its order and get their own replies, as
// with rdb.Pipelined; on a Cluster, go-redis splits the pipeline by node
// as it does any other. It is safe for concurrent use.
//
// It is for the calls every send makes side by side in many handlers,
// where the round trip, not the command, is the cost: a worker at full
// speed has dozens of handlers between its claim and its record.
type Pipe struct {
	rdb redis.UniversalClient
	q   *coalesce.Queue[*pipeCall]
}

type pipeCall struct {
	ctx  context.Context
	cmds []redis.Cmder
}

// NewPipe returns a Pipe on rdb.
func NewPipe(rdb redis.UniversalClient) *Pipe {
	p := &Pipe{rdb: rdb}
	p.q = coalesce.New(maxPipe, p.exec)
	return p
}

// Pipelined queues what fn adds and sends it in the next shared pipeline.
// It returns the commands and the first error among them, as
// rdb.Pipelined does; when fn fails, nothing is sent.
//
// The shared pipeline runs on no caller's context, since it serves
// others: a caller whose context ends waits for it all the same, bounded
// by the client's read and write timeouts.
func (p *Pipe) Pipelined(ctx context.Context, fn func(redis.Pipeliner) error) ([]redis.Cmder, error) {
	own := p.rdb.Pipeline()
	if err := fn(own); err != nil {
		return nil, err
	}
	cmds := own.Cmds()
	if len(cmds) == 0 {
		return nil, nil
	}
	p.q.Do(&pipeCall{ctx: ctx, cmds: cmds})
	for _, c := range cmds {
		if err := c.Err(); err != nil {
			return cmds, err
		}
	}
	return cmds, nil
}

// Eval runs script in the next shared pipeline, as script.Run would: by
// its hash, and, on a server that does not hold it yet (a restart, a
// failover), once more on its own by script.Run, which loads it.
func (p *Pipe) Eval(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	var cmd *redis.Cmd
	p.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		cmd = script.EvalSha(ctx, pipe, keys, args...)
		return nil
	})
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		return script.Run(ctx, p.rdb, keys, args...)
	}
	return cmd
}

func (p *Pipe) exec(calls []*pipeCall) {
	pipe := p.rdb.Pipeline()
	for _, c := range calls {
		pipe.BatchProcess(c.ctx, c.cmds...)
	}
	// Each command has its reply or error set; the first error is theirs.
	pipe.Exec(context.WithoutCancel(calls[0].ctx))
}
