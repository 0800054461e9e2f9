package redistest

import (
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// process is one redis-server started by this package. It runs in a
// process group of its own, so that kill also ends the child a Redis
// master forks to feed a replica, and (on Linux) it is killed if the test
// binary dies before its cleanups run.
type process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited
	err  error         // what Wait returned, valid after done

	once sync.Once
}

func spawn(bin string, args ...string) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns once the process has exited, with what Wait said.
func (p *process) wait() error {
	<-p.done
	return p.err
}

// kill ends the process and its group at once (SIGKILL), as a crash would,
// and waits for it. It is safe to call twice.
func (p *process) kill() {
	p.once.Do(func() {
		if !p.exited() {
			killGroup(p.cmd.Process, syscall.SIGKILL)
		}
	})
	p.wait()
}

// interrupt asks the process to shut down (SIGINT: Redis saves what its
// persistence settings ask for) and waits for it, killing it after 10 s.
func (p *process) interrupt() {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}
