import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { PerAddressLimit } from './address-limit.js';
import { requestAddress } from './request-address.js';
import type { WsFanoutMetrics, WsUpgradeDecision } from './ws-fanout.js';

export interface WsAdmissionOptions {
  /** Connected clients at most; further upgrades get 503. Default: no limit. */
  readonly maxClients?: number;
  /** Connected clients per client address at most (429 past it); 0 or unset: no limit. */
  readonly maxClientsPerAddress?: number;
  /** Reverse proxies whose `X-Forwarded-For` names the client (see `requestAddress`). */
  readonly trustedProxies?: ReadonlySet<string>;
  /** Checked after the origin: false answers 401 with `WWW-Authenticate: Bearer`. */
  readonly authorize?: (req: IncomingMessage) => boolean;
  /** Browser origins allowed to connect (403 for others); requests without `Origin` pass. */
  readonly allowedOrigins?: readonly string[];
  readonly metrics?: Pick<WsFanoutMetrics, 'upgradeRejected'>;
}

/** An upgrade that passed every check: who the client is and the application's state for it. */
export interface WsAdmitted<S> {
  readonly address: string;
  readonly state: S;
}

/**
 * The checks an upgrade request passes before its WebSocket handshake, in order: shutting down
 * (503), capacity (503), the per-address cap (429), the origin allowlist (403), the token (401),
 * then the application's `decide` (for instance 400 for an unknown stream). A refused request is
 * answered here and its socket closed. Shared by the in-process fan-out and the front of an edge
 * whose clients live in worker processes, so both refuse the same requests the same way.
 */
export class WsAdmission {
  private readonly allowedOrigins: ReadonlySet<string> | null;
  private readonly maxClients: number;
  private readonly perAddress: PerAddressLimit;
  private closed = false;

  constructor(private readonly options: WsAdmissionOptions) {
    this.maxClients = options.maxClients ?? Number.POSITIVE_INFINITY;
    this.perAddress = new PerAddressLimit(options.maxClientsPerAddress ?? 0);
    this.allowedOrigins = options.allowedOrigins?.length ? new Set(options.allowedOrigins) : null;
  }

  /** From now on every upgrade is refused with 503. */
  shutDown(): void {
    this.closed = true;
  }

  get shuttingDown(): boolean {
    return this.closed;
  }

  /**
   * Runs the checks for a request while `clients` are connected; the admitted client's address
   * and state, or null when the request was refused (and answered).
   */
  admit<S>(
    req: IncomingMessage,
    socket: Duplex,
    clients: number,
    decide: () => WsUpgradeDecision<S>,
  ): WsAdmitted<S> | null {
    if (this.closed) return this.reject(socket, 503, 'shutting_down', 'server shutting down\n');
    if (clients >= this.maxClients) {
      return this.reject(socket, 503, 'capacity', 'too many WebSocket clients\n');
    }
    const address = requestAddress(req, this.options.trustedProxies);
    if (this.perAddress.limit > 0 && this.perAddress.count(address) >= this.perAddress.limit) {
      return this.reject(
        socket,
        429,
        'per_address',
        `too many WebSocket connections from your address (at most ${this.perAddress.limit})\n`,
      );
    }
    const origin = req.headers.origin;
    if (this.allowedOrigins && origin !== undefined && !this.allowedOrigins.has(origin)) {
      return this.reject(socket, 403, 'origin', 'origin not allowed\n');
    }
    if (this.options.authorize && !this.options.authorize(req)) {
      this.options.metrics?.upgradeRejected?.('unauthorized');
      rejectUpgrade(socket, 401, 'a valid bearer token is required\n', undefined, {
        'WWW-Authenticate': 'Bearer',
      });
      return null;
    }
    const decision = decide();
    if (!decision.accept) {
      return this.reject(socket, decision.status, 'rejected', decision.body, decision.contentType);
    }
    return { address, state: decision.state };
  }

  /** Counts a connected client against its address's cap (call once its handshake is done). */
  acquire(address: string): void {
    this.perAddress.tryAcquire(address);
  }

  release(address: string): void {
    this.perAddress.release(address);
  }

  private reject(
    socket: Duplex,
    status: number,
    reason: Parameters<NonNullable<WsFanoutMetrics['upgradeRejected']>>[0],
    body: string,
    contentType = 'text/plain; charset=utf-8',
  ): null {
    this.options.metrics?.upgradeRejected?.(reason);
    rejectUpgrade(socket, status, body, contentType);
    return null;
  }
}

/** Answers an upgrade request with a plain HTTP response and closes the socket. */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  body: string,
  contentType = 'text/plain; charset=utf-8',
  headers: Readonly<Record<string, string>> = {},
): void {
  socket.on('error', () => socket.destroy());
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n${extra}` +
      `Content-Type: ${contentType}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}
