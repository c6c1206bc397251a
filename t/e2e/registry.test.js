'use strict';
// Identity registry end to end: the real azure-iothub Registry against the hub
// over TLS on 443. Run through t/e2e/run.sh, which sets NODE_EXTRA_CA_CERTS and
// the IOTHUB_*_CONNSTR variables (a `make run` hub works too:
// `set -a; . .run/hub.env; set +a; NODE_EXTRA_CA_CERTS=$IOTHUB_CA node --test t/e2e/`).

const { describe, it, after } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Registry, SharedAccessSignature } = require('azure-iothub');
// azure-iothub 1.16 bundles azure-iot-common's errors here; these are the
// classes RestApiClient.translateError instantiates.
const errors = require('azure-iothub/dist/common-core/errors');

const env = process.env;
if (!env.IOTHUB_OWNER_CONNSTR) {
    throw new Error('IOTHUB_OWNER_CONNSTR is not set: run t/e2e/run.sh');
}
const HOST = env.IOTHUB_HOST || 'localhost';
const GEN_CERTS = path.join(__dirname, '..', '..', 'scripts', 'gen-certs.sh');
const T = { timeout: 30000 };

const registry = Registry.fromConnectionString(env.IOTHUB_OWNER_CONNSTR);

// unique ids per run, so runs against a long-lived hub don't collide
const RUN = `e2e-${Date.now().toString(36)}-${crypto.randomBytes(3).toString('hex')}`;
let seq = 0;
const created = new Set();
function newId(tag) {
    const id = `${RUN}-${tag}-${++seq}`;
    created.add(id);
    return id;
}

const B64_32 = /^[A-Za-z0-9+/]{43}=$/;        // 32 bytes, base64: 44 chars
const randomKey = () => crypto.randomBytes(32).toString('base64');

// assert that `promise` rejects with the azure-iot-common error class `cls`
// (by instanceof and by name) and, if given, the HTTP status
async function rejectsWith(promise, cls, status) {
    await assert.rejects(promise, (err) => {
        const detail = `got ${err && err.name}: ${err && err.message}` +
            (err && err.responseBody ? ` body=${err.responseBody}` : '');
        if (cls) {
            assert.equal(err.name, cls.name, detail);
            assert.ok(err instanceof cls, detail);
        }
        if (status) {
            assert.equal(err.response && err.response.statusCode, status, detail);
        }
        return true;
    });
}

function assertSasDevice(dev, id) {
    assert.equal(dev.deviceId, id);
    assert.equal(dev.status, 'enabled');
    assert.equal(typeof dev.etag, 'string');
    assert.ok(dev.etag.length > 0, 'etag');
    assert.equal(typeof dev.generationId, 'string');
    assert.ok(dev.generationId.length > 0, 'generationId');
    assert.equal(dev.authentication.type, 'sas');
}

// a registry for another policy of the same hub
function registryFor(envName) {
    return env[envName] ? Registry.fromConnectionString(env[envName]) : null;
}

// Registry.removeModule(module) only works with a callback in 1.16.6 (the
// promise form drops the module object's etag path), so wrap it
function removeModule(mod) {
    return new Promise((resolve, reject) =>
        registry.removeModule(mod, (err, body, res) => (err ? reject(err) : resolve(res))));
}

after(async () => {
    for (const id of created) {
        try { await registry.delete(id); } catch (e) { /* already gone */ }
    }
});

describe('devices', () => {
    let id;
    let first;

    it('create with generated keys', T, async () => {
        id = newId('dev');
        const { responseBody: dev, httpResponse } = await registry.create({ deviceId: id });
        assert.equal(httpResponse.statusCode, 200);
        assert.match(httpResponse.headers['content-type'], /application\/json/);
        assertSasDevice(dev, id);
        assert.match(dev.authentication.symmetricKey.primaryKey, B64_32);
        assert.match(dev.authentication.symmetricKey.secondaryKey, B64_32);
        assert.notEqual(dev.authentication.symmetricKey.primaryKey,
            dev.authentication.symmetricKey.secondaryKey);
        first = dev;
    });

    it('get', T, async () => {
        const { responseBody: dev } = await registry.get(id);
        assertSasDevice(dev, id);
        assert.equal(dev.etag, first.etag);
        assert.equal(dev.generationId, first.generationId);
        assert.deepEqual(dev.authentication.symmetricKey, first.authentication.symmetricKey);
    });

    it('update: disable, new etag', T, async () => {
        const { responseBody: upd } = await registry.update({ ...first, status: 'disabled' });
        assert.equal(upd.deviceId, id);
        assert.equal(upd.status, 'disabled');
        assert.notEqual(upd.etag, first.etag);
        assert.equal(upd.generationId, first.generationId);
        assert.deepEqual(upd.authentication.symmetricKey, first.authentication.symmetricKey);
        const { responseBody: dev } = await registry.get(id);
        assert.equal(dev.status, 'disabled');
        assert.equal(dev.etag, upd.etag);
    });

    it('list contains it', T, async () => {
        const { responseBody: list } = await registry.list();
        assert.ok(Array.isArray(list));
        const mine = list.find((d) => d.deviceId === id);
        assert.ok(mine, `${id} not in list of ${list.length}`);
        assert.equal(mine.status, 'disabled');
    });

    it('create duplicate -> DeviceAlreadyExistsError', T, async () => {
        await rejectsWith(registry.create({ deviceId: id }), errors.DeviceAlreadyExistsError, 409);
    });

    it('delete, then get -> DeviceNotFoundError', T, async () => {
        const { httpResponse } = await registry.delete(id);
        assert.ok(httpResponse.statusCode === 204 || httpResponse.statusCode === 200);
        await rejectsWith(registry.get(id), errors.DeviceNotFoundError, 404);
    });

    it('delete missing -> DeviceNotFoundError', T, async () => {
        await rejectsWith(registry.delete(newId('missing')), errors.DeviceNotFoundError, 404);
    });

    it('update missing -> DeviceNotFoundError', T, async () => {
        await rejectsWith(registry.update({ deviceId: newId('missing'), status: 'enabled' }),
            errors.DeviceNotFoundError, 404);
    });

    it('create with explicit keys', T, async () => {
        const id2 = newId('keys');
        const primaryKey = randomKey();
        const secondaryKey = randomKey();
        const { responseBody: dev } = await registry.create({
            deviceId: id2,
            status: 'enabled',
            authentication: { symmetricKey: { primaryKey, secondaryKey } },
        });
        assertSasDevice(dev, id2);
        assert.equal(dev.authentication.symmetricKey.primaryKey, primaryKey);
        assert.equal(dev.authentication.symmetricKey.secondaryKey, secondaryKey);
        const { responseBody: got } = await registry.get(id2);
        assert.equal(got.authentication.symmetricKey.primaryKey, primaryKey);
        assert.equal(got.authentication.symmetricKey.secondaryKey, secondaryKey);
    });
});

describe('x509 devices', () => {
    const ownDir = !env.IOTHUB_CERT_DIR;
    const certDir = env.IOTHUB_CERT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'iothub-certs-'));
    after(() => { if (ownDir) fs.rmSync(certDir, { recursive: true, force: true }); });

    // issue a self-signed cert with scripts/gen-certs.sh; check its thumbprint
    function selfSigned(name) {
        const out = execFileSync(GEN_CERTS, [certDir, 'selfsigned', name], { encoding: 'utf8' });
        const thumb = out.trim().split('\n').pop();
        assert.match(thumb, /^[0-9A-F]{40}$/);
        const pem = fs.readFileSync(path.join(certDir, `selfsigned-${name}.crt`));
        assert.equal(thumb, new crypto.X509Certificate(pem).fingerprint.replace(/:/g, ''));
        return thumb;
    }

    it('self-signed device with thumbprints', T, async () => {
        const id = newId('x509ss');
        const primaryThumbprint = selfSigned(`${id}-p`);
        const secondaryThumbprint = selfSigned(`${id}-s`);
        // no type: the SDK sets "selfSigned" because thumbprints are present
        const { responseBody: dev } = await registry.create({
            deviceId: id,
            authentication: { x509Thumbprint: { primaryThumbprint, secondaryThumbprint } },
        });
        assert.equal(dev.deviceId, id);
        assert.equal(dev.authentication.type, 'selfSigned');
        const tp = dev.authentication.x509Thumbprint;
        assert.equal(tp.primaryThumbprint.toUpperCase(), primaryThumbprint);
        assert.equal(tp.secondaryThumbprint.toUpperCase(), secondaryThumbprint);
        const { responseBody: got } = await registry.get(id);
        assert.equal(got.authentication.type, 'selfSigned');
        assert.equal(got.authentication.x509Thumbprint.primaryThumbprint.toUpperCase(), primaryThumbprint);
        assert.equal(got.authentication.x509Thumbprint.secondaryThumbprint.toUpperCase(), secondaryThumbprint);
    });

    it('certificateAuthority device', T, async () => {
        const id = newId('x509ca');
        const { responseBody: dev } = await registry.create({
            deviceId: id,
            authentication: { type: 'certificateAuthority' },
        });
        assert.equal(dev.deviceId, id);
        assert.equal(dev.authentication.type, 'certificateAuthority');
        const { responseBody: got } = await registry.get(id);
        assert.equal(got.authentication.type, 'certificateAuthority');
    });
});

describe('modules', () => {
    const moduleId = 'mod-1';
    let deviceId;
    let added;

    it('addModule', T, async () => {
        deviceId = newId('mod');
        await registry.create({ deviceId });
        const { responseBody: mod } = await registry.addModule({ deviceId, moduleId });
        assert.equal(mod.deviceId, deviceId);
        assert.equal(mod.moduleId, moduleId);
        assert.equal(typeof mod.etag, 'string');
        assert.ok(mod.etag.length > 0);
        assert.ok(mod.generationId);
        assert.equal(mod.authentication.type, 'sas');
        assert.match(mod.authentication.symmetricKey.primaryKey, B64_32);
        assert.match(mod.authentication.symmetricKey.secondaryKey, B64_32);
        added = mod;
    });

    it('addModule twice -> DeviceAlreadyExistsError', T, async () => {
        await rejectsWith(registry.addModule({ deviceId, moduleId }), errors.DeviceAlreadyExistsError, 409);
    });

    it('addModule on a missing device -> 404', T, async () => {
        await rejectsWith(registry.addModule({ deviceId: newId('missing'), moduleId }), null, 404);
    });

    it('getModule', T, async () => {
        const { responseBody: mod } = await registry.getModule(deviceId, moduleId);
        assert.equal(mod.moduleId, moduleId);
        assert.equal(mod.deviceId, deviceId);
        assert.equal(mod.etag, added.etag);
        assert.deepEqual(mod.authentication.symmetricKey, added.authentication.symmetricKey);
    });

    it('getModulesOnDevice', T, async () => {
        await registry.addModule({ deviceId, moduleId: 'mod-2' });
        const { responseBody: list } = await registry.getModulesOnDevice(deviceId);
        assert.ok(Array.isArray(list));
        assert.deepEqual(list.map((m) => m.moduleId).sort(), [moduleId, 'mod-2']);
        assert.ok(list.every((m) => m.deviceId === deviceId));
    });

    it('updateModule with its etag', T, async () => {
        const primaryKey = randomKey();
        const secondaryKey = randomKey();
        const { responseBody: mod } = await registry.updateModule({
            ...added,
            authentication: { type: 'sas', symmetricKey: { primaryKey, secondaryKey } },
        });
        assert.equal(mod.moduleId, moduleId);
        assert.notEqual(mod.etag, added.etag);
        assert.equal(mod.generationId, added.generationId);
        assert.equal(mod.authentication.symmetricKey.primaryKey, primaryKey);
        assert.equal(mod.authentication.symmetricKey.secondaryKey, secondaryKey);
    });

    it('updateModule with a stale etag -> InvalidEtagError', T, async () => {
        await rejectsWith(registry.updateModule(added), errors.InvalidEtagError, 412);
    });

    it('removeModule with a stale etag -> InvalidEtagError', T, async () => {
        await rejectsWith(removeModule(added), errors.InvalidEtagError, 412);
    });

    it('removeModule', T, async () => {
        const { responseBody: current } = await registry.getModule(deviceId, moduleId);
        const res = await removeModule(current);
        assert.ok(res.statusCode === 204 || res.statusCode === 200);
        await rejectsWith(registry.getModule(deviceId, moduleId), null, 404);
        await registry.removeModule(deviceId, 'mod-2');       // If-Match: "*"
        const { responseBody: list } = await registry.getModulesOnDevice(deviceId);
        assert.deepEqual(list, []);
    });
});

describe('statistics', () => {
    it('getRegistryStatistics counts devices', T, async () => {
        const { responseBody: before } = await registry.getRegistryStatistics();
        for (const k of ['totalDeviceCount', 'enabledDeviceCount', 'disabledDeviceCount']) {
            assert.equal(typeof before[k], 'number', k);
        }
        assert.equal(before.totalDeviceCount, before.enabledDeviceCount + before.disabledDeviceCount);
        await registry.create({ deviceId: newId('stat') });
        await registry.create({ deviceId: newId('stat'), status: 'disabled' });
        const { responseBody: afterward } = await registry.getRegistryStatistics();
        assert.equal(afterward.totalDeviceCount, before.totalDeviceCount + 2);
        assert.equal(afterward.enabledDeviceCount, before.enabledDeviceCount + 1);
        assert.equal(afterward.disabledDeviceCount, before.disabledDeviceCount + 1);
    });
});

describe('bulk', () => {
    const ids = [];

    it('addDevices', T, async () => {
        for (let i = 0; i < 3; i++) ids.push(newId('bulk'));
        const { responseBody: r } = await registry.addDevices(ids.map((deviceId) => ({ deviceId })));
        assert.equal(r.isSuccessful, true, JSON.stringify(r));
        assert.deepEqual(r.errors, []);
        for (const id of ids) {
            const { responseBody: dev } = await registry.get(id);
            assertSasDevice(dev, id);
            assert.match(dev.authentication.symmetricKey.primaryKey, B64_32);
        }
    });

    it('updateDevices (forced)', T, async () => {
        const { responseBody: r } = await registry.updateDevices(
            ids.map((deviceId) => ({ deviceId, status: 'disabled' })), true);
        assert.equal(r.isSuccessful, true, JSON.stringify(r));
        assert.deepEqual(r.errors, []);
        for (const id of ids) {
            const { responseBody: dev } = await registry.get(id);
            assert.equal(dev.status, 'disabled');
        }
    });

    it('removeDevices (forced)', T, async () => {
        const { responseBody: r } = await registry.removeDevices(ids.map((deviceId) => ({ deviceId })), true);
        assert.equal(r.isSuccessful, true, JSON.stringify(r));
        assert.deepEqual(r.errors, []);
        for (const id of ids) {
            await rejectsWith(registry.get(id), errors.DeviceNotFoundError, 404);
        }
    });
});

describe('authorization', () => {
    it('wrong key -> UnauthorizedError', T, async () => {
        const bad = Registry.fromConnectionString(
            `HostName=${HOST};SharedAccessKeyName=iothubowner;SharedAccessKey=${randomKey()}`);
        await rejectsWith(bad.get(newId('any')), errors.UnauthorizedError, 401);
        await rejectsWith(bad.create({ deviceId: newId('any') }), errors.UnauthorizedError, 401);
    });

    it('unknown policy -> UnauthorizedError', T, async () => {
        const bad = Registry.fromConnectionString(
            `HostName=${HOST};SharedAccessKeyName=nosuchpolicy;SharedAccessKey=${randomKey()}`);
        await rejectsWith(bad.list(), errors.UnauthorizedError, 401);
    });

    it('expired token -> UnauthorizedError', T, async () => {
        const cs = Object.fromEntries(env.IOTHUB_OWNER_CONNSTR.split(';').map((kv) => {
            const i = kv.indexOf('=');
            return [kv.slice(0, i), kv.slice(i + 1)];
        }));
        const expiry = Math.floor(Date.now() / 1000) - 60;
        const sas = SharedAccessSignature.create(cs.HostName, cs.SharedAccessKeyName, cs.SharedAccessKey, expiry);
        const expired = new Registry({ host: cs.HostName, sharedAccessSignature: sas.toString() });
        await rejectsWith(expired.list(), errors.UnauthorizedError, 401);
    });

    it('registryRead policy can read but not create', {
        ...T,
        skip: !env.IOTHUB_REGISTRYREAD_CONNSTR && 'IOTHUB_REGISTRYREAD_CONNSTR not set',
    }, async () => {
        const id = newId('ro');
        await registry.create({ deviceId: id });
        const ro = registryFor('IOTHUB_REGISTRYREAD_CONNSTR');
        const { responseBody: dev } = await ro.get(id);
        assert.equal(dev.deviceId, id);
        await ro.getRegistryStatistics();
        await rejectsWith(ro.create({ deviceId: newId('ro') }), errors.UnauthorizedError, 401);
        await rejectsWith(ro.delete(id), errors.UnauthorizedError, 401);
    });

    it('registryReadWrite policy can create and delete', {
        ...T,
        skip: !env.IOTHUB_REGISTRYREADWRITE_CONNSTR && 'IOTHUB_REGISTRYREADWRITE_CONNSTR not set',
    }, async () => {
        const rw = registryFor('IOTHUB_REGISTRYREADWRITE_CONNSTR');
        const id = newId('rw');
        const { responseBody: dev } = await rw.create({ deviceId: id });
        assert.equal(dev.deviceId, id);
        await rw.delete(id);
    });

    it('service policy cannot use the registry', {
        ...T,
        skip: !env.IOTHUB_SERVICE_CONNSTR && 'IOTHUB_SERVICE_CONNSTR not set',
    }, async () => {
        const svc = registryFor('IOTHUB_SERVICE_CONNSTR');
        await rejectsWith(svc.list(), errors.UnauthorizedError, 401);
        await rejectsWith(svc.create({ deviceId: newId('svc') }), errors.UnauthorizedError, 401);
    });
});
