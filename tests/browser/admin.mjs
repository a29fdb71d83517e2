// tests/browser/admin.mjs - an admin using the admin pages, in Debian's
// chromium driven by playwright-core.
//
//   node tests/browser/admin.mjs http://127.0.0.1:PORT/admin/ SCREENSHOT_DIR
//
// Creates a link with the form (submitted with the Enter key), finds it
// with the search box, edits its title, adds a redirect rule (Enter in
// the rule's field), checks the seeded link's chart (each bar as high as
// its figures say, on the axis' scale; the figures are printed as
// "chart DAY CLICKS BOTS" lines for the C test to compare with the
// database), deletes the link through the confirmation page and checks
// that its short URL is gone.  A screenshot of each page at 1280 and at
// 360 px wide goes to SCREENSHOT_DIR (<page>-<width>.png), and no page
// may scroll sideways at 360 px.
//
// Prints a line per step (and "slug: SLUG"); exits 0 when every check
// held, 1 on a failed check (the reason on stderr), 2 on bad arguments.
// Every wait is bounded, the whole run too, and the browser is always
// closed (chromium.mjs).

import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WAIT_MS, step, check, CheckFailed, watchdog, runInChromium } from './chromium.mjs';

const WHOLE_RUN_MS = 150000;
const WIDTHS = [1280, 360];

const [base, shots] = process.argv.slice(2);
if (!base || !shots || !/^https?:\/\/[^/]+\/.*\/$/.test(base)) {
    console.error('usage: node admin.mjs http://HOST:PORT/ADMIN/ SCREENSHOT_DIR');
    process.exit(2);
}
const origin = new URL(base).origin;

watchdog('admin.mjs', WHOLE_RUN_MS);

// Only the server under test is reached; anything else is refused and
// remembered (a page of ours must load nothing from elsewhere).
const blocked = [];
async function route(r) {
    const url = r.request().url();
    if (url.startsWith(origin + '/')) {
        await r.continue();
    }
    else {
        blocked.push(url);
        await r.abort('blockedbyclient');
    }
}

// Loads path (under base), checks the status, takes the page's
// screenshots at each width and checks nothing scrolls sideways at 360.
async function visit(page, path, name, status = 200) {
    const response = await page.goto(new URL(path, base).href, { waitUntil: 'load' });
    check(response && response.status() === status,
          `GET ${path}: status ${response && response.status()}, expected ${status}`);
    await shoot(page, name);
}

async function shoot(page, name) {
    for (const width of WIDTHS) {
        await page.setViewportSize({ width, height: 800 });
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth
                                                   - document.documentElement.clientWidth);
        check(overflow <= 1, `${name} scrolls sideways by ${overflow} px at ${width} px`);
        await page.screenshot({ path: join(shots, `${name}-${width}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: WIDTHS[0], height: 800 });
}

// Runs action, which submits a form, and waits for the page it leads to.
async function submits(page, action, what) {
    await Promise.all([page.waitForNavigation({ timeout: WAIT_MS }), action()])
        .catch((e) => { throw new CheckFailed(`${what}: ${e.message}`); });
}

async function text(page, selector) {
    return (await page.locator(selector).first().textContent() || '').trim();
}

async function run(context) {
    const page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    await visit(page, '', 'overview');
    check(await page.title() === 'Overview - minilink', `title "${await page.title()}"`);
    check(await page.locator('script').count() === 0, 'a script on the overview');
    step('overview shown');

    // Create, with the keyboard: Enter in the URL field submits.
    const slug = 'br-' + randomBytes(4).toString('hex');
    await visit(page, 'new', 'new');
    await page.fill('#slug', slug);
    await page.fill('#title', 'Made in the browser');
    await page.fill('#tags', 'browser test');
    await page.fill('#url', 'https://example.com/browser');
    await submits(page, () => page.press('#url', 'Enter'), 'create');
    check(page.url().endsWith(`/links/${slug}?done=created`), `created: at ${page.url()}`);
    check((await text(page, '#done')).startsWith('Created'), 'no "Created" notice');
    console.log(`slug: ${slug}`);
    step(`created ${slug}`);

    // Search.
    await visit(page, 'links', 'links');
    await page.fill('#q', slug);
    await submits(page, () => page.press('#q', 'Enter'), 'search');
    const rows = page.locator('#links tbody tr');
    check(await rows.count() === 1, `search for ${slug}: ${await rows.count()} rows`);
    check((await rows.first().textContent()).includes('Made in the browser'),
          'the row lacks the title');
    await shoot(page, 'links-search');
    step('found by the search box');

    // Edit: the title, then Save.
    await page.click(`#links a[href$="/links/${slug}"]`);
    await page.waitForURL(`**/links/${slug}`);
    await shoot(page, 'link');
    await page.fill('#title', 'Edited in the browser');
    await submits(page, () => page.click('#edit button[type="submit"]'), 'save');
    check((await text(page, '#done')).startsWith('Saved'), 'no "Saved" notice');
    check(await page.inputValue('#title') === 'Edited in the browser', 'the title did not change');
    step('title edited');

    // A rule, with Enter in its field.
    await page.fill('#rule', '--language fr https://example.com/fr');
    await submits(page, () => page.press('#rule', 'Enter'), 'add a rule');
    check((await text(page, 'ol.rules li code')) === '--language fr https://example.com/fr',
          `the rule shown: "${await text(page, 'ol.rules li code')}"`);
    step('rule added');

    // The seeded month's chart: every bar as high as its figures on the
    // axis' scale (people and bots stacked).
    await visit(page, 'links/seeded?days=30', 'chart');
    const bars = await page.evaluate(() => {
        const svg = document.querySelector('svg.chart');
        const top = Number(svg.dataset.top);
        const axis = [...svg.querySelectorAll('line')].map((l) => Number(l.getAttribute('y1')));
        const plot = Math.max(...axis) - Math.min(...axis);
        return [...svg.querySelectorAll('g.day')].map((g) => ({
            day: g.dataset.day,
            clicks: Number(g.dataset.clicks),
            bots: Number(g.dataset.bots),
            people: Number(g.querySelector('rect.people')?.getAttribute('height') || 0),
            botsHeight: Number(g.querySelector('rect.bots')?.getAttribute('height') || 0),
            scale: plot / top,
        }));
    });
    check(bars.length === 30, `${bars.length} bars, expected 30`);
    for (const b of bars) {
        const near = (height, value) => Math.abs(height - value * b.scale) < 0.02;
        check(near(b.people, b.clicks - b.bots) && near(b.botsHeight, b.bots),
              `the bar of ${b.day} (${b.clicks} clicks, ${b.bots} bots) is ` +
              `${b.people} + ${b.botsHeight} high`);
        console.log(`chart ${b.day} ${b.clicks} ${b.bots}`);
    }
    step(`chart: ${bars.length} bars as high as their figures`);

    // Delete, through the confirmation page.
    await page.goto(new URL(`links/${slug}`, base).href);
    await submits(page, () => page.click('#delete'), 'to the confirmation');
    await shoot(page, 'delete');
    await submits(page, () => page.click('#confirm'), 'delete');
    check(page.url().endsWith('/links?done=deleted'), `deleted: at ${page.url()}`);
    const gone = await page.request.get(`${origin}/l/${slug}`, { maxRedirects: 0 });
    check(gone.status() === 404, `/l/${slug} after the delete: ${gone.status()}`);
    step('deleted: its short URL answers 404');

    check(blocked.length === 0, `the browser tried to reach: ${blocked.join(', ')}`);
    check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
}

await runInChromium(base, { width: WIDTHS[0], height: 800 }, route, run);
