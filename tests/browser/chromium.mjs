// tests/browser/chromium.mjs - what the browser scripts share: a step
// log, checks, a watchdog, and one run of Debian's chromium (through
// playwright-core) in a profile of its own that is always removed.
//
// Needs Node 18 or later: plain ES modules, nothing newer.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const WAIT_MS = 10000;          // any one wait: navigation, element, event
const LAUNCH_MS = 30000;               // chromium's start, cold caches included
const CHROMIUM = process.env.MINILINK_CHROMIUM || '/usr/bin/chromium';

const started = Date.now();
export function step(text) {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`[browser ${seconds.padStart(5)} s] ${text}`);
}

export class CheckFailed extends Error {}
export function check(ok, text) {
    if (!ok) {
        throw new CheckFailed(text);
    }
}

// Never hang: whatever is stuck, the process ends after ms (Playwright
// kills the browser it launched when node exits).
export function watchdog(name, ms) {
    setTimeout(() => {
        console.error(`${name}: gave up after ${ms / 1000} s`);
        process.exit(1);
    }, ms).unref();
}

// Starts chromium with a page of viewport's size, routes every request
// through route(r), runs run(context), closes the browser (bounded) and
// exits: 0 when run returned, 1 when it threw (the reason on stderr).
// Nothing but the server under test resolves: no DNS lookup, prefetch or
// preconnect can leave the machine.
export async function runInChromium(base, viewport, route, run) {
    const profile = mkdtempSync(join(tmpdir(), 'minilink-chromium-'));
    let context = null;
    let status = 0;
    try {
        context = await chromium.launchPersistentContext(profile, {
            executablePath: CHROMIUM,
            headless: true,
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
                   '--no-first-run', '--disable-background-networking',
                   '--disable-component-update', '--disable-sync',
                   `--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE ${new URL(base).hostname}`],
            timeout: LAUNCH_MS,
            viewport,
            serviceWorkers: 'block',
            acceptDownloads: false,
        });
        context.setDefaultTimeout(WAIT_MS);
        context.setDefaultNavigationTimeout(WAIT_MS);
        const blank = context.pages()[0] || await context.newPage();
        const agent = await blank.evaluate(() => navigator.userAgent);
        const version = (agent.match(/Chrom[a-z]*\/[0-9.]+/) || [agent])[0];
        step(`${version} started (profile ${profile})`);
        await context.route('**/*', route);
        await run(context);
        step('all checks passed');
    }
    catch (e) {
        status = 1;
        console.error(`FAILED: ${e instanceof CheckFailed ? e.message : (e && e.stack) || e}`);
    }
    finally {
        if (context) {
            await Promise.race([context.close().catch(() => {}),
                                new Promise((done) => setTimeout(done, WAIT_MS))]);
        }
        rmSync(profile, { recursive: true, force: true });
    }
    process.exit(status);
}
