/** Entry of a data-ingest WebSocket worker process when the service runs from source (tests). */
import { runMarketWsWorker } from './market-ws-worker.js';

runMarketWsWorker();
