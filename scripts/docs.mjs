#!/usr/bin/env node
// npm run docs [-- --check]
//
// Writes, from the built registry (dist/, so run `npm run build` first), between markers:
// - into each component README (src/<kind>s/<type>/README.md): the stability line
//   (<!-- generated:stability start/end -->) and the configuration table from the schema
//   (<!-- generated:config start/end -->);
// - into README.md: the component table (<!-- generated:components start/end -->).
// A README without markers gets them appended (a missing README is created), so a new component
// needs nothing but its factory; move the blocks where they read best.
// --check writes nothing and exits 1 naming every README that differs from what would be written.
// Components come from the built-in registry; a plugin's README is its own.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const { builtinRegistry } = await import(join(repo, 'dist/components.js'));
const { block, componentsTable, configTable, replaceBlock, stabilityLine } = await import(join(repo, 'dist/config/reference.js'));
// --root DIR: the READMEs of another tree (the drift test checks a copy).
const rootArg = process.argv.indexOf('--root');
const root = rootArg > 0 ? resolve(process.argv[rootArg + 1]) : repo;

/** The folder of a component: its kind's folder, or (connectors that are also exporters) the exporter's. */
function folderOf(f) {
  const candidates = [`src/${f.kind}s/${f.type}`, ...(f.kind === 'connector' ? [`src/exporters/${f.type}`] : [])];
  return candidates.find((d) => existsSync(join(root, d))) ?? candidates[0];
}

const HAND_TABLE = /^\| key \| type \| default \| description \|\n(?:\|.*\n?)*/m;

/** A README without the stability markers: the line goes right under the title. */
function addStability(text, b) {
  const m = /^# .*\n/m.exec(text);
  return m ? `${text.slice(0, m.index + m[0].length)}\n${b}\n${text.slice(m.index + m[0].length)}` : `${b}\n\n${text}`;
}

/**
 * A README without the config markers: a hand-written key table (the first one under
 * "## Configuration", else the first one) is replaced, else a Configuration section is appended.
 */
function addConfig(text, b) {
  const section = text.search(/^## Configuration\s*$/m);
  let m = section >= 0 ? HAND_TABLE.exec(text.slice(section)) : null;
  let off = section;
  if (!m) [m, off] = [HAND_TABLE.exec(text), 0];
  if (m) {
    const at = off + m.index;
    return `${text.slice(0, at)}${b}\n${text.slice(at + m[0].length)}`;
  }
  return `${text.replace(/\n*$/, '\n')}\n## Configuration\n\n${b}\n`;
}

/** Every file the generator owns, with the text it should have. */
async function generate() {
  const factories = (await builtinRegistry()).list();
  const byFolder = new Map();
  for (const f of factories) {
    const d = folderOf(f);
    byFolder.set(d, [...(byFolder.get(d) ?? []), f]);
  }
  const out = new Map();
  for (const [dir, fs] of byFolder) {
    const file = join(root, dir, 'README.md');
    let text = existsSync(file) ? readFileSync(file, 'utf8') : `# ${fs[0].type} ${fs[0].kind}\n`;
    const stability = stabilityLine(fs);
    const config = configTable(fs[0].schema);
    text = replaceBlock(text, 'stability', stability) ?? addStability(text, block('stability', stability));
    text = replaceBlock(text, 'config', config) ?? addConfig(text, block('config', config));
    out.set(file, text);
  }
  const readme = join(root, 'README.md');
  const table = componentsTable(factories, (f) => folderOf(f));
  const text = readFileSync(readme, 'utf8');
  const next = replaceBlock(text, 'components', table);
  if (next === undefined) throw new Error('README.md: no <!-- generated:components start/end --> markers');
  out.set(readme, next);
  return out;
}

const check = process.argv.includes('--check');
const stale = [];
for (const [file, text] of await generate()) {
  const have = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  if (have === text) continue;
  if (check) stale.push(relative(root, file));
  else writeFileSync(file, text);
}
if (stale.length) {
  for (const f of stale) console.error(`${f}: out of date with the component's schema or factory (run npm run docs)`);
  process.exit(1);
}
if (!check) console.log('docs: component READMEs and README.md are up to date');
