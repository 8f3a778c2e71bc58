import { binanceCombinedFrame, binanceTradeEvent } from '@visualgo/contracts/binance';
import {
  type Clock,
  ReconnectingSocket,
  type SocketFactory,
  type SocketStatus,
} from './reconnecting-socket.js';

/** One trade for the tape. */
export interface TradeTick {
  readonly id: number;
  readonly symbol: string;
  readonly price: number;
  /** As the exchange wrote it, so the tape shows the exchange's precision. */
  readonly priceText: string;
  readonly qty: number;
  readonly qtyText: string;
  /** Trade time (exchange clock). */
  readonly timeMs: number;
  /** Event time (exchange clock): the lag reference. */
  readonly eventTimeMs: number;
  readonly receivedAtMs: number;
  /** The aggressor: `m` (buyer is maker) means the seller took liquidity. */
  readonly side: 'buy' | 'sell';
}

export interface TradeFeedOptions {
  /** data-ingest's base URL for WebSockets, `ws://host:8080`. */
  readonly wsBaseUrl: string;
  readonly symbol: string;
  readonly factory: SocketFactory;
  readonly clock?: Clock;
  readonly staleAfterMs: number;
  readonly deadAfterMs: number;
  readonly onTrade: (trade: TradeTick) => void;
  readonly onStatus?: (status: SocketStatus) => void;
}

/** Trims "67371.75000000" to "67371.75" (the exchange pads to 8 places). */
export function trimDecimal(text: string): string {
  return text.includes('.') ? text.replace(/\.?0+$/, '') : text;
}

/** Maps one `/stream` frame to a trade; null for anything else (dropped and counted by the caller). */
export function parseTradeFrame(data: string, receivedAtMs: number): TradeTick | null {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return null;
  }
  const frame = binanceCombinedFrame.safeParse(json);
  if (!frame.success) return null;
  const trade = binanceTradeEvent.safeParse(frame.data.data);
  if (!trade.success) return null;
  const t = trade.data;
  return {
    id: t.t,
    symbol: t.s,
    price: Number(t.p),
    priceText: trimDecimal(t.p),
    qty: Number(t.q),
    qtyText: trimDecimal(t.q),
    timeMs: t.T,
    eventTimeMs: t.E,
    receivedAtMs,
    side: t.m ? 'sell' : 'buy',
  };
}

/**
 * The trade tape's link to data-ingest (`/stream?streams=<symbol>@trade`, Binance's combined
 * format). A symbol switch reconnects at once with the new stream in the URL.
 */
export class TradeFeed {
  private symbol: string;
  private readonly socket: ReconnectingSocket;
  private bad = 0;

  constructor(options: TradeFeedOptions) {
    this.symbol = options.symbol;
    this.socket = new ReconnectingSocket({
      url: () =>
        `${options.wsBaseUrl}/stream?streams=${encodeURIComponent(`${this.symbol.toLowerCase()}@trade`)}`,
      factory: options.factory,
      ...(options.clock ? { clock: options.clock } : {}),
      staleAfterMs: options.staleAfterMs,
      deadAfterMs: options.deadAfterMs,
      onMessage: (data, at) => {
        const trade = parseTradeFrame(data, at);
        if (trade) options.onTrade(trade);
        else this.bad++;
      },
      ...(options.onStatus ? { onStatus: options.onStatus } : {}),
    });
  }

  get status(): SocketStatus {
    return this.socket.status;
  }

  get badFrames(): number {
    return this.bad;
  }

  start(): void {
    this.socket.start();
  }

  stop(): void {
    this.socket.stop();
  }

  setSymbol(symbol: string): void {
    if (symbol === this.symbol) return;
    this.symbol = symbol;
    this.socket.reconnectNow();
  }
}
