/** Test support for data-ingest's edges, for its own tests and the benchmarks (`@visualgo/data-ingest/testing`). */
export { FakeIngest } from './fake-ingest.js';
export { staticMetadata } from './static-metadata.js';
