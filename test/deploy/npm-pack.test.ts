import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tmp } from '../support/tmp.js';
import { waitFor } from '../support/wait.js';
import { requireBuild } from '../support/proc.js';
import { CONFIG_ENV, requiredEnv, ROOT, run } from './support.js';

// What the image's install stage does (Dockerfile), on this machine: `npm pack`, then
// `npm install --omit=dev` of the tarball in an empty folder. The install compiles the native
// addons (better-sqlite3, zstd-napi) with node-gyp and fetches the production dependencies from
// the npm registry (the npm cache first): minutes, hence one test with a long timeout.
const MINUTES = 60_000;

/** npm's environment without the npm_* variables of an enclosing `npm test`. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_')));
  return { ...env, JOBS: 'max' };
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => done(port));
    });
  });
}

const yamlFiles = (dir: string): string[] =>
  readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile() && d.name.endsWith('.yaml')).map((d) => relative(dir, join(d.parentPath, d.name))).sort();

describe('the npm package', () => {
  it('packs what it needs and nothing else, installs without dev dependencies, validates every shipped config, and runs the default until healthy', async () => {
    const packDir = tmp('rrpipe-pack-');
    const appDir = tmp('rrpipe-install-');

    // The build `npm test` made is what is packed: `prepare` (clean, then build) would delete dist/
    // under the tests running beside this one. A publish runs prepare as usual.
    requireBuild();
    const pack = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', packDir], { cwd: ROOT, env: npmEnv(), timeoutMs: 10 * MINUTES });
    expect(pack.code, pack.stderr).toBe(0);
    const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
    const files = info!.files.map((f) => f.path);
    for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/rrpipe.js', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/main.js', 'plugins/sample-processor/index.js', 'plugins/sample-processor/package.json', 'web/dist/index.html', 'web/dist/app.js', 'web/dist/app.css']) {
      expect(files, f).toContain(f);
    }
    for (const c of yamlFiles(join(ROOT, 'configs'))) expect(files).toContain(`configs/${c}`);
    const unwanted = files.filter((f) => /\.test\.ts$|\.map$|^(src|test|bench|deploy|node_modules|data)\//.test(f));
    expect(unwanted).toEqual([]);
    // Every compiled file has its source: nothing stale from an earlier build is shipped.
    const stale = files.filter((f) => /^dist\/.*\.js$/.test(f) && !existsSync(join(ROOT, f.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'))));
    expect(stale).toEqual([]);

    const install = await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', join(packDir, info!.filename)], { cwd: appDir, env: npmEnv(), timeoutMs: 40 * MINUTES });
    expect(install.code, install.stderr).toBe(0);
    const pkgDir = join(appDir, 'node_modules/rrpipe');
    const bin = join(appDir, 'node_modules/.bin/rrpipe');
    expect(existsSync(bin)).toBe(true);
    // The lockfile marks what only dev dependencies pull in ("dev": true); none of it is installed.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; version?: string }> };
    const devOnly = Object.entries(lock.packages).filter(([k, v]) => v.dev && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(k)).map(([k, v]) => ({ name: k.slice('node_modules/'.length), version: v.version }));
    expect(devOnly.map((d) => d.name)).toEqual(expect.arrayContaining(['vitest', 'typescript', 'kubernetes-models', 'dockerfile-ast']));
    const installed = devOnly.filter((d) => {
      const pj = join(appDir, 'node_modules', d.name, 'package.json');
      return existsSync(pj) && JSON.parse(readFileSync(pj, 'utf8')).version === d.version;
    });
    expect(installed.map((d) => `${d.name}@${d.version}`)).toEqual([]);
    expect(existsSync(join(pkgDir, 'src'))).toBe(false);
    expect(existsSync(join(appDir, 'node_modules/better-sqlite3'))).toBe(true);

    // Every shipped config, as installed, passes `rrpipe validate` with the values it needs set.
    const configs = yamlFiles(join(pkgDir, 'configs'));
    expect(configs).toEqual(yamlFiles(join(ROOT, 'configs')));
    const missing = configs.flatMap((c) => requiredEnv(readFileSync(join(pkgDir, 'configs', c), 'utf8')).filter((v) => !(v in CONFIG_ENV)).map((v) => `${c}: ${v}`));
    expect(missing, 'add a value to CONFIG_ENV in test/deploy/support.ts').toEqual([]);
    for (let i = 0; i < configs.length; i += 3) {
      const results = await Promise.all(
        configs.slice(i, i + 3).map(async (c) => ({ c, r: await run(bin, ['validate', '-c', join(pkgDir, 'configs', c)], { cwd: appDir, env: { PATH: process.env.PATH, ...CONFIG_ENV }, timeoutMs: 5 * MINUTES }) })),
      );
      for (const { c, r } of results) {
        expect(r.stderr, c).not.toMatch(/error/i);
        expect(r.stdout, c).toContain('valid');
        expect(r.code, c).toBe(0);
      }
    }

    // The embedded default (no -c) from the installed package: healthy, then a record dropped into
    // its inbox is redacted, written to the outbox and found in the embedded store (better-sqlite3,
    // compiled by the install), then SIGTERM drains and exits 0.
    const data = join(appDir, 'data');
    const [health, metrics, query] = [await freePort(), await freePort(), await freePort()];
    const child = spawn(bin, ['run'], {
      cwd: appDir,
      env: { PATH: process.env.PATH, RRPIPE_DATA: data, RRPIPE_HEALTH_ENDPOINT: `127.0.0.1:${health}`, RRPIPE_METRICS_ADDRESS: `127.0.0.1:${metrics}`, RRPIPE_QUERY_ENDPOINT: `127.0.0.1:${query}` },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      const status = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${health}/`).catch(() => undefined);
        return r?.status === 200 ? ((await r.json()) as { pipelines?: Record<string, string> }) : undefined;
      }, { what: `health_check on ${health} (rrpipe said: ${stderr.slice(-500)})`, timeoutMs: 5 * MINUTES, intervalMs: 250 });
      expect(status.pipelines).toEqual({ logs: 'ok', 'logs/index': 'ok' });

      mkdirSync(join(data, 'inbox'), { recursive: true });
      copyFileSync(join(__dirname, 'testdata/orders.raw.jsonl'), join(data, 'inbox/orders.jsonl'));
      const page = await waitFor(async () => {
        const r = await fetch(`http://127.0.0.1:${query}/api/v1/rrpairs?start=2000-01-01T00:00:00Z&service=orders`).catch(() => undefined);
        const body = r?.ok ? ((await r.json()) as { hits?: { archive_uri?: string }[] }) : undefined;
        return body?.hits?.length === 2 ? body : undefined;
      }, { what: 'both records indexed', timeoutMs: 2 * MINUTES, intervalMs: 250 });
      expect(page.hits!.every((h: { archive_uri?: string }) => h.archive_uri?.startsWith(`file://${data}/archive/`))).toBe(true);
      const outbox = await waitFor(() => {
        const dir = join(data, 'outbox');
        const text = existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith('.')).map((f) => readFileSync(join(dir, f), 'utf8')).join('') : '';
        return text.split('\n').filter(Boolean).length === 2 ? text : undefined;
      }, { what: 'both records in the outbox', timeoutMs: 2 * MINUTES });
      expect(outbox).not.toContain('deploy-test-token');
      expect(outbox).toContain('/orders/42');
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }, 60 * MINUTES);
});
