package scenarios

// RemoteReport and RemoteReply are the JSON the harness page (wasm/harness)
// and the parity suite (e2e) exchange when the page runs the scenarios the
// serving process hands out: the page posts a RemoteReport (its token, the
// trace of the scenario it ran, if any, and its user agent) and gets the
// next RemoteReply (a scenario to run with its Config, a reload, or done).
type RemoteReport struct {
	Token string `json:"token"`
	Trace *Trace `json:"trace"`
	Agent string `json:"agent,omitempty"`
}

// RemoteReply is the serving process's answer to a RemoteReport.
type RemoteReply struct {
	Run    string `json:"run,omitempty"`
	Config Config `json:"config"`
	Reload bool   `json:"reload,omitempty"`
	Done   bool   `json:"done,omitempty"`
}
