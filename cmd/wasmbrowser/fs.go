package main

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"syscall"
	"time"
)

// fsArgs holds the arguments of every file operation the page forwards
// (see page/shim.js); each operation reads the fields it needs.
type fsArgs struct {
	Path     string   `json:"path"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Link     string   `json:"link"`
	FD       int      `json:"fd"`
	Flags    int      `json:"flags"`
	Mode     uint32   `json:"mode"`
	Length   int64    `json:"length"`
	Position *int64   `json:"position"`
	UID      int      `json:"uid"`
	GID      int      `json:"gid"`
	Atime    *float64 `json:"atime"`
	Mtime    *float64 `json:"mtime"`
}

// The open flags of page/shim.js's fs.constants (Linux's values).
const (
	jsWRONLY    = 1
	jsRDWR      = 2
	jsCREAT     = 64
	jsEXCL      = 128
	jsTRUNC     = 512
	jsAPPEND    = 1024
	jsDIRECTORY = 65536
)

// handleFS performs one file operation for the page on the host and
// answers {"result": ...} or {"error": {"code": "ENOENT", ...}}; read
// answers the bytes read.
func (r *runner) handleFS(w http.ResponseWriter, req *http.Request) {
	op := req.PathValue("op")
	var a fsArgs
	var body []byte
	if op == "write" {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		q := req.URL.Query()
		a.FD, _ = strconv.Atoi(q.Get("fd"))
		if p := q.Get("position"); p != "" {
			pos, err := strconv.ParseInt(p, 10, 64)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			a.Position = &pos
		}
	} else if err := json.NewDecoder(req.Body).Decode(&a); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if op == "read" {
		b, err := r.read(a)
		r.logf("fs read fd=%d len=%d pos=%v: %d bytes %v", a.FD, a.Length, a.Position, len(b), err)
		if err != nil {
			writeJSON(w, map[string]any{"error": jsError(err)})
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Write(b)
		return
	}
	res, err := r.fsOp(op, a, body)
	r.logf("fs %s %+v (%d bytes): %v %v", op, a, len(body), res, err)
	if err != nil {
		writeJSON(w, map[string]any{"error": jsError(err)})
		return
	}
	writeJSON(w, map[string]any{"result": res})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func (r *runner) file(fd int) (*os.File, error) {
	r.fdMu.Lock()
	defer r.fdMu.Unlock()
	f, ok := r.fds[fd]
	if !ok {
		return nil, syscall.EBADF
	}
	return f, nil
}

func (r *runner) read(a fsArgs) ([]byte, error) {
	f, err := r.file(a.FD)
	if err != nil {
		return nil, err
	}
	if a.Length < 0 || a.Length > 64<<20 {
		return nil, syscall.EINVAL
	}
	b := make([]byte, a.Length)
	var n int
	if a.Position != nil {
		n, err = f.ReadAt(b, *a.Position)
	} else {
		n, err = f.Read(b)
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:n], err
}

func (r *runner) fsOp(op string, a fsArgs, body []byte) (any, error) {
	switch op {
	case "open":
		return r.open(a)
	case "close":
		r.fdMu.Lock()
		f, ok := r.fds[a.FD]
		delete(r.fds, a.FD)
		r.fdMu.Unlock()
		if !ok {
			return nil, syscall.EBADF
		}
		return nil, f.Close()
	case "write":
		f, err := r.file(a.FD)
		if err != nil {
			return nil, err
		}
		if a.Position != nil {
			return f.WriteAt(body, *a.Position)
		}
		return f.Write(body)
	case "fstat":
		f, err := r.file(a.FD)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			return nil, err
		}
		return jsStat(fi), nil
	case "stat", "lstat":
		stat := os.Stat
		if op == "lstat" {
			stat = os.Lstat
		}
		fi, err := stat(a.Path)
		if err != nil {
			return nil, err
		}
		return jsStat(fi), nil
	case "fsync":
		f, err := r.file(a.FD)
		if err != nil {
			return nil, err
		}
		return nil, f.Sync()
	case "readdir":
		f, err := os.Open(a.Path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		names, err := f.Readdirnames(-1)
		if names == nil {
			names = []string{}
		}
		return names, err
	case "mkdir":
		return nil, os.Mkdir(a.Path, fs.FileMode(a.Mode&0o777))
	case "rmdir":
		return nil, syscall.Rmdir(a.Path)
	case "unlink":
		return nil, syscall.Unlink(a.Path)
	case "rename":
		return nil, os.Rename(a.From, a.To)
	case "ftruncate":
		f, err := r.file(a.FD)
		if err != nil {
			return nil, err
		}
		return nil, f.Truncate(a.Length)
	case "truncate":
		return nil, os.Truncate(a.Path, a.Length)
	case "chmod":
		return nil, os.Chmod(a.Path, fs.FileMode(a.Mode&0o777))
	case "fchmod":
		f, err := r.file(a.FD)
		if err != nil {
			return nil, err
		}
		return nil, f.Chmod(fs.FileMode(a.Mode & 0o777))
	case "chown":
		return nil, os.Chown(a.Path, a.UID, a.GID)
	case "lchown":
		return nil, os.Lchown(a.Path, a.UID, a.GID)
	case "fchown":
		f, err := r.file(a.FD)
		if err != nil {
			return nil, err
		}
		return nil, f.Chown(a.UID, a.GID)
	case "readlink":
		return os.Readlink(a.Path)
	case "symlink":
		return nil, os.Symlink(a.Path, a.Link)
	case "link":
		return nil, os.Link(a.Path, a.Link)
	case "utimes":
		if a.Atime == nil || a.Mtime == nil {
			return nil, syscall.EINVAL
		}
		sec := func(f float64) time.Time { return time.Unix(0, int64(f*1e9)) }
		return nil, os.Chtimes(a.Path, sec(*a.Atime), sec(*a.Mtime))
	}
	return nil, syscall.ENOSYS
}

func (r *runner) open(a fsArgs) (int, error) {
	flags := os.O_RDONLY
	switch {
	case a.Flags&jsRDWR != 0:
		flags = os.O_RDWR
	case a.Flags&jsWRONLY != 0:
		flags = os.O_WRONLY
	}
	for _, m := range []struct{ js, host int }{{jsCREAT, os.O_CREATE}, {jsEXCL, os.O_EXCL}, {jsTRUNC, os.O_TRUNC}, {jsAPPEND, os.O_APPEND}} {
		if a.Flags&m.js != 0 {
			flags |= m.host
		}
	}
	f, err := os.OpenFile(a.Path, flags, fs.FileMode(a.Mode&0o777))
	if err != nil {
		return 0, err
	}
	if a.Flags&jsDIRECTORY != 0 {
		if fi, err := f.Stat(); err != nil || !fi.IsDir() {
			f.Close()
			return 0, &fs.PathError{Op: "open", Path: a.Path, Err: syscall.ENOTDIR}
		}
	}
	r.fdMu.Lock()
	defer r.fdMu.Unlock()
	fd := r.nextFD
	r.nextFD++
	r.fds[fd] = f
	return fd, nil
}

// closeAll closes the files the test left open.
func (r *runner) closeAll() {
	r.fdMu.Lock()
	defer r.fdMu.Unlock()
	for fd, f := range r.fds {
		f.Close()
		delete(r.fds, fd)
	}
}

// jsStat is a file's stat in the shape of Node's fs.Stats, which
// syscall/fs_js.go reads.
func jsStat(fi fs.FileInfo) map[string]any {
	m := fi.Mode()
	mode := uint32(m.Perm())
	switch {
	case m.IsDir():
		mode |= syscall.S_IFDIR
	case m&fs.ModeSymlink != 0:
		mode |= syscall.S_IFLNK
	case m&fs.ModeNamedPipe != 0:
		mode |= syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		mode |= syscall.S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		mode |= syscall.S_IFCHR
	case m&fs.ModeDevice != 0:
		mode |= syscall.S_IFBLK
	default:
		mode |= syscall.S_IFREG
	}
	if m&fs.ModeSetuid != 0 {
		mode |= syscall.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		mode |= syscall.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		mode |= syscall.S_ISVTX
	}
	mtime := fi.ModTime().UnixMilli()
	st := map[string]any{
		"dev": 0, "ino": 0, "mode": mode, "nlink": 1, "uid": 0, "gid": 0, "rdev": 0,
		"size": fi.Size(), "blksize": 4096, "blocks": (fi.Size() + 511) / 512,
		"atimeMs": mtime, "mtimeMs": mtime, "ctimeMs": mtime,
	}
	sysStat(fi, st)
	return st
}

// errnoNames are the codes syscall/fs_js.go understands (Node's names).
var errnoNames = map[syscall.Errno]string{
	syscall.EPERM: "EPERM", syscall.ENOENT: "ENOENT", syscall.EIO: "EIO", syscall.EBADF: "EBADF",
	syscall.EAGAIN: "EAGAIN", syscall.ENOMEM: "ENOMEM", syscall.EACCES: "EACCES", syscall.EBUSY: "EBUSY",
	syscall.EEXIST: "EEXIST", syscall.EXDEV: "EXDEV", syscall.ENOTDIR: "ENOTDIR", syscall.EISDIR: "EISDIR",
	syscall.EINVAL: "EINVAL", syscall.EMFILE: "EMFILE", syscall.ENFILE: "ENFILE", syscall.EFBIG: "EFBIG",
	syscall.ENOSPC: "ENOSPC", syscall.EROFS: "EROFS", syscall.EMLINK: "EMLINK", syscall.ENAMETOOLONG: "ENAMETOOLONG",
	syscall.ENOTEMPTY: "ENOTEMPTY", syscall.ELOOP: "ELOOP", syscall.ENOSYS: "ENOSYS", syscall.ESPIPE: "ESPIPE",
	syscall.ENOTSUP: "ENOTSUP",
}

// jsError turns a host error into the {code, message} the page turns into
// a Node-style error.
func jsError(err error) map[string]string {
	code := "EIO"
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if name, ok := errnoNames[errno]; ok {
			code = name
		}
	}
	return map[string]string{"code": code, "message": err.Error()}
}
