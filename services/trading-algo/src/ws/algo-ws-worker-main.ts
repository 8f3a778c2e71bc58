/** Entry of a trading-algo WebSocket worker process when the service runs from source (tests). */
import { runAlgoWsWorker } from './algo-ws-worker.js';

runAlgoWsWorker();
