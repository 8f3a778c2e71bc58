/**
 * The address a client connects from, for per-address limits and logs: IPv4-mapped IPv6
 * addresses (`::ffff:10.0.0.7`, as a dual-stack socket reports IPv4 peers) become plain IPv4, so
 * one client counts as one address however the socket was opened.
 */
export function clientAddress(remote: string | undefined): string {
  if (!remote) return 'unknown';
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(remote);
  return mapped?.[1] ?? remote.toLowerCase();
}

/**
 * Counts what each client address holds (connections, streams) against a cap, so one address
 * cannot take every slot of a service-wide limit. A limit of 0 means no per-address limit.
 */
export class PerAddressLimit {
  private readonly held = new Map<string, number>();

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 0)
      throw new RangeError(`per-address limit must be >= 0, got ${limit}`);
  }

  /** Takes one slot for `address`; false (and nothing taken) when it already holds `limit`. */
  tryAcquire(address: string): boolean {
    const n = this.held.get(address) ?? 0;
    if (this.limit > 0 && n >= this.limit) return false;
    this.held.set(address, n + 1);
    return true;
  }

  release(address: string): void {
    const n = this.held.get(address) ?? 0;
    if (n <= 1) this.held.delete(address);
    else this.held.set(address, n - 1);
  }

  count(address: string): number {
    return this.held.get(address) ?? 0;
  }

  /** Addresses holding at least one slot. */
  get addresses(): number {
    return this.held.size;
  }
}
