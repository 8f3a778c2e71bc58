/**
 * Issue 10, item 1: one anonymous client once took data-ingest from 119 MB to 1.8 GB with 150
 * StreamCandles calls of 3.2 MB each (one stream named 180 000 times), about 11 MB held per
 * call. Here the gRPC edge runs in a child process with `--expose-gc`, so its heap can be read
 * after full collections: before, while many hostile calls are open, and after they end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client, credentials, Metadata, type ServiceError, status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { MAX_STREAM_NAMES_PER_REQUEST } from './request-limits.js';

const STREAM = 'btcusdt@kline_1m';
const CALLS = 150;
const MiB = 1024 * 1024;
const identity = (b: Buffer) => b;
const fixture = fileURLToPath(new URL('../testing/grpc-edge-process.ts', import.meta.url));

let child: ChildProcess;
let lines: Interface;
let port: number;
const pending: ((line: string) => void)[] = [];

beforeAll(async () => {
  child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', fixture], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  if (!child.stdout) throw new Error('no stdout');
  lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => pending.shift()?.(line));
  const first = await new Promise<string>((resolve) => pending.push(resolve));
  port = z.object({ port: z.number() }).parse(JSON.parse(first)).port;
}, 20_000);

afterAll(async () => {
  child?.stdin?.end();
  await new Promise((resolve) => child?.once('exit', resolve));
});

async function heap(): Promise<{ heapUsed: number; openStreams: number }> {
  const reply = new Promise<string>((resolve) => pending.push(resolve));
  child.stdin?.write('heap\n');
  return z.object({ heapUsed: z.number(), openStreams: z.number() }).parse(JSON.parse(await reply));
}

/** StreamCandlesRequest { repeated string streams = 1 }, hand-encoded: `name` `times` times. */
function namesRequest(name: string, times: number): Buffer {
  const bytes = Buffer.from(name);
  const entry = Buffer.concat([Buffer.from([0x0a, bytes.length]), bytes]);
  const out = Buffer.alloc(entry.length * times);
  for (let i = 0; i < times; i++) entry.copy(out, i * entry.length);
  return out;
}

/** Opens `n` StreamCandles calls with `body`; resolves when each has streamed or been refused. */
async function open(client: Client, body: Buffer, n: number) {
  const outcomes: (number | 'streaming')[] = [];
  const calls = Array.from({ length: n }, () => {
    const call = client.makeServerStreamRequest(
      '/visualgo.v1.MarketData/StreamCandles',
      identity,
      identity,
      body,
      new Metadata(),
    );
    let settled = false;
    const settle = (o: number | 'streaming') => {
      if (!settled) outcomes.push(o);
      settled = true;
    };
    call.on('data', () => settle('streaming'));
    call.on('error', (e: ServiceError) => settle(e.code));
    return call;
  });
  const deadline = Date.now() + 60_000;
  while (outcomes.length < n) {
    if (Date.now() > deadline) throw new Error(`only ${outcomes.length} of ${n} calls answered`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return { calls, outcomes };
}

describe('memory for the asking', () => {
  it('holds no hostile request: heap stays flat with oversized and repeated-name calls open, and returns after', async () => {
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    const before = await heap();

    // The request: refused before it is decoded.
    const oversized = await open(client, namesRequest(STREAM, 180_000), CALLS);
    expect(new Set(oversized.outcomes)).toEqual(new Set([status.RESOURCE_EXHAUSTED]));
    // One name past the cap (under the size limit): refused after decoding, nothing kept.
    const tooMany = await open(client, namesRequest(STREAM, MAX_STREAM_NAMES_PER_REQUEST + 1), CALLS);
    expect(new Set(tooMany.outcomes)).toEqual(new Set([status.INVALID_ARGUMENT]));
    // The most names allowed, all the same: served, held as one name per call.
    const repeated = await open(client, namesRequest(STREAM, MAX_STREAM_NAMES_PER_REQUEST), CALLS);
    expect(new Set(repeated.outcomes)).toEqual(new Set(['streaming']));

    const during = await heap();
    expect(during.openStreams).toBe(CALLS);
    const perCallBytes = (during.heapUsed - before.heapUsed) / CALLS;
    // Each open call costs its subscription and writer, not its request (52 KiB of names, about
    // 100 KiB once decoded, before de-duplication). Before the fix: about 7.5 MiB per call.
    expect(perCallBytes).toBeLessThan(32 * 1024);

    for (const call of repeated.calls) call.cancel();
    const deadline = Date.now() + 10_000;
    let after = await heap();
    while (after.openStreams > 0 && Date.now() < deadline) after = await heap();
    expect(after.openStreams).toBe(0);
    client.close();
    expect(after.heapUsed - before.heapUsed).toBeLessThan(4 * MiB);
    console.log(
      `gRPC edge heap: ${(before.heapUsed / MiB).toFixed(1)} MiB before, ${(during.heapUsed / MiB).toFixed(1)} MiB with ${CALLS} hostile calls open (${(perCallBytes / 1024).toFixed(1)} KiB a call), ${(after.heapUsed / MiB).toFixed(1)} MiB after`,
    );
  }, 90_000);
});
