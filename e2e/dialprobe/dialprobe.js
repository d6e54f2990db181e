// dialprobe.js starts dialprobe.wasm; a file, not an inline script, since
// the page is served with Content-Security-Policy: script-src 'self'
// 'wasm-unsafe-eval'.
"use strict";
const go = new Go();
const status = document.getElementById("status");
WebAssembly.instantiateStreaming(fetch("dialprobe.wasm"), go.importObject)
	.then((r) => { go.run(r.instance); status.textContent = "ready"; })
	.catch((e) => { status.textContent = "failed to load dialprobe.wasm: " + e; });
