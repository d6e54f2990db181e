// wasmbrowser's dedicated Worker (-worker): the same three scripts as the
// default page, loaded with importScripts instead of <script> tags. shim.js
// finds the runner from the Worker's own location (the same directory as
// the page's) and posts output and file operations to it with fetch;
// wasm_exec.js is the running Go's; run.js fetches the configuration and
// the test binary, runs it, and posts the exit code.
"use strict";
try {
	importScripts("shim.js", "wasm_exec.js", "run.js");
	postMessage("loaded"); // the page: errors from here on are run.js's to report
} catch (e) {
	// A script that did not load or parse: run.js never ran, so nobody
	// else reports the exit.
	const base = location.pathname.replace(/[^/]*$/, "");
	fetch(base + "out?fd=2", { method: "POST", body: "wasmbrowser: in the Worker: " + ((e && e.stack) || e) + "\n" })
		.catch(() => {})
		.then(() => fetch(base + "exit?code=1", { method: "POST" }))
		.catch(() => {});
}
