// bridge.js -- the WebSocket-to-TCP bridge many people write with Node:
// ws + net, binary frames, pause/resume backpressure both ways. A peer for
// wsbridge's benchmark, not a product.
//   node bridge.js LISTEN_PORT TARGET_HOST:TARGET_PORT
'use strict';
const net = require('net');
const { WebSocketServer } = require('ws');

const [port, target] = process.argv.slice(2);
const [thost, tport] = target.split(':');
const HIGH = 256 * 1024;

const wss = new WebSocketServer({ host: '127.0.0.1', port: Number(port),
  perMessageDeflate: false, maxPayload: 0, backlog: 4096 });
wss.on('listening', () => {
  console.error(`listening on 127.0.0.1:${wss.address().port}`);
});
wss.on('connection', (ws) => {
  const sock = net.connect({ host: thost, port: Number(tport) });
  sock.setNoDelay(true);
  const pending = [];
  let open = false;
  sock.on('connect', () => {
    open = true;
    for (const d of pending) sock.write(d);
    pending.length = 0;
  });
  ws.on('message', (data) => {
    if (!open) { pending.push(data); return; }
    if (!sock.write(data)) ws._socket.pause();
  });
  sock.on('drain', () => ws._socket.resume());
  sock.on('data', (data) => {
    ws.send(data, { binary: true });
    if (ws.bufferedAmount > HIGH) {
      sock.pause();
      ws._socket.once('drain', () => sock.resume());
    }
  });
  sock.on('end', () => ws.close(1000));
  sock.on('error', () => ws.close(1011));
  sock.on('close', () => ws.close(1000));
  ws.on('close', () => sock.end());
  ws.on('error', () => sock.destroy());
});
