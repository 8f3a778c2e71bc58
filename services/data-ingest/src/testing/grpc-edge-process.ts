/**
 * Test support: data-ingest's gRPC edge alone in a child process, so a test can measure its heap
 * with garbage collection forced (`node --expose-gc --import tsx grpc-edge-process.ts`). Prints
 * `{"port":N}` once listening; then answers each `heap` line on stdin with
 * `{"heapUsed":bytes,"openStreams":n}` after two full collections.
 */
import { createInterface } from 'node:readline';
import { testCandle } from '@visualgo/testing';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { startGrpcEdge } from '../grpc/grpc-server.js';
import { FakeIngest } from './fake-ingest.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  process.stderr.write('run with --expose-gc\n');
  process.exit(2);
}
const STREAM = 'btcusdt@kline_1m';
const ingest = new FakeIngest([STREAM, 'btcusdt@trade']);
ingest.ready = true;
// An open candle, so an accepted StreamCandles call gets a first message at once.
ingest.publishCandle(STREAM, testCandle({ openTimeMs: Date.UTC(2024, 0, 1), closed: false }));
const edge = await startGrpcEdge({
  bus: ingest.bus,
  view: ingest,
  logger: pino({ level: 'silent' }),
  metrics: new Registry(),
  host: '127.0.0.1',
  port: 0,
});
edge.setServing(true);
process.stdout.write(`${JSON.stringify({ port: edge.port })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() !== 'heap') return;
  gc();
  gc();
  const heapUsed = process.memoryUsage().heapUsed;
  process.stdout.write(`${JSON.stringify({ heapUsed, openStreams: edge.openStreams })}\n`);
});
process.stdin.on('end', () => {
  void edge.close(200).then(() => process.exit(0));
});
