// Browser benchmark page. ?impl=js runs the plain-JS WebSocket benchmark
// below; ?impl=NAME loads /NAME.wasm, a Go program built on
// bench/browser/wasmbench that registers goBench. Either way the driver
// calls window.bench(specJSON) and gets a Promise of the result JSON.
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
window.benchPosts = () => posts;

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
// benchCloseEvent returns when the close event of the WebSocket whose URL
// ends with suffix fired, or 0 if it has not.
window.benchCloseEvent = (suffix) => {
	for (const [url, t] of closeEvents) if (url.endsWith(suffix)) return t;
	return 0;
};

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

(async () => {
	const impl = new URLSearchParams(location.search).get("impl") || "js";
	const status = document.getElementById("status");
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
	} catch (e) {
		window.benchReady = "error: " + e;
		status.textContent = "error: " + e;
	}
})();
