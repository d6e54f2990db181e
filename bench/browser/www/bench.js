// Browser benchmark page. ?impl=js runs the plain-JS WebSocket benchmark
// below; ?impl=NAME loads /NAME.wasm, a Go program built on
// bench/browser/wasmbench that registers goBench. Either way
// window.bench(specJSON) returns a Promise of the result JSON.
//
// The page drives itself, so that every engine runs it the same way
// without a DevTools or WebDriver connection: loaded with ?token=T it
// POSTs to /bench/next a report
//
//	{"token": T, "impl": ..., "ready": true, ...}        once loaded
//	{"token": T, "impl": ..., "result": "<result JSON>",  after each run
//	 "posts": N, "closeEvent": wall ms or 0}
//	{"token": T, "impl": ..., "error": "..."}            when loading failed
//
// and the reply (held by the server until it has one) says what to do:
//
//	{"spec": {...}}        run it
//	{"navigate": "IMPL"}   load this page with ?impl=IMPL (a fresh page)
//	{"done": true}         stop
"use strict";

// Count the event-loop turns that dualws's shim schedules (its yields and
// its event batches) by counting postMessage on MessageChannel ports.
let posts = 0;
{
	const MC = window.MessageChannel;
	window.MessageChannel = class extends MC {
		constructor() {
			super();
			const port = this.port2, orig = port.postMessage.bind(port);
			port.postMessage = (...a) => { posts++; return orig(...a); };
		}
	};
}

// Record when the browser fires each WebSocket's close event (before any
// handler of the page or of a library runs), to split close detection into
// the browser's part and the library's.
const closeEvents = new Map(); // WebSocket URL → wall-clock ms of its close event
{
	const WS = window.WebSocket;
	window.WebSocket = class extends WS {
		constructor(...a) {
			super(...a);
			this.addEventListener("close", () => { closeEvents.set(this.url, performance.timeOrigin + performance.now()); });
		}
	};
}

const wallMs = () => performance.timeOrigin + performance.now();
const macrotask = (() => {
	const ch = new MessageChannel();
	const waiting = [];
	ch.port1.onmessage = () => waiting.shift()();
	return () => new Promise((r) => { waiting.push(r); ch.port2.postMessage(0); });
})();

// jsConn wraps a WebSocket with a promise-based receive.
function jsConn(url) {
	return new Promise((resolve, reject) => {
		const ws = new WebSocket(url);
		ws.binaryType = "arraybuffer";
		const queue = [], waiters = [];
		let closedResolve;
		const closed = new Promise((r) => { closedResolve = r; });
		ws.onmessage = (e) => {
			if (waiters.length) waiters.shift()(e.data); else queue.push(e.data);
		};
		ws.onclose = () => closedResolve(performance.now());
		ws.onerror = () => reject(new Error("WebSocket error"));
		ws.onopen = () => resolve({
			ws, closed,
			receive: () => queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiters.push(r)),
			setOnMessage: (f) => { ws.onmessage = (e) => f(e.data); },
		});
	});
}

const size = (d) => typeof d === "string" ? d.length : d.byteLength;

async function jsBench(spec) {
	const c = await jsConn(spec.url);
	const ws = c.ws;
	const res = { msgs: 0, ms: 0 };
	try {
		switch (spec.op) {
		case "recv": {
			const done = new Promise((resolve, reject) => {
				c.setOnMessage((d) => {
					if (size(d) !== spec.size) { reject(new Error("received " + size(d) + " bytes")); return; }
					if (++res.msgs === spec.n) resolve();
				});
			});
			const t0 = performance.now();
			ws.send("go");
			await done;
			res.ms = performance.now() - t0;
			break;
		}
		case "send":
		case "sendYield": {
			// sendYield applies dualws's rule to plain JS: one event-loop
			// turn whenever 1 ms has passed since the last one.
			const msg = new Uint8Array(spec.size);
			const t0 = performance.now();
			let last = t0;
			for (let i = 0; i < spec.n; i++) {
				if (spec.op === "sendYield" && performance.now() - last >= 1) {
					await macrotask();
					last = performance.now();
				}
				ws.send(msg);
				res.msgs++;
			}
			const ack = await c.receive();
			res.ms = performance.now() - t0;
			if (ack !== String(spec.n)) throw new Error("server counted " + ack + " messages, want " + spec.n);
			break;
		}
		case "closeIdle":
		case "closeBusy": {
			const lat = [];
			for (let i = 0; i < 21; i++) {
				const t = performance.now();
				ws.send(new Uint8Array([112, 105, 110, 103]));
				await c.receive();
				lat.push(performance.now() - t);
			}
			lat.sort((a, b) => a - b);
			res.rttMs = lat[10];
			const msg = new Uint8Array(32);
			const req = performance.now();
			res.reqWall = performance.timeOrigin + req;
			ws.send("close");
			res.accepted = [];
			if (spec.op === "closeBusy") {
				// Plain JS's best: check readyState before each send and
				// yield every millisecond, as dualws does.
				let last = req;
				for (;;) {
					if (performance.now() - last >= 1) {
						await macrotask();
						last = performance.now();
					}
					const t = wallMs();
					if (ws.readyState !== 1) { res.sendFailMs = performance.now() - req; break; }
					ws.send(msg);
					res.accepted.push(t);
					if (performance.now() - req > 5000) throw new Error("readyState stayed OPEN for 5 s");
				}
			}
			const closedAt = await c.closed;
			res.closedMs = closedAt - req;
			res.closedWall = performance.timeOrigin + closedAt;
			if (spec.op === "closeIdle") {
				const t = wallMs();
				if (ws.readyState === 1) { ws.send(msg); res.accepted.push(t); }
			}
			break;
		}
		default:
			throw new Error("unknown op " + spec.op);
		}
	} catch (e) {
		res.error = String(e);
	}
	if (ws.readyState < 2) ws.close(1000);
	await c.closed;
	return JSON.stringify(res);
}

// clockStep returns the smallest step of performance.now() seen in a
// short loop: the page clock's resolution in this engine (browsers coarsen
// it unless the page is cross-origin isolated).
function clockStep() {
	let step = Infinity, last = performance.now();
	const end = last + 20;
	for (let i = 0; i < 1e6; i++) {
		const t = performance.now();
		if (t !== last) { step = Math.min(step, t - last); last = t; }
		if (t > end) break;
	}
	return step === Infinity ? 0 : step;
}

// clockOffset estimates the driver's clock minus the page's clock
// (performance.timeOrigin + performance.now(), which the results use), in
// ms: the server's time from the quickest of a few round trips to
// /bench/clock, against the midpoint of that round trip. Close detection
// compares the server's close write with the page's send times.
async function clockOffset() {
	let best = Infinity, offset = 0;
	for (let i = 0; i < 20; i++) {
		const t0 = wallMs();
		const r = await fetch("/bench/clock", { cache: "no-store" });
		const server = Number(await r.text());
		const t1 = wallMs();
		if (t1 - t0 < best) { best = t1 - t0; offset = server - (t0 + t1) / 2; }
	}
	return { offset, rtt: best };
}

async function post(report) {
	const r = await fetch("/bench/next", {
		method: "POST", body: JSON.stringify(report), cache: "no-store",
		headers: { "Content-Type": "application/json" },
	});
	if (!r.ok) throw new Error("POST /bench/next: HTTP " + r.status);
	return r.json();
}

// drive reports first, then runs what the server hands out until it says
// done or navigate.
async function drive(token, impl, first) {
	let report = first;
	for (;;) {
		const next = await post(report);
		if (next.done) return;
		if (next.navigate) {
			location.replace("/index.html?" + new URLSearchParams({ impl: next.navigate, token }));
			return;
		}
		const p0 = posts;
		let result;
		try {
			result = await window.bench(JSON.stringify(next.spec));
		} catch (e) {
			result = JSON.stringify({ msgs: 0, ms: 0, error: String(e) });
		}
		let closeEvent = 0;
		for (const [url, t] of closeEvents) if (url === next.spec.url) closeEvent = t;
		report = { token, impl, result, posts: posts - p0, closeEvent };
	}
}

(async () => {
	const params = new URLSearchParams(location.search);
	const impl = params.get("impl") || "js";
	const token = params.get("token");
	const status = document.getElementById("status");
	let report = { token, impl };
	try {
		if (impl === "js") {
			window.bench = (spec) => jsBench(JSON.parse(spec));
		} else {
			const go = new Go();
			const { instance } = await WebAssembly.instantiateStreaming(fetch("/" + impl + ".wasm"), go.importObject);
			go.run(instance);
			while (!window.goBenchReady) await new Promise((r) => setTimeout(r, 10));
			window.bench = (spec) => window.goBench(spec);
		}
		window.benchReady = impl;
		status.textContent = "ready: " + impl;
		const clock = await clockOffset();
		report = { token, impl, ready: true, agent: navigator.userAgent,
			isolated: !!window.crossOriginIsolated, clockStepMs: clockStep(),
			clockOffsetMs: clock.offset, clockRttMs: clock.rtt };
	} catch (e) {
		window.benchReady = "error: " + e;
		status.textContent = "error: " + e;
		report = { token, impl, error: String(e) };
	}
	if (token) {
		try {
			await drive(token, impl, report);
		} catch (e) {
			status.textContent = "driver: " + e;
			console.error("benchmark page: " + e);
		}
	}
})();
