'use strict';
// The query language end to end (rest.md 9): the real azure-iothub
// Registry.createQuery against the hub over TLS on 443, with nextAsTwin
// and next, paging with pageSize (x-ms-max-item-count) and the
// continuation the SDK keeps (x-ms-continuation, hasMoreResults), and the
// SDK's error for a bad query. Run through t/e2e/run.sh.

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Registry } = require('azure-iothub');
const errors = require('azure-iothub/dist/common-core/errors');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const T = { timeout: 30000 };

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

// unique per run: the tag every device of this run carries
const RUN = `q${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
const IDS = [1, 2, 3, 4, 5].map((i) => `${RUN}-d${i}`);

// every page of a query, as the SDK walks them
async function allPages(query, asTwin) {
    const pages = [];
    while (query.hasMoreResults) {
        const { result } = asTwin ? await query.nextAsTwin() : await query.next();
        pages.push(result);
        assert.ok(pages.length <= 20, 'the continuation ends');
    }
    return pages;
}

describe('query', () => {
    before(async () => {
        for (const [i, id] of IDS.entries()) {
            await registry.create({ deviceId: id });
            await registry.updateTwin(id, {
                tags: { run: RUN, odd: i % 2 === 0 ? 'yes' : 'no', n: i + 1 },
                properties: { desired: { interval: 10 * (i + 1) } },
            }, '*');
        }
    });

    after(async () => {
        for (const id of IDS) {
            try { await registry.delete(id); } catch (e) { /* gone */ }
        }
    });

    it('nextAsTwin pages of 2 over 5 twins: Twin objects, then no more results', T, async () => {
        const query = registry.createQuery(`SELECT * FROM devices WHERE tags.run = '${RUN}'`, 2);
        const pages = await allPages(query, true);
        assert.deepEqual(pages.map((p) => p.length), [2, 2, 1]);
        const twins = pages.flat();
        assert.deepEqual(twins.map((t) => t.deviceId), IDS);
        assert.equal(twins[0].tags.run, RUN);
        assert.equal(twins[4].properties.desired.interval, 50);
        assert.equal(typeof twins[0].update, 'function', 'a Twin of the SDK');
        assert.equal(query.hasMoreResults, false);
    });

    it('one page when everything fits; the condition narrows', T, async () => {
        const query = registry.createQuery(
            `SELECT * FROM devices WHERE tags.run = '${RUN}' AND tags.odd = 'yes' AND properties.desired.interval > 10`);
        const pages = await allPages(query, true);
        assert.equal(pages.length, 1);
        assert.deepEqual(pages[0].map((t) => t.deviceId), [IDS[2], IDS[4]]);
    });

    it('projections and aggregates come as plain objects', T, async () => {
        let pages = await allPages(registry.createQuery(
            `SELECT DeviceId, tags.n AS n FROM devices WHERE tags.run = '${RUN}' AND tags.n IN [2, 4]`), false);
        assert.deepEqual(pages, [[{ deviceId: IDS[1], n: 2 }, { deviceId: IDS[3], n: 4 }]]);

        pages = await allPages(registry.createQuery(
            `SELECT tags.odd AS odd, COUNT() AS c, SUM(tags.n) AS s FROM devices WHERE tags.run = '${RUN}' GROUP BY tags.odd`), false);
        assert.deepEqual(pages, [[{ odd: 'yes', c: 3, s: 9 }, { odd: 'no', c: 2, s: 6 }]]);
    });

    it('a syntax error is an ArgumentError (400) naming the position', T, async () => {
        const query = registry.createQuery('SELECT * FROM devices WHERE');
        await assert.rejects(query.nextAsTwin(), (err) => {
            assert.equal(err.name, errors.ArgumentError.name);
            assert.equal(err.response.statusCode, 400);
            assert.match(err.message, /position 28/);
            return true;
        });
    });
});
