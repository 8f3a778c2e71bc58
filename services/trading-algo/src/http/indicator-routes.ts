import type { IndicatorHistoryResponse } from '@visualgo/contracts';
import { parseStreamName } from '@visualgo/market';
import { HttpError, type RouteHandler, sendJson, truncateInput } from '@visualgo/platform';
import type { IndicatorSource } from '../engine/indicator-source.js';

export interface IndicatorRoutesOptions {
  readonly engine: IndicatorSource;
  /** `limit` when the request has none. */
  readonly defaultLimit: number;
  /** Largest `limit`: the history kept per stream. */
  readonly maxLimit: number;
}

/**
 * `GET /api/indicators?stream=...&limit=...&endTimeMs=...` (the newest `limit` final points opening
 * at or before `endTimeMs`, oldest first: page back with the first point's open time − 1) and
 * `GET /api/streams`.
 */
export function indicatorRoutes(options: IndicatorRoutesOptions): Record<string, RouteHandler> {
  const { engine } = options;
  const served = () => engine.streams().map((s) => s.stream);
  const bad = (message: string) => new HttpError(400, message, { error: message, streams: served() });
  return {
    '/api/indicators': async (_req, url, res) => {
      const stream = url.searchParams.get('stream');
      if (!stream) throw bad('query parameter "stream" is required, e.g. ?stream=btcusdt@kline_1m');
      if (parseStreamName(stream)?.kind !== 'kline') {
        throw bad(`"${truncateInput(stream)}" is not a kline stream name such as btcusdt@kline_1m`);
      }
      const limitParam = url.searchParams.get('limit');
      let limit = Math.min(options.defaultLimit, options.maxLimit);
      if (limitParam !== null) {
        limit = /^\d{1,9}$/.test(limitParam) ? Number(limitParam) : Number.NaN;
        if (!(limit >= 1 && limit <= options.maxLimit)) {
          throw bad(
            `query parameter "limit" must be an integer from 1 to ${options.maxLimit}, got "${truncateInput(limitParam)}"`,
          );
        }
      }
      const endParam = url.searchParams.get('endTimeMs');
      let endTimeMs: number | undefined;
      if (endParam !== null) {
        endTimeMs = /^\d{1,15}$/.test(endParam) ? Number(endParam) : Number.NaN;
        if (!Number.isSafeInteger(endTimeMs)) {
          throw bad(
            `query parameter "endTimeMs" must be a time in ms since the epoch, got "${endParam.slice(0, 40)}"`,
          );
        }
      }
      const info = engine.info(stream);
      const points = await engine.history(stream, limit, endTimeMs);
      if (!info || !points) {
        const message = `stream "${truncateInput(stream)}" is not served`;
        throw new HttpError(404, message, { error: message, streams: served() });
      }
      const body: IndicatorHistoryResponse = { ...info, points };
      sendJson(res, 200, body);
    },
    '/api/streams': (_req, _url, res) => {
      sendJson(res, 200, { streams: engine.streams() });
    },
  };
}
