package main

import (
	"io/fs"
	"syscall"
)

// sysStat fills the fields that only the host's stat knows; os.SameFile
// in the test compares dev and ino.
func sysStat(fi fs.FileInfo, st map[string]any) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return
	}
	st["dev"], st["ino"], st["nlink"] = s.Dev, s.Ino, s.Nlink
	st["uid"], st["gid"], st["rdev"] = s.Uid, s.Gid, s.Rdev
	st["blksize"], st["blocks"] = s.Blksize, s.Blocks
	st["atimeMs"] = s.Atim.Sec*1000 + s.Atim.Nsec/1e6
	st["ctimeMs"] = s.Ctim.Sec*1000 + s.Ctim.Nsec/1e6
}
