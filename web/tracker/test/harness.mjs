// Shared by the browser tests: the real `attune demo` on a free port over a temp data
// directory, and Debian's Chromium driven by playwright-core (never a downloaded browser).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..', '..');
export const trackerSource = fs.readFileSync(path.join(here, '..', 'attune.js'), 'utf8');

/** `ATTUNE_BIN`, else the debug binary of the cargo target directory. */
export function attuneBin() {
  if (process.env.ATTUNE_BIN) return process.env.ATTUNE_BIN;
  const target = process.env.CARGO_TARGET_DIR || path.join(repo, 'target');
  return path.join(target, 'debug', 'attune');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Start `attune demo` (synthetic shop loaded, a model trained and activated) and resolve once it
 * prints its "Serving on" line. `stop()` sends SIGTERM and removes the data directory.
 */
export async function startDemo(configToml) {
  const bin = attuneBin();
  if (!fs.existsSync(bin)) throw new Error(`no attune binary at ${bin}: build it or set ATTUNE_BIN`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attune-web-'));
  const port = await freePort();
  // Only the settings the test means: no ATTUNE_* of the caller's shell.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ATTUNE_')));
  const args = ['demo', '--bind', `127.0.0.1:${port}`, '--data-dir', path.join(dir, 'demo')];
  if (configToml) {
    fs.writeFileSync(path.join(dir, 'attune.toml'), configToml);
    args.push('--config', path.join(dir, 'attune.toml'));
  }
  const child = spawn(bin, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  try {
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`attune demo did not start in 600 s:\n${out}`)), 600_000);
      const check = () => {
        if (/Serving on http:\/\//.test(out)) { clearTimeout(timer); resolve(); }
      };
      child.stdout.on('data', check);
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`attune demo exited ${code}:\n${out}`)); });
    });
  } catch (e) {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    output: () => out,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** Every stored event of `user` (stitched across their devices), oldest first. */
export async function storedEvents(base, user, key) {
  const r = await fetch(`${base}/v1/users/${encodeURIComponent(user)}/events?limit=10000`,
    { headers: key ? { 'X-Api-Key': key } : {} });
  if (!r.ok) throw new Error(`events of ${user}: ${r.status} ${await r.text()}`);
  return (await r.json()).events;
}

/** The events the tracker sent (the server's own impression log carries no session id). */
export const fromTracker = (events) => events.filter((e) => e.context && e.context.session_id);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
