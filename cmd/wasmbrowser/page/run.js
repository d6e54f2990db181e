// wasmbrowser's page side, part 2: fetch the configuration and the test
// binary, run it, and post its exit code once its output has been sent.
"use strict";
(async () => {
	const runner = globalThis.wasmbrowser;
	const post = path => fetch(runner.base + path, { method: "POST" }).catch(() => {});
	let code = 1;
	try {
		const cfg = await (await fetch(runner.base + "config")).json();
		runner.cwd = cfg.cwd;
		// A real pid: coverage counter files are named after it, and a
		// negative one makes go test ignore them.
		process.pid = cfg.pid;
		process.ppid = cfg.ppid;
		const go = new Go();
		go.argv = cfg.argv;
		go.env = cfg.env;
		go.exit = c => { code = c; };
		const bytes = await (await fetch(runner.base + "test.wasm")).arrayBuffer();
		if (cfg.settleMs > 0) await new Promise(r => setTimeout(r, cfg.settleMs)); // the browser is still starting up
		const { instance } = await WebAssembly.instantiate(bytes, go.importObject);
		await post("started");
		await go.run(instance);
	} catch (e) {
		runner.print(2, "wasmbrowser: " + ((e && e.stack) || e) + "\n");
		code = 1;
	}
	await runner.flush();
	await post("exit?code=" + code);
})();
