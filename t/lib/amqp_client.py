#!/usr/bin/python3
# An AMQP 1.0 device for the t/ suites, driven line by line: each stdin
# line is a JSON command, each answer one JSON line on stdout.  Built on
# python3-qpid-proton (Debian) and its blocking API; every wait has a
# timeout, so a silent server fails the step instead of hanging.
#
#   {"op": "connect", "port": N, "sasl": "none" | "ANONYMOUS" | ...}
#       with "user", "password" (SASL PLAIN), "ca" (amqps: TLS, the server
#       verified by that CA), "cert" and "key" (a client certificate)
#       -> {"ok": true} or {"error": <exception>, "text": ...}
#   {"op": "cbs", "audience": A, "token": T, "id": "string" | "ulong"}
#       -> {"status": 200, "description": "OK", "correlated": true}
#   {"op": "sender", "name": L, "address": A}
#   {"op": "receiver", "name": L, "address": A, "credit": N}
#       both with "properties": {} (link properties, symbol keys) and
#       "settled": true (snd-settle-mode settled, as the twin links ask),
#       "link_name": N (default "<container>-<address>": one per address)
#       -> {"ok": true} or {"error": "<condition>", "description": ...}
#   {"op": "send", "name": L, "messages": [M, ...]}: all at once, then
#       waits for every outcome -> {"outcomes": ["accepted", ...]};
#       with "settled": true they go pre-settled -> {"outcomes": [...]}
#       of "settled", nothing waited for
#   {"op": "receive", "name": L, "timeout": S} -> {"message": M}, M with
#       annotations and the correlation-id's type too
#   {"op": "detach", "name": L}: the client detaches the link
#   {"op": "settle", "name": L, "outcome": "accept" | "reject" | "release"
#       | "modify"}
#   {"op": "detached", "name": L, "timeout": S} -> {"error": condition}
#   {"op": "raw", "port": N, "hex": H, "timeout": S}: bytes on a new
#       socket, then all that comes until the server closes it
#       -> {"hex": ..., "closed": true}
#   {"op": "batch", "port": N, "user": U, "password": P, "address": A,
#       "batches": [[M, ...], ...], "raw_bodies": [HEX, ...]}: a socket
#       of its own speaking AMQP frame by frame (Proton 0.37 cannot set a
#       transfer's message-format): SASL PLAIN, open, begin, attach a
#       sender to A, then per batch one unsettled transfer of
#       message-format 0x80013700 whose body is a data section per M (the
#       encoded message), per raw body a transfer of that format with the
#       body as given; also "plain": [M, ...] sent as ordinary transfers;
#       bodies over 60,000 bytes go in several frames (more=true)
#       -> {"outcomes": ["accepted" | "rejected:<condition>", ...]}
#   {"op": "close"}
# Event Hubs (amqp.md 10):
#   {"op": "eh_receiver", "name": L, "address": A, "filter": EXPR,
#       "credit": N, "epoch": E} -> {"ok": true} or {"error": ...}; credit
#       is a window kept full, 0 for none (then "flow" grants it)
#   {"op": "event", "name": L, "timeout": S} -> {"event": {body,
#       properties, annotations, id, ...}}, typed values as [type, value]
#   {"op": "buffered", "name": L, "want": N, "timeout": S}: waits until N
#       events came without granting credit -> {"count": n}
#   {"op": "flow", "name": L, "credit": N}
#   {"op": "mgmt", "type": T, "entity": E, "partition": P, "operation": O}
#       -> {"status", "description", "condition", "correlated", "body"}
# A message M: body (text, sent as a data section; body_size N: N bytes
# of "x" instead), id, id_type ("uuid", "ulong", "binary": hex),
# correlation_id, correlation_id_type ("uuid", "ulong"), to,
# content_type, content_encoding, user_id, expiry (ms), properties {},
# int_properties [names of properties sent as AMQP int, not long],
# annotations {} (symbol keys).  A received message also has id_type,
# user_id, annotations and the types of annotations and properties.

import json
import socket
import struct
import sys
import time
import uuid

from proton import (Message, symbol, ulong, Delivery, Endpoint,
                    Disposition, Described, Timeout)
from proton import int32, SSLDomain, Data, uint
from proton.utils import BlockingConnection, LinkDetached
from proton._utils import Fetcher
from proton.reactor import DynamicNodeProperties  # noqa: F401
from proton.reactor import AtMostOnce, Filter, LinkOption

SELECTOR = ulong(0x0000468C00000004)


class Target(LinkOption):
    """a receiver's target address (the $management reply-to)"""
    def __init__(self, address):
        self.address = address

    def apply(self, link):
        link.target.address = self.address


class Props(LinkOption):
    def __init__(self, props):
        self.props = props

    def apply(self, link):
        link.properties = self.props


def typed(v):
    """a decoded AMQP value as JSON: [type name, value]"""
    name = type(v).__name__
    if isinstance(v, (bytes, memoryview)):
        return [name, bytes(v).decode('utf-8', 'replace')]
    if hasattr(v, 'elements'):
        return [name, [typed(e) for e in v.elements]]
    if isinstance(v, dict):
        return [name, {str(k): typed(x) for k, x in v.items()}]
    if isinstance(v, (list, tuple)):
        return [name, [typed(e) for e in v]]
    if v is None or isinstance(v, (bool, int, float)):
        return [name, v]
    return [name, str(v)]

TIMEOUT = 5


class LinkProperties(LinkOption):
    def __init__(self, props):
        self.props = {symbol(k): v for k, v in props.items()}

    def apply(self, link):
        link.properties = self.props


def typed_id(value, kind):
    if kind == 'uuid':
        return uuid.UUID(value)
    if kind == 'ulong':
        return ulong(int(value))
    if kind == 'binary':
        return bytes.fromhex(value)
    return value


class Connection(BlockingConnection):
    """While a link attaches, another link's detach (an Event Hubs
    receiver displaced by the one attaching) is kept on that link for the
    "detached" op instead of failing the attach."""
    attaching = None

    def on_link_remote_close(self, event):
        if self.attaching is not None and event.link.name != self.attaching:
            if event.link.state & Endpoint.LOCAL_ACTIVE:
                event.link.close()
            return
        super().on_link_remote_close(event)


def _fetcher_link_error(self, event):
    # the same for the handler of a blocking receiver
    attaching = getattr(self.connection, 'attaching', None)
    if attaching is not None and event.link.name != attaching:
        if event.link.state & Endpoint.LOCAL_ACTIVE:
            event.link.close()
        return
    _fetcher_link_error.default(self, event)


_fetcher_link_error.default = Fetcher.on_link_error
Fetcher.on_link_error = _fetcher_link_error


class Client:
    def __init__(self):
        self.conn = None
        self.links = {}
        self.last = {}
        self.cbs = None
        self.mgmt_links = None

    def connect(self, c):
        kw = {}
        sasl = c.get('sasl', 'none')
        if sasl == 'none':
            kw['sasl_enabled'] = False
        else:
            kw['sasl_enabled'] = True
            kw['allowed_mechs'] = sasl
        if 'user' in c:
            kw['user'] = c['user']
            kw['password'] = c['password']
            # PLAIN over the suites' plain TCP; TLS is nginx's business
            kw['allow_insecure_mechs'] = True
        scheme = 'amqp'
        if 'ca' in c:
            scheme = 'amqps'
            domain = SSLDomain(SSLDomain.MODE_CLIENT)
            domain.set_trusted_ca_db(c['ca'])
            domain.set_peer_authentication(SSLDomain.VERIFY_PEER)
            if 'cert' in c:
                domain.set_credentials(c['cert'], c['key'], None)
            kw['ssl_domain'] = domain
        try:
            self.conn = Connection(
                '%s://127.0.0.1:%d' % (scheme, c['port']),
                timeout=c.get('timeout', TIMEOUT), **kw)
        except Exception as e:  # noqa: BLE001 - the test reads the reason
            cond = getattr(getattr(e, 'link', None), 'remote_condition', None)
            return {'error': type(e).__name__, 'text': str(e),
                    'condition': cond.name if cond else None}
        return {'ok': True}

    def attach(self, c, sender):
        options = []
        if 'properties' in c:
            options.append(LinkProperties(c['properties']))
        if c.get('settled'):
            options.append(AtMostOnce())
        try:
            if sender:
                link = self.conn.create_sender(c['address'],
                                               name=c.get('link_name'),
                                               options=options)
            else:
                link = self.conn.create_receiver(c['address'],
                                                 credit=c.get('credit', 10),
                                                 name=c.get('link_name'),
                                                 options=options)
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
        m.body = (b'x' * spec['body_size'] if 'body_size' in spec
                  else spec.get('body', '').encode())
        if 'id' in spec:
            m.id = typed_id(spec['id'], spec.get('id_type'))
        if 'correlation_id' in spec:
            m.correlation_id = typed_id(spec['correlation_id'],
                                        spec.get('correlation_id_type'))
        for k in ('content_type', 'content_encoding'):
            if k in spec:
                setattr(m, k, spec[k])
        if 'to' in spec:
            m.address = spec['to']
        if 'user_id' in spec:
            m.user_id = spec['user_id'].encode()
        if 'expiry' in spec:
            m.expiry_time = spec['expiry'] / 1000.0
        if 'properties' in spec:
            m.properties = {k: int32(v) if k in spec.get('int_properties',
                                                         []) else v
                            for k, v in spec['properties'].items()}
        if 'annotations' in spec:
            m.annotations = {symbol(k): v
                             for k, v in spec['annotations'].items()}
        return m

    def send(self, c):
        link = self.links[c['name']].link
        ds = [link.send(self.message(s)) for s in c['messages']]
        if c.get('settled'):
            for d in ds:
                d.settle()
            return {'outcomes': ['settled' for d in ds]}

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
        ann = {str(k): v if isinstance(v, (int, str)) else str(v)
               for k, v in (m.annotations or {}).items()}
        types = {str(k): type(v).__name__
                 for k, v in list((m.annotations or {}).items())
                 + list((m.properties or {}).items())}
        return {'message': {'body': body,
                            'annotations': ann,
                            'types': types,
                            'correlation_id_type':
                                type(m.correlation_id).__name__,
                            'data_section': bool(m.inferred),
                            'id': str(m.id) if m.id is not None else None,
                            'id_type': type(m.id).__name__,
                            'user_id': bytes(m.user_id).decode('utf-8',
                                                               'replace')
                                if m.user_id else None,
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
        passes = []

        def written():
            passes.append(1)
            return len(passes) > 1 \
                and self.conn.conn.transport.pending() <= 0
        self.conn.wait(written, timeout=c.get('timeout', TIMEOUT),
                       msg='disposition')
        return {'ok': True}

    def detach(self, c):
        self.links.pop(c['name']).close()
        return {'ok': True}

    def detached(self, c):
        # another link's detach may surface here first: wait on for ours
        link = self.links[c['name']].link
        end = time.time() + c.get('timeout', TIMEOUT)
        while not link.state & Endpoint.REMOTE_CLOSED:
            try:
                self.conn.wait(lambda: link.state & Endpoint.REMOTE_CLOSED,
                               timeout=max(end - time.time(), 0.01),
                               msg='detach')
            except LinkDetached as e:
                if e.link is link or time.time() >= end:
                    break
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

    def batch(self, c):
        return BatchSender(c).run()

    def eh_receiver(self, c):
        opts = []
        if c.get('filter') is not None:
            opts.append(Filter({symbol('apache.org:selector-filter:string'):
                                Described(SELECTOR, c['filter'])}))
        if c.get('epoch') is not None:
            opts.append(Props({symbol('com.microsoft:epoch'):
                               int(c['epoch'])}))
        self.conn.attaching = c['name']
        try:
            link = self.conn.create_receiver(c['address'],
                                             credit=c.get('credit', 10),
                                             name=c['name'],
                                             options=opts or None)
        except LinkDetached as e:
            cond = e.link.remote_condition
            return {'error': cond.name if cond else None,
                    'description': cond.description if cond else None}
        finally:
            self.conn.attaching = None
        self.links[c['name']] = link
        return {'ok': True}

    def event(self, c):
        r = self.links[c['name']]
        m = r.receive(timeout=c.get('timeout', TIMEOUT))
        return {'event': {
            'body': typed(m.body),
            'data_section': bool(m.inferred),
            'id': None if m.id is None else typed(m.id),
            'correlation_id': None if m.correlation_id is None
                              else typed(m.correlation_id),
            'user_id': m.user_id and bytes(m.user_id).decode(),
            'to': m.address,
            'content_type': m.content_type and str(m.content_type),
            'content_encoding': m.content_encoding
                                and str(m.content_encoding),
            'expiry': int(round(m.expiry_time * 1000))
                      if m.expiry_time else None,
            'properties': {str(k): typed(v)
                           for k, v in (m.properties or {}).items()},
            'annotations': {str(k): typed(v)
                            for k, v in (m.annotations or {}).items()}}}

    def buffered(self, c):
        r = self.links[c['name']]
        try:
            self.conn.wait(lambda: len(r.fetcher.incoming) >= c['want'],
                           timeout=c.get('timeout', TIMEOUT))
        except Timeout:
            pass
        return {'count': len(r.fetcher.incoming),
                'credit': r.link.credit}

    def flow(self, c):
        r = self.links[c['name']]
        r.link.flow(c['credit'])
        self.conn.wait(lambda: True, timeout=1)
        return {'ok': True}

    def mgmt(self, c):
        if self.mgmt_links is None:
            snd = self.conn.create_sender('$management')
            rcv = self.conn.create_receiver('$management', credit=10,
                                            options=Target('mgmt-reply'))
            self.mgmt_links = (snd, rcv)
        snd, rcv = self.mgmt_links
        mid = str(uuid.uuid4())
        props = {'operation': c.get('operation', 'READ'),
                 'name': c.get('entity', 'test'),
                 'type': c['type']}
        if 'partition' in c:
            props['partition'] = c['partition']
        snd.send(Message(id=mid, reply_to='mgmt-reply', properties=props,
                         body=b'[]'))
        r = rcv.receive(timeout=c.get('timeout', TIMEOUT))
        if rcv.fetcher.unsettled:
            rcv.accept()
        p = r.properties or {}
        status = p.get('status-code')
        return {'status': status,
                'status_type': type(status).__name__,
                'description': p.get('status-description'),
                'condition': p.get('error-condition'),
                'correlated': r.correlation_id == mid,
                'body': None if r.body is None else typed(r.body)[1]}

    def run(self, c):
        op = c['op']
        if op in ('eh_receiver', 'event', 'buffered', 'flow', 'mgmt',
                  'batch'):
            return getattr(self, op)(c)
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
        if op == 'detach':
            return self.detach(c)
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


class BatchSender:
    """AMQP by hand on a socket: enough to send batched transfers"""
    BATCH_FORMAT = 0x80013700

    def __init__(self, c):
        self.c = c
        self.sock = socket.create_connection(('127.0.0.1', c['port']),
                                             timeout=c.get('timeout',
                                                           TIMEOUT))
        self.buf = b''

    @staticmethod
    def frame(kind, code, fields, payload=b'', channel=0):
        d = Data()
        d.put_described()
        d.enter()
        d.put_ulong(code)
        d.put_list()
        d.enter()
        for f in fields:
            d.put_object(f)
        d.exit()
        d.exit()
        body = d.encode() + payload
        return struct.pack('>IBBH', 8 + len(body), 2, kind, channel) + body

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('the server closed the connection')
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """the next performative: (code, fields); headers skipped"""
        while True:
            head = self.read_exact(8)
            if head[:4] == b'AMQP':
                continue
            size, doff = struct.unpack('>IB', head[:5])
            body = self.read_exact(size - 8)[doff * 4 - 8:]
            if not body:
                continue
            d = Data()
            d.decode(body)
            d.next()
            v = d.get_object()
            return int(v.descriptor), list(v.value)

    def wait_for(self, code):
        while True:
            got, fields = self.read_frame()
            if got == code:
                return fields

    @staticmethod
    def sections(specs):
        out = b''
        for spec in specs:
            m = Message(body=spec.get('body', '').encode(), inferred=True,
                        properties=spec.get('properties'))
            inner = m.encode()
            out += b'\x00\x53\x75\xb0' + struct.pack('>I', len(inner)) + inner
        return out

    def run(self):
        c = self.c
        s = self.sock
        s.sendall(b'AMQP\x03\x01\x00\x00')
        self.wait_for(0x40)                            # sasl-mechanisms
        resp = b'\x00' + c['user'].encode() + b'\x00' + c['password'].encode()
        s.sendall(self.frame(1, 0x41, [symbol('PLAIN'), resp]))
        outcome = self.wait_for(0x44)                  # sasl-outcome
        if outcome[0] != 0:
            return {'error': 'sasl-outcome %s' % outcome[0]}
        s.sendall(b'AMQP\x00\x01\x00\x00'
                  + self.frame(0, 0x10, ['batch-client'])
                  + self.frame(0, 0x11, [None, uint(0), uint(100),
                                         uint(100)])
                  + self.frame(0, 0x12, [
                      'batch-sender', uint(0), False, None, None,
                      Described(ulong(0x28), ['batch-source']),
                      Described(ulong(0x29), [c['address']])]))
        begin = self.wait_for(0x11)
        attach = self.wait_for(0x12)
        if attach[6] is None:
            return {'error': 'attach refused'}
        flow = self.wait_for(0x13)                     # flow: credit
        bodies = [(self.BATCH_FORMAT, self.sections(b))
                  for b in c.get('batches', [])]
        bodies += [(self.BATCH_FORMAT, bytes.fromhex(h))
                   for h in c.get('raw_bodies', [])]
        bodies += [(0, self.sections([m])[4 + 4:])
                   for m in c.get('plain', [])]
        bodies += [(0, bytes.fromhex(h)) for h in c.get('raw_plain', [])]
        chunk = 60000      # under the hub's max-frame-size (64 KB)
        for no, (fmt, body) in enumerate(bodies):
            # a large body in several frames, each repeating tag and format
            parts = [body[i:i + chunk]
                     for i in range(0, len(body), chunk)] or [b'']
            for k, part in enumerate(parts):
                s.sendall(self.frame(0, 0x14, [
                    uint(0), uint(no), ('t%d' % no).encode(), uint(fmt),
                    False, k < len(parts) - 1], part))
        outcomes = {}
        while len(outcomes) < len(bodies):
            fields = self.wait_for(0x15)               # disposition
            state = fields[4]
            if int(state.descriptor) == 0x24:
                text = 'accepted'
            else:
                err = state.value[0] if state.value else None
                text = 'rejected:%s' % (err.value[0] if err else None)
            last = fields[2] if fields[2] is not None else fields[1]
            for no in range(fields[1], last + 1):
                outcomes[no] = text
        out = {'outcomes': [outcomes[i] for i in range(len(bodies))],
               'begin_window': int(begin[2]), 'flow_window': int(flow[1]),
               'credit': int(flow[6])}
        if c.get('end_attached'):
            out.update(self.end_attached())
        s.close()
        # the hub's session window (begin, then flow) and the link's credit
        return out

    def end_attached(self):
        """ends the session with its link attached, as rhea may, then
        closes: what the hub sent after the end, and its close's error"""
        self.sock.sendall(self.frame(0, 0x17, []))
        after = []
        while not after or after[-1] != 0x17:
            after.append(self.read_frame()[0])
        self.sock.sendall(self.frame(0, 0x18, []))
        close = self.wait_for(0x18)
        return {'after_end': after,
                'close_error': repr(close[0]) if close and close[0] else 'none'}


def main():
    client = Client()
    for line in sys.stdin:
        try:
            out = client.run(json.loads(line))
        except Exception as e:  # the test shows it
            out = {'exception': '%s: %s' % (type(e).__name__, e)}
        sys.stdout.write(json.dumps(out, default=repr) + '\n')
        sys.stdout.flush()


if __name__ == '__main__':
    main()
