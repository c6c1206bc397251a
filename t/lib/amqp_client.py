#!/usr/bin/python3
# An AMQP 1.0 device for the t/ suites, driven line by line: each stdin
# line is a JSON command, each answer one JSON line on stdout.  Built on
# python3-qpid-proton (Debian) and its blocking API; every wait has a
# timeout, so a silent server fails the step instead of hanging.
#
#   {"op": "connect", "port": N, "sasl": "none" | "ANONYMOUS" | ...}
#   {"op": "cbs", "audience": A, "token": T, "id": "string" | "ulong"}
#       -> {"status": 200, "description": "OK", "correlated": true}
#   {"op": "sender", "name": L, "address": A}
#   {"op": "receiver", "name": L, "address": A, "credit": N}
#       -> {"ok": true} or {"error": "<condition>", "description": ...}
#   {"op": "send", "name": L, "messages": [M, ...]}: all at once, then
#       waits for every outcome -> {"outcomes": ["accepted", ...]}
#   {"op": "receive", "name": L, "timeout": S} -> {"message": M}
#   {"op": "settle", "name": L, "outcome": "accept" | "reject" | "release"
#       | "modify"}
#   {"op": "detached", "name": L, "timeout": S} -> {"error": condition}
#   {"op": "raw", "port": N, "hex": H, "timeout": S}: bytes on a new
#       socket, then all that comes until the server closes it
#       -> {"hex": ..., "closed": true}
#   {"op": "close"}
# A message M: body (text, sent as a data section), id, id_type ("uuid",
# "ulong"), correlation_id, to, content_type, content_encoding, user_id,
# expiry (ms), properties {}, annotations {} (symbol keys).

import json
import socket
import sys
import time
import uuid

from proton import (Message, symbol, ulong, Delivery, Endpoint,
                    Disposition)
from proton.utils import BlockingConnection, LinkDetached
from proton.reactor import DynamicNodeProperties  # noqa: F401

TIMEOUT = 5


class Client:
    def __init__(self):
        self.conn = None
        self.links = {}
        self.last = {}
        self.cbs = None

    def connect(self, c):
        kw = {}
        sasl = c.get('sasl', 'none')
        if sasl == 'none':
            kw['sasl_enabled'] = False
        else:
            kw['sasl_enabled'] = True
            kw['allowed_mechs'] = sasl
        self.conn = BlockingConnection('amqp://127.0.0.1:%d' % c['port'],
                                       timeout=c.get('timeout', TIMEOUT),
                                       **kw)
        return {'ok': True}

    def attach(self, c, sender):
        try:
            if sender:
                link = self.conn.create_sender(c['address'])
            else:
                link = self.conn.create_receiver(c['address'],
                                                 credit=c.get('credit', 10))
        except LinkDetached as e:
            cond = e.link.remote_condition
            return {'error': cond.name if cond else None,
                    'description': cond.description if cond else None}
        self.links[c['name']] = link
        return {'ok': True}

    def cbs_op(self, c):
        if self.cbs is None:
            snd = self.conn.create_sender('$cbs')
            rcv = self.conn.create_receiver('$cbs', credit=10)
            self.cbs = (snd, rcv)
        snd, rcv = self.cbs
        mid = (ulong(int(time.time() * 1000) % 100000)
               if c.get('id') == 'ulong' else str(uuid.uuid4()))
        m = Message(id=mid, address='$cbs', reply_to='cbs',
                    properties={'operation': 'put-token',
                                'type': c.get('type',
                                    'servicebus.windows.net:sastoken'),
                                'name': c['audience']},
                    body=c['token'])
        snd.send(m)
        r = rcv.receive(timeout=c.get('timeout', TIMEOUT))
        if rcv.fetcher.unsettled:
            rcv.accept()
        p = r.properties or {}
        status = p.get('status-code')
        return {'status': status,
                'status_type': type(status).__name__,
                'description': p.get('status-description'),
                # Python reads an AMQP ulong as int: a str id sent back
                # for a ulong one would differ here
                'correlated': r.correlation_id == mid
                              and isinstance(r.correlation_id, int)
                              == isinstance(mid, int),
                'types': [type(mid).__name__,
                          type(r.correlation_id).__name__]}

    def message(self, spec):
        m = Message()
        m.inferred = True
        m.body = spec.get('body', '').encode()
        if 'id' in spec:
            t = spec.get('id_type')
            m.id = (uuid.UUID(spec['id']) if t == 'uuid'
                    else ulong(int(spec['id'])) if t == 'ulong'
                    else spec['id'])
        for k in ('correlation_id', 'content_type', 'content_encoding'):
            if k in spec:
                setattr(m, k, spec[k])
        if 'to' in spec:
            m.address = spec['to']
        if 'user_id' in spec:
            m.user_id = spec['user_id'].encode()
        if 'expiry' in spec:
            m.expiry_time = spec['expiry'] / 1000.0
        if 'properties' in spec:
            m.properties = spec['properties']
        if 'annotations' in spec:
            m.annotations = {symbol(k): v
                             for k, v in spec['annotations'].items()}
        return m

    def send(self, c):
        link = self.links[c['name']].link
        ds = [link.send(self.message(s)) for s in c['messages']]

        def done():
            return all(d.remote_state or d.settled for d in ds) \
                or link.state & Endpoint.REMOTE_CLOSED
        self.conn.wait(done, timeout=c.get('timeout', TIMEOUT),
                       msg='outcomes')
        out = []
        for d in ds:
            s = d.remote_state
            if s == Disposition.ACCEPTED:
                out.append('accepted')
            elif s == Disposition.REJECTED:
                cond = d.remote.condition
                out.append('rejected:' + (cond.name if cond else ''))
            elif s:
                out.append(str(s))
            else:
                out.append('none')
            d.settle()
        return {'outcomes': out}

    def receive(self, c):
        r = self.links[c['name']]
        m = r.receive(timeout=c.get('timeout', TIMEOUT))
        self.last[c['name']] = r
        body = m.body
        if isinstance(body, (bytes, memoryview)):
            body = bytes(body).decode('utf-8', 'replace')
        props = {k: str(v) for k, v in (m.properties or {}).items()}
        return {'message': {'body': body,
                            'data_section': bool(m.inferred),
                            'id': str(m.id) if m.id is not None else None,
                            'correlation_id': str(m.correlation_id)
                                if m.correlation_id is not None else None,
                            'to': m.address,
                            'content_type': m.content_type and
                                str(m.content_type),
                            'content_encoding': m.content_encoding and
                                str(m.content_encoding),
                            'expiry': int(m.expiry_time * 1000)
                                if m.expiry_time else None,
                            'properties': props}}

    def settle(self, c):
        r = self.last[c['name']]
        o = c['outcome']
        if o == 'accept':
            r.accept()
        elif o == 'reject':
            r.reject()
        elif o == 'release':
            r.release(delivered=False)
        else:
            r.settle(Disposition.MODIFIED)
        # the disposition goes out on the next pass of the connection
        self.conn.wait(lambda: True, timeout=1)
        return {'ok': True}

    def detached(self, c):
        link = self.links[c['name']].link
        try:
            self.conn.wait(lambda: link.state & Endpoint.REMOTE_CLOSED,
                           timeout=c.get('timeout', TIMEOUT), msg='detach')
        except LinkDetached:
            pass
        cond = link.remote_condition
        return {'error': cond.name if cond else None,
                'description': cond.description if cond else None}

    def raw(self, c):
        s = socket.create_connection(('127.0.0.1', c['port']))
        s.settimeout(c.get('timeout', TIMEOUT))
        s.sendall(bytes.fromhex(c['hex']))
        got = b''
        closed = False
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    closed = True
                    break
                got += b
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        s.close()
        return {'hex': got.hex(), 'closed': closed}

    def run(self, c):
        op = c['op']
        if op == 'connect':
            return self.connect(c)
        if op == 'cbs':
            return self.cbs_op(c)
        if op in ('sender', 'receiver'):
            return self.attach(c, op == 'sender')
        if op == 'send':
            return self.send(c)
        if op == 'receive':
            return self.receive(c)
        if op == 'settle':
            return self.settle(c)
        if op == 'detached':
            return self.detached(c)
        if op == 'raw':
            return self.raw(c)
        if op == 'close':
            if self.conn:
                self.conn.close()
                self.conn = None
            return {'ok': True}
        return {'exception': 'unknown op ' + op}


def main():
    client = Client()
    for line in sys.stdin:
        try:
            out = client.run(json.loads(line))
        except Exception as e:  # the test shows it
            out = {'exception': '%s: %s' % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(out) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
