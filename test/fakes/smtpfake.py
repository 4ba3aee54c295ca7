#!/usr/bin/python3
"""A real SMTP server on loopback for the mail tests (Debian's python3-aiosmtpd).

Run it with /usr/bin/python3: aiosmtpd is installed for Debian's python only.

    /usr/bin/python3 test/fakes/smtpfake.py --port 0 --port-file DIR/smtp.port \
        --log DIR/smtp.log --maildir DIR/mail [--starttls CERT KEY] [--require-tls]
        [--implicit-tls CERT KEY] [--auth USER:PASSWORD] [--reject-rcpt SUBSTR]
        [--reject-data] [--drop-at MAIL|RCPT|DATA] [--host ADDR]

Every message accepted is saved as MAILDIR/<n>.eml (the bytes received, after
SMTP's dot-unstuffing) and logged as one JSON line: n, mail_from, rcpt_tos,
tls, auth_user, bytes, file. Refusals and drops are logged too ("event"). The
password given to --auth is never written anywhere.

The port file appears (atomically) once the socket listens; SIGTERM exits 0.
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Recorder:
    def __init__(self, args):
        self.args = args
        self.n = 0
        self.login, self.secret = (None, None)
        if args.auth:
            self.login, _, self.secret = args.auth.partition(":")
        if args.maildir:
            os.makedirs(args.maildir, exist_ok=True)

    def log(self, record):
        record["wall"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if self.args.log:
            with open(self.args.log, "a") as f:
                f.write(json.dumps(record) + "\n")

    def drop(self, server, stage):
        if self.args.drop_at == stage:
            self.log({"event": "drop", "stage": stage})
            # abort(): no QUIT, no reply, the connection just goes away.
            server.transport.abort()
            return True
        return False

    # -- aiosmtpd handler hooks
    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.drop(server, "MAIL"):
            return "421 dropped"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.drop(server, "RCPT"):
            return "421 dropped"
        if self.args.reject_rcpt and self.args.reject_rcpt in address:
            self.log({"event": "reject_rcpt", "rcpt": address})
            return "550 5.1.1 <%s>: Recipient address rejected: no such user" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.drop(server, "DATA"):
            return "421 dropped"
        if self.args.reject_data:
            self.log({"event": "reject_data", "rcpt_tos": envelope.rcpt_tos})
            return "554 5.7.1 Message rejected: looks like a test"
        self.n += 1
        data = envelope.original_content or envelope.content
        path = None
        if self.args.maildir:
            path = os.path.join(self.args.maildir, "%d.eml" % self.n)
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.rename(path + ".tmp", path)
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.log({
            "n": self.n,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": tls,
            "auth_user": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            "bytes": len(data),
            "file": path,
        })
        return "250 2.0.0 OK: queued as %d" % self.n

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword)
              and auth_data.login.decode() == self.login
              and auth_data.password.decode() == self.secret)
        if not ok:
            self.log({"event": "auth_failed", "mechanism": mechanism})
        # handled=False: aiosmtpd then answers the failure (535) itself.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--pid-file")
    p.add_argument("--log")
    p.add_argument("--maildir")
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--require-tls", action="store_true",
                   help="refuse everything but EHLO/STARTTLS/QUIT before STARTTLS")
    p.add_argument("--implicit-tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH with these")
    p.add_argument("--reject-rcpt", metavar="SUBSTR",
                   help="550 for recipients containing SUBSTR ('@' rejects all)")
    p.add_argument("--reject-data", action="store_true", help="554 after DATA")
    p.add_argument("--drop-at", choices=["MAIL", "RCPT", "DATA"],
                   help="abort the connection when this command arrives")
    # The HTTP fakes' common options, accepted so start_fake-style callers work.
    p.add_argument("--tolerance", type=float, default=0)
    args = p.parse_args()
    # AUTH without TLS is what the loopback tests want; aiosmtpd warns.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")

    rec = Recorder(args)
    starttls_ctx = tls_context(*args.starttls) if args.starttls else None
    implicit_ctx = tls_context(*args.implicit_tls) if args.implicit_tls else None

    def factory():
        kw = {}
        if args.auth:
            kw.update(authenticator=rec.authenticate, auth_required=True,
                      auth_require_tls=bool(starttls_ctx))
        return SMTP(rec, hostname="smtpfake", tls_context=starttls_ctx,
                    require_starttls=args.require_tls, **kw)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = loop.run_until_complete(
        loop.create_server(factory, args.host, args.port, ssl=implicit_ctx))
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.pid_file:
        with open(args.pid_file, "w") as f:
            f.write("%d\n" % os.getpid())
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, args.port_file)
    print("smtpfake listening on %s:%d" % (args.host, port), flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
