import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseRequestTarget } from './http-server.js';

/** Shortest token accepted: 16 characters of a random token are 96 bits or more. */
export const MIN_TOKEN_LENGTH = 16;

/**
 * An optional shared bearer token (RFC 6750) for services exposed beyond a private network.
 * Disabled when constructed without a token. Tokens are compared in constant time over their
 * SHA-256 digests (equal lengths whatever was presented), and the token itself is never logged
 * or echoed: only whether a request presented a valid one.
 */
export class BearerAuth {
  private readonly digest: Buffer | null;

  constructor(token: string | undefined) {
    this.digest = token ? sha256(token) : null;
  }

  get enabled(): boolean {
    return this.digest !== null;
  }

  /** Whether `presented` is the token; always true when disabled. */
  matches(presented: string | null | undefined): boolean {
    if (this.digest === null) return true;
    if (!presented) return false;
    return timingSafeEqual(sha256(presented), this.digest);
  }

  /** An `Authorization: Bearer <token>` value (an HTTP header or gRPC `authorization` metadata). */
  matchesHeader(value: string | readonly string[] | null | undefined): boolean {
    if (this.digest === null) return true;
    const header = Array.isArray(value) ? value[0] : value;
    const m = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    return this.matches(m?.[1]);
  }

  /**
   * An HTTP request or WebSocket upgrade: the `Authorization` header, or the `access_token`
   * query parameter (RFC 6750 section 2.3), since a browser cannot set headers on a WebSocket.
   */
  authorizes(req: IncomingMessage): boolean {
    if (this.digest === null) return true;
    if (req.headers.authorization !== undefined) return this.matchesHeader(req.headers.authorization);
    return this.matches(parseRequestTarget(req.url)?.searchParams.get('access_token'));
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
