//go:build !linux && !js

package engine

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

func descendants(int) []int { return nil }

func alive([]int) []int { return nil }
