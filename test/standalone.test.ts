/**
 * The repository stands on its own: no file points outside it, every citation of the contract
 * (`docs/spec/…md §n.m`) names a file and a section that exist, relative Markdown links resolve, and
 * the vendored SDK fixtures are still byte for byte what `test/fixtures/sdk/SHA256SUMS` says.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SKIP_DIRS = new Set([
  'node_modules',
  '.git',
  'data',
  'coverage',
  '.tmp',
  'dist',
  'test-artifacts',
]);
const TEXT = /\.(ts|js|mjs|cjs|md|sql|json|ya?ml|sh|txt)$/;
const SPEC_NAMES = ['api', 'product', 'sdk-protocol', 'external-apis'];

/** Every text file of the repository (repository-relative, `/`-separated), lock file excepted. */
function repositoryFiles(dir = ROOT): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...repositoryFiles(path.join(dir, entry.name)));
    } else if (TEXT.test(entry.name) && entry.name !== 'package-lock.json') {
      out.push(path.relative(ROOT, path.join(dir, entry.name)).split(path.sep).join('/'));
    }
  }
  return out;
}

/** Places in `text` (a file at repository path `file`) that lead outside the repository. */
export function outsideReferences(file: string, text: string): string[] {
  const found: string[] = [];
  // The workspace's shared folder, however it is reached.
  for (const m of text.matchAll(/(?:\.\.\/)+shared\/[\w./-]*|\/work\/[\w./-]+/g)) found.push(m[0]);
  // Any run of `../` that climbs above the repository root from the file's own folder.
  for (const m of text.matchAll(/(?<![\w.])((?:\.\.\/)+)[\w.-]*/g)) {
    const up = m[1].length / 3;
    const depth = file.split('/').length - 1;
    if (up > depth) found.push(m[0]);
  }
  return found;
}

/** Citations of a contract file by its bare name instead of `docs/spec/<name>.md`. */
export function bareSpecCitations(text: string): string[] {
  const re = new RegExp(`(?<![\\w/.-])(?:${SPEC_NAMES.join('|')})\\.md`, 'g');
  return [...text.matchAll(re)].map((m) => m[0]);
}

/** Section numbers of a spec file: `## 4.` and `### 4.4 …` give `4` and `4.4`. */
function sections(specFile: string): Set<string> {
  const text = readFileSync(path.join(ROOT, 'docs/spec', specFile), 'utf8');
  return new Set([...text.matchAll(/^#{2,4} (\d+(?:\.\d+)*)\.?\s/gm)].map((m) => m[1]));
}

/** Citations of `docs/spec/<name>.md` whose file or section (`§4.4`, `§4.7–4.10`) does not exist. */
export function brokenSpecCitations(text: string): string[] {
  const bad: string[] = [];
  const re =
    /docs\/spec\/([\w-]+\.md)(?:`?\)?\s*§\s?(\d+(?:\.\d+)*)(?:\s*[–-]\s*(\d+(?:\.\d+)*))?)?/g;
  for (const [cited, file, from, to] of text.matchAll(re)) {
    if (!existsSync(path.join(ROOT, 'docs/spec', file))) {
      bad.push(cited);
      continue;
    }
    const known = sections(file);
    for (const n of [from, to]) if (n !== undefined && !known.has(n)) bad.push(cited);
  }
  return bad;
}

/** Relative Markdown links (`[x](../y.md#z)`) whose target does not exist. */
function brokenLinks(file: string, text: string): string[] {
  const bad: string[] = [];
  for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^(?:[a-z]+:|#)/i.test(target)) continue;
    const resolved = path.resolve(ROOT, path.dirname(file), target.replace(/#.*$/, ''));
    if (!existsSync(resolved)) bad.push(target);
  }
  return bad;
}

const files = repositoryFiles();
const read = (f: string) => readFileSync(path.join(ROOT, f), 'utf8');
/** The contract's own files and the SDK fixtures cite the spec by bare name, as written. */
const vendored = (f: string) => f.startsWith('docs/spec/') || f.startsWith('test/fixtures/');

describe('the repository stands on its own', () => {
  it('the checks catch what they are for', () => {
    // Built from pieces so that this file does not trip its own checks.
    const shared = '..' + '/shared';
    const cite = (name: string, rest = '') => `docs/${'spec'}/${name}.md${rest}`;
    expect(outsideReferences('src/modules/x/a.ts', `see ${shared}/spec/api.md`)).not.toEqual([]);
    expect(outsideReferences('src/modules/x/a.ts', `'${'../'.repeat(4)}fixtures/sdk'`)).not.toEqual(
      [],
    );
    expect(outsideReferences('src/modules/x/a.ts', `'${'../'.repeat(3)}test/helpers.ts'`)).toEqual(
      [],
    );
    expect(bareSpecCitations('(sdk-protocol' + '.md §4.4)')).not.toEqual([]);
    expect(bareSpecCitations(`(${cite('sdk-protocol', ' §4.4')}), openapi.md`)).toEqual([]);
    expect(brokenSpecCitations(cite('sdk-protocol', ' §4.4 and §4.99'))).toEqual([]);
    expect(brokenSpecCitations(cite('sdk-protocol', ' §4.99'))).not.toEqual([]);
    expect(brokenSpecCitations(cite('product', ' §6.2–6.9'))).not.toEqual([]);
    expect(brokenSpecCitations(cite('nope'))).not.toEqual([]);
  });

  it('finds the files it checks', () => {
    expect(files).toContain('README.md');
    expect(files).toContain('src/modules/tracking/fixtures.test.ts');
    expect(files).toContain('docs/spec/sdk-protocol.md');
  });

  it('no file references a path outside the repository', () => {
    const found = files.flatMap((f) => outsideReferences(f, read(f)).map((r) => `${f}: ${r}`));
    expect(found).toEqual([]);
  });

  it('the contract is cited as docs/spec/…, by sections that exist', () => {
    const bare = files
      .filter((f) => !vendored(f))
      .flatMap((f) => bareSpecCitations(read(f)).map((r) => `${f}: ${r}`));
    expect(bare).toEqual([]);
    const broken = files.flatMap((f) => brokenSpecCitations(read(f)).map((r) => `${f}: ${r}`));
    expect(broken).toEqual([]);
  });

  it('relative Markdown links resolve', () => {
    const md = files.filter((f) => f.endsWith('.md'));
    expect(md.flatMap((f) => brokenLinks(f, read(f)).map((l) => `${f}: ${l}`))).toEqual([]);
  });

  it('the SDK fixtures are byte for byte the vendored ones', () => {
    const dir = path.join(ROOT, 'test/fixtures/sdk');
    const sums = readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(/\s+\*?/));
    expect(sums.length).toBeGreaterThan(20);
    for (const [sum, file] of sums) {
      expect(
        createHash('sha256')
          .update(readFileSync(path.join(dir, file)))
          .digest('hex'),
        file,
      ).toBe(sum);
    }
  });
});
