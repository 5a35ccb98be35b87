"""A loopback reverse proxy that adds `Authorization: Bearer <token>` to every request.

The MCP conformance suite cannot send a bearer token, and mlops-mcp refuses HTTP requests
without one. This proxy plays the part of an authenticating gateway in front of the server:
everything else (method, path, Host, Origin, MCP headers, body) is forwarded unchanged, so the
suite still exercises the server's own Host/Origin and protocol checks.

Usage: auth_proxy.py LISTEN_PORT UPSTREAM_PORT TOKEN
(LISTEN_PORT 0 picks a free port; prints "proxy ready on PORT" once listening)
"""

import http.client
import http.server
import sys

LISTEN_PORT, UPSTREAM_PORT, TOKEN = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "te", "trailer"}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM_PORT, timeout=300)
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in HOP_BY_HOP and name.lower() != "authorization":
                upstream.putheader(name, value)
        upstream.putheader("Authorization", "Bearer " + TOKEN)
        upstream.endheaders(body)
        response = upstream.getresponse()
        streaming = (response.getheader("Content-Type") or "").startswith("text/event-stream")
        self.send_response(response.status, response.reason)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        if not streaming:
            data = response.read()
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            upstream.close()
            return
        # Server-sent events (e.g. a subscriptions/listen stream) are passed on as they come,
        # chunk by chunk, until either side closes.
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            upstream.close()

    do_GET = do_POST = do_DELETE = do_PUT = do_OPTIONS = _forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", LISTEN_PORT), Proxy)
print(f"proxy ready on {server.server_address[1]}", flush=True)
server.serve_forever()
