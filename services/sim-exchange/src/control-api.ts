import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { refuseControlRequest } from './control-guard.js';
import { MALFORMED_KINDS, REFUSE_MODES, REST_FAULT_MODES } from './faults.js';
import { UnknownStreamError } from './ground-truth.js';
import { sendJson } from './rest-server.js';
import type { SimExchange } from './sim-exchange.js';
import type { SimLogger } from './sim-logger.js';

const filterShape = {
  ids: z.array(z.number().int()).optional(),
  stream: z.string().optional(),
};
const schemas = {
  drop: z.object({
    ...filterShape,
    closeFrame: z.boolean().optional(),
    code: z.number().int().min(1000).max(4999).optional(),
    reason: z.string().max(120).optional(),
  }),
  stall: z.object({ ...filterShape, durationMs: z.number().nonnegative().optional() }),
  filter: z.object(filterShape),
  malformed: z.object({ ...filterShape, kind: z.enum(MALFORMED_KINDS) }),
  shutdown: z.object({ ...filterShape, closeAfterMs: z.number().nonnegative().nullable().optional() }),
  refuse: z.object({
    durationMs: z.number().nonnegative().optional(),
    mode: z.enum(REFUSE_MODES).optional(),
  }),
  advance: z.object({ ms: z.number().int().nonnegative() }),
  speed: z.object({ speed: z.number().positive().max(1_000_000) }),
  restFault: z.object({
    mode: z.enum(REST_FAULT_MODES),
    count: z.number().int().positive().optional(),
    durationMs: z.number().nonnegative().optional(),
    pathPrefix: z.string().optional(),
    retryAfterSec: z.number().int().nonnegative().optional(),
  }),
};

const timeParam = z.coerce.number().int().nonnegative();
const candleQuery = z.object({
  stream: z.string(),
  startTime: timeParam.optional(),
  endTime: timeParam.optional(),
  includeOpen: z.enum(['true', 'false']).optional(),
});
const tradeQuery = z.object({
  symbol: z.string(),
  startTime: timeParam,
  endTime: timeParam.optional(),
  limit: z.coerce.number().int().positive().optional(),
});

class ControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024;

/**
 * The fault-injection and ground-truth API over HTTP, under `/sim/`. Off unless enabled; then it
 * answers loopback peers asking for a loopback host only, refuses cross-origin requests and
 * non-JSON POSTs (see `control-guard.ts`), so neither a remote host nor a web page can drive it.
 */
export class ControlApi {
  constructor(
    private readonly sim: SimExchange,
    private readonly log: SimLogger,
    private readonly hostAllowed: (hostname: string) => boolean,
  ) {}

  handle(req: IncomingMessage, res: ServerResponse): void {
    const refusal = refuseControlRequest(
      {
        method: req.method ?? 'GET',
        remoteAddress: req.socket.remoteAddress,
        host: req.headers.host,
        origin: req.headers.origin,
        contentType: req.headers['content-type'],
      },
      this.hostAllowed,
    );
    if (refusal) {
      this.log.warn({ path: req.url, error: refusal.error }, 'control request refused');
      sendJson(res, refusal.status, { error: refusal.error }, {});
      return;
    }
    readBody(req)
      .then((body) => this.route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://sim.invalid'), body))
      .then((result) => sendJson(res, 200, result, {}))
      .catch((err: unknown) => {
        if (err instanceof ControlError) {
          sendJson(res, err.status, { error: err.message }, {});
          return;
        }
        if (err instanceof UnknownStreamError) {
          sendJson(res, 404, { error: err.message }, {});
          return;
        }
        this.log.error({ err }, 'control request failed');
        sendJson(res, 500, { error: 'control request failed' }, {});
      });
  }

  private async route(method: string, url: URL, body: unknown): Promise<unknown> {
    const sim = this.sim;
    const key = `${method} ${url.pathname.replace(/\/$/, '')}`;
    switch (key) {
      case 'GET /sim/status':
        return sim.status();
      case 'GET /sim/connections':
        return { connections: sim.connections() };
      case 'POST /sim/connections/drop':
        return { dropped: sim.dropConnections(parse(schemas.drop, body)) };
      case 'POST /sim/connections/stall':
        return { stalled: sim.stallConnections(parse(schemas.stall, body)) };
      case 'POST /sim/connections/unstall':
        return { unstalled: sim.unstallConnections(parse(schemas.filter, body)) };
      case 'POST /sim/connections/malformed': {
        const { kind, ...filter } = parse(schemas.malformed, body);
        return { sent: sim.sendMalformed(kind, filter) };
      }
      case 'POST /sim/connections/server-shutdown':
        return { notified: sim.serverShutdown(parse(schemas.shutdown, body)) };
      case 'POST /sim/connections/refuse':
        await sim.refuseConnections(parse(schemas.refuse, body));
        return { refusing: sim.status().refusing };
      case 'POST /sim/connections/accept':
        await sim.acceptConnections();
        return { refusing: null };
      case 'POST /sim/market/pause':
        sim.pauseMarket();
        return { paused: true, marketTimeMs: sim.marketNowMs() };
      case 'POST /sim/market/resume':
        sim.resumeMarket();
        return { paused: false, marketTimeMs: sim.marketNowMs() };
      case 'POST /sim/clock/advance': {
        if (sim.status().clock !== 'manual') throw new ControlError(409, 'the clock is not manual');
        sim.advance(parse(schemas.advance, body).ms);
        return { marketTimeMs: sim.marketNowMs() };
      }
      case 'POST /sim/clock/jump': {
        if (sim.status().clock === 'paced') throw new ControlError(409, 'the clock is paced (SIM_SPEED=max)');
        sim.jumpClock(parse(schemas.advance, body).ms);
        return { marketTimeMs: sim.marketNowMs() };
      }
      case 'POST /sim/clock/speed': {
        if (sim.status().clock !== 'scaled') throw new ControlError(409, 'the clock is not scaled');
        sim.setSpeed(parse(schemas.speed, body).speed);
        return { speed: sim.status().speed, marketTimeMs: sim.marketNowMs() };
      }
      case 'GET /sim/rest/faults':
        return { faults: sim.status().restFaults };
      case 'POST /sim/rest/faults':
        sim.injectRestFault(parse(schemas.restFault, body));
        return { faults: sim.status().restFaults };
      case 'DELETE /sim/rest/faults':
        sim.clearRestFaults();
        return { faults: [] };
      case 'POST /sim/rest/weight/reset':
        sim.resetRequestWeight();
        return { reset: true };
      case 'GET /sim/truth/candles': {
        const q = parse(candleQuery, Object.fromEntries(url.searchParams));
        return {
          candles: sim.truth.candles(q.stream, {
            startTimeMs: q.startTime,
            endTimeMs: q.endTime,
            includeOpen: q.includeOpen === 'true',
          }),
        };
      }
      case 'GET /sim/truth/trades': {
        const q = parse(tradeQuery, Object.fromEntries(url.searchParams));
        return {
          trades: sim.truth.trades(q.symbol, {
            startTimeMs: q.startTime,
            endTimeMs: q.endTime,
            limit: q.limit,
          }),
        };
      }
      default:
        throw new ControlError(404, `no control route ${key}`);
    }
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new ControlError(400, z.prettifyError(result.error));
  return result.data;
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new ControlError(413, 'request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') {
        resolve(undefined);
        return;
      }
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ControlError(400, 'request body is not JSON'));
      }
    });
  });
}
