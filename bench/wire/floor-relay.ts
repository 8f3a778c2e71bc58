/**
 * The floor: the least a Node relay can do. One upstream connection, each frame forwarded with
 * plain `ws` to every client, nothing else (no queues, no limits, no heartbeats). Run as its own
 * process; `BENCH_UPSTREAM` is the feed URL, the port it serves on is reported over IPC.
 */
import WebSocket, { WebSocketServer } from 'ws';

const upstream = new WebSocket(process.env.BENCH_UPSTREAM ?? '');
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
upstream.on('message', (data, isBinary) => {
  for (const client of wss.clients) client.send(data, { binary: isBinary });
});
upstream.on('error', (err) => {
  console.error(`floor relay: upstream ${err.message}`);
  process.exit(1);
});
wss.on('listening', () => {
  const address = wss.address();
  if (address !== null && typeof address !== 'string')
    process.send?.({ type: 'listening', port: address.port });
});
process.on('disconnect', () => process.exit(0));
// An orderly exit on SIGTERM, so `--cpu-prof` writes its profile.
process.on('SIGTERM', () => process.exit(0));
