// harness.js starts harness.wasm and wires the page's button. It is a file
// rather than an inline script because the page is served with
// Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'.
"use strict";
const go = new Go();
const status = document.getElementById("status");
WebAssembly.instantiateStreaming(fetch("harness.wasm"), go.importObject)
	.then((r) => {
		go.run(r.instance);
		status.textContent = "ready";
		document.getElementById("all").disabled = false;
	})
	.catch((e) => { status.textContent = "failed to load harness.wasm: " + e; });
document.getElementById("all").onclick = async () => {
	const out = document.getElementById("out");
	out.textContent = "";
	for (const name of dualwsNames()) {
		const t = JSON.parse(await dualwsRun(name, (location.protocol === "https:" ? "wss://" : "ws://") + location.host));
		out.textContent += JSON.stringify(t, null, 1) + "\n";
	}
};
