'use strict';
// Concurrent service calls on one identity with the real azure-iothub
// Registry: the registry's and the twin's writes are atomic, so of N racing
// conditional calls exactly one wins and the others get IoT Hub's error
// (409 DeviceAlreadyExists, 412 PreconditionFailed, 404 DeviceNotFound),
// and unconditional ones each land whole.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Registry, Client: ServiceClient } = require('azure-iothub');
const { Message } = require('azure-iot-common');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const T = { timeout: 30000 };
const NO_AMQP = env.IOTHUB_AMQP !== '1' && 'this build has no ngx_stream_iothub_amqp_module.so';
const N = 16;
const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);
const RUN = `race-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;

const statusOf = (r) => (r.status === 'fulfilled'
    ? 200 : (r.reason.response && r.reason.response.statusCode));

function tally(results) {
    const count = {};
    for (const r of results) {
        const s = statusOf(r);
        count[s] = (count[s] || 0) + 1;
    }
    return count;
}

describe('racing service calls on one identity', () => {
    it('N creates of one id: one device, the others 409', T, async () => {
        const id = `${RUN}-create`;
        const results = await Promise.allSettled(Array.from({ length: N },
            () => registry.create({ deviceId: id })));
        assert.deepEqual(tally(results), { 200: 1, 409: N - 1 });
        const winner = results.find((r) => r.status === 'fulfilled').value.responseBody;
        const got = (await registry.get(id)).responseBody;
        assert.equal(got.authentication.symmetricKey.primaryKey,
            winner.authentication.symmetricKey.primaryKey,
            'the stored keys are the winner\'s');
        await registry.delete(id);
    });

    it('N twin updates with one etag: one applied, the others 412', T, async () => {
        const id = `${RUN}-twin`;
        await registry.create({ deviceId: id });
        const twin = (await registry.getTwin(id)).responseBody;
        const results = await Promise.allSettled(Array.from({ length: N },
            (_, i) => registry.updateTwin(id, { tags: { writer: i } }, twin.etag)));
        assert.deepEqual(tally(results), { 200: 1, 412: N - 1 });
        const winner = results.findIndex((r) => r.status === 'fulfilled');
        const after = (await registry.getTwin(id)).responseBody;
        assert.equal(after.tags.writer, winner);
        assert.equal(after.version, twin.version + 1);
        await registry.delete(id);
    });

    it('N identity updates (the SDK sends If-Match *): each whole, the last wins', T, async () => {
        const id = `${RUN}-update`;
        const dev = (await registry.create({ deviceId: id })).responseBody;
        const results = await Promise.allSettled(Array.from({ length: N },
            (_, i) => registry.update({ deviceId: id, etag: dev.etag,
                status: i % 2 ? 'disabled' : 'enabled', statusReason: `w${i}` })));
        assert.deepEqual(tally(results), { 200: N });
        // no torn record: the status is the one its statusReason's writer sent
        const got = (await registry.get(id)).responseBody;
        const writer = Number(got.statusReason.slice(1));
        assert.equal(got.status, writer % 2 ? 'disabled' : 'enabled');
        const etags = new Set(results.map((r) => r.value.responseBody.etag));
        assert.equal(etags.size, N, 'every write answered with its own etag');
        assert.ok(etags.has(got.etag));
        await registry.delete(id);
    });

    it('N deletes of one device: one deleted, the others 404', T, async () => {
        const id = `${RUN}-delete`;
        await registry.create({ deviceId: id });
        const results = await Promise.allSettled(Array.from({ length: N },
            () => registry.delete(id)));
        assert.deepEqual(tally(results), { 200: 1, 404: N - 1 });
    });

    it('60 cloud-to-device sends at once to a queue of 50: 50 queued, 10 refused', { ...T, skip: NO_AMQP }, async () => {
        const id = `${RUN}-c2d`;
        await registry.create({ deviceId: id });
        const svc = ServiceClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR);
        await svc.open();
        try {
            const results = await Promise.allSettled(Array.from({ length: 60 },
                (_, i) => svc.send(id, new Message(`m${i}`))));
            const names = {};
            for (const r of results) {
                const n = r.status === 'fulfilled' ? 'sent' : r.reason.constructor.name;
                names[n] = (names[n] || 0) + 1;
            }
            assert.deepEqual(names, { sent: 50, DeviceMaximumQueueDepthExceededError: 10 });
        } finally {
            // sends racing to attach leave links the client never detaches:
            // its end must be answered so that its close succeeds
            await svc.close();
        }
        await registry.delete(id);
    });
});
