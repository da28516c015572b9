/**
 * The dashboard's files: built from web/ with Vite into dist/web, at `npm start`, and again only
 * when web/ or the versions of its build tools changed (a hash of both is kept beside the output).
 * Two processes starting at once each build into a folder of their own and swap it in.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';

const ROOT = path.resolve(import.meta.dirname, '../../..');
export const WEB_DIR = path.join(ROOT, 'web');
export const DIST_DIR = path.join(ROOT, 'dist', 'web');
const HASH_FILE = '.source-hash';

export async function ensureDashboardBuilt(log: Pick<Logger, 'info'>): Promise<{ built: boolean }> {
  const hash = sourceHash();
  const stamp = path.join(DIST_DIR, HASH_FILE);
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === hash) return { built: false };
  const started = Date.now();
  const outDir = `${DIST_DIR}.${process.pid}.tmp`;
  const { build } = await import('vite');
  await build({
    configFile: path.join(WEB_DIR, 'vite.config.ts'),
    build: { outDir, emptyOutDir: true },
  });
  writeFileSync(path.join(outDir, HASH_FILE), hash);
  rmSync(DIST_DIR, { recursive: true, force: true });
  renameSync(outDir, DIST_DIR);
  log.info({ ms: Date.now() - started }, 'dashboard built');
  return { built: true };
}

function sourceHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else
        h.update(`${path.relative(WEB_DIR, p)}\0`)
          .update(readFileSync(p))
          .update('\0');
    }
  };
  walk(WEB_DIR);
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  h.update(JSON.stringify({ ...pkg.dependencies, ...pkg.devDependencies }));
  return h.digest('hex');
}
