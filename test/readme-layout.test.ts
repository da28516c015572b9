/**
 * README's layout section matches the tree: every path it names exists, and every entry of src/,
 * every feature module and every top-level folder is named (so a new one cannot go unmentioned).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';

const readme = readFileSync('README.md', 'utf8');
const block = readme.slice(readme.indexOf('## Layout')).split('```')[1];
const lines = block.split('\n').filter((l) => l.trim());
/** Paths the block names: the first word of each unindented line; the words ending in / of indented module lines. */
const named = lines.flatMap((l) => {
  if (!l.startsWith(' ')) return [l.split(/\s+/)[0]];
  if (l.startsWith('  ') && !l.startsWith('   ')) {
    return l
      .trim()
      .split(/\s+/)
      .filter((w) => /^[a-z-]+\/$/.test(w))
      .map((w) => `src/modules/${w}`);
  }
  return [];
});

it('names only paths that exist', () => {
  expect(named.filter((p) => !existsSync(p))).toEqual([]);
});

it('names every entry of src/, every module and every top-level folder', () => {
  const src = readdirSync('src', { withFileTypes: true }).map(
    (e) => `src/${e.name}${e.isDirectory() ? '/' : ''}`,
  );
  const modules = readdirSync('src/modules', { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `src/modules/${e.name}/`);
  const missing = [
    ...[...src, ...modules].filter((p) => !named.includes(p)),
    ...['bin/', 'bench/', 'docs/', 'test/', 'web/', '.ci/'].filter(
      (dir) => !named.some((n) => n.startsWith(dir)),
    ),
  ];
  expect(missing).toEqual([]);
});
