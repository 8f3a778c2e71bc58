import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { clientAddress } from './address-limit.js';

/**
 * The address an HTTP or WebSocket request comes from. Behind a reverse proxy (TLS termination)
 * every request arrives from the proxy, so per-address limits would turn into one global limit;
 * when the peer is one of `trustedProxies`, the client is the rightmost `X-Forwarded-For` entry
 * that is not itself a trusted proxy. The header is ignored from any other peer, since a client
 * could write anything in it.
 */
export function requestAddress(req: IncomingMessage, trustedProxies: ReadonlySet<string> = NONE): string {
  const peer = clientAddress(req.socket.remoteAddress);
  if (trustedProxies.size === 0 || !trustedProxies.has(peer)) return peer;
  const header = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? '')).split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = clientAddress(hops[i]?.trim());
    if (isIP(hop) === 0) return peer;
    if (!trustedProxies.has(hop)) return hop;
  }
  return peer;
}

const NONE: ReadonlySet<string> = new Set();
