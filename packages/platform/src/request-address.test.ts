import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { clientAddress, PerAddressLimit } from './address-limit.js';
import { requestAddress } from './request-address.js';

const req = (remoteAddress: string, forwarded?: string) =>
  ({
    socket: { remoteAddress },
    headers: forwarded === undefined ? {} : { 'x-forwarded-for': forwarded },
  }) as unknown as IncomingMessage;

describe('client addresses', () => {
  it('counts an IPv4 peer the same however the socket reports it', () => {
    expect(clientAddress('::ffff:10.0.0.7')).toBe('10.0.0.7');
    expect(clientAddress('10.0.0.7')).toBe('10.0.0.7');
    expect(clientAddress('::1')).toBe('::1');
    expect(clientAddress(undefined)).toBe('unknown');
  });

  it('ignores X-Forwarded-For unless the peer is a trusted proxy', () => {
    const trusted = new Set(['10.0.0.1']);
    expect(requestAddress(req('203.0.113.9', '198.51.100.1'), trusted)).toBe('203.0.113.9');
    expect(requestAddress(req('::ffff:10.0.0.1', '198.51.100.1'), trusted)).toBe('198.51.100.1');
    // The rightmost hop not itself a trusted proxy; anything left of it may be forged.
    expect(requestAddress(req('10.0.0.1', '1.2.3.4, 198.51.100.1, 10.0.0.1'), trusted)).toBe('198.51.100.1');
    expect(requestAddress(req('10.0.0.1', 'not-an-ip'), trusted)).toBe('10.0.0.1');
    expect(requestAddress(req('10.0.0.1'), trusted)).toBe('10.0.0.1');
  });

  it('PerAddressLimit caps each address separately and frees slots', () => {
    const limit = new PerAddressLimit(2);
    expect(limit.tryAcquire('a')).toBe(true);
    expect(limit.tryAcquire('a')).toBe(true);
    expect(limit.tryAcquire('a')).toBe(false);
    expect(limit.tryAcquire('b')).toBe(true);
    limit.release('a');
    expect(limit.count('a')).toBe(1);
    expect(limit.tryAcquire('a')).toBe(true);
    limit.release('b');
    expect(limit.addresses).toBe(1);
    const unlimited = new PerAddressLimit(0);
    for (let i = 0; i < 1_000; i++) expect(unlimited.tryAcquire('a')).toBe(true);
  });
});
