import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type SimExchange, startSimExchange } from './sim-exchange.js';

let sim: SimExchange | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

function statusLine(port: number, target: string, upgrade: boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const extra = upgrade
        ? 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'
        : 'Connection: close\r\n';
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${extra}\r\n`);
    });
    let data = '';
    socket.on('data', (chunk) => {
      data += String(chunk);
      if (data.includes('\r\n')) {
        resolve(data.slice(0, data.indexOf('\r\n')));
        socket.destroy();
      }
    });
    socket.on('error', reject);
  });
}

describe('request targets', () => {
  it('answers 400 to a target that is not a valid URL, on REST and upgrade, and keeps serving', async () => {
    sim = await startSimExchange({ port: 0, clock: 'manual', symbols: ['BTCUSDT'], historyDays: 0 });
    for (const upgrade of [false, true]) {
      expect(await statusLine(sim.port, '//[', upgrade)).toBe('HTTP/1.1 400 Bad Request');
    }
    expect((await fetch(`${sim.httpUrl}/api/v3/ping`)).status).toBe(200);
  });
});
