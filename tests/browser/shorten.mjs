// tests/browser/shorten.mjs - a person shortening a link with the form, in
// Debian's chromium driven by playwright-core.
//
//   node tests/browser/shorten.mjs http://127.0.0.1:PORT/l/ result.png
//
// Opens the form, shortens https://example.com/from-the-browser?x=1 under a
// random slug, follows the short link (the browser makes the request and
// reads the 302; example.com itself is answered by a route here: nothing
// leaves the machine), then submits a link to the shortener itself, which
// the server refuses.  Saves a screenshot of the result page to the given
// path and of the refusal next to it (<name>-error.png).
//
// Prints a line per step; exits 0 when every check held, 1 on a failed
// check (the reason on stderr), 2 on bad arguments.  Every wait is bounded
// (10 s), the whole run too, and the browser is always closed.
//
// Needs Node 18 or later: plain ES modules, nothing newer.

import { randomBytes } from 'node:crypto';
import { WAIT_MS, step, check, CheckFailed, watchdog, runInChromium } from './chromium.mjs';

const WHOLE_RUN_MS = 90000;     // the watchdog for everything
const TARGET = 'https://example.com/from-the-browser?x=1';
const REACHED = 'reached';

const [base, screenshot] = process.argv.slice(2);
if (!base || !screenshot || !/^https?:\/\/[^/]+\/.*\/$/.test(base)) {
    console.error('usage: node shorten.mjs http://HOST:PORT/PREFIX/ SCREENSHOT.png');
    process.exit(2);
}
const origin = new URL(base).origin;
const errorScreenshot = screenshot.replace(/(\.png)?$/i, '-error.png');

watchdog('shorten.mjs', WHOLE_RUN_MS);

// Every request the browser makes is either to the server under test,
// answered here (example.com), or refused and remembered.
const blocked = [];
async function route(r) {
    const url = r.request().url();
    if (url.startsWith(origin + '/')) {
        await r.continue();
    }
    else if (url.startsWith('https://example.com/')) {
        await r.fulfill({ status: 200, contentType: 'text/plain', body: REACHED });
    }
    else {
        blocked.push(url);
        await r.abort('blockedbyclient');
    }
}

// Resolves with the first response for which match(response) is true.
function nextResponse(page, match, what) {
    return page.waitForResponse(match, { timeout: WAIT_MS })
        .catch((e) => { throw new CheckFailed(`no response for ${what}: ${e.message}`); });
}

async function run(context) {
    const page = context.pages()[0] || await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    // 1. The form.
    const formResponse = await page.goto(base, { waitUntil: 'load' });
    check(formResponse && formResponse.status() === 200,
          `GET ${base}: status ${formResponse && formResponse.status()}`);
    const title = await page.title();
    check(title === 'Shorten a link', `page title "${title}"`);
    const form = page.locator('form');
    await form.waitFor({ state: 'visible' });
    await page.locator('#url').waitFor({ state: 'visible' });
    await page.locator('#slug').waitFor({ state: 'visible' });
    const token = await page.locator('input[name="csrf"]').getAttribute('value');
    check(/^[0-9a-f]{48}$/.test(token || ''), `CSRF token "${token}"`);
    check((await page.context().cookies(base)).some((c) => c.name === 'minilink_csrf'
                                                     && c.value === token),
          'no minilink_csrf cookie matching the form\'s token');
    step(`form shown: "${title}", CSRF token in the form and its cookie`);

    // 2. Shorten.
    const slug = 'br-' + randomBytes(4).toString('hex');
    await page.fill('#url', TARGET);
    await page.fill('#slug', slug);
    const created = nextResponse(page, (r) => r.request().method() === 'POST',
                                 'the form post');
    await page.click('button[type="submit"]');
    const post = await created;
    check(post.status() === 201, `POST ${post.url()}: status ${post.status()}, expected 201`);
    const link = page.locator('#short-link');
    await link.waitFor({ state: 'visible' });
    const href = await link.getAttribute('href');
    check(href && href.endsWith(`/l/${slug}`), `#short-link href "${href}" does not end with /l/${slug}`);
    check(href === new URL(slug, base).href, `#short-link href "${href}", expected ${new URL(slug, base).href}`);
    check((await link.textContent()) === href, 'the link text is not its href');
    const result = await page.locator('#result').textContent();
    check(result.includes(TARGET), `#result does not name the target: "${result}"`);
    check(await page.locator('#error').count() === 0, 'an #error paragraph next to the result');
    console.log(`slug: ${slug}`);
    step(`shortened: POST answered 201, short link ${href}`);
    await page.screenshot({ path: screenshot, fullPage: true });
    step(`screenshot of the result: ${screenshot}`);

    // 3. Follow it: the browser asks the server, which answers 302; the
    //    redirect to example.com is answered by the route above.
    const redirected = nextResponse(page, (r) => r.url() === href, href);
    await link.click();
    const hop = await redirected;
    check(hop.status() === 302, `GET ${href}: status ${hop.status()}, expected 302`);
    const location = (await hop.allHeaders()).location;
    check(location === TARGET, `GET ${href}: Location "${location}", expected ${TARGET}`);
    await page.waitForURL(TARGET, { timeout: WAIT_MS });
    const landed = (await page.locator('body').textContent()).trim();
    check(landed === REACHED, `at ${page.url()} the page says "${landed}", not "${REACHED}"`);
    step(`followed: 302 Location ${location}; the browser ended up at ${page.url()}`);

    // 4. A URL the browser accepts (type=url) but the server refuses: a
    //    link to the shortener itself would redirect in a loop.
    const loop = `${origin}/l/loop`;
    await page.goto(base, { waitUntil: 'load' });
    await page.fill('#url', loop);
    const refusedAnswer = nextResponse(page, (r) => r.request().method() === 'POST',
                                       'the refused form post');
    await page.click('button[type="submit"]');
    const refused = await refusedAnswer;
    check(refused.status() === 400, `POST of ${loop}: status ${refused.status()}, expected 400`);
    const error = page.locator('#error');
    await error.waitFor({ state: 'visible' });
    const reason = (await error.textContent()).trim();
    check(reason.length > 10, `#error gives no reason: "${reason}"`);
    check(await page.locator('#short-link').count() === 0, 'a short link was made for a loop');
    const kept = await page.inputValue('#url');
    check(kept === loop, `the form did not keep what was typed: "${kept}"`);
    step(`refused ${loop}: 400, "${reason}"`);
    await page.screenshot({ path: errorScreenshot, fullPage: true });
    step(`screenshot of the refusal: ${errorScreenshot}`);

    check(blocked.length === 0, `the browser tried to reach: ${blocked.join(', ')}`);
    check(pageErrors.length === 0, `errors in the page: ${pageErrors.join('; ')}`);
}

await runInChromium(base, { width: 1000, height: 700 }, route, run);
