package main

import (
	"encoding/json"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
)

// A Gecko profile, as Firefox's profiler writes it (the "Gecko" format,
// not the front end's processed one): the parent process's threads, and
// each child process as a nested profile. Each thread has its own string,
// frame and stack tables; a table is a schema (column name → index) and
// rows. Sample times are ms since the (sub)profile's meta.startTime, which
// is Unix ms.
type geckoProfile struct {
	Meta struct {
		StartTime  float64 `json:"startTime"`
		Categories []struct {
			Name string `json:"name"`
		} `json:"categories"`
	} `json:"meta"`
	Threads   []geckoThread  `json:"threads"`
	Processes []geckoProfile `json:"processes"`
}

type geckoThread struct {
	Name        string          `json:"name"`
	ProcessType string          `json:"processType"`
	Pid         json.RawMessage `json:"pid"` // a number or a string, by version
	Samples     geckoTable      `json:"samples"`
	StackTable  geckoTable      `json:"stackTable"`
	FrameTable  geckoTable      `json:"frameTable"`
	StringTable []string        `json:"stringTable"`
}

type geckoTable struct {
	Schema map[string]int `json:"schema"`
	Data   [][]any        `json:"data"`
}

// col returns row's column name as an int, or -1 when it is absent or
// null.
func (t *geckoTable) col(row []any, name string) int {
	i, ok := t.Schema[name]
	if !ok || i >= len(row) {
		return -1
	}
	if f, ok := row[i].(float64); ok {
		return int(f)
	}
	return -1
}

func (t *geckoTable) num(row []any, name string) (float64, bool) {
	i, ok := t.Schema[name]
	if !ok || i >= len(row) {
		return 0, false
	}
	f, ok := row[i].(float64)
	return f, ok
}

func parseGecko(r io.Reader) (*geckoProfile, error) {
	var p geckoProfile
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("gecko profile: %w", err)
	}
	return &p, nil
}

// geckoThreadSummary is one thread's samples within a case.
type geckoThreadSummary struct {
	label string // "GeckoMain pid 123 (tab)"
	*profSummary
}

// busy counts the samples that are not idle.
func (s *profSummary) busy() int {
	n := 0
	for _, x := range s.samples {
		if x.group != groupIdle {
			n++
		}
	}
	return n
}

// geckoSummaries reduces the samples of each thread that keep accepts,
// taken within [fromMs, toMs] (Unix ms), to a profSummary, the busiest
// thread first. Categories come from the top-level profile (children
// use the same list).
func geckoSummaries(p *geckoProfile, keep func(*geckoThread) bool, fromMs, toMs float64) ([]geckoThreadSummary, error) {
	var cats []string
	for _, c := range p.Meta.Categories {
		cats = append(cats, c.Name)
	}
	var out []geckoThreadSummary
	var walk func(q *geckoProfile) error
	walk = func(q *geckoProfile) error {
		for i := range q.Threads {
			t := &q.Threads[i]
			if !keep(t) {
				continue
			}
			s := &profSummary{}
			if err := geckoThreadSamples(t, cats, q.Meta.StartTime, fromMs, toMs, s); err != nil {
				return fmt.Errorf("thread %s (pid %s): %w", t.Name, t.Pid, err)
			}
			out = append(out, geckoThreadSummary{fmt.Sprintf("%s pid %s (%s)", t.Name, strings.Trim(string(t.Pid), `"`), t.ProcessType), s})
		}
		for i := range q.Processes {
			if err := walk(&q.Processes[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(p); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b geckoThreadSummary) int { return b.busy() - a.busy() })
	return out, nil
}

// geckoThreadSamples appends t's samples within the window to s.
func geckoThreadSamples(t *geckoThread, cats []string, startMs, fromMs, toMs float64, s *profSummary) error {
	if _, ok := t.Samples.Schema["stack"]; !ok {
		return fmt.Errorf("samples have no stack column")
	}
	str := func(i int) string {
		if i < 0 || i >= len(t.StringTable) {
			return ""
		}
		return t.StringTable[i]
	}
	// Per frame: its name ("" for an unsymbolicated address) and category.
	type frame struct {
		name string
		cat  int
	}
	frames := make([]frame, len(t.FrameTable.Data))
	for i, row := range t.FrameTable.Data {
		loc := str(t.FrameTable.col(row, "location"))
		if strings.HasPrefix(loc, "0x") {
			loc = ""
		}
		frames[i] = frame{name: geckoFuncName(loc), cat: t.FrameTable.col(row, "category")}
	}
	type stackRow struct{ prefix, frame int }
	stacks := make([]stackRow, len(t.StackTable.Data))
	for i, row := range t.StackTable.Data {
		stacks[i] = stackRow{t.StackTable.col(row, "prefix"), t.StackTable.col(row, "frame")}
	}
	for _, row := range t.Samples.Data {
		tm, ok := t.Samples.num(row, "time")
		if !ok {
			continue
		}
		if at := startMs + tm; at < fromMs || at > toMs {
			continue
		}
		var x profSample
		cat := -1
		for st, depth := t.Samples.col(row, "stack"), 0; st >= 0 && st < len(stacks) && depth < 10000; st, depth = stacks[st].prefix, depth+1 {
			fi := stacks[st].frame
			if fi < 0 || fi >= len(frames) {
				return fmt.Errorf("stack %d names frame %d of %d", st, fi, len(frames))
			}
			f := frames[fi]
			if cat < 0 && f.cat >= 0 {
				cat = f.cat
			}
			if f.name != "" {
				if x.self == "" {
					x.self = f.name
				}
				x.stack = append(x.stack, f.name)
			}
		}
		catName := ""
		if cat >= 0 && cat < len(cats) {
			catName = cats[cat]
		}
		if x.self == "" {
			x.self = "(unnamed native code)"
		}
		x.group = geckoGroup(x.self, catName)
		s.samples = append(s.samples, x)
	}
	return nil
}

// geckoFuncName shortens a JS or wasm frame's location, "fn
// (http://host/dir/file.js:12:3)[4]", to "fn (file.js:12:3)"; other
// frames' labels are kept.
func geckoFuncName(loc string) string {
	if i := strings.LastIndex(loc, ")["); i > 0 && strings.HasSuffix(loc, "]") {
		loc = loc[:i+1]
	}
	open := strings.LastIndex(loc, " (")
	if open < 0 || !strings.HasSuffix(loc, ")") {
		return loc
	}
	where := loc[open+2 : len(loc)-1]
	if !strings.Contains(where, "://") {
		return loc
	}
	return loc[:open] + " (" + path.Base(where) + ")"
}

// geckoGroup puts a sample in a group from its innermost named function
// and the category of its innermost frame that has one.
func geckoGroup(self, cat string) string {
	switch cat {
	case "Idle":
		return groupIdle
	case "GC / CC":
		return groupGC
	}
	if open := strings.LastIndex(self, " ("); open >= 0 && strings.HasSuffix(self, ")") {
		where := self[open+2:]
		switch {
		case strings.Contains(where, ".wasm"):
			return groupWasm
		case strings.HasPrefix(where, "wasm_exec.js"):
			return groupGlue
		case strings.Contains(where, ".js") || strings.Contains(where, ".html"):
			return groupPageJS
		}
	}
	if strings.HasPrefix(self, "PWebSocket") || strings.HasPrefix(self, "WebSocket") {
		return groupDOM
	}
	switch cat {
	case "DOM", "Network":
		return groupDOM
	case "JavaScript":
		return groupJSVM
	}
	return groupOther
}

// geckoHasThread reports whether p or one of its child processes has a
// thread that keep accepts.
func geckoHasThread(p *geckoProfile, keep func(*geckoThread) bool) bool {
	for i := range p.Threads {
		if keep(&p.Threads[i]) {
			return true
		}
	}
	for i := range p.Processes {
		if geckoHasThread(&p.Processes[i], keep) {
			return true
		}
	}
	return false
}
