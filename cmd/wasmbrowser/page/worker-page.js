// wasmbrowser's page in -worker mode: start the dedicated Worker that runs
// the test (worker.js). The Worker posts the test's output and exit code
// to the runner itself, as the page does in the default mode. What the
// Worker cannot report, an error that escaped it, the page writes to the
// test's stderr; if worker.js itself did not load or parse (it has not
// said "loaded"), the page also posts exit code 1. An exception that
// escapes later ends nothing, as in the default mode: the runner's
// timeouts apply.
"use strict";
(() => {
	const base = location.pathname.replace(/[^/]*$/, "");
	const stderr = s => fetch(base + "out?fd=2", { method: "POST", body: s }).catch(() => {});
	let worker;
	try {
		worker = new Worker(base + "worker.js");
	} catch (e) {
		stderr("wasmbrowser: cannot start the Worker: " + ((e && e.stack) || e) + "\n")
			.then(() => fetch(base + "exit?code=1", { method: "POST" })).catch(() => {});
		return;
	}
	let loaded = false;
	worker.addEventListener("message", e => { if (e.data === "loaded") loaded = true; });
	worker.addEventListener("error", e => {
		const where = e.filename ? " (" + e.filename + ":" + e.lineno + ")" : "";
		const told = stderr("wasmbrowser: uncaught in the Worker: " + (e.message || "an error (worker.js did not load?)") + where + "\n");
		if (!loaded) told.then(() => fetch(base + "exit?code=1", { method: "POST" })).catch(() => {});
	});
	worker.addEventListener("messageerror", () => stderr("wasmbrowser: the Worker posted a message the page cannot read\n"));
	globalThis.wasmbrowserWorker = worker; // kept reachable for the life of the page
})();
