package engine

import "os/exec"

// Built for js/wasm (as `GOOS=js go test ./...` or a `go run` that inherits
// GOOS=js does), the package compiles but cannot start a browser: exec
// fails.

func setProcAttr(*exec.Cmd) {}
func descendants(int) []int { return nil }
func alive([]int) []int     { return nil }
