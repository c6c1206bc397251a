'use strict';
// X.509 devices end to end (reference/auth.md 5): the real azure-iot-device
// Client with the azure-iot-device-mqtt and azure-iot-device-amqp transports
// (AMQP: TLS client certificate, no SASL, no CBS), an `x509=true` connection
// string and the certificate in setOptions({ cert, key }), against identities
// the service SDK (azure-iothub Registry) created as selfSigned (thumbprint)
// or certificateAuthority (chain to the test CA, CN = device id).
// Certificates come from scripts/gen-certs.sh in IOTHUB_CERT_DIR: the CA there
// signed the server certificate and is the one the hub trusts for devices
// (scripts/hub-conf.sh: ssl_trusted_certificate on 8883).
// Run through t/e2e/run.sh, which sets IOTHUB_* and NODE_EXTRA_CA_CERTS.

const { describe, it, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { Client: DeviceClient, Message } = require('azure-iot-device');
const { Mqtt } = require('azure-iot-device-mqtt');
const { Amqp } = require('azure-iot-device-amqp');
const { Registry } = require('azure-iothub');
const h = require('./helpers');

const deviceErrors = require(require.resolve('azure-iot-common',
    { paths: [require.resolve('azure-iot-device')] })).errors;

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR || !env.IOTHUB_CERT_DIR) {
    throw new Error('IOTHUB_OWNER_CONNSTR or IOTHUB_CERT_DIR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const CA = env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA, 'utf8') : undefined;
const CERTS = env.IOTHUB_CERT_DIR;
const GEN = path.join(__dirname, '..', '..', 'scripts', 'gen-certs.sh');
const NO_MQTT = env.IOTHUB_MQTT === '0' && 'this build has no ngx_stream_iothub_mqtt_module.so';
const NO_AMQP = env.IOTHUB_AMQP === '0' && 'this build has no ngx_stream_iothub_amqp_module.so';
const T = { timeout: 30000 };
const WAIT = 10000;

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

const RUN = `x509-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();

function newId(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    return id;
}

// a certificate with CN = id, CA-signed ('device') or self-signed
// ('selfsigned'): { cert, key, thumbprint } (SHA-1, upper-case hex)
function certificate(kind, id) {
    const thumbprint = execFileSync(GEN, [CERTS, kind, id], { encoding: 'utf8' }).trim();
    const base = path.join(CERTS, `${kind}-${id}`);
    return {
        cert: fs.readFileSync(`${base}.crt`, 'utf8'),
        key: fs.readFileSync(`${base}.key`, 'utf8'),
        thumbprint,
    };
}

async function newX509Device(tag, authentication) {
    const id = newId(tag);
    await registry.create({ deviceId: id, authentication });
    return id;
}

const selfSigned = (primaryThumbprint, secondaryThumbprint = null) => ({
    type: 'selfSigned', x509Thumbprint: { primaryThumbprint, secondaryThumbprint },
});
const certificateAuthority = { type: 'certificateAuthority' };

const open = new Set();

// a Client for an x509=true connection string presenting { cert, key }
async function x509Client(Transport, id, { cert, key }) {
    const client = DeviceClient.fromConnectionString(`HostName=${HOST};DeviceId=${id};x509=true`, Transport);
    client.errors = [];
    client.on('error', (e) => client.errors.push(e));
    open.add(client);
    await client.setOptions({ ca: CA, cert, key });
    return client;
}

// connect, send one message, return its stream entry
async function connectsAndSends(client) {
    await h.within(WAIT, 'connect', client.open());
    const tag = crypto.randomUUID();
    const msg = new Message('x509 hello');
    msg.properties.add('tag', tag);
    await h.within(WAIT, 'PUBACK or accepted', client.sendEvent(msg));
    const [e] = await h.findD2C((x) => x.fields['u:tag'] === tag);
    assert.ok(e, `no stream entry with u:tag=${tag}`);
    return e;
}

// MQTT refuses the CONNECT; AMQP (open needs no identity: the SDK attaches
// its links on the first send) refuses the telemetry link
async function refused(client) {
    const attempt = async () => {
        await client.open();
        await client.sendEvent(new Message('refused'));
    };
    await assert.rejects(h.within(WAIT, 'connect and send', attempt()), (err) => {
        const detail = `got ${err && err.name}: ${err && err.message}`;
        assert.equal(err.name, deviceErrors.UnauthorizedError.name, detail);
        return true;
    });
}

function assertX509Entry(e, id) {
    assert.equal(e.fields['a:iothub-connection-device-id'], id);
    const method = JSON.parse(e.fields['a:iothub-connection-auth-method']);
    assert.equal(method.type, 'x509Certificate');
    assert.equal(method.scope, 'device');
    assert.equal(e.body.toString(), 'x509 hello');
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

for (const [name, Transport, skip] of [['MQTT', Mqtt, NO_MQTT], ['AMQP', Amqp, NO_AMQP]]) {
    describe(`X.509 self-signed (thumbprint) over ${name}`, { skip }, () => {
        it('the registered thumbprint connects and sends; the device shows Connected', T, async () => {
            const id = newId('ss');
            const pem = certificate('selfsigned', id);
            await registry.create({ deviceId: id, authentication: selfSigned(pem.thumbprint) });
            const client = await x509Client(Transport, id, pem);
            assertX509Entry(await connectsAndSends(client), id);
            const { responseBody: dev } = await registry.get(id);
            assert.equal(dev.authentication.type, 'selfSigned');
            assert.equal(dev.connectionState, 'Connected');
        });

        it('the secondary thumbprint connects too', T, async () => {
            const id = newId('ss2');
            const pem = certificate('selfsigned', id);
            const other = certificate('selfsigned', `${id}-other`);
            await registry.create({ deviceId: id, authentication: selfSigned(other.thumbprint, pem.thumbprint) });
            const client = await x509Client(Transport, id, pem);
            assertX509Entry(await connectsAndSends(client), id);
        });

        it('another certificate -> UnauthorizedError', T, async () => {
            const id = newId('ssbad');
            const registered = certificate('selfsigned', id);
            const presented = certificate('selfsigned', `${id}-other`);
            await registry.create({ deviceId: id, authentication: selfSigned(registered.thumbprint) });
            await refused(await x509Client(Transport, id, presented));
        });
    });

    describe(`X.509 CA-signed over ${name}`, { skip }, () => {
        it('CN = device id connects and sends', T, async () => {
            const id = await newX509Device('ca', certificateAuthority);
            const client = await x509Client(Transport, id, certificate('device', id));
            assertX509Entry(await connectsAndSends(client), id);
        });

        it('the certificate of another device -> UnauthorizedError', T, async () => {
            const id = await newX509Device('cabad', certificateAuthority);
            const other = await newX509Device('caother', certificateAuthority);
            await refused(await x509Client(Transport, id, certificate('device', other)));
        });

        it('a SAS device presenting a certificate -> UnauthorizedError', T, async () => {
            const id = newId('sas');
            await registry.create({ deviceId: id });
            await refused(await x509Client(Transport, id, certificate('device', id)));
        });
    });
}
