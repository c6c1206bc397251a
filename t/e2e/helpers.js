'use strict';
// Shared helpers for the end-to-end tests (not a test file itself: node --test
// only picks up *.test.js). Everything is configured by t/e2e/run.sh through
// IOTHUB_* environment variables.

const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const net = require('node:net');
const { SharedAccessSignature } = require('azure-iothub');

const env = process.env;
const API_VERSION = '2021-04-12';

// parse "K1=v1;K2=v2" (values may contain '=')
function parseConnStr(cs) {
    return Object.fromEntries(cs.split(';').filter(Boolean).map((kv) => {
        const i = kv.indexOf('=');
        return [kv.slice(0, i), kv.slice(i + 1)];
    }));
}

// ---- a tiny Redis client (RESP2), enough for XRANGE/KEYS/HGETALL ----------

// parse one reply at buf[pos]; returns [value, nextPos] or null if incomplete
function parseResp(buf, pos) {
    if (pos >= buf.length) return null;
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const type = String.fromCharCode(buf[pos]);
    const line = buf.toString('utf8', pos + 1, eol);
    const next = eol + 2;
    switch (type) {
    case '+': return [line, next];
    case '-': { const e = new Error(line); e.redis = true; return [e, next]; }
    case ':': return [Number(line), next];
    case '$': {
        const len = Number(line);
        if (len < 0) return [null, next];
        if (buf.length < next + len + 2) return null;
        return [buf.subarray(next, next + len), next + len + 2];
    }
    case '*': {
        const n = Number(line);
        if (n < 0) return [null, next];
        const arr = [];
        let p = next;
        for (let i = 0; i < n; i++) {
            const r = parseResp(buf, p);
            if (!r) return null;
            arr.push(r[0]);
            p = r[1];
        }
        return [arr, p];
    }
    default:
        throw new Error(`RESP: unexpected type byte ${JSON.stringify(type)}`);
    }
}

// redis(...args): one command on a fresh connection to the tests' Redis;
// bulk strings come back as Buffers (bodies are binary)
function redis(...args) {
    const port = Number(env.IOTHUB_REDIS_PORT);
    if (!port) return Promise.reject(new Error('IOTHUB_REDIS_PORT is not set: run t/e2e/run.sh'));
    return new Promise((resolve, reject) => {
        const sock = net.createConnection({ host: '127.0.0.1', port });
        let buf = Buffer.alloc(0);
        const parts = [`*${args.length}\r\n`];
        for (const a of args) {
            const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
            parts.push(`$${b.length}\r\n`, b, '\r\n');
        }
        sock.setTimeout(5000, () => sock.destroy(new Error('redis: timeout')));
        sock.on('connect', () => {
            for (const p of parts) sock.write(p);
        });
        sock.on('data', (d) => {
            buf = Buffer.concat([buf, d]);
            const r = parseResp(buf, 0);
            if (!r) return;
            sock.end();
            if (r[0] instanceof Error) reject(r[0]); else resolve(r[0]);
        });
        sock.on('error', reject);
    });
}

// ---- the built-in endpoint: Redis streams iothub:<hub>:d2c:<partition> ------

const HUB_NAME = env.IOTHUB_HUB_NAME || (env.IOTHUB_HOST || 'localhost').split('.')[0];

// a message as { id, key, fields: { name: string }, body: Buffer }
function streamMessage(key, id, flat) {
    const fields = {};
    let body = null;
    for (let i = 0; i < flat.length; i += 2) {
        const name = flat[i].toString();
        if (name === 'body') body = flat[i + 1];
        else fields[name] = flat[i + 1].toString();
    }
    return { key, id, fields, body };
}

// the names the hub packs as one byte, and the auth method's values
// (shared/ngx_iothub_d2c_pack.h)
const D2C_NAMES = [null, 'a:iothub-connection-device-id', 'a:iothub-connection-module-id',
    'a:iothub-connection-auth-generation-id', 'a:iothub-connection-auth-method',
    'a:iothub-enqueuedtime', 'a:iothub-message-source', 'a:dt-dataschema', 'body'];
const D2C_AUTH_METHODS = ['device', 'module', 'hub'].flatMap((scope) =>
    ['sas', 'x509Certificate'].map((type) => JSON.stringify(
        { scope, type, issuer: 'iothub', acceptingIpFilterRule: null })));

function unpackName(name, value) {
    if (name.length !== 1 || name[0] >= 0x20) return [name, value];
    const full = D2C_NAMES[name[0]];
    if (!full) throw new Error(`d2c: unknown name code ${name[0]}`);
    if (full === 'a:iothub-connection-auth-method') value = Buffer.from(D2C_AUTH_METHODS[value[0]]);
    return [Buffer.from(full), value];
}

// an entry's messages: fields "n" and "m" (packed, as in
// shared/ngx_iothub_d2c_pack.h), the id "<ms>-<seq of the last>"
function streamMessages(key, [rawId, flat]) {
    const id = rawId.toString();
    const named = {};
    for (let i = 0; i < flat.length; i += 2) named[flat[i].toString()] = flat[i + 1];
    if (!named.m) return [streamMessage(key, id, flat)];
    const [ms, last] = id.split('-');
    const n = Number(named.n.toString());
    let seq = Number(last) - n + 1;
    const packed = named.m;
    const out = [];
    for (let at = 0; at < packed.length;) {
        const count = packed.readUInt16BE(at);
        at += 2;
        const strings = [];
        for (let i = 0; i < count; i++) {
            const pair = [];
            for (let j = 0; j < 2; j++) {
                const len = packed.readUInt32BE(at);
                pair.push(packed.subarray(at + 4, at + 4 + len));
                at += 4 + len + 1;
            }
            strings.push(...unpackName(...pair));
        }
        out.push(streamMessage(key, `${ms}-${seq++}`, strings));
    }
    if (out.length !== n) throw new Error(`d2c entry ${id}: ${n} messages announced, ${out.length} packed`);
    return out;
}

async function d2cEntries() {
    const keys = (await redis('KEYS', `iothub:${HUB_NAME}:d2c:*`)).map(String).sort();
    const out = [];
    for (const key of keys) {
        const entries = await redis('XRANGE', key, '-', '+');
        for (const e of entries) out.push(...streamMessages(key, e));
    }
    return out;
}

// wait for telemetry entries matching pred (all partitions); PUBACK comes
// after XADD, so they are normally there at once
async function findD2C(pred, { count = 1, timeout = 3000 } = {}) {
    const deadline = Date.now() + timeout;
    for (;;) {
        const found = (await d2cEntries()).filter(pred);
        if (found.length >= count || Date.now() > deadline) return found;
        await sleep(100);
    }
}

// ---- service REST with a policy token (for what the SDK has no call for) ---

function restRequest(method, path, { body, connStr = env.IOTHUB_OWNER_CONNSTR, headers = {} } = {}) {
    const cs = parseConnStr(connStr);
    const sas = SharedAccessSignature.create(cs.HostName, cs.SharedAccessKeyName, cs.SharedAccessKey,
        Math.floor(Date.now() / 1000) + 3600).toString();
    const data = body === undefined ? null
        : Buffer.isBuffer(body) ? body
            : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const sep = path.includes('?') ? '&' : '?';
    return new Promise((resolve, reject) => {
        const req = https.request({
            host: cs.HostName,
            port: 443,
            method,
            path: `${path}${sep}api-version=${API_VERSION}`,
            ca: env.IOTHUB_CA ? fs.readFileSync(env.IOTHUB_CA) : undefined,
            headers: {
                Authorization: sas,
                'Request-Id': crypto.randomUUID(),
                ...(data ? { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': data.length } : {}),
                ...headers,
            },
            timeout: 15000,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => {
                const text = Buffer.concat(chunks).toString();
                let json;
                try { json = text ? JSON.parse(text) : undefined; } catch (e) { json = undefined; }
                resolve({ status: res.statusCode, headers: res.headers, text, json });
            });
        });
        req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
        req.on('error', reject);
        if (data) req.write(data);
        req.end();
    });
}

// ---- misc ------------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// reject with `what` if promise takes longer than ms: a missing server answer
// becomes a readable failure instead of the SDK's 4-minute operation timeout
function within(ms, what, promise) {
    let t;
    const timer = new Promise((_, reject) => {
        t = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timer]).finally(() => clearTimeout(t));
}

// resolve with the first emitted args of `event` for which pred(...args) holds
function nextEvent(emitter, event, pred = () => true) {
    return new Promise((resolve) => {
        const h = (...args) => {
            if (!pred(...args)) return;
            emitter.removeListener(event, h);
            resolve(args);
        };
        emitter.on(event, h);
    });
}

// the nginx error.log lines written since `mark` (a byte offset from logMark())
function logMark() {
    try { return fs.statSync(env.IOTHUB_NGINX_LOG).size; } catch (e) { return 0; }
}
function logSince(mark) {
    try {
        const fd = fs.openSync(env.IOTHUB_NGINX_LOG, 'r');
        const size = fs.fstatSync(fd).size;
        const buf = Buffer.alloc(Math.max(0, size - mark));
        fs.readSync(fd, buf, 0, buf.length, mark);
        fs.closeSync(fd);
        return buf.toString();
    } catch (e) {
        return '';
    }
}

module.exports = {
    API_VERSION, HUB_NAME, parseConnStr, redis, d2cEntries, findD2C, restRequest,
    sleep, within, nextEvent, logMark, logSince,
};
