'use strict';
// The seed matrix's second server, written with the npm ws package instead of
// Go: it serves the same endpoints as the Go scenario server
// (testserver/server) for the seed matrix, and exposes what it observed the
// same way:
//
//   /ws/echo                   echo every data message until the client closes
//   /ws/seed before=echo|push|burst|none end=close|drop [code=1000 reason=]
//            [n=3 size=0: burst's message count, and each message's size:
//             its number padded with "x", as the Go server's BurstMessage]
//            [delay=0: milliseconds between what before does and the end]
//                              echo one message, or send "first", or send
//                              "1", "2", "3", or nothing; then close with code
//                              and reason, or drop TCP
//   GET /observed?id=X         the Observation of the connections with id=X as
//                              JSON, field names as in Go: CloseReceived,
//                              CloseCode, CloseReason, Pongs, Messages,
//                              OpenedAt (before the 101 response is written),
//                              EndedAt (after the close frame left the
//                              process, or the socket was destroyed; Unix ns),
//                              Ended ("close" or "drop")
//
// Usage: node server.js [--addr 127.0.0.1:0]
// It prints its bound address (host:port) as the first line on stdout, logs
// one line per connection to stderr with DUALWS_NODEWS_LOG=1, and exits on
// SIGINT, SIGTERM or when its stdin ends (so that it never outlives the
// process that started it with a pipe).

const http = require('http');
const { WebSocketServer } = require('ws');

const BEFORE = new Set(['echo', 'push', 'burst', 'none']);
const END = new Set(['close', 'drop']);
const BURST = 3;

// nowNS is the wall clock in Unix nanoseconds as a BigInt, with the
// resolution of performance.now() (Date.now() has only milliseconds).
// performance.timeOrigin is the wall clock when the process started: once
// the system adjusts its clock (NTP), timeOrigin + performance.now() drifts
// from the wall clock the clients read, and the seed matrix finds the
// clocks disagreeing (one CI run: 287-306 ms, a few minutes after the
// server started). The origin follows Date.now() whenever the two part by
// more than its millisecond, by the least step that brings them together,
// and a reading never goes back: recentering the origin could move it back
// by half a millisecond, and a connection's EndedAt once came before its
// OpenedAt.
const { performance } = require('perf_hooks');
let origin = performance.timeOrigin;
let lastNS = 0n;
function nowNS() {
  let ms = origin + performance.now();
  const wall = Date.now(); // truncated: the wall clock is in [wall, wall+1)
  if (ms < wall) {
    origin += wall - ms;
    ms = wall;
  } else if (ms >= wall + 1) {
    origin -= ms - (wall + 0.999);
    ms = wall + 0.999;
  }
  const whole = Math.floor(ms);
  let ns = BigInt(whole) * 1000000n + BigInt(Math.round((ms - whole) * 1e6));
  if (ns < lastNS) {
    ns = lastNS;
  }
  lastNS = ns;
  return ns;
}

const observed = new Map();
function newObservation() {
  return { CloseReceived: false, CloseCode: 0, CloseReason: '', Pongs: 0, Messages: 0, OpenedAt: 0n, EndedAt: 0n, Ended: '' };
}
function obs(id) {
  let o = observed.get(id);
  if (!o) {
    o = newObservation();
    observed.set(id, o);
  }
  return o;
}

// observationJSON encodes o like Go's encoding/json does for Observation
// (the last three fields are omitempty); the BigInts are written as
// integers.
function observationJSON(o) {
  let s = '{"CloseReceived":' + o.CloseReceived + ',"CloseCode":' + o.CloseCode +
    ',"CloseReason":' + JSON.stringify(o.CloseReason) + ',"Pongs":' + o.Pongs + ',"Messages":' + o.Messages;
  if (o.OpenedAt !== 0n) s += ',"OpenedAt":' + o.OpenedAt.toString();
  if (o.EndedAt !== 0n) s += ',"EndedAt":' + o.EndedAt.toString();
  if (o.Ended !== '') s += ',"Ended":' + JSON.stringify(o.Ended);
  return s + '}\n';
}

// burstMessage is message i of a burst: i, padded with "x" to size bytes.
function burstMessage(i, size) {
  const m = String(i);
  return m.length < size ? m + 'x'.repeat(size - m.length) : m;
}

function log(...args) {
  if (process.env.DUALWS_NODEWS_LOG) console.error('nodews:', ...args);
}

// validCloseCode mirrors the Go server: codes a close frame may carry.
function validCloseCode(c) {
  if (c === 1004 || c === 1005 || c === 1006 || c === 1015) return false;
  return (c >= 1000 && c <= 1014) || (c >= 3000 && c <= 4999);
}

// seedParams validates /ws/seed's query; it returns an error string or the
// parameters.
function seedParams(q) {
  const p = { before: q.get('before'), end: q.get('end'), code: 1000, reason: q.get('reason') || '' };
  if (!BEFORE.has(p.before)) return 'parameter before=' + JSON.stringify(p.before) + ' is not echo, push, burst or none';
  if (!END.has(p.end)) return 'parameter end=' + JSON.stringify(p.end) + ' is not close or drop';
  if (q.has('code')) {
    p.code = Number(q.get('code'));
    if (!Number.isInteger(p.code) || !validCloseCode(p.code)) return 'parameter code=' + q.get('code') + ' cannot be sent by this server';
  }
  if (Buffer.byteLength(p.reason) > 123) return 'parameter reason is longer than 123 bytes';
  p.n = q.has('n') ? Number(q.get('n')) : BURST;
  if (!Number.isInteger(p.n) || p.n < 1 || p.n > 1 << 20) return 'parameter n=' + q.get('n') + ' is not in [1, 1048576]';
  p.size = q.has('size') ? Number(q.get('size')) : 0;
  if (!Number.isInteger(p.size) || p.size < 0 || p.size > 1 << 20) return 'parameter size=' + q.get('size') + ' is not in [0, 1048576]';
  p.delay = q.has('delay') ? Number(q.get('delay')) : 0;
  if (!Number.isInteger(p.delay) || p.delay < 0 || p.delay > 10000) return 'parameter delay=' + q.get('delay') + ' is not in [0, 10000]';
  return p;
}

const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 << 20 });

// track records what the client does on ws for id.
function track(ws, id) {
  ws.on('message', () => { if (id) obs(id).Messages++; });
  ws.on('pong', () => { if (id) obs(id).Pongs++; });
  ws.on('close', (code, reason) => {
    // ws reports 1005 for a close frame without a code and 1006 for none.
    if (id && code !== 1006) {
      const o = obs(id);
      o.CloseReceived = true;
      o.CloseCode = code;
      o.CloseReason = reason.toString();
    }
    log(id, 'ended with', code);
  });
  ws.on('error', (err) => log(id, 'error', err.message));
}

function recordEnd(id, how) {
  if (id) {
    const o = obs(id);
    o.EndedAt = nowNS();
    o.Ended = how;
  }
}

// end ends ws as p.end says and records when: for a close frame, once the
// frame has left the process (written to the kernel); for a drop, right
// after the socket was destroyed (its file descriptor is closed then).
function end(ws, id, p) {
  if (p.delay > 0) {
    setTimeout(() => endNow(ws, id, p), p.delay);
    return;
  }
  endNow(ws, id, p);
}

function endNow(ws, id, p) {
  if (p.end === 'drop') {
    ws.terminate();
    recordEnd(id, 'drop');
    return;
  }
  ws.close(p.code, p.reason);
  const sock = ws._socket;
  if (!sock || sock.writableLength === 0) {
    recordEnd(id, 'close');
  } else {
    sock.once('drain', () => recordEnd(id, 'close'));
  }
}

function seed(ws, id, p) {
  switch (p.before) {
    case 'echo':
      ws.once('message', (data, isBinary) => {
        ws.send(data, { binary: isBinary }, (err) => { if (!err) end(ws, id, p); });
      });
      return;
    case 'push':
      ws.send('first', (err) => { if (!err) end(ws, id, p); });
      return;
    case 'burst':
      for (let i = 1; i <= p.n; i++) {
        ws.send(burstMessage(i, p.size), i < p.n ? undefined : (err) => { if (!err) end(ws, id, p); });
      }
      return;
    default:
      end(ws, id, p);
  }
}

const server = http.createServer((req, res) => {
  const u = new URL(req.url, 'http://x');
  if (req.method === 'GET' && u.pathname === '/observed') {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cache-Control', 'no-store');
    const id = u.searchParams.get('id');
    if (!id) {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      res.end('observed: missing id parameter\n');
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(observationJSON(observed.get(id) || newObservation()));
    return;
  }
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('not found\n');
});

function refuse(socket, status, msg) {
  socket.end('HTTP/1.1 ' + status + ' ' + http.STATUS_CODES[status] + '\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n' + msg + '\n');
}

server.on('upgrade', (req, socket, head) => {
  const u = new URL(req.url, 'http://x');
  const id = u.searchParams.get('id') || '';
  let handler;
  if (u.pathname === '/ws/echo') {
    handler = (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  } else if (u.pathname === '/ws/seed') {
    const p = seedParams(u.searchParams);
    if (typeof p === 'string') {
      refuse(socket, 400, u.pathname + ': ' + p);
      return;
    }
    handler = (ws) => seed(ws, id, p);
  } else {
    refuse(socket, 404, 'no such endpoint');
    return;
  }
  // Taken before the 101 response is written, like the Go server does.
  if (id && u.pathname === '/ws/seed') obs(id).OpenedAt = nowNS();
  wss.handleUpgrade(req, socket, head, (ws) => {
    track(ws, id);
    handler(ws);
  });
});

function shutdown() {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  // Connections that are not WebSockets yet do not hold the exit up.
  setTimeout(() => process.exit(0), 1000).unref();
}

let addr = '127.0.0.1:0';
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--addr' && i + 1 < process.argv.length) addr = process.argv[++i];
}
const colon = addr.lastIndexOf(':');
const host = addr.slice(0, colon).replace(/^\[|\]$/g, '');
server.listen(Number(addr.slice(colon + 1)), host, () => {
  const a = server.address();
  process.stdout.write((a.family === 'IPv6' ? '[' + a.address + ']' : a.address) + ':' + a.port + '\n');
});
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
