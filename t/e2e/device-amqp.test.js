'use strict';
// AMQP device endpoint end to end: the real azure-iot-device Client with the
// azure-iot-device-amqp transport (TLS to 5671, no SASL, CBS put-token)
// against the hub: telemetry into the hub's streams, cloud-to-device messages
// received and completed, rejected and abandoned.  Run through t/e2e/run.sh.
//
// What the SDK sends (azure-iot-device-amqp, azure-iot-amqp-base; see
// reference/sdk-traffic.md 3): the plain AMQP header, open hostname=<host>,
// $cbs sender and receiver, put-token with audience <host>%2Fdevices%2F<id>,
// then a sender on /devices/<id>/messages/events and, for the 'message'
// listener, a receiver on /devices/<id>/messages/devicebound; complete() is
// 'accepted', reject() 'rejected', abandon() 'released'.

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Amqp } = require('azure-iot-device-amqp');
const { Registry } = require('azure-iothub');
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

const RUN = `amqp-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();

async function newDevice(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    return { id, device, connStr: `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}` };
}

const open = new Set();

async function amqpClient(connStr) {
    const client = DeviceClient.fromConnectionString(connStr, Amqp);
    client.errors = [];
    client.on('error', (e) => client.errors.push(e));
    open.add(client);
    await client.setOptions({ ca: CA });
    await h.within(WAIT, 'AMQP open', client.open());
    return client;
}

afterEach(async () => {
    const clients = [...open];
    open.clear();
    await Promise.all(clients.map((c) => h.within(5000, 'close', c.close()).catch(() => {})));
});

after(async () => {
    for (const id of created) {
        await registry.delete(id).catch(() => {});
    }
});

// the REST extension that queues a C2D message (see device-mqtt.test.js)
async function sendC2D(deviceId, { body, messageId, ack, properties = {} }) {
    const headers = { 'Content-Type': 'application/octet-stream' };
    if (messageId !== undefined) headers['iothub-messageid'] = messageId;
    if (ack !== undefined) headers['iothub-ack'] = ack;
    for (const [k, v] of Object.entries(properties)) headers[`iothub-app-${k}`] = v;
    const res = await h.restRequest('POST', `/devices/${encodeURIComponent(deviceId)}/messages/devicebound`,
        { body: Buffer.from(body), headers });
    assert.ok(res.status >= 200 && res.status < 300, `C2D send: HTTP ${res.status} ${res.text}`);
}

// a listener for the whole test: removing the last 'message' listener makes
// the SDK detach its C2D link, and settling needs the link
function c2dQueue(client) {
    const got = [];
    const waiting = [];
    client.on('message', (m) => (waiting.length ? waiting.shift()(m) : got.push(m)));
    return () => h.within(WAIT, 'C2D delivery', got.length
        ? Promise.resolve(got.shift()) : new Promise((resolve) => waiting.push(resolve)));
}

describe('amqp', { skip: NO_AMQP }, () => {
    it('telemetry with properties reaches the built-in endpoint, accepted', T, async () => {
        const { id, device, connStr } = await newDevice('d2c');
        const client = await amqpClient(connStr);
        const tag = crypto.randomUUID();
        const msg = new Message(JSON.stringify({ temp: 21.5 }));
        msg.properties.add('tag', tag);
        msg.properties.add('sp ace', 'v/a l?u#e');
        msg.messageId = `mid-${tag}`;
        msg.correlationId = `cid-${tag}`;
        msg.contentType = 'application/json';
        msg.contentEncoding = 'utf-8';
        await h.within(WAIT, 'accepted', client.sendEvent(msg));

        const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
        assert.ok(e, `no stream entry with u:tag=${tag}`);
        const f = e.fields;
        assert.equal(e.body.toString(), JSON.stringify({ temp: 21.5 }));
        assert.equal(f['p:message-id'], `mid-${tag}`);
        assert.equal(f['p:correlation-id'], `cid-${tag}`);
        assert.equal(f['p:content-type'], 'application/json');
        assert.equal(f['p:content-encoding'], 'utf-8');
        assert.equal(f['u:sp ace'], 'v/a l?u#e');
        assert.equal(f['a:iothub-connection-device-id'], id);
        assert.equal(f['a:iothub-connection-auth-generation-id'], device.generationId);
    });

    it('C2D: message with properties, complete; reject and abandon', T, async () => {
        const { id, connStr } = await newDevice('c2d');
        const client = await amqpClient(connStr);
        const tag = crypto.randomUUID();
        const next = c2dQueue(client);
        await sendC2D(id, { body: `hello ${tag}`, messageId: `c2d-${tag}`, ack: 'full',
                            properties: { color: 'blue' } });
        let msg = await next();
        assert.equal(msg.data.toString(), `hello ${tag}`);
        assert.equal(msg.messageId, `c2d-${tag}`);
        assert.equal(msg.properties.getValue('color'), 'blue');
        assert.equal(msg.ack, 'full');
        assert.match(msg.to, new RegExp(`^/devices/${id}/messages/devicebound$`, 'i'));

        // abandon: delivered again
        await h.within(WAIT, 'abandon', client.abandon(msg));
        msg = await next();
        assert.equal(msg.data.toString(), `hello ${tag}`);
        await h.within(WAIT, 'complete', client.complete(msg));

        // reject: dead-lettered, the next one comes
        await sendC2D(id, { body: 'second', messageId: `c2d2-${tag}` });
        msg = await next();
        assert.equal(msg.data.toString(), 'second');
        await h.within(WAIT, 'reject', client.reject(msg));
        const res = await h.restRequest('GET', `/devices/${encodeURIComponent(id)}`);
        assert.equal(JSON.parse(res.text).cloudToDeviceMessageCount, 0);
    });

    it('an unknown device is refused with UnauthorizedError', T, async () => {
        const key = crypto.randomBytes(32).toString('base64');
        const client = DeviceClient.fromConnectionString(
            `HostName=${HOST};DeviceId=${RUN}-nobody;SharedAccessKey=${key}`, Amqp);
        client.on('error', () => {});
        await client.setOptions({ ca: CA });
        await assert.rejects(h.within(WAIT, 'AMQP open', client.open()),
            (err) => /Unauthorized/.test(err.name) || /Unauthorized/.test(err.message));
        await client.close().catch(() => {});
    });
});
