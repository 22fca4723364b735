import * as dockerignoreLib from '@balena/dockerignore';
import { DockerfileParser, type Instruction, type Label } from 'dockerfile-ast';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { PKG, ROOT } from './support.js';

// No container engine runs here (docs/container.md): the image definition is checked by parsing it.
const dockerfile = DockerfileParser.parse(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
// The package is CommonJS (module.exports = ignore); its types declare a namespace.
const ignore = ((dockerignoreLib as unknown as { default?: unknown }).default ?? dockerignoreLib) as () => { add(p: string): { ignores(p: string): boolean } };
const dockerignore = ignore().add(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));

interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}
const stages: Stage[] = [];
for (const i of dockerfile.getInstructions()) {
  if (i.getKeyword() === 'FROM') {
    const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === i.getRange().start.line)!;
    stages.push({ name: from.getBuildStage() ?? undefined, image: `${from.getImageName()}:${from.getImageTag()}`, instructions: [] });
  } else stages.at(-1)?.instructions.push(i);
}
const final = stages.at(-1)!;
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
const of = (s: Stage, keyword: string) => s.instructions.filter((i) => i.getKeyword() === keyword);
const fromFlag = (i: Instruction) => (i as unknown as { getFromFlag(): { getValue(): string } | null }).getFromFlag()?.getValue();
const initialArg = (name: string) => dockerfile.getInitialARGs().map((a) => a.getProperty()).find((p) => p?.getName() === name)?.getValue();
const stageArg = (s: Stage, name: string) => of(s, 'ARG').map((a) => args(a)[0]!.split('=')).find(([k]) => k === name)?.[1];

/** Every file under a folder, as paths relative to the repository. */
function filesUnder(path: string): string[] {
  const abs = join(ROOT, path);
  if (!statSync(abs).isDirectory()) return [path];
  return readdirSync(abs, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => relative(ROOT, join(d.parentPath, d.name)));
}

describe('Dockerfile', () => {
  it('has named build and install stages and a final stage on Node 20 slim', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'install', undefined]);
    expect(initialArg('NODE_VERSION')).toBe(PKG.engines.node.match(/\d+/)![0]);
    expect(final.image).toBe('node:${NODE_VERSION}-bookworm-slim');
  });

  it('runs as a fixed non-root uid, the one the Kubernetes manifests require', () => {
    const users = of(final, 'USER').map((u) => args(u)[0]!);
    expect(users).toHaveLength(1);
    const [uid, gid] = users[0]!.split(':').map(Number);
    expect(uid).toBeGreaterThanOrEqual(10000);
    expect(gid).toBe(uid);
    // The user exists in the image with that uid, and the base Deployment runs as it.
    expect(args(of(final, 'RUN')[0]!).join(' ')).toContain(`useradd --uid ${uid} --gid ${gid}`);
    const pod = parse(readFileSync(join(ROOT, 'deploy/kubernetes/base/deployment.yaml'), 'utf8')).spec.template.spec;
    expect(pod.securityContext.runAsUser).toBe(uid);
  });

  it('copies only paths that exist and that .dockerignore lets into the build context', () => {
    const copies = stages.flatMap((s) => of(s, 'COPY').concat(of(s, 'ADD')).map((c) => ({ s, c })));
    expect(copies.length).toBeGreaterThan(3);
    for (const { s, c } of copies) {
      const from = fromFlag(c);
      const sources = args(c).slice(0, -1);
      if (from) {
        const earlier = stages.slice(0, stages.indexOf(s)).map((x) => x.name);
        expect(earlier, `COPY --from=${from}`).toContain(from);
        continue;
      }
      for (const src of sources) {
        expect(existsSync(join(ROOT, src)), `${src} does not exist`).toBe(true);
        const files = filesUnder(src);
        expect(files.length, src).toBeGreaterThan(0);
        expect(files.filter((f) => !dockerignore.ignores(f) && !f.endsWith('.test.ts')).length, `${src} is excluded by .dockerignore`).toBeGreaterThan(0);
        expect(dockerignore.ignores(src), `${src} is excluded by .dockerignore`).toBe(false);
      }
    }
    // The context keeps out what must not reach the image or the build cache.
    for (const p of ['node_modules/x/index.js', 'dist/index.js', 'test/deploy/dockerfile.test.ts', '.git/HEAD', 'data/state/x', 'plugins/sample-processor/sample-processor.test.ts']) {
      expect(dockerignore.ignores(p), p).toBe(true);
    }
  });

  it('the final stage holds the production install only: no dev dependencies, no sources, no build tools', () => {
    const copies = of(final, 'COPY');
    expect(copies.map((c) => [fromFlag(c), ...args(c)])).toEqual([['install', '/opt/rrpipe', '/opt/rrpipe']]);
    const install = stages.find((s) => s.name === 'install')!;
    const npm = of(install, 'RUN').map((r) => args(r).join(' ')).filter((r) => /\bnpm (install|ci|i)\b/.test(r));
    expect(npm).toHaveLength(1);
    expect(npm[0]).toMatch(/npm install --omit=dev .*\/tmp\/rrpipe\.tgz/);
    // The install stage starts from the packed tarball alone (what `npm pack` ships, tested in npm-pack.test.ts).
    expect(of(install, 'COPY').map((c) => [fromFlag(c), ...args(c)])).toEqual([['build', '/pkg/rrpipe.tgz', '/tmp/rrpipe.tgz']]);
    for (const r of of(final, 'RUN').map((x) => args(x).join(' '))) {
      expect(r).not.toMatch(/\bnpm\b|\bnode-gyp\b|\bg\+\+|\bmake\b/);
    }
  });

  it('runs rrpipe on jemalloc and with gc exposed, so memory is returned after a load spike (issue 14): installed, linked where LD_PRELOAD points, decay on a background thread', () => {
    const run = args(of(final, 'RUN')[0]!).join(' ');
    expect(run).toMatch(/apt-get install [^&]*\blibjemalloc2\b/);
    const env = Object.fromEntries(of(final, 'ENV').flatMap((e) => (e as unknown as { getProperties(): { getName(): string; getValue(): string }[] }).getProperties().map((p) => [p.getName(), p.getValue()])));
    expect(env.LD_PRELOAD).toBe('/usr/local/lib/libjemalloc.so.2');
    expect(run).toMatch(new RegExp(`ln -s "\\$\\(dpkg -L libjemalloc2 [^"]*\\)" ${env.LD_PRELOAD}( |$)`));
    expect(env.MALLOC_CONF).toMatch(/(^|,)background_thread:true(,|$)/);
    expect(env.NODE_OPTIONS?.split(' ')).toContain('--expose-gc');
  });

  it('caps the young generation (issue 13): NODE_OPTIONS carries --max-semi-space-size, an option Node accepts there', () => {
    const env = Object.fromEntries(of(final, 'ENV').flatMap((e) => (e as unknown as { getProperties(): { getName(): string; getValue(): string }[] }).getProperties().map((p) => [p.getName(), p.getValue()])));
    const opts = env.NODE_OPTIONS!.split(' ');
    expect(opts).toContain('--max-semi-space-size=4');
    // Keep 1M small objects alive: the young generation grows to its cap (2 × 16 MB without the option).
    const grow = 'const keep = []; for (let i = 0; i < 1e6; i++) keep.push({ i }); process.stdout.write(String(require("v8").getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size / 1048576))';
    const r = spawnSync(process.execPath, ['-e', grow], { env: { ...process.env, NODE_OPTIONS: env.NODE_OPTIONS }, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(Number(r.stdout)).toBe(8);
  });

  it('exposes the OTel ports: OTLP gRPC and HTTP, health_check, metrics', () => {
    const ports = of(final, 'EXPOSE').flatMap((e) => args(e).map(Number));
    expect(ports.sort()).toEqual([13133, 4317, 4318, 8888].sort());
  });

  it('starts rrpipe under tini, keeps state under one data volume, and is labelled with version and source', () => {
    const entry = JSON.parse(dockerfile.getENTRYPOINTs()[0]!.getArgumentsContent()!) as string[];
    expect(entry.slice(0, 2)).toEqual(['/usr/bin/tini', '--']);
    expect(entry[2]).toBe('rrpipe');
    expect(args(of(final, 'RUN')[0]!)).toContain('tini');
    const env = Object.fromEntries(of(final, 'ENV').flatMap((e) => (e as unknown as { getProperties(): { getName(): string; getValue(): string }[] }).getProperties().map((p) => [p.getName(), p.getValue()])));
    const workdir = args(of(final, 'WORKDIR')[0]!)[0];
    expect(env.RRPIPE_DATA).toBe(workdir);
    expect(JSON.parse(args(of(final, 'VOLUME')[0]!).join(' '))).toEqual([env.RRPIPE_DATA]);
    expect(env.RRPIPE_HEALTH_ENDPOINT).toBe('0.0.0.0:13133');
    const labels = Object.fromEntries(of(final, 'LABEL').flatMap((l) => (l as Label).getProperties().map((p) => [p.getName(), p.getValue()])));
    expect(labels['org.opencontainers.image.version']).toBe('${VERSION}');
    expect(stageArg(final, 'VERSION')).toBe(PKG.version);
    expect(labels['org.opencontainers.image.source']).toBe('${SOURCE}');
    expect(labels['org.opencontainers.image.revision']).toBe('${REVISION}');
  });
});
