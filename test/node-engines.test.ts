/**
 * No installed package needs a newer Node.js than package.json's `engines.node` promises. Runtime
 * packages must accept the oldest Node it allows (20.0.0 for ">=20"); dev-only tooling (eslint,
 * vitest) must run on some release of that major. Reads every package.json under node_modules.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const semver = createRequire(import.meta.url)('semver') as {
  minVersion(range: string): { version: string; major: number } | null;
  satisfies(version: string, range: string): boolean;
  intersects(a: string, b: string): boolean;
  validRange(range: string): string | null;
};
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8'));

type Installed = { at: string; name: string; version: string; node?: string };

/** Every package under `dir`/node_modules, nested ones too; `at` is its lockfile key. */
function installed(dir = ROOT, prefix = ''): Installed[] {
  const modules = path.join(dir, 'node_modules');
  if (!existsSync(modules)) return [];
  const out: Installed[] = [];
  const visit = (pkgDir: string, at: string) => {
    const file = path.join(pkgDir, 'package.json');
    if (!existsSync(file)) return;
    const pkg = readJson(file);
    out.push({ at, name: pkg.name, version: pkg.version, node: pkg.engines?.node });
    out.push(...installed(pkgDir, `${at}/`));
  };
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(path.join(modules, entry)))
        visit(path.join(modules, entry, sub), `${prefix}node_modules/${entry}/${sub}`);
    } else {
      visit(path.join(modules, entry), `${prefix}node_modules/${entry}`);
    }
  }
  return out;
}

/** Why `node` (a package's engines.node) does not fit `floor` / the major, or null when it does. */
export function engineProblem(
  node: string | undefined,
  floor: string,
  devOnly: boolean,
): string | null {
  if (node === undefined || node.trim() === '' || node.trim() === '*') return null;
  if (semver.validRange(node) === null) return `unparseable engines.node "${node}"`;
  if (devOnly)
    return semver.intersects(node, `^${semver.minVersion(floor)!.major}`)
      ? null
      : `needs Node ${node}`;
  return semver.satisfies(floor, node) ? null : `needs Node ${node}`;
}

describe('installed packages run on the Node.js that engines allows', () => {
  const engines: string = readJson(path.join(ROOT, 'package.json')).engines.node;
  const floor = semver.minVersion(engines)!.version;

  it('the check catches what it is for', () => {
    expect(engineProblem('>=22', '20.0.0', false)).toMatch(/needs Node/);
    expect(engineProblem('>=22', '20.0.0', true)).toMatch(/needs Node/);
    expect(engineProblem('^20.19.0 || >=22.12.0', '20.0.0', false)).toMatch(/needs Node/);
    expect(engineProblem('^20.19.0 || >=22.12.0', '20.0.0', true)).toBeNull();
    expect(engineProblem('>=18', '20.0.0', false)).toBeNull();
    expect(engineProblem(undefined, '20.0.0', false)).toBeNull();
  });

  it(`no installed package excludes Node ${floor}`, () => {
    const lock = ['node_modules/.package-lock.json', 'package-lock.json']
      .map((f) => path.join(ROOT, f))
      .find(existsSync);
    const flags: Record<string, { dev?: boolean }> = lock ? readJson(lock).packages : {};
    const packages = installed();
    expect(packages.length).toBeGreaterThan(50);
    const problems = packages.flatMap((p) => {
      const problem = engineProblem(p.node, floor, flags[p.at]?.dev === true);
      return problem ? [`${p.name}@${p.version} (${p.at}): ${problem}`] : [];
    });
    expect(problems).toEqual([]);
  });
});
