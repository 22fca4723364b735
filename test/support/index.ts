// The one place tests get their helpers from: waiting, temp dirs, ports, a component Host, the
// test data, rrpipe as a child process, and every server, emulator and wire fake they run against.
export { sleep, waitFor } from './wait.js';
export { tmp, tmpDir } from './tmp.js';
export { withPipeline } from './config.js';
export { freePort } from './net.js';
export { readDeadLetters, testHost } from './host.js';
export { bigtableEmulator, haveBinary, missing, pgBin } from './backend.js';
export { allSamples, generate, loadSample, readJsonl, sampleFiles, SAMPLES_DIR } from './samples.js';
export { BIN, requireBuild, RrpipeProcess, runCli } from './proc.js';
export * from './servers.js';
export { FakeGcs, crc32c } from '../fakes/gcs/server.js';
export { FakeKusto } from '../fakes/kusto/server.js';
export { startSearchEngineFake, luceneRegex, type FakeOptions, type Flavor, type SearchEngineFake } from '../fakes/search-engine/index.js';
export { firestoreEmulator, startCosmos, startFirestore, startIdentityServer, startProcessIdentity, type CosmosServer, type IdentityServer } from './cloud-emulators.js';
export { jsonLabels, LokiFake, startLokiFake, parseLokiTime, type LokiFakeOptions } from '../fakes/loki/server.js';
export { metricCaptureExporter, metricSinks, metricsTestRegistry, trafficSamples, expectedTraffic, recordSdkMetrics, LATENCIES, EXP_VALUES, grafanaChartComponents } from './metrics.js';
export { startPrometheus, type PrometheusServer, type PromVector } from './prometheus.js';
export { DynamoProxy, startDynalite, type Dynalite, type DynamoCall } from './dynalite.js';
export { chromiumPath, launchChromium } from './browser.js';
