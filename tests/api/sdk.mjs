// tests/api/sdk.mjs - SetHandler minilink-api driven by Shlink's own JS SDK
// (@shlinkio/shlink-js-sdk, pinned in package-lock.json), as its web client
// and integrations call it.
//
//   node tests/api/sdk.mjs http://127.0.0.1:PORT API_KEY
//
// The server URL is the one a Shlink client is given: the SDK adds
// /rest/v3/... itself.  Prints a line per call; "slug: CODE" for the links
// it leaves behind (the C test follows them).  Exits 0 when every check
// held, 1 on a failed check (the reason on stderr), 2 on bad arguments.

import { ShlinkApiClient } from '@shlinkio/shlink-js-sdk';
import { ErrorType } from '@shlinkio/shlink-js-sdk/api-contract';
import { NodeHttpClient } from '@shlinkio/shlink-js-sdk/node';

const [baseUrl, apiKey] = process.argv.slice(2);
if (!baseUrl || !apiKey) {
    console.error('usage: node sdk.mjs http://HOST:PORT API_KEY');
    process.exit(2);
}
const api = new ShlinkApiClient(new NodeHttpClient(), { baseUrl, apiKey });

function check(ok, what, seen) {
    if (!ok) {
        throw new Error(`${what}; got ${JSON.stringify(seen)}`);
    }
}

// The SDK rejects with the problem+json body: its type must be Shlink's.
async function refused(call, type, status, what) {
    try {
        const answer = await call();
        check(false, `${what}: refused with ${type}`, answer);
    } catch (problem) {
        check(problem && problem.type === type && problem.status === status,
              `${what}: ${status} ${type}`, problem);
        console.log(`${what}: ${status} ${problem.type}`);
    }
}

async function main() {
    const health = await api.health();
    check(health.status === 'pass' && typeof health.version === 'string', 'health', health);
    console.log(`health: ${health.status} ${health.version}`);

    const made = await api.createShortUrl({
        longUrl: 'https://example.com/sdk/one?x=1', customSlug: 'sdk1', tags: ['b', 'a'],
        title: 'From the SDK', maxVisits: 5, validUntil: '2030-01-01T00:00:00+00:00',
        crawlable: true,
    });
    check(made.shortCode === 'sdk1' && made.longUrl === 'https://example.com/sdk/one?x=1'
          && made.shortUrl.endsWith('/l/sdk1') && made.title === 'From the SDK'
          && made.tags.join() === 'a,b' && made.meta.maxVisits === 5
          && made.meta.validUntil === '2030-01-01T00:00:00+00:00' && made.meta.validSince === null
          && made.crawlable === true && made.forwardQuery === true && made.domain === null
          && made.visitsSummary.total === 0 && /^\d{4}-\d\d-\d\dT/.test(made.dateCreated),
          'create with every field', made);
    console.log(`create: ${made.shortUrl}`);

    const again = await api.createShortUrl({ longUrl: made.longUrl, findIfExists: true });
    check(again.shortCode === 'sdk1', 'findIfExists gives the link there is', again);
    const random = await api.createShortUrl({ longUrl: 'https://example.com/sdk/two',
                                              shortCodeLength: 8 });
    check(/^[A-Za-z0-9_-]{8}$/.test(random.shortCode), 'shortCodeLength 8', random);
    console.log(`create random: ${random.shortCode}`);
    console.log(`slug: ${random.shortCode}`);

    const got = await api.getShortUrl({ shortCode: 'sdk1' });
    check(got.shortCode === 'sdk1' && got.title === made.title, 'get', got);

    const page = await api.listShortUrls({ itemsPerPage: 1, page: '2',
                                           orderBy: { field: 'shortCode', dir: 'DESC' } });
    check(page.data.length === 1 && page.pagination.currentPage === 2
          && page.pagination.totalItems >= 2 && page.pagination.pagesCount >= 2,
          'list: page 2 of 1', page.pagination);
    const found = await api.listShortUrls({ searchTerm: 'SDK/TWO' });
    check(found.data.length === 1 && found.data[0].shortCode === random.shortCode,
          'list: searchTerm', found);
    const tagged = await api.listShortUrls({ tags: ['a', 'b'], tagsMode: 'all' });
    check(tagged.data.length === 1 && tagged.data[0].shortCode === 'sdk1', 'list: tags all',
          tagged);
    const all = await api.listShortUrls({ itemsPerPage: -1 });
    check(all.pagination.pagesCount === 1 && all.data.length === all.pagination.totalItems,
          'list: itemsPerPage -1', all.pagination);
    console.log(`list: ${all.pagination.totalItems} links`);

    const edited = await api.updateShortUrl({ shortCode: 'sdk1' },
                                            { title: null, maxVisits: null, tags: ['c'],
                                              forwardQuery: false });
    // (The SDK leaves false out of a creation; an edit sends it.)
    check(edited.title === null && edited.meta.maxVisits === null && edited.tags.join() === 'c'
          && edited.forwardQuery === false
          && edited.meta.validUntil === made.meta.validUntil, 'edit: null clears', edited);
    console.log('edit: title and maxVisits cleared');

    const rules = await api.setShortUrlRedirectRules({ shortCode: 'sdk1' }, {
        redirectRules: [{ longUrl: 'https://example.com/sdk/ios',
                          conditions: [{ type: 'device', matchKey: null, matchValue: 'ios' }] }],
    });
    check(rules.redirectRules.length === 1 && rules.redirectRules[0].priority === 1
          && rules.defaultLongUrl === made.longUrl, 'redirect rules set', rules);
    const read = await api.getShortUrlRedirectRules({ shortCode: 'sdk1' });
    check(read.redirectRules[0].conditions[0].matchValue === 'ios', 'redirect rules read', read);
    console.log('redirect rules: 1');

    const tags = await api.listTags();
    check(tags.data.includes('c') && tags.data.includes('a'), 'tags', tags);
    const stats = await api.tagsStats();
    const c = stats.data.find((t) => t.tag === 'c');
    check(c && c.shortUrlsCount === 1 && c.visitsSummary.total === 0, 'tags stats', stats);
    const domains = await api.listDomains();
    check(domains.data.length === 1 && domains.data[0].isDefault === true, 'domains', domains);
    const visits = await api.getShortUrlVisits({ shortCode: 'sdk1' });
    check(Array.isArray(visits.data) && visits.pagination.totalItems === 0, 'visits', visits);
    const orphans = await api.getOrphanVisits();
    check(Array.isArray(orphans.data), 'orphan visits', orphans);
    const overview = await api.getVisitsOverview();
    check(typeof overview.nonOrphanVisits.total === 'number'
          && typeof overview.orphanVisits.total === 'number', 'visits overview', overview);
    console.log('tags, domains, visits: read');

    // Visits of every link and of a tag's; deleted; tags renamed and deleted.
    const nonOrphans = await api.getNonOrphanVisits();
    check(Array.isArray(nonOrphans.data) && typeof nonOrphans.pagination.totalItems === 'number',
          'non-orphan visits', nonOrphans);
    const tagVisits = await api.getTagVisits('c');
    check(Array.isArray(tagVisits.data), 'tag visits', tagVisits);
    const gone = await api.deleteShortUrlVisits({ shortCode: 'sdk1' });
    check(gone.deletedVisits === 0, 'visits deleted', gone);
    const orphansGone = await api.deleteOrphanVisits();
    check(typeof orphansGone.deletedVisits === 'number', 'orphan visits deleted', orphansGone);
    await api.editTag({ oldName: 'c', newName: 'renamed' });
    const renamed = await api.getShortUrl({ shortCode: 'sdk1' });
    check(renamed.tags.join() === 'renamed', 'tag renamed', renamed.tags);
    await refused(() => api.editTag({ oldName: 'nope', newName: 'x' }), ErrorType.TAG_NOT_FOUND,
                  404, 'rename of no tag');
    await api.deleteTags(['renamed']);
    const untagged = await api.getShortUrl({ shortCode: 'sdk1' });
    check(untagged.tags.length === 0, 'tag deleted', untagged.tags);
    console.log('visits of many links; deletions; tags renamed and deleted');

    await refused(() => api.getShortUrl({ shortCode: 'nope' }), ErrorType.INVALID_SHORTCODE,
                  404, 'get of no link');
    await refused(() => api.createShortUrl({ longUrl: 'https://example.com/x',
                                             customSlug: 'sdk1' }),
                  ErrorType.INVALID_SLUG, 400, 'a slug taken');
    await refused(() => api.createShortUrl({ longUrl: 'javascript:alert(1)' }),
                  ErrorType.INVALID_ARGUMENT, 400, 'a URL refused');
    await refused(() => api.mercureInfo(), ErrorType.MERCURE_NOT_CONFIGURED, 501, 'mercure');

    await api.deleteShortUrl({ shortCode: 'sdk1' });
    await refused(() => api.getShortUrl({ shortCode: 'sdk1' }), ErrorType.INVALID_SHORTCODE,
                  404, 'get after delete');
    console.log('delete: gone');
}

const watchdog = setTimeout(() => {
    console.error('sdk.mjs: no answer within 60 s');
    process.exit(1);
}, 60000);
main().then(() => {
    clearTimeout(watchdog);
    console.log('all checks held');
}, (error) => {
    clearTimeout(watchdog);
    console.error(`sdk.mjs: ${error && error.message ? error.message : JSON.stringify(error)}`);
    process.exit(1);
});
