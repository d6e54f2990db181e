// demo.js starts demo.wasm. It is a file rather than an inline script
// because the page is served with
// Content-Security-Policy: script-src 'self' 'wasm-unsafe-eval'.
"use strict";
const go = new Go();
WebAssembly.instantiateStreaming(fetch("demo.wasm"), go.importObject)
  .then((r) => go.run(r.instance))
  .catch((e) => { document.getElementById("loading").textContent = "Could not start the demo: " + e; });
