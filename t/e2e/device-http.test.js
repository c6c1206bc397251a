'use strict';
// HTTPS device endpoint end to end: the real azure-iot-device Client with the
// azure-iot-device-http transport (TLS to 443) against the hub; telemetry is
// read back from the hub's Redis streams, cloud-to-device messages are sent by
// the azure-iothub service Client (AMQP to 5671) and their feedback read with
// its feedback receiver.
// Run through t/e2e/run.sh, which sets IOTHUB_* and NODE_EXTRA_CA_CERTS.
//
// What the SDK sends (azure-iot-device-http 1.14.4, dist/http.js;
// azure-iot-http-base 1.12.3, dist/http.js):
//   sendEvent       POST /devices/<dev>/messages/events?api-version=...,
//                   Authorization: a device SAS token, iothub-to, IoTHub-MessageId,
//                   IoTHub-CorrelationId, iothub-contenttype, iothub-app-<name>;
//                   body the payload; success is any 2xx
//   sendEventBatch  the same URL, Content-Type application/vnd.microsoft.iothub.json,
//                   [{"body":"<base64>","properties":{"iothub-app-<name>":"v"}}, ...]
//   receive         GET /devices/<dev>/messages/devicebound every second, draining:
//                   200 -> a message (ETag without its quotes is the lockToken,
//                   iothub-app-<name> headers become properties under that full
//                   name), anything else is ignored
//   complete        DELETE .../devicebound/<lockToken>, If-Match: <lockToken>
//   reject          DELETE .../devicebound/<lockToken>?api-version=...&reject
//   abandon         POST .../devicebound/<lockToken>/abandon

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Http } = require('azure-iot-device-http');
const { Registry, Client: ServiceClient } = require('azure-iothub');
const h = require('./helpers');

const deviceErrors = require(require.resolve('azure-iot-common',
    { paths: [require.resolve('azure-iot-device')] })).errors;

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const NO_AMQP = env.IOTHUB_AMQP === '0' && 'this build has no ngx_stream_iothub_amqp_module.so';
const T = { timeout: 30000 };
const WAIT = 10000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

const RUN = `http-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
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

function httpClient(connStr) {
    const client = DeviceClient.fromConnectionString(connStr, Http);
    client.errors = [];
    client.on('error', (e) => client.errors.push(e));
    open.add(client);
    return client;
}

async function serviceClient() {
    const client = ServiceClient.fromConnectionString(env.IOTHUB_SERVICE_CONNSTR
                                                      || env.IOTHUB_OWNER_CONNSTR);
    open.add(client);
    await h.within(WAIT, 'service open', client.open());
    return client;
}

// a certificate with CN = id from scripts/gen-certs.sh, CA-signed ('device')
// or self-signed ('selfsigned'): { cert, key, thumbprint }
function certificate(kind, id) {
    const gen = path.join(__dirname, '..', '..', 'scripts', 'gen-certs.sh');
    const thumbprint = execFileSync(gen, [env.IOTHUB_CERT_DIR, kind, id],
                                    { encoding: 'utf8' }).trim();
    const base = path.join(env.IOTHUB_CERT_DIR, `${kind}-${id}`);
    return {
        cert: fs.readFileSync(`${base}.crt`, 'utf8'),
        key: fs.readFileSync(`${base}.key`, 'utf8'),
        thumbprint,
    };
}

// an HTTP Client of an x509=true connection string presenting { cert, key }
async function x509Client(id, { cert, key }) {
    const client = httpClient(`HostName=${HOST};DeviceId=${id};x509=true`);
    // Http.setOptions() calls back only when receiver options are given too
    // (azure-iot-device-http 1.14.4): without them the promise never settles
    await h.within(WAIT, 'setOptions',
                   client.setOptions({ cert, key, http: { receivePolicy: { interval: 1 } } }));
    return client;
}

function message(body, props = {}) {
    const msg = new Message(body);
    for (const [k, v] of Object.entries(props)) msg.properties.add(k, v);
    return msg;
}

// resolve with the next C2D message the receiver polls
function nextC2D(client, pred = () => true) {
    return h.within(WAIT, 'C2D delivery', h.nextEvent(client, 'message', pred).then(([m]) => m));
}

// the service's feedback receiver: a function resolving with the record of
// messageId (other records, of other tests, are completed on the way)
async function feedbackOf(service) {
    const { result: receiver } = await h.within(WAIT, 'feedback receiver',
                                                service.getFeedbackReceiver());
    const got = [];
    const waiting = [];
    receiver.on('message', (m) => (waiting.length ? waiting.shift()(m) : got.push(m)));
    const next = () => h.within(WAIT, 'feedback', got.length
        ? Promise.resolve(got.shift()) : new Promise((resolve) => waiting.push(resolve)));
    return async (messageId) => {
        for (;;) {
            const batch = await next();
            const record = JSON.parse(batch.data.toString())
                .find((r) => r.originalMessageId === messageId);
            await h.within(WAIT, 'feedback complete', receiver.complete(batch));
            if (record) return record;
        }
    };
}

async function closeAll() {
    const clients = [...open];
    open.clear();
    await Promise.all(clients.map((c) => h.within(5000, 'close', c.close()).catch(() => {})));
}

afterEach(closeAll);

after(async () => {
    await closeAll();
    for (const id of created) {
        try { await registry.delete(id); } catch (e) { /* already gone */ }
    }
});

describe('telemetry', () => {
    it('sendEvent: stored with its properties and the stamps', T, async () => {
        const { id, connStr } = await newDevice('d2c');
        const client = httpClient(connStr);
        const tag = crypto.randomUUID();
        const msg = message(`{"tag":"${tag}"}`, { tag, color: 'blue' });
        msg.messageId = `m-${tag}`;
        msg.correlationId = `c-${tag}`;
        msg.contentType = 'application/json';
        msg.contentEncoding = 'utf-8';
        await h.within(WAIT, 'sendEvent', client.sendEvent(msg));
        const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
        assert.ok(e, 'the message is in a stream');
        assert.equal(e.body.toString(), `{"tag":"${tag}"}`);
        assert.equal(e.fields['u:color'], 'blue');
        assert.equal(e.fields['p:message-id'], `m-${tag}`);
        assert.equal(e.fields['p:correlation-id'], `c-${tag}`);
        assert.equal(e.fields['p:content-type'], 'application/json');
        assert.equal(e.fields['p:content-encoding'], 'utf-8');
        assert.equal(e.fields['a:iothub-connection-device-id'], id);
        assert.match(e.fields['a:iothub-connection-auth-method'], /"type":"sas"/);
    });

    it('sendEventBatch: every message stored', T, async () => {
        const { connStr } = await newDevice('batch');
        const client = httpClient(connStr);
        const tag = crypto.randomUUID();
        const msgs = [0, 1, 2].map((i) => message(`batch ${i}`, { tag, i: String(i) }));
        await h.within(WAIT, 'sendEventBatch', client.sendEventBatch(msgs));
        const found = await h.findD2C((x) => x.fields['u:tag'] === tag, { count: 3 });
        assert.deepEqual(found.map((e) => e.body.toString()).sort(),
                         ['batch 0', 'batch 1', 'batch 2']);
        assert.deepEqual(found.map((e) => e.fields['u:i']).sort(), ['0', '1', '2']);
    });

    it('a wrong key is refused: UnauthorizedError', T, async () => {
        const { id } = await newDevice('badkey');
        const client = httpClient(`HostName=${HOST};DeviceId=${id};SharedAccessKey=`
                                  + crypto.randomBytes(32).toString('base64'));
        await assert.rejects(h.within(WAIT, 'sendEvent', client.sendEvent(message('x'))),
            (err) => {
                assert.ok(err instanceof deviceErrors.UnauthorizedError,
                          `got ${err && err.name}: ${err && err.message}`);
                return true;
            });
    });
});

describe('c2d', { skip: NO_AMQP }, () => {
    it('service send -> polled with its properties; complete writes Success feedback', T, async () => {
        const { id, connStr } = await newDevice('c2d');
        const service = await serviceClient();
        const client = httpClient(connStr);
        const tag = crypto.randomUUID();
        const out = message(`hello ${tag}`, { color: 'red' });
        out.messageId = `c2d-${tag}`;
        out.correlationId = `corr-${tag}`;
        out.ack = 'full';
        await h.within(WAIT, 'service send', service.send(id, out));
        const msg = await nextC2D(client);
        assert.equal(msg.data.toString(), `hello ${tag}`);
        assert.equal(msg.messageId, `c2d-${tag}`);
        assert.equal(msg.correlationId, `corr-${tag}`);
        assert.equal(msg.properties.getValue('iothub-app-color'), 'red');
        assert.match(msg.lockToken, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
        const feedback = await feedbackOf(service);
        await h.within(WAIT, 'complete', client.complete(msg));
        const record = await feedback(`c2d-${tag}`);
        assert.equal(record.statusCode, 'Success');
        assert.equal(record.deviceId, id);
    });

    it('abandon: delivered again, one more delivery; reject then dead-letters it', T, async () => {
        const { id, connStr } = await newDevice('abandon');
        const service = await serviceClient();
        const client = httpClient(connStr);
        const tag = crypto.randomUUID();
        const feedback = await feedbackOf(service);
        const out = message(`again ${tag}`);
        out.messageId = `ab-${tag}`;
        out.ack = 'negative';
        const first = nextC2D(client);
        await h.within(WAIT, 'service send', service.send(id, out));
        const m1 = await first;
        const second = nextC2D(client);
        await h.within(WAIT, 'abandon', client.abandon(m1));
        const m2 = await second;
        assert.equal(m2.messageId, `ab-${tag}`);
        assert.notEqual(m2.lockToken, m1.lockToken);
        await h.within(WAIT, 'reject', client.reject(m2));
        // the settled lock is gone: settling it again fails
        await assert.rejects(h.within(WAIT, 'complete again', client.complete(m2)));
        const res = await h.restRequest('GET', `/devices/${encodeURIComponent(id)}`);
        assert.equal(JSON.parse(res.text).cloudToDeviceMessageCount, 0);
        const record = await feedback(`ab-${tag}`);
        assert.equal(record.statusCode, 'Rejected');
    });
});

describe('x509', { skip: !env.IOTHUB_CERT_DIR && 'IOTHUB_CERT_DIR is not set' }, () => {
    for (const kind of ['selfsigned', 'device']) {
        it(`a ${kind === 'device' ? 'CA-signed' : 'self-signed'} device sends with its certificate; another device's certificate is refused`,
           T, async () => {
            const id = `${RUN}-x509-${++seq}`;
            const other = `${RUN}-x509-${++seq}`;
            const cert = certificate(kind, id);
            const wrong = certificate(kind, other);
            const authentication = kind === 'device'
                ? { type: 'certificateAuthority' }
                : { type: 'selfSigned',
                    x509Thumbprint: { primaryThumbprint: cert.thumbprint, secondaryThumbprint: null } };
            created.add(id);
            await registry.create({ deviceId: id, authentication });
            const client = await x509Client(id, cert);
            const tag = crypto.randomUUID();
            await h.within(WAIT, 'sendEvent', client.sendEvent(message('x509 hello', { tag })));
            const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
            assert.ok(e, 'the message is in a stream');
            assert.equal(e.fields['a:iothub-connection-device-id'], id);
            assert.equal(JSON.parse(e.fields['a:iothub-connection-auth-method']).type,
                         'x509Certificate');
            const intruder = await x509Client(id, wrong);
            await assert.rejects(h.within(WAIT, 'sendEvent', intruder.sendEvent(message('no'))),
                (err) => {
                    assert.ok(err instanceof deviceErrors.UnauthorizedError,
                              `got ${err && err.name}: ${err && err.message}`);
                    return true;
                });
        });
    }
});
