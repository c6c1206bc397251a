'use strict';
// MQTT over WebSocket end to end: the real azure-iot-device Client with the
// azure-iot-device-mqtt MqttWs transport against the hub's
// wss://<host>:443/$iothub/websocket.  What the SDK sends (mqtt 4.3.8,
// lib/connect/ws.js, through the ws package): GET /$iothub/websocket with
// Sec-WebSocket-Protocol: mqtt, Sec-WebSocket-Version: 13, permessage-deflate
// offered (we answer without it), then the same MQTT as the Mqtt transport
// in binary frames, masked.  Run through t/e2e/run.sh.

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { MqttWs } = require('azure-iot-device-mqtt');
const { Registry } = require('azure-iothub');
const h = require('./helpers');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const NO_MQTT = env.IOTHUB_MQTT === '0' && 'this build has no ngx_stream_iothub_mqtt_module.so';
const T = { timeout: 30000, skip: NO_MQTT };
const WAIT = 10000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

const RUN = `mqttws-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();
const open = new Set();

async function newDevice(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    const { responseBody: device } = await registry.create({ deviceId: id });
    const key = device.authentication.symmetricKey.primaryKey;
    return { id, connStr: `HostName=${HOST};DeviceId=${id};SharedAccessKey=${key}` };
}

async function wsClient(connStr) {
    const client = DeviceClient.fromConnectionString(connStr, MqttWs);
    client.errors = [];
    client.on('error', (e) => client.errors.push(e));
    open.add(client);
    await client.setOptions({ ca: CA });
    await h.within(WAIT, 'MQTT CONNECT over WebSocket', client.open());
    return client;
}

afterEach(async () => {
    const clients = [...open];
    open.clear();
    await Promise.all(clients.map((c) => h.within(5000, 'close', c.close()).catch(() => {})));
});

after(async () => {
    for (const id of created) {
        try { await registry.delete(id); } catch (e) { /* already gone */ }
    }
});

describe('MqttWs', { skip: NO_MQTT }, () => {
    it('connects; presence shows Connected, then Disconnected', T, async () => {
        const { id, connStr } = await newDevice('conn');
        const client = await wsClient(connStr);
        assert.equal((await registry.get(id)).responseBody.connectionState, 'Connected');
        await client.close();
        open.delete(client);
        let state;
        for (let i = 0; i < 30; i++) {
            ({ responseBody: { connectionState: state } } = await registry.get(id));
            if (state === 'Disconnected') break;
            await h.sleep(100);
        }
        assert.equal(state, 'Disconnected');
    });

    it('sendEvent reaches the built-in endpoint with its properties', T, async () => {
        const { id, connStr } = await newDevice('d2c');
        const client = await wsClient(connStr);
        const tag = crypto.randomUUID();
        const msg = new Message(JSON.stringify({ temp: 21.5 }));
        msg.properties.add('tag', tag);
        msg.messageId = `mid-${tag}`;
        await h.within(WAIT, 'PUBACK', client.sendEvent(msg));
        const [entry] = await h.findD2C((e) => e.fields['u:tag'] === tag);
        assert.ok(entry, 'telemetry stored');
        assert.equal(entry.body.toString(), '{"temp":21.5}');
        assert.equal(entry.fields['a:iothub-connection-device-id'], id);
        assert.equal(entry.fields['p:message-id'], `mid-${tag}`);
    });

    it('a large message (200 KB) goes in several frames', T, async () => {
        const { connStr } = await newDevice('big');
        const client = await wsClient(connStr);
        const tag = crypto.randomUUID();
        const body = crypto.randomBytes(100 * 1024).toString('hex');
        const msg = new Message(body);
        msg.properties.add('tag', tag);
        await h.within(WAIT, 'PUBACK', client.sendEvent(msg));
        const [entry] = await h.findD2C((e) => e.fields['u:tag'] === tag);
        assert.ok(entry, 'telemetry stored');
        assert.equal(entry.body.toString(), body);
    });

    it('receives a C2D message and completes it', T, async () => {
        const { id, connStr } = await newDevice('c2d');
        const client = await wsClient(connStr);
        const tag = crypto.randomUUID();
        const received = h.within(WAIT, 'C2D delivery',
            h.nextEvent(client, 'message').then(([m]) => m));
        // a message queued before the SUBSCRIBE lands is delivered after it
        const res = await h.restRequest('POST',
            `/devices/${encodeURIComponent(id)}/messages/devicebound`, {
                body: Buffer.from(`hello ${tag}`),
                headers: {
                    'Content-Type': 'application/octet-stream',
                    'iothub-messageid': `c2d-${tag}`,
                    'iothub-app-color': 'blue',
                },
            });
        assert.ok(res.status >= 200 && res.status < 300, `C2D send: HTTP ${res.status} ${res.text}`);
        const msg = await received;
        assert.equal(msg.data.toString(), `hello ${tag}`);
        assert.equal(msg.messageId, `c2d-${tag}`);
        assert.equal(msg.properties.getValue('color'), 'blue');
        await h.within(WAIT, 'complete', client.complete(msg));
        let left;
        for (let i = 0; i < 30; i++) {
            left = await h.redis('LLEN', `iothub:${env.IOTHUB_HUB_NAME}:{${id}}:c2d`);
            if (left === 0) break;
            await h.sleep(100);
        }
        assert.equal(left, 0, 'the message left the queue once completed');
    });

    it('twin: get, then a reported patch', T, async () => {
        const { id, connStr } = await newDevice('twin');
        const client = await wsClient(connStr);
        const twin = await h.within(WAIT, 'twin GET', client.getTwin());
        assert.equal(twin.properties.desired.$version, 1);
        assert.equal(twin.properties.reported.$version, 1);
        await h.within(WAIT, 'reported PATCH', new Promise((resolve, reject) => {
            twin.properties.reported.update({ fw: '1.0' }, (e) => (e ? reject(e) : resolve()));
        }));
        const { responseBody: svc } = await registry.getTwin(id);
        assert.equal(svc.properties.reported.fw, '1.0');
    });
});
