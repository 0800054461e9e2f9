//go:build unix

package redistest

import (
	"os"
	"syscall"
)

func killGroup(p *os.Process, sig syscall.Signal) {
	// The process leads its own group (Setpgid): -pid is that group,
	// which holds only it and the children it forked.
	if err := syscall.Kill(-p.Pid, sig); err != nil {
		p.Signal(sig)
	}
}
