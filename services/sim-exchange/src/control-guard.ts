import { isIP } from 'node:net';

/**
 * Who may drive the control API. A browser page open on the same machine can send requests to
 * 127.0.0.1 (cross-site request forgery), and a DNS name rebound to 127.0.0.1 makes them look
 * same-origin to the browser (DNS rebinding). Neither can forge the peer address, but both carry
 * the page's Origin and the attacker's Host header, and a cross-site form or `fetch` without
 * CORS preflight can only send `text/plain`, `multipart/form-data` or form-encoded bodies. So a
 * request is served only when:
 *
 * - the peer is a loopback address;
 * - `Host` names a loopback address, `localhost`, or the host the exchange was configured with;
 * - `Origin` is absent (curl, tests, other services) or the same loopback origin as `Host`;
 * - a POST says `Content-Type: application/json`.
 */
export interface ControlRequest {
  readonly method: string;
  readonly remoteAddress: string | undefined;
  readonly host: string | undefined;
  readonly origin: string | undefined;
  readonly contentType: string | undefined;
}

export interface ControlRefusal {
  readonly status: 403 | 415;
  readonly error: string;
}

const LOOPBACK_PEERS = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]', '']);

function isLoopbackName(hostname: string): boolean {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/** The host names `Host` may carry: loopback ones, plus the configured bind host unless a wildcard. */
export function allowedHostOf(configuredHost: string): (hostname: string) => boolean {
  const configured = configuredHost.toLowerCase();
  const extra = WILDCARDS.has(configured) ? null : configured.includes(':') ? `[${configured}]` : configured;
  return (hostname) => isLoopbackName(hostname) || hostname === extra;
}

/** Lower-cased `host[:port]` of an authority or origin, or null when it does not parse. */
function parseHost(authority: string): URL | null {
  try {
    return new URL(`http://${authority}`);
  } catch {
    return null;
  }
}

export function refuseControlRequest(
  req: ControlRequest,
  hostAllowed: (hostname: string) => boolean,
): ControlRefusal | null {
  if (!LOOPBACK_PEERS.has(req.remoteAddress ?? '')) {
    return { status: 403, error: 'the control API answers loopback clients only' };
  }
  const host = req.host === undefined ? null : parseHost(req.host);
  const plainHost = host !== null && host.username === '' && host.pathname === '/';
  if (!host || !plainHost || !hostAllowed(host.hostname)) {
    return {
      status: 403,
      error: `the control API answers requests for a loopback host only (Host: ${req.host ?? 'missing'})`,
    };
  }
  if (req.origin !== undefined) {
    let origin: URL | null;
    try {
      origin = new URL(req.origin);
    } catch {
      origin = null;
    }
    const sameOrigin =
      origin !== null &&
      (origin.protocol === 'http:' || origin.protocol === 'https:') &&
      origin.host === host.host &&
      isLoopbackName(origin.hostname);
    if (!sameOrigin) {
      return { status: 403, error: `the control API refuses cross-origin requests (Origin: ${req.origin})` };
    }
  }
  if (req.method === 'POST') {
    const mediaType = (req.contentType ?? '').split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      return {
        status: 415,
        error: `POST requests to the control API need Content-Type: application/json (got ${req.contentType ?? 'none'})`,
      };
    }
  }
  return null;
}
