import { describe, expect, it } from 'vitest';
import { allowedHostOf, type ControlRequest, refuseControlRequest } from './control-guard.js';

const ok: ControlRequest = {
  method: 'POST',
  remoteAddress: '127.0.0.1',
  host: '127.0.0.1:9100',
  origin: undefined,
  contentType: 'application/json',
};

describe('refuseControlRequest', () => {
  const loopbackOnly = allowedHostOf('0.0.0.0');

  it('serves loopback peers asking for a loopback host, without Origin or from the same loopback origin', () => {
    expect(refuseControlRequest(ok, loopbackOnly)).toBeNull();
    expect(
      refuseControlRequest({ ...ok, remoteAddress: '::1', host: '[::1]:9100' }, loopbackOnly),
    ).toBeNull();
    expect(
      refuseControlRequest({ ...ok, host: 'localhost:9100', origin: 'http://localhost:9100' }, loopbackOnly),
    ).toBeNull();
    expect(refuseControlRequest({ ...ok, method: 'GET', contentType: undefined }, loopbackOnly)).toBeNull();
  });

  it('refuses remote peers, foreign hosts, other origins and non-JSON POSTs', () => {
    expect(refuseControlRequest({ ...ok, remoteAddress: '10.1.2.3' }, loopbackOnly)?.status).toBe(403);
    for (const host of ['evil.example:9100', '127.0.0.1@evil.example', 'localhost.evil.example', undefined]) {
      expect([host, refuseControlRequest({ ...ok, host }, loopbackOnly)?.status]).toEqual([host, 403]);
    }
    for (const origin of ['http://evil.example', 'null', 'http://127.0.0.1:9101', 'file://', 'garbage']) {
      expect([origin, refuseControlRequest({ ...ok, origin }, loopbackOnly)?.status]).toEqual([origin, 403]);
    }
    for (const contentType of ['text/plain', 'application/jsonx', undefined]) {
      expect(refuseControlRequest({ ...ok, contentType }, loopbackOnly)?.status).toBe(415);
    }
  });

  it('also accepts the host the exchange is configured with, but not as an Origin', () => {
    const named = allowedHostOf('sim.internal');
    expect(refuseControlRequest({ ...ok, host: 'sim.internal:9100' }, named)).toBeNull();
    expect(refuseControlRequest({ ...ok, host: 'sim.internal:9100' }, loopbackOnly)?.status).toBe(403);
    expect(
      refuseControlRequest({ ...ok, host: 'sim.internal:9100', origin: 'http://sim.internal:9100' }, named)
        ?.status,
    ).toBe(403);
    expect(refuseControlRequest({ ...ok, host: '[fd00::5]:9100' }, allowedHostOf('fd00::5'))).toBeNull();
  });
});
