'use strict';
// AMQP over WebSocket end to end: the real azure-iot-device Client with the
// azure-iot-device-amqp AmqpWs transport and the azure-iothub service Client
// with its AmqpWs transport, both against wss://<host>:443/$iothub/websocket
// (hard-coded by the SDKs).  What they send (azure-iot-amqp-base through
// rhea's websocket_connect and the ws package): GET /$iothub/websocket with
// Sec-WebSocket-Protocol: AMQPWSB10, then the same AMQP as on 5671 (plain
// AMQP header, CBS put-token) in binary frames.  Run through t/e2e/run.sh.

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { AmqpWs } = require('azure-iot-device-amqp');
const { Client: ServiceClient, AmqpWs: ServiceAmqpWs, Registry } = require('azure-iothub');
const { Message: ServiceMessage } = require('azure-iot-common');
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

const RUN = `amqpws-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();
const open = [];

async function newDevice(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    return { id, device, connStr: `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}` };
}

async function wsDevice(connStr) {
    const client = DeviceClient.fromConnectionString(connStr, AmqpWs);
    client.errors = [];
    client.on('error', (e) => client.errors.push(e));
    open.push(client);
    await client.setOptions({ ca: CA });
    await h.within(WAIT, 'AMQP open over WebSocket', client.open());
    return client;
}

// the service Client trusts the test CA through NODE_EXTRA_CA_CERTS (run.sh)
async function wsService() {
    const client = ServiceClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR, ServiceAmqpWs);
    open.push(client);
    await h.within(WAIT, 'service open over WebSocket', client.open());
    return client;
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

describe('AmqpWs', { skip: NO_AMQP }, () => {
    it('connects; presence shows Connected, then Disconnected', T, async () => {
        const { id, connStr } = await newDevice('conn');
        const client = await wsDevice(connStr);
        assert.equal((await registry.get(id)).responseBody.connectionState, 'Connected');
        await h.within(5000, 'close', client.close());
        open.splice(open.indexOf(client), 1);
        let state;
        for (let i = 0; i < 30; i++) {
            ({ responseBody: { connectionState: state } } = await registry.get(id));
            if (state === 'Disconnected') break;
            await h.sleep(100);
        }
        assert.equal(state, 'Disconnected');
    });

    it('telemetry with properties reaches the built-in endpoint, accepted', T, async () => {
        const { id, device, connStr } = await newDevice('d2c');
        const client = await wsDevice(connStr);
        const tag = crypto.randomUUID();
        const msg = new Message(JSON.stringify({ temp: 21.5 }));
        msg.properties.add('tag', tag);
        msg.messageId = `mid-${tag}`;
        msg.contentType = 'application/json';
        await h.within(WAIT, 'accepted', client.sendEvent(msg));

        const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
        assert.ok(e, `no stream entry with u:tag=${tag}`);
        assert.equal(e.body.toString(), JSON.stringify({ temp: 21.5 }));
        assert.equal(e.fields['p:message-id'], `mid-${tag}`);
        assert.equal(e.fields['p:content-type'], 'application/json');
        assert.equal(e.fields['a:iothub-connection-device-id'], id);
        assert.equal(e.fields['a:iothub-connection-auth-generation-id'], device.generationId);
        assert.deepEqual(client.errors, []);
    });

    it('a large message (200 KB) goes in several AMQP frames', T, async () => {
        const { connStr } = await newDevice('big');
        const client = await wsDevice(connStr);
        const tag = crypto.randomUUID();
        const body = crypto.randomBytes(100 * 1024).toString('hex');
        const msg = new Message(body);
        msg.properties.add('tag', tag);
        await h.within(WAIT, 'accepted', client.sendEvent(msg));
        const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
        assert.ok(e, 'telemetry stored');
        assert.equal(e.body.toString(), body);
    });

    it('the service Client over WebSocket sends C2D; the device receives and completes it', T, async () => {
        const { id, connStr } = await newDevice('c2d');
        const device = await wsDevice(connStr);
        // the listener stays: without one the SDK detaches its C2D link,
        // and complete() needs the link
        const received = h.within(WAIT, 'C2D delivery',
            new Promise((resolve) => device.on('message', resolve)));
        const svc = await wsService();

        const messageId = crypto.randomUUID();
        const msg = new ServiceMessage(`hello ${messageId}`);
        msg.messageId = messageId;
        msg.properties.add('color', 'blue');
        await h.within(WAIT, 'send', svc.send(id, msg));

        const got = await received;
        assert.equal(got.data.toString(), `hello ${messageId}`);
        assert.equal(got.messageId, messageId);
        assert.equal(got.properties.getValue('color'), 'blue');
        await h.within(WAIT, 'complete', device.complete(got));
        let left;
        for (let i = 0; i < 30; i++) {
            left = await h.redis('LLEN', `iothub:${env.IOTHUB_HUB_NAME}:{${id}}:c2d`);
            if (left === 0) break;
            await h.sleep(100);
        }
        assert.equal(left, 0, 'the message left the queue once completed');
    });

    it('the service Client over WebSocket: an unknown device is DeviceNotFoundError', T, async () => {
        const svc = await wsService();
        await assert.rejects(h.within(WAIT, 'send', svc.send(`${RUN}-nobody`, new ServiceMessage('x'))),
            (e) => e.constructor.name === 'DeviceNotFoundError'
                || (assert.fail(`${e.constructor.name}: ${e.message}`)));
    });
});
