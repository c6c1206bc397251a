'use strict';
// The AMQP service side end to end: the real azure-iothub service Client
// (AMQP over TLS to 5671, no SASL, CBS put-token with a policy token for
// the audience <host>) sends cloud-to-device messages to a device that
// receives them over AMQP, and its feedback receiver gets the records of
// their completion.  Run through t/e2e/run.sh.
//
// What the SDK sends (azure-iothub dist/amqp.js): a sender on
// /messages/devicebound with properties.to = /devices/<encoded id>/messages/
// devicebound (the message id as an AMQP uuid when it looks like one) and
// a receiver on /messages/serviceBound/feedback, whose messages it hands
// over as they are (a data section holding the JSON array).

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient } = require('azure-iot-device');
const { Amqp } = require('azure-iot-device-amqp');
const { Client: ServiceClient, Registry } = require('azure-iothub');
const { Message } = require('azure-iot-common');
const h = require('./helpers');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const NO_AMQP = env.IOTHUB_AMQP !== '1' && 'this build has no ngx_stream_iothub_amqp_module.so';
const T = { timeout: 30000, skip: NO_AMQP };
const WAIT = 10000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

const RUN = `svc-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();
const open = [];

async function newDevice(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    return { id, connStr: `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}` };
}

async function amqpDevice(connStr) {
    const client = DeviceClient.fromConnectionString(connStr, Amqp);
    client.on('error', () => {});
    open.push(client);
    await client.setOptions({ ca: CA });
    await h.within(WAIT, 'device open', client.open());
    return client;
}

async function service(connStr = env.IOTHUB_SERVICE_CONNSTR) {
    const client = ServiceClient.fromConnectionString(connStr);
    open.push(client);
    await h.within(WAIT, 'service open', client.open());
    return client;
}

// the 'message' events of an emitter, one at a time
function queue(emitter) {
    const got = [];
    const waiting = [];
    emitter.on('message', (m) => (waiting.length ? waiting.shift()(m) : got.push(m)));
    return (what) => h.within(WAIT, what, got.length
        ? Promise.resolve(got.shift()) : new Promise((resolve) => waiting.push(resolve)));
}

afterEach(async () => {
    const clients = open.splice(0);
    await Promise.all(clients.map((c) => h.within(5000, 'close', c.close()).catch(() => {})));
});

after(async () => {
    for (const id of created) {
        await registry.delete(id).catch(() => {});
    }
});

describe('amqp service', { skip: NO_AMQP }, () => {
    it('send reaches an AMQP device; its completion comes on the feedback receiver', T, async () => {
        const { id, connStr } = await newDevice('c2d');
        const device = await amqpDevice(connStr);
        const received = queue(device);
        const svc = await service();
        const { result: feedback } = await h.within(WAIT, 'feedback receiver',
            svc.getFeedbackReceiver());
        const records = queue(feedback);

        const messageId = crypto.randomUUID();
        const msg = new Message(`hello ${messageId}`);
        msg.messageId = messageId;
        msg.ack = 'full';
        msg.properties.add('color', 'blue');
        await h.within(WAIT, 'send', svc.send(id, msg));

        const got = await received('C2D delivery');
        assert.equal(got.data.toString(), `hello ${messageId}`);
        assert.equal(got.messageId, messageId);
        assert.equal(got.ack, 'full');
        assert.equal(got.properties.getValue('color'), 'blue');
        await h.within(WAIT, 'complete', device.complete(got));

        // other files' records may come first: this message's is looked for
        let record;
        while (!record) {
            const fb = await records('feedback');
            assert.equal(fb.contentType, 'application/vnd.microsoft.iothub.feedback.json');
            const batch = JSON.parse(fb.data.toString());
            assert.ok(Array.isArray(batch), 'a JSON array');
            record = batch.find((r) => r.originalMessageId === messageId);
            await h.within(WAIT, 'feedback complete', feedback.complete(fb));
        }
        assert.equal(record.statusCode, 'Success');
        assert.equal(record.deviceId, id);
        assert.match(record.enqueuedTimeUtc, /^\d{4}-\d\d-\d\dT/);
    });

    it('an unknown device is DeviceNotFoundError; a full queue DeviceMaximumQueueDepthExceededError', T, async () => {
        const svc = await service();
        await assert.rejects(h.within(WAIT, 'send', svc.send(`${RUN}-nobody`, new Message('x'))),
            (e) => e.constructor.name === 'DeviceNotFoundError' || (assert.fail(`${e.constructor.name}: ${e.message}`)));

        const { id } = await newDevice('full');
        for (let i = 0; i < 50; i++) {
            await h.within(WAIT, `send ${i}`, svc.send(id, new Message(`m${i}`)));
        }
        await assert.rejects(h.within(WAIT, 'send 51', svc.send(id, new Message('one too many'))),
            (e) => e.constructor.name === 'DeviceMaximumQueueDepthExceededError'
                || (assert.fail(`${e.constructor.name}: ${e.message}`)));
    });

    it('a policy without ServiceConnect cannot open the service client', T, async () => {
        const client = ServiceClient.fromConnectionString(env.IOTHUB_REGISTRYREAD_CONNSTR);
        open.push(client);
        // the SDK wraps the put-token's UnauthorizedError in a plain Error
        await assert.rejects(h.within(WAIT, 'open', client.open()), (e) => {
            const inner = e.amqpError || e;
            assert.equal(inner.constructor.name, 'UnauthorizedError', `${e.constructor.name}: ${e.message}`);
            assert.match(inner.message, /ServiceConnect/);
            return true;
        });
    });
});
