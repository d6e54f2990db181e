// wasmbrowser's page side, part 1: what wasm_exec.js expects from Node.
// fds 0-2 stay in the page: writes to 1 and 2 go to the runner's stdout and
// stderr in order, stdin is empty. Every other file operation is forwarded
// to the runner, which performs it on the host, so tests can read testdata
// and write -test.coverprofile, -test.cpuprofile and -test.gocoverdir.
"use strict";
(() => {
	const base = location.pathname.replace(/[^/]*$/, "");
	const runner = globalThis.wasmbrowser = { base, cwd: "/" };

	// Output: chunks are queued and posted one request at a time, so they
	// arrive in order; consecutive chunks for the same fd are merged.
	const queue = [];
	let pumping = null;
	const pump = async () => {
		while (queue.length > 0) {
			const [fd, first] = queue.shift();
			const parts = [first];
			let size = first.length;
			while (queue.length > 0 && queue[0][0] === fd && size < (1 << 20)) {
				const b = queue.shift()[1];
				parts.push(b);
				size += b.length;
			}
			const body = new Uint8Array(size);
			let off = 0;
			for (const p of parts) { body.set(p, off); off += p.length; }
			try {
				await fetch(base + "out?fd=" + fd, { method: "POST", body });
			} catch (e) { /* the runner is gone: nothing to tell */ }
		}
	};
	runner.emit = (fd, bytes) => {
		queue.push([fd, bytes.slice()]);
		if (pumping === null) {
			pumping = pump().finally(() => { pumping = null; });
		}
	};
	runner.flush = async () => {
		while (pumping !== null || queue.length > 0) {
			if (pumping === null) pumping = pump().finally(() => { pumping = null; });
			await pumping;
		}
	};
	const encoder = new TextEncoder();
	runner.print = (fd, s) => runner.emit(fd, encoder.encode(s));

	// The page's console goes to the runner too (a test may log through
	// syscall/js); the original console still gets it.
	for (const [name, fd] of [["log", 1], ["info", 1], ["debug", 1], ["warn", 2], ["error", 2]]) {
		const orig = console[name].bind(console);
		console[name] = (...args) => {
			runner.print(fd, args.map(a => typeof a === "string" ? a : String(a)).join(" ") + "\n");
			orig(...args);
		};
	}

	const resolve = (...segs) => {
		let p = runner.cwd;
		for (const s of segs) p = String(s).startsWith("/") ? String(s) : p + "/" + s;
		const out = [];
		for (const part of p.split("/")) {
			if (part === "" || part === ".") continue;
			if (part === "..") out.pop(); else out.push(part);
		}
		return "/" + out.join("/");
	};
	globalThis.path = { resolve };

	const mkerr = (code, message) => {
		const e = new Error(message || code);
		e.code = code;
		return e;
	};
	const withStat = st => {
		st.isDirectory = () => (st.mode & 0o170000) === 0o040000;
		return st;
	};
	// call forwards one operation to the runner: JSON arguments in, JSON
	// {result} or {error: {code, message}} out, or raw bytes for read.
	const call = (op, args, cb, opts = {}) => {
		const q = opts.query ? "?" + new URLSearchParams(opts.query) : "";
		fetch(base + "fs/" + op + q, { method: "POST", body: opts.body || JSON.stringify(args) })
			.then(async r => {
				if (opts.raw && r.ok) return { raw: new Uint8Array(await r.arrayBuffer()) };
				return r.json();
			})
			.then(j => {
				if (j.error) cb(mkerr(j.error.code, j.error.message));
				else cb(null, opts.raw ? j.raw : (opts.stat ? withStat(j.result) : j.result));
			}, e => cb(mkerr("EIO", "wasmbrowser: " + e)));
	};
	const p = path => resolve(path);
	const std = fd => fd >= 0 && fd <= 2;
	const stdStat = () => withStat({ dev: 0, ino: 0, mode: 0o020620, nlink: 1, uid: 0, gid: 0, rdev: 0, size: 0,
		blksize: 0, blocks: 0, atimeMs: 0, mtimeMs: 0, ctimeMs: 0 });

	globalThis.fs = {
		// Linux's values; the runner maps them to the host's.
		constants: { O_WRONLY: 1, O_RDWR: 2, O_CREAT: 64, O_EXCL: 128, O_TRUNC: 512, O_APPEND: 1024, O_DIRECTORY: 65536 },
		writeSync(fd, buf) { // runtime.write (println, panics)
			if (fd === 1 || fd === 2) { runner.emit(fd, buf); return buf.length; }
			throw mkerr("EBADF");
		},
		write(fd, buf, offset, length, position, cb) {
			const b = buf.subarray(offset, offset + length);
			if (fd === 1 || fd === 2) { runner.emit(fd, b); cb(null, length); return; }
			if (fd === 0) { cb(mkerr("EBADF")); return; }
			const query = { fd };
			if (position !== null && position !== undefined) query.position = position;
			call("write", null, cb, { query, body: b.slice() });
		},
		read(fd, buf, offset, length, position, cb) {
			if (std(fd)) { cb(null, 0); return; } // stdin is empty
			call("read", { fd, length, position: position ?? null }, (err, bytes) => {
				if (err) { cb(err); return; }
				buf.set(bytes, offset);
				cb(null, bytes.length);
			}, { raw: true });
		},
		open(path, flags, mode, cb) { call("open", { path: p(path), flags, mode }, cb); },
		close(fd, cb) { if (std(fd)) { cb(null); return; } call("close", { fd }, cb); },
		fstat(fd, cb) { if (std(fd)) { cb(null, stdStat()); return; } call("fstat", { fd }, cb, { stat: true }); },
		stat(path, cb) { call("stat", { path: p(path) }, cb, { stat: true }); },
		lstat(path, cb) { call("lstat", { path: p(path) }, cb, { stat: true }); },
		fsync(fd, cb) { if (std(fd)) { cb(null); return; } call("fsync", { fd }, cb); },
		readdir(path, cb) { call("readdir", { path: p(path) }, cb); },
		mkdir(path, perm, cb) { call("mkdir", { path: p(path), mode: perm }, cb); },
		rmdir(path, cb) { call("rmdir", { path: p(path) }, cb); },
		unlink(path, cb) { call("unlink", { path: p(path) }, cb); },
		rename(from, to, cb) { call("rename", { from: p(from), to: p(to) }, cb); },
		ftruncate(fd, length, cb) { call("ftruncate", { fd, length }, cb); },
		truncate(path, length, cb) { call("truncate", { path: p(path), length }, cb); },
		chmod(path, mode, cb) { call("chmod", { path: p(path), mode }, cb); },
		fchmod(fd, mode, cb) { call("fchmod", { fd, mode }, cb); },
		chown(path, uid, gid, cb) { call("chown", { path: p(path), uid, gid }, cb); },
		fchown(fd, uid, gid, cb) { call("fchown", { fd, uid, gid }, cb); },
		lchown(path, uid, gid, cb) { call("lchown", { path: p(path), uid, gid }, cb); },
		readlink(path, cb) { call("readlink", { path: p(path) }, cb); },
		symlink(path, link, cb) { call("symlink", { path, link: p(link) }, cb); },
		link(path, link, cb) { call("link", { path: p(path), link: p(link) }, cb); },
		utimes(path, atime, mtime, cb) { call("utimes", { path: p(path), atime, mtime }, cb); },
	};

	globalThis.process = {
		getuid() { return -1; }, getgid() { return -1; }, geteuid() { return -1; }, getegid() { return -1; },
		getgroups() { throw mkerr("ENOSYS"); },
		pid: -1, ppid: -1,
		umask() { throw mkerr("ENOSYS"); },
		cwd() { return runner.cwd; },
		chdir(path) { runner.cwd = resolve(path); }, // not checked: the next file operation fails instead
	};
})();
